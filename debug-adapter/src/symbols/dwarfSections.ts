// Collects the DWARF sections of an ELF image. For relocatable objects (gcc -c output) the
// R_386_32 relocations (i386, SHT_REL) or R_X86_64_64/32/32S relocations (x86-64, SHT_RELA) of
// each debug section are applied to a private copy, so addresses and cross-section offsets read
// the same way as in a linked image (section-relative).

import { ElfFile, ElfSection, ET_REL, SHT_REL, SHT_RELA } from './elf';
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
    const section = elf.section(name);
    if (!section) return new Uint8Array(0);
    const data = elf.sectionData(section);
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
