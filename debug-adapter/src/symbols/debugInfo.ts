// .debug_info: unit headers, the DIE tree of each unit (parsed lazily, one unit at a time)
// and the decoding of every attribute form gcc emits, including the DWARF 5 indexed forms
// (strx*, addrx*, rnglistx, loclistx) resolved through the unit's bases.

import { ByteReader, readCString, toNumberIfSafe } from './byteReader';
import { DwarfFormatError } from './errors';
import { AbbreviationTable, AttributeSpec, parseAbbreviationTable } from './abbrev';
import { DwarfSections } from './dwarfSections';
import { DW_AT, DW_FORM, DW_UT } from './dwarfConstants';

/** A decoded attribute value; which JS type depends on the form's class. */
export type AttributeValue = number | bigint | string | boolean | Uint8Array;

export interface Attribute {
  name: number;
  form: number;
  value: AttributeValue;
  /** Offset of the encoded value in .debug_info. */
  offset: number;
}

const fail = (detail: string): Error => new DwarfFormatError(detail);


/** One debugging information entry. Attribute accessors resolve forms through the unit. */
export class Die {
  parent: Die | undefined;
  readonly children: Die[] = [];

  constructor(
    readonly unit: DwarfUnit,
    readonly offset: number,
    readonly tag: number,
    readonly attributes: readonly Attribute[],
  ) {}

  attr(name: number): Attribute | undefined {
    for (const a of this.attributes) if (a.name === name) return a;
    return undefined;
  }

  has(name: number): boolean {
    return this.attr(name) !== undefined;
  }

  get name(): string | undefined {
    return this.string(DW_AT.name);
  }

  /** A string attribute (string, strp, line_strp, strx*). */
  string(name: number): string | undefined {
    const a = this.attr(name);
    return a ? this.unit.resolveString(a) : undefined;
  }

  /** An unsigned constant (or section offset); undefined when absent or not a number. */
  unsigned(name: number): number | undefined {
    const a = this.attr(name);
    if (!a) return undefined;
    if (typeof a.value === 'number') return a.value;
    if (typeof a.value === 'bigint') return undefined; // bigints are only stored when a number cannot hold the value
    if (typeof a.value === 'boolean') return a.value ? 1 : 0;
    return undefined;
  }

  /** A constant as bigint, sign-extending sdata/implicit_const values. */
  constant(name: number): bigint | undefined {
    const a = this.attr(name);
    if (!a) return undefined;
    if (typeof a.value === 'number') return BigInt(a.value);
    if (typeof a.value === 'bigint') return a.value;
    if (a.value instanceof Uint8Array && a.form === DW_FORM.data16) {
      let v = 0n;
      for (let i = a.value.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(a.value[i]);
      return v;
    }
    return undefined;
  }

  flag(name: number): boolean {
    const a = this.attr(name);
    return a !== undefined && a.value !== false && a.value !== 0;
  }

  /** A block or exprloc attribute. */
  block(name: number): Uint8Array | undefined {
    const a = this.attr(name);
    return a && a.value instanceof Uint8Array ? a.value : undefined;
  }

  /** The DIE a reference attribute points to; throws DwarfFormatError when it points nowhere. */
  ref(name: number): Die | undefined {
    const a = this.attr(name);
    if (!a || !isReferenceForm(a.form) || typeof a.value !== 'number') return undefined;
    return this.unit.debugInfo.dieAt(a.value);
  }

  /** An address attribute (addr or addrx*), resolved through .debug_addr. */
  address(name: number): number | undefined {
    const a = this.attr(name);
    return a ? this.unit.resolveAddress(a) : undefined;
  }

  /** DW_AT_low_pc. */
  get lowPc(): number | undefined {
    return this.address(DW_AT.low_pc);
  }

  /** DW_AT_high_pc as an address (DWARF 4+ stores it as a length from low_pc). */
  get highPc(): number | undefined {
    const a = this.attr(DW_AT.high_pc);
    if (!a) return undefined;
    if (isAddressForm(a.form)) return this.unit.resolveAddress(a);
    const low = this.lowPc;
    const len = this.unsigned(DW_AT.high_pc);
    return low === undefined || len === undefined ? undefined : low + len;
  }
}

export function isReferenceForm(form: number): boolean {
  return (form >= DW_FORM.ref_addr && form <= DW_FORM.ref_udata) || form === DW_FORM.ref_sig8;
}

export function isAddressForm(form: number): boolean {
  return form === DW_FORM.addr || form === DW_FORM.addrx || (form >= DW_FORM.addrx1 && form <= DW_FORM.addrx4) || form === DW_FORM.GNU_addr_index;
}

/** A compilation (or partial/type) unit: header, bases, and its DIEs once parsed. */
export class DwarfUnit {
  readonly version: number;
  readonly unitType: number;
  readonly addressSize: number;
  readonly offsetSize: number;
  readonly abbrevOffset: number;
  /** Offset of the unit's first DIE. */
  readonly dieOffset: number;
  /** Offset just past the unit. */
  readonly end: number;
  private dies: Die[] | undefined;
  private dieIndex = new Map<number, Die>();
  private bases: { strOffsets: number; addr: number; rnglists: number; loclists: number; lowPc: number } | undefined;

  constructor(readonly debugInfo: DebugInfo, readonly offset: number) {
    const r = new ByteReader(debugInfo.sections.info, fail, '.debug_info', offset);
    let length = r.u32();
    this.offsetSize = 4;
    if (length === 0xffffffff) {
      length = r.safe(r.u64());
      this.offsetSize = 8;
    } else if (length >= 0xfffffff0) {
      throw fail(`unit at ${offset} has reserved length 0x${length.toString(16)}`);
    }
    this.end = r.offset + length;
    if (this.end > r.end) throw fail(`unit at ${offset} runs past the end of .debug_info`);
    this.version = r.u16();
    if (this.version < 2 || this.version > 5) throw new DwarfFormatError(`DWARF version ${this.version} is not supported`, 'dwarf-unsupported');
    if (this.version >= 5) {
      this.unitType = r.u8();
      this.addressSize = r.u8();
      this.abbrevOffset = r.unsigned(this.offsetSize);
      if (this.unitType === DW_UT.skeleton || this.unitType === DW_UT.split_compile) r.skip(8);
      else if (this.unitType === DW_UT.type || this.unitType === DW_UT.split_type) r.skip(8 + this.offsetSize);
    } else {
      this.unitType = DW_UT.compile;
      this.abbrevOffset = r.unsigned(this.offsetSize);
      this.addressSize = r.u8();
    }
    if (this.addressSize !== 4 && this.addressSize !== 8 && this.addressSize !== 2) {
      throw fail(`unit at ${offset} has address size ${this.addressSize}`);
    }
    if (r.offset > this.end) throw fail(`unit header at ${offset} is longer than the unit`);
    this.dieOffset = r.offset;
  }

  /** All DIEs of the unit in file order (parses the unit on first use). */
  get allDies(): readonly Die[] {
    return this.parse();
  }

  /** The unit's root DIE (DW_TAG_compile_unit and friends). */
  get root(): Die {
    const dies = this.parse();
    if (dies.length === 0) throw fail(`unit at ${this.offset} has no DIEs`);
    return dies[0];
  }

  dieAt(offset: number): Die | undefined {
    this.parse();
    return this.dieIndex.get(offset);
  }

  private parse(): Die[] {
    if (this.dies) return this.dies;
    const sections = this.debugInfo.sections;
    const abbrevs = this.debugInfo.abbreviations(this.abbrevOffset);
    const r = new ByteReader(sections.info, fail, '.debug_info', this.dieOffset, this.end);
    const dies: Die[] = [];
    const stack: Die[] = [];
    while (!r.atEnd) {
      const at = r.offset;
      const code = r.uleb();
      if (code === 0) {
        if (stack.length === 0) continue; // padding after the root
        stack.pop();
        continue;
      }
      const abbrev = abbrevs.get(code);
      if (!abbrev) throw fail(`DIE at ${at} uses unknown abbreviation code ${code}`);
      const attributes: Attribute[] = [];
      for (const spec of abbrev.specs) {
        const offset = r.offset;
        attributes.push({ name: spec.name, form: spec.form, value: this.readValue(r, spec.form, spec), offset });
      }
      const die = new Die(this, at, abbrev.tag, attributes);
      const parent = stack[stack.length - 1];
      if (parent) {
        die.parent = parent;
        parent.children.push(die);
      } else if (dies.length > 0) {
        break; // a second top-level DIE: the unit is over
      }
      dies.push(die);
      this.dieIndex.set(at, die);
      if (abbrev.hasChildren) stack.push(die);
    }
    this.dies = dies;
    return dies;
  }

  private readValue(r: ByteReader, form: number, spec: AttributeSpec, depth = 0): AttributeValue {
    switch (form) {
      case DW_FORM.addr: return r.address(this.addressSize);
      case DW_FORM.block2: return r.bytesOf(r.u16());
      case DW_FORM.block4: return r.bytesOf(r.u32());
      case DW_FORM.data1: return r.u8();
      case DW_FORM.data2: return r.u16();
      case DW_FORM.data4: return r.u32();
      case DW_FORM.data8: return toNumberIfSafe(r.u64());
      case DW_FORM.data16: return r.bytesOf(16);
      case DW_FORM.string: return r.cstring();
      case DW_FORM.block:
      case DW_FORM.exprloc: return r.bytesOf(r.uleb());
      case DW_FORM.block1: return r.bytesOf(r.u8());
      case DW_FORM.flag: return r.u8() !== 0;
      case DW_FORM.flag_present: return true;
      case DW_FORM.sdata: return r.slebAny();
      case DW_FORM.udata: return r.ulebAny();
      case DW_FORM.strp:
      case DW_FORM.line_strp:
      case DW_FORM.sec_offset:
      case DW_FORM.strp_sup:
      case DW_FORM.GNU_strp_alt:
      case DW_FORM.GNU_ref_alt:
        return r.unsigned(this.offsetSize);
      case DW_FORM.ref_addr: return r.unsigned(this.version <= 2 ? this.addressSize : this.offsetSize);
      case DW_FORM.ref1: return this.offset + r.u8();
      case DW_FORM.ref2: return this.offset + r.u16();
      case DW_FORM.ref4: return this.offset + r.u32();
      case DW_FORM.ref8: return this.offset + r.unsigned(8);
      case DW_FORM.ref_udata: return this.offset + r.uleb();
      case DW_FORM.ref_sig8: return r.u64();
      case DW_FORM.ref_sup4: return r.u32();
      case DW_FORM.ref_sup8: return toNumberIfSafe(r.u64());
      case DW_FORM.implicit_const: return spec.implicitConst ?? 0;
      case DW_FORM.strx:
      case DW_FORM.addrx:
      case DW_FORM.loclistx:
      case DW_FORM.rnglistx:
      case DW_FORM.GNU_addr_index:
      case DW_FORM.GNU_str_index:
        return r.uleb();
      case DW_FORM.strx1: case DW_FORM.addrx1: return r.u8();
      case DW_FORM.strx2: case DW_FORM.addrx2: return r.u16();
      case DW_FORM.strx3: case DW_FORM.addrx3: return r.u24();
      case DW_FORM.strx4: case DW_FORM.addrx4: return r.u32();
      case DW_FORM.indirect: {
        if (depth > 4) throw fail('DW_FORM_indirect nests too deeply');
        const actual = r.uleb();
        return this.readValue(r, actual, spec, depth + 1);
      }
      default:
        throw fail(`unknown attribute form 0x${form.toString(16)} at offset ${r.offset}`);
    }
  }

  private get unitBases(): { strOffsets: number; addr: number; rnglists: number; loclists: number; lowPc: number } {
    if (this.bases) return this.bases;
    // Set a provisional value first so that resolving the root's own attributes cannot recurse.
    const headerSize = this.offsetSize === 8 ? 16 : 8;
    this.bases = { strOffsets: headerSize, addr: headerSize, rnglists: 0, loclists: 0, lowPc: 0 };
    const root = this.root;
    const num = (name: number): number | undefined => {
      const a = root.attr(name);
      return a && typeof a.value === 'number' ? a.value : undefined;
    };
    this.bases.strOffsets = num(DW_AT.str_offsets_base) ?? headerSize;
    this.bases.addr = num(DW_AT.addr_base) ?? headerSize;
    this.bases.rnglists = num(DW_AT.rnglists_base) ?? 0;
    this.bases.loclists = num(DW_AT.loclists_base) ?? 0;
    this.bases.lowPc = root.lowPc ?? 0;
    return this.bases;
  }

  /** The unit's base address for range and location lists (the root's DW_AT_low_pc). */
  get baseAddress(): number {
    return this.unitBases.lowPc;
  }

  get rnglistsBase(): number {
    return this.unitBases.rnglists;
  }

  get loclistsBase(): number {
    return this.unitBases.loclists;
  }

  resolveString(a: Attribute): string | undefined {
    const s = this.debugInfo.sections;
    switch (a.form) {
      case DW_FORM.string: return typeof a.value === 'string' ? a.value : undefined;
      case DW_FORM.strp: return readCString(s.str, a.value as number, fail, '.debug_str');
      case DW_FORM.line_strp: return readCString(s.lineStr, a.value as number, fail, '.debug_line_str');
      case DW_FORM.strx: case DW_FORM.strx1: case DW_FORM.strx2: case DW_FORM.strx3: case DW_FORM.strx4:
      case DW_FORM.GNU_str_index:
        return this.indexedString(a.value as number);
      default: return undefined;
    }
  }

  /** The string at index `index` of this unit's .debug_str_offsets contribution. */
  indexedString(index: number): string {
    const s = this.debugInfo.sections;
    const r = new ByteReader(s.strOffsets, fail, '.debug_str_offsets');
    r.seek(Math.min(this.unitBases.strOffsets + index * this.offsetSize, s.strOffsets.length));
    return readCString(s.str, r.unsigned(this.offsetSize), fail, '.debug_str');
  }

  resolveAddress(a: Attribute): number | undefined {
    if (a.form === DW_FORM.addr) return a.value as number;
    if (isAddressForm(a.form)) return this.indexedAddress(a.value as number);
    return undefined;
  }

  /** The address at index `index` of this unit's .debug_addr contribution. */
  indexedAddress(index: number): number {
    const s = this.debugInfo.sections;
    const r = new ByteReader(s.addr, fail, '.debug_addr');
    r.seek(Math.min(this.unitBases.addr + index * this.addressSize, s.addr.length));
    return r.address(this.addressSize);
  }
}

/** All units of .debug_info; units are located eagerly, their DIEs parsed on demand. */
export class DebugInfo {
  readonly units: readonly DwarfUnit[];
  private readonly abbrevCache = new Map<number, AbbreviationTable>();

  constructor(readonly sections: DwarfSections) {
    const units: DwarfUnit[] = [];
    let offset = 0;
    while (offset < sections.info.length) {
      const unit = new DwarfUnit(this, offset);
      units.push(unit);
      offset = unit.end;
    }
    this.units = units;
  }

  abbreviations(offset: number): AbbreviationTable {
    let table = this.abbrevCache.get(offset);
    if (!table) {
      table = parseAbbreviationTable(this.sections.abbrev, offset);
      this.abbrevCache.set(offset, table);
    }
    return table;
  }

  /** The unit that contains .debug_info offset `offset`, or undefined. */
  unitContaining(offset: number): DwarfUnit | undefined {
    const units = this.units;
    let lo = 0;
    let hi = units.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (units[mid].offset <= offset) lo = mid + 1;
      else hi = mid;
    }
    const unit = units[lo - 1];
    return unit && offset < unit.end ? unit : undefined;
  }

  /** The DIE at `offset`; throws DwarfFormatError when no DIE starts there. */
  dieAt(offset: number): Die {
    const die = this.unitContaining(offset)?.dieAt(offset);
    if (!die) throw fail(`a reference points to offset ${offset}, where no DIE starts`);
    return die;
  }
}
