// Location descriptions of variables: a single expression (exprloc/block), or a location
// list from DWARF 4 .debug_loc or DWARF 5 .debug_loclists (by offset or loclistx index).

import { ByteReader } from './byteReader';
import { DwarfFormatError } from './errors';
import { DW_FORM, DW_LLE } from './dwarfConstants';
import { Die, DwarfUnit } from './debugInfo';
import { baseSelection, listOffsetFromIndex } from './rangeLists';

export interface LocationListEntry {
  /** [start, end) of pcs where `expression` holds; a default entry covers everything. */
  start: number;
  end: number;
  isDefault: boolean;
  expression: Uint8Array;
}

export type LocationDescription =
  | { kind: 'expression'; expression: Uint8Array }
  | { kind: 'list'; entries: LocationListEntry[] }
  | { kind: 'none' };

const fail = (detail: string): Error => new DwarfFormatError(detail);
const MAX_LIST_ENTRIES = 1 << 16;

/** Reads the location attribute `name` (DW_AT_location, DW_AT_frame_base) of `die`. */
export function dieLocation(die: Die, name: number): LocationDescription {
  const a = die.attr(name);
  if (!a) return { kind: 'none' };
  if (a.value instanceof Uint8Array) return { kind: 'expression', expression: a.value };
  if (typeof a.value !== 'number') return { kind: 'none' };
  const unit = die.unit;
  if (unit.version >= 5) {
    const offset = a.form === DW_FORM.loclistx
      ? listOffsetFromIndex(unit, unit.debugInfo.sections.loclists, unit.loclistsBase, a.value)
      : a.value;
    return { kind: 'list', entries: readLoclist(unit, offset) };
  }
  return { kind: 'list', entries: readLoc(unit, a.value) };
}

/** The expression that holds at `pc`, or undefined when the value is unavailable there. */
export function expressionAt(location: LocationDescription, pc: number): Uint8Array | undefined {
  if (location.kind === 'expression') return location.expression;
  if (location.kind === 'none') return undefined;
  let fallback: Uint8Array | undefined;
  for (const e of location.entries) {
    if (e.isDefault) fallback = e.expression;
    else if (pc >= e.start && pc < e.end) return e.expression;
  }
  return fallback;
}

function readLoclist(unit: DwarfUnit, offset: number): LocationListEntry[] {
  const r = new ByteReader(unit.debugInfo.sections.loclists, fail, '.debug_loclists');
  r.seek(Math.min(offset, r.end));
  const entries: LocationListEntry[] = [];
  let base = unit.baseAddress;
  const addr = (): number => r.address(unit.addressSize);
  const expr = (): Uint8Array => r.bytesOf(r.uleb());
  const add = (start: number, end: number): void => {
    const expression = expr();
    if (end > start) entries.push({ start, end, isDefault: false, expression });
  };
  for (let n = 0; n < MAX_LIST_ENTRIES; n++) {
    const kind = r.u8();
    switch (kind) {
      case DW_LLE.end_of_list: return entries;
      case DW_LLE.base_addressx: base = unit.indexedAddress(r.uleb()); break;
      case DW_LLE.startx_endx: { const s = unit.indexedAddress(r.uleb()); add(s, unit.indexedAddress(r.uleb())); break; }
      case DW_LLE.startx_length: { const s = unit.indexedAddress(r.uleb()); add(s, s + r.uleb()); break; }
      case DW_LLE.offset_pair: { const s = r.uleb(); const e = r.uleb(); add(base + s, base + e); break; }
      case DW_LLE.default_location: entries.push({ start: 0, end: 0, isDefault: true, expression: expr() }); break;
      case DW_LLE.base_address: base = addr(); break;
      case DW_LLE.start_end: { const s = addr(); add(s, addr()); break; }
      case DW_LLE.start_length: { const s = addr(); add(s, s + r.uleb()); break; }
      case DW_LLE.GNU_view_pair: r.uleb(); r.uleb(); break;
      default: throw fail(`unknown location list entry kind ${kind} at offset ${r.offset - 1}`);
    }
  }
  throw fail('a location list does not end');
}

function readLoc(unit: DwarfUnit, offset: number): LocationListEntry[] {
  const r = new ByteReader(unit.debugInfo.sections.loc, fail, '.debug_loc');
  r.seek(Math.min(offset, r.end));
  const entries: LocationListEntry[] = [];
  const max = baseSelection(unit.addressSize);
  let base = unit.baseAddress;
  for (let n = 0; n < MAX_LIST_ENTRIES; n++) {
    const start = r.address(unit.addressSize);
    const end = r.address(unit.addressSize);
    if (start === 0 && end === 0) return entries;
    if (start === max) { base = end; continue; }
    const expression = r.bytesOf(r.u16());
    if (end > start) entries.push({ start: base + start, end: base + end, isDefault: false, expression });
  }
  throw fail('a location list does not end');
}
