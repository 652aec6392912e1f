// Collects the DWARF sections of an ELF image. For relocatable objects (gcc -c output) the
// R_386_32 relocations (i386, SHT_REL) or R_X86_64_64/32/32S relocations (x86-64, SHT_RELA) of
// each debug section are applied to a private copy, so addresses and cross-section offsets read
// the same way as in a linked image (section-relative). Compressed sections (SHF_COMPRESSED with
// ELFCOMPRESS_ZLIB, as `gcc -gz` and Debian's debug packages write them, and the older
// `.zdebug_*` sections) are inflated first.

import { ElfFile, ElfSection, ET_REL, SHT_REL, SHT_RELA } from './elf';
import { inflateSync } from 'zlib';
import { ByteReader } from './byteReader';
import { ElfFormatError } from './errors';

export interface DwarfSections {
  info: Uint8Array;
  abbrev: Uint8Array;
  str: Uint8Array;
  lineStr: Uint8Array;
  strOffsets: Uint8Array;
  addr: Uint8Array;
  line: Uint8Array;
  ranges: Uint8Array;
  rnglists: Uint8Array;
  loc: Uint8Array;
  loclists: Uint8Array;
  frame: Uint8Array;
  ehFrame: Uint8Array;
  /** Virtual address of .eh_frame (its pc-relative pointers are relative to it). */
  ehFrameAddress: number;
}

const R_386_32 = 1;
const R_X86_64_64 = 1;
const R_X86_64_32 = 10;
const R_X86_64_32S = 11;

/** Reads the debug sections of `elf` (missing ones are empty). Throws ElfFormatError on bad relocations. */
export function readDwarfSections(elf: ElfFile): DwarfSections {
  const get = (name: string): Uint8Array => {
    const section = elf.section(name) ?? (name.startsWith('.debug_') ? elf.section(`.z${name.slice(1)}`) : undefined);
    if (!section) return new Uint8Array(0);
    const data = sectionContents(elf, section);
    return elf.header.type === ET_REL ? applyRelocations(elf, section, data) : data;
  };
  const eh = elf.section('.eh_frame');
  return {
    info: get('.debug_info'),
    abbrev: get('.debug_abbrev'),
    str: get('.debug_str'),
    lineStr: get('.debug_line_str'),
    strOffsets: get('.debug_str_offsets'),
    addr: get('.debug_addr'),
    line: get('.debug_line'),
    ranges: get('.debug_ranges'),
    rnglists: get('.debug_rnglists'),
    loc: get('.debug_loc'),
    loclists: get('.debug_loclists'),
    frame: get('.debug_frame'),
    ehFrame: get('.eh_frame'),
    ehFrameAddress: eh ? eh.addr : 0,
  };
}

const SHF_COMPRESSED = 0x800;
const ELFCOMPRESS_ZLIB = 1;
const ELFCOMPRESS_ZSTD = 2;
/** No debug section of a kernel comes near this; a larger claim is a corrupt or hostile header. */
const MAX_INFLATED = 1 << 30;

/** The contents of `section`, inflated when the file stores it compressed. Throws ElfFormatError. */
export function sectionContents(elf: ElfFile, section: ElfSection): Uint8Array {
  const data = elf.sectionData(section);
  const fail = (detail: string): Error => new ElfFormatError('elf-malformed', `section ${section.name} ${detail}`);
  let type: number;
  let size: number;
  let start: number;
  const r = new ByteReader(data, (d) => fail(`has a truncated compression header (${d})`), section.name);
  if (section.flags & SHF_COMPRESSED) {
    type = r.u32();
    if (elf.elfClass === 64) {
      r.u32(); // ch_reserved
      size = r.unsigned(8);
      r.skip(8); // ch_addralign
    } else {
      size = r.u32();
      r.skip(4);
    }
    start = r.offset;
  } else if (section.name.startsWith('.zdebug_')) {
    // "ZLIB" and the inflated size as 8 big-endian bytes.
    const magic = r.bytesOf(4);
    if (String.fromCharCode(...magic) !== 'ZLIB') return data;
    let big = 0;
    for (const b of r.bytesOf(8)) big = big * 256 + b;
    type = ELFCOMPRESS_ZLIB;
    size = big;
    start = r.offset;
  } else {
    return data;
  }
  if (type === ELFCOMPRESS_ZSTD) throw new ElfFormatError('unsupported-elf', `section ${section.name} is zstd-compressed, which this reader does not inflate (relink with --compress-debug-sections=zlib or none)`);
  if (type !== ELFCOMPRESS_ZLIB) throw fail(`uses unknown compression type ${type}`);
  if (size > MAX_INFLATED) throw fail(`claims ${size} bytes uncompressed`);
  let out: Uint8Array;
  try {
    out = inflateSync(data.subarray(start), { maxOutputLength: Math.max(size, 1) });
  } catch {
    throw fail(`does not inflate as zlib data of ${size} bytes`);
  }
  if (out.length !== size) throw fail(`inflates to ${out.length} bytes, not the ${size} its header says`);
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}

function applyRelocations(elf: ElfFile, target: ElfSection, data: Uint8Array): Uint8Array {
  if (elf.elfClass === 64) return applyRela64(elf, target, data);
  const relSections = elf.sections.filter((s) => s.type === SHT_REL && s.info === target.index);
  if (relSections.length === 0) return data;
  const copy = new Uint8Array(data);
  const view = new DataView(copy.buffer, copy.byteOffset, copy.byteLength);
  const fail = (detail: string): Error => new ElfFormatError('elf-malformed', detail);
  for (const rel of relSections) {
    const symtab = elf.sections[rel.link];
    if (!symtab) throw fail(`relocation section ${rel.name} links to a missing symbol table`);
    const symbols = elf.sectionData(symtab);
    const r = new ByteReader(elf.sectionData(rel), fail, rel.name);
    while (r.remaining >= 8) {
      const offset = r.u32();
      const info = r.u32();
      const type = info & 0xff;
      const symIndex = info >>> 8;
      if (type !== R_386_32) continue;
      if (offset + 4 > copy.length) throw fail(`relocation in ${rel.name} points outside ${target.name}`);
      const sr = new ByteReader(symbols, fail, symtab.name, 0);
      sr.seek(symIndex * 16 + 4);
      const symbolValue = sr.u32();
      const addend = view.getUint32(offset, true);
      view.setUint32(offset, (symbolValue + addend) >>> 0, true);
    }
  }
  return copy;
}

/** x86-64 objects: S + A from SHT_RELA entries (24 bytes: offset, info, addend). */
function applyRela64(elf: ElfFile, target: ElfSection, data: Uint8Array): Uint8Array {
  const relSections = elf.sections.filter((s) => s.type === SHT_RELA && s.info === target.index);
  if (relSections.length === 0) return data;
  const copy = new Uint8Array(data);
  const view = new DataView(copy.buffer, copy.byteOffset, copy.byteLength);
  const fail = (detail: string): Error => new ElfFormatError('elf-malformed', detail);
  for (const rel of relSections) {
    const symtab = elf.sections[rel.link];
    if (!symtab) throw fail(`relocation section ${rel.name} links to a missing symbol table`);
    const symbols = elf.sectionData(symtab);
    const r = new ByteReader(elf.sectionData(rel), fail, rel.name);
    while (r.remaining >= 24) {
      const offset = r.safe(r.u64());
      const info = r.u64();
      const addend = BigInt.asIntN(64, r.u64());
      const type = Number(info & 0xffffffffn);
      const symIndex = Number(info >> 32n);
      const size = type === R_X86_64_64 ? 8 : type === R_X86_64_32 || type === R_X86_64_32S ? 4 : 0;
      if (size === 0) continue;
      if (offset + size > copy.length) throw fail(`relocation in ${rel.name} points outside ${target.name}`);
      const sr = new ByteReader(symbols, fail, symtab.name, 0);
      sr.seek(Math.min(symIndex * 24 + 8, symbols.length));
      const value = sr.u64() + addend;
      if (size === 8) view.setBigUint64(offset, BigInt.asUintN(64, value), true);
      else view.setUint32(offset, Number(BigInt.asUintN(32, value)), true);
    }
  }
  return copy;
}
