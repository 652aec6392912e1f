// Address ranges of DIEs: DW_AT_low_pc/high_pc pairs, DWARF 4 .debug_ranges lists and
// DWARF 5 .debug_rnglists lists (by section offset or by DW_FORM_rnglistx index).

import { ByteReader } from './byteReader';
import { DwarfFormatError } from './errors';
import { DW_AT, DW_FORM, DW_RLE } from './dwarfConstants';
import { Die, DwarfUnit } from './debugInfo';

/** A half-open address range [start, end). */
export interface AddressRange {
  start: number;
  end: number;
}

const fail = (detail: string): Error => new DwarfFormatError(detail);

/** Upper bound on entries in one list, so a corrupt list cannot make us loop for long. */
const MAX_LIST_ENTRIES = 1 << 16;

/** The ranges a DIE covers (empty if it has neither low/high pc nor DW_AT_ranges). */
export function dieRanges(die: Die): AddressRange[] {
  const low = die.lowPc;
  const high = die.highPc;
  if (low !== undefined && high !== undefined) return high > low ? [{ start: low, end: high }] : [];
  const a = die.attr(DW_AT.ranges);
  if (!a || typeof a.value !== 'number') return [];
  const unit = die.unit;
  if (unit.version >= 5) {
    const offset = a.form === DW_FORM.rnglistx ? listOffsetFromIndex(unit, unit.debugInfo.sections.rnglists, unit.rnglistsBase, a.value) : a.value;
    return readRnglist(unit, offset);
  }
  return readRanges(unit, a.value);
}

/** Resolves a DW_FORM_rnglistx / loclistx index through the offsets table at `base`. */
export function listOffsetFromIndex(unit: DwarfUnit, section: Uint8Array, base: number, index: number): number {
  const r = new ByteReader(section, fail, 'list offsets table');
  r.seek(Math.min(base + index * unit.offsetSize, section.length));
  return base + r.unsigned(unit.offsetSize);
}

function readRnglist(unit: DwarfUnit, offset: number): AddressRange[] {
  const r = new ByteReader(unit.debugInfo.sections.rnglists, fail, '.debug_rnglists');
  r.seek(Math.min(offset, r.end));
  const ranges: AddressRange[] = [];
  let base = unit.baseAddress;
  const addr = (): number => r.address(unit.addressSize);
  for (let n = 0; n < MAX_LIST_ENTRIES; n++) {
    const kind = r.u8();
    switch (kind) {
      case DW_RLE.end_of_list: return ranges;
      case DW_RLE.base_addressx: base = unit.indexedAddress(r.uleb()); break;
      case DW_RLE.startx_endx: push(ranges, unit.indexedAddress(r.uleb()), unit.indexedAddress(r.uleb())); break;
      case DW_RLE.startx_length: { const s = unit.indexedAddress(r.uleb()); push(ranges, s, s + r.uleb()); break; }
      case DW_RLE.offset_pair: { const s = r.uleb(); const e = r.uleb(); push(ranges, base + s, base + e); break; }
      case DW_RLE.base_address: base = addr(); break;
      case DW_RLE.start_end: { const s = addr(); push(ranges, s, addr()); break; }
      case DW_RLE.start_length: { const s = addr(); push(ranges, s, s + r.uleb()); break; }
      default: throw fail(`unknown range list entry kind ${kind} at offset ${r.offset - 1}`);
    }
  }
  throw fail('a range list does not end');
}

function readRanges(unit: DwarfUnit, offset: number): AddressRange[] {
  const r = new ByteReader(unit.debugInfo.sections.ranges, fail, '.debug_ranges');
  r.seek(Math.min(offset, r.end));
  const ranges: AddressRange[] = [];
  // The base address selection entry starts with the largest address: all ones, which the
  // address rule holds as -1 for 8-byte addresses (docs/addresses.md).
  const max = baseSelection(unit.addressSize);
  let base = unit.baseAddress;
  for (let n = 0; n < MAX_LIST_ENTRIES; n++) {
    const start = r.address(unit.addressSize);
    const end = r.address(unit.addressSize);
    if (start === 0 && end === 0) return ranges;
    if (start === max) base = end;
    else push(ranges, base + start, base + end);
  }
  throw fail('a range list does not end');
}

/** The first word of a DWARF 2-4 base address selection entry, as ByteReader.address reads it. */
export function baseSelection(addressSize: number): number {
  return addressSize === 8 ? -1 : addressSize === 2 ? 0xffff : 0xffffffff;
}

function push(ranges: AddressRange[], start: number, end: number): void {
  if (end > start) ranges.push({ start, end });
}

export function rangesContain(ranges: readonly AddressRange[], address: number): boolean {
  for (const r of ranges) if (address >= r.start && address < r.end) return true;
  return false;
}
