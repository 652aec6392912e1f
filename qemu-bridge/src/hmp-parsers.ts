// Parsers of HMP text output (`info tlb`, `xp`, `info registers`), used by the QMP memory tier
// and as independent oracles in tests. Pure.

/** One line of `info tlb`: a present page of the current address space. */
export interface TlbEntry {
  readonly virtual: number;
  readonly physical: number;
  /** Nine letters X G P D A C T U W (or `-`): NX, global, PSE (4 MiB page), dirty, accessed, PCD, PWT, user, writable. */
  readonly flags: string;
  /** True for a large page (flag P: 4 MiB, 2 MiB or 1 GiB). */
  readonly large: boolean;
  /** The addresses exactly (x86-64 addresses do not fit a number). */
  readonly virtualExact: bigint;
  readonly physicalExact: bigint;
}

/** Parses `info tlb` output; lines that do not match are skipped. */
export function parseInfoTlb(text: string): TlbEntry[] {
  const out: TlbEntry[] = [];
  for (const line of text.split(/\r?\n/)) {
    const m = /^\s*([0-9a-fA-F]+):\s+([0-9a-fA-F]+)\s+([-XGPDACTUW]{9})\s*$/.exec(line);
    if (!m) continue;
    out.push({ virtual: parseInt(m[1], 16), physical: parseInt(m[2], 16), flags: m[3], large: m[3][2] === 'P', virtualExact: BigInt(`0x${m[1]}`), physicalExact: BigInt(`0x${m[2]}`) });
  }
  return out;
}

/** Parses `xp /Nxb ADDR` output into bytes (in address order). Returns undefined if no byte was found. */
export function parseXpBytes(text: string): Buffer | undefined {
  const bytes: number[] = [];
  for (const line of text.split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    for (const tok of line.slice(colon + 1).trim().split(/\s+/)) {
      if (/^0x[0-9a-fA-F]{1,2}$/.test(tok)) bytes.push(parseInt(tok, 16));
    }
  }
  return bytes.length ? Buffer.from(bytes) : undefined;
}

/**
 * Parses `info registers` (i386): `EAX=...`, `EIP=...`, `CR3=...`, `EFER=...` and segment lines
 * (`CS =0008 ...`, the selector). Names are lower-cased; values are numbers.
 */
export function parseInfoRegisters(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const m of text.matchAll(/\b([A-Z][A-Z0-9]*)\s?=([0-9a-fA-F]+)\b/g)) {
    const name = m[1].toLowerCase();
    if (!out.has(name)) out.set(name, parseInt(m[2], 16));
  }
  if (out.has('efl')) out.set('eflags', out.get('efl') as number);
  return out;
}
