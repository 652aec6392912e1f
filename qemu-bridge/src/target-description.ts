// The target description (qXfer:features:read XML) parsed into a register layout, no I/O.
// QEMU's i386 description has 50 registers in one feature (cr0, cr2, cr3, cr4, cr8, efer are
// 19-24) and commented-out <reg> entries that must be ignored.

/** One register of the target, as the description names it. */
export interface RegisterInfo {
  readonly name: string;
  /** The number used by `p`/`P` and stop replies. */
  readonly number: number;
  readonly bitSize: number;
  readonly type: string;
  readonly group?: string;
  readonly feature: string;
}

/** All registers of a target, looked up by name or number. */
export class RegisterLayout {
  private readonly byName = new Map<string, RegisterInfo>();
  private readonly byNumber = new Map<number, RegisterInfo>();
  /** Registers in number order. */
  readonly registers: readonly RegisterInfo[];

  constructor(registers: readonly RegisterInfo[]) {
    this.registers = [...registers].sort((a, b) => a.number - b.number);
    for (const r of this.registers) {
      this.byName.set(r.name, r);
      this.byNumber.set(r.number, r);
    }
  }

  get(name: string): RegisterInfo | undefined {
    return this.byName.get(name);
  }

  getByNumber(number: number): RegisterInfo | undefined {
    return this.byNumber.get(number);
  }

  /**
   * Splits a `g` reply (raw bytes) into registers, in number order from 0, as far as the bytes go.
   * Returns a map from name to raw little-endian bytes.
   */
  splitGPacket(bytes: Buffer): Map<string, Buffer> {
    const out = new Map<string, Buffer>();
    let offset = 0;
    for (let n = 0; ; n++) {
      const r = this.byNumber.get(n);
      if (!r) break;
      const size = r.bitSize / 8;
      if (offset + size > bytes.length) break;
      out.set(r.name, bytes.subarray(offset, offset + size));
      offset += size;
    }
    return out;
  }
}

/** One XML document of a description: its registers (regnums still relative) and includes. */
export interface DescriptionDocument {
  /** Include targets in document order (`<xi:include href="...">`). */
  readonly includes: readonly string[];
  /** Items in document order: either a register or an include. */
  readonly items: readonly DescriptionItem[];
  readonly architecture?: string;
}

export type DescriptionItem =
  | { readonly kind: 'include'; readonly href: string }
  | { readonly kind: 'reg'; readonly attrs: ReadonlyMap<string, string>; readonly feature: string };

/** Removes XML comments so that commented-out registers are not read. */
export function stripXmlComments(xml: string): string {
  return xml.replace(/<!--[\s\S]*?(-->|$)/g, '');
}

function parseAttributes(text: string): Map<string, string> {
  const attrs = new Map<string, string>();
  const re = /([A-Za-z_:][-A-Za-z0-9_:.]*)\s*=\s*("([^"]*)"|'([^']*)')/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text)) !== null) attrs.set(m[1], m[3] ?? m[4] ?? '');
  return attrs;
}

/** Parses one XML document of a target description. Never throws; unknown elements are skipped. */
export function parseDescriptionDocument(xml: string): DescriptionDocument {
  const text = stripXmlComments(xml);
  const items: DescriptionItem[] = [];
  const includes: string[] = [];
  let feature = '';
  let architecture: string | undefined;
  const re = /<(\/?)([A-Za-z_:][-A-Za-z0-9_:.]*)([^>]*)>/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text)) !== null) {
    const closing = m[1] === '/';
    const tag = m[2];
    const attrs = parseAttributes(m[3]);
    if (tag === 'architecture' && !closing) {
      const end = text.indexOf('</architecture>', re.lastIndex);
      if (end >= 0) architecture = text.slice(re.lastIndex, end).trim();
    } else if (tag === 'feature') {
      feature = closing ? '' : attrs.get('name') ?? '';
    } else if (tag === 'xi:include' && !closing) {
      const href = attrs.get('href');
      if (href) {
        includes.push(href);
        items.push({ kind: 'include', href });
      }
    } else if (tag === 'reg' && !closing) {
      items.push({ kind: 'reg', attrs, feature });
    }
  }
  return { includes, items, architecture };
}

/**
 * Builds the register layout from the documents of a description: `root` is the annex name of
 * the top document (normally target.xml) and `documents` maps every annex to its XML.
 * Registers without `regnum` take the number after the previous register. Returns the layout,
 * or a string saying what is wrong (missing include, bad bit size, include cycle).
 */
export function buildRegisterLayout(root: string, documents: ReadonlyMap<string, string>): RegisterLayout | string {
  const registers: RegisterInfo[] = [];
  let next = 0;
  const visiting = new Set<string>();
  const visit = (annex: string): string | undefined => {
    if (visiting.has(annex)) return `the description includes ${annex} within itself`;
    const xml = documents.get(annex);
    if (xml === undefined) return `the description document ${annex} is missing`;
    visiting.add(annex);
    for (const item of parseDescriptionDocument(xml).items) {
      if (item.kind === 'include') {
        const problem = visit(item.href);
        if (problem) return problem;
        continue;
      }
      const name = item.attrs.get('name');
      const bits = Number(item.attrs.get('bitsize'));
      if (!name) return 'a <reg> has no name';
      if (!Number.isInteger(bits) || bits <= 0 || bits % 8 !== 0 || bits > 4096) return `register ${name} has bit size "${item.attrs.get('bitsize')}"`;
      const regnum = item.attrs.get('regnum');
      const number = regnum !== undefined ? Number(regnum) : next;
      if (!Number.isInteger(number) || number < 0) return `register ${name} has regnum "${regnum}"`;
      next = number + 1;
      registers.push({ name, number, bitSize: bits, type: item.attrs.get('type') ?? 'int', group: item.attrs.get('group'), feature: item.feature });
    }
    visiting.delete(annex);
    return undefined;
  };
  const problem = visit(root);
  if (problem) return problem;
  if (registers.length === 0) return 'the description has no registers';
  return new RegisterLayout(registers);
}
