// ELF little-endian reader, ELF32 (i386) and ELF64 (x86-64): file header, section headers and
// names, symbol tables and program headers, plus the virtual <-> load address mapping of PT_LOAD
// segments (a higher-half kernel is linked at 0xC01xxxxx or 0xffffffff801xxxxx but loaded at
// 0x001xxxxx). Addresses follow the address rule (docs/addresses.md): ELF32 unsigned 32-bit,
// ELF64 the signed 64-bit value.

import { ByteReader, readCString } from './byteReader';
import { ElfFormatError } from './errors';
import { countAtOrBelow } from './sorted-search';
import { AddressWidth, wrapAddress } from '../../../qemu-bridge/src/address';

export const SHT_NULL = 0;
export const SHT_PROGBITS = 1;
export const SHT_SYMTAB = 2;
export const SHT_STRTAB = 3;
export const SHT_RELA = 4;
export const SHT_NOBITS = 8;
export const SHT_REL = 9;
export const SHT_DYNSYM = 11;

export const PT_LOAD = 1;

export const ET_REL = 1;
export const ET_EXEC = 2;
export const ET_DYN = 3;

export const EM_386 = 3;
export const EM_X86_64 = 62;

/** The instruction set an image is built for. */
export type ElfArch = 'i386' | 'x86-64';

export const SHN_UNDEF = 0;
export const SHN_ABS = 0xfff1;
export const SHN_COMMON = 0xfff2;

export type SymbolType = 'notype' | 'object' | 'func' | 'section' | 'file' | 'common' | 'tls' | 'other';
export type SymbolBinding = 'local' | 'global' | 'weak' | 'other';

export interface ElfHeader {
  type: number;
  machine: number;
  entry: number;
  phoff: number;
  shoff: number;
  flags: number;
  phentsize: number;
  phnum: number;
  shentsize: number;
  shnum: number;
  shstrndx: number;
}

export interface ElfSection {
  index: number;
  name: string;
  type: number;
  flags: number;
  addr: number;
  offset: number;
  size: number;
  link: number;
  info: number;
  addralign: number;
  entsize: number;
}

export interface ElfSymbol {
  name: string;
  value: number;
  size: number;
  type: SymbolType;
  binding: SymbolBinding;
  /** Section header index (or SHN_ABS / SHN_COMMON / SHN_UNDEF). */
  sectionIndex: number;
  /** Name of the section the symbol lives in, when it has one. */
  section?: string;
  /** Which table it came from. */
  table: '.symtab' | '.dynsym';
}

export interface ProgramHeader {
  type: number;
  offset: number;
  vaddr: number;
  paddr: number;
  filesz: number;
  memsz: number;
  flags: number;
  align: number;
}

const SYMBOL_TYPES: SymbolType[] = ['notype', 'object', 'func', 'section', 'file', 'common', 'tls'];
const SYMBOL_BINDINGS: SymbolBinding[] = ['local', 'global', 'weak'];

const elfFail = (detail: string): Error => new ElfFormatError('elf-malformed', detail);
const truncatedFail = (detail: string): Error => new ElfFormatError('elf-truncated', detail);

/** A parsed ELF32 or ELF64 (x86-64) little-endian image. Construction validates headers; throws ElfFormatError. */
export class ElfFile {
  readonly header: ElfHeader;
  /** 32 for ELF32, 64 for ELF64. */
  readonly elfClass: 32 | 64;
  /** 'x86-64' for ELF64 EM_X86_64; every ELF32 image is read as 'i386'. */
  readonly arch: ElfArch;
  /** Bytes of an address (and of a pointer): 4 or 8. */
  readonly addressSize: 4 | 8;
  /** Bits of an address, for the qemu-bridge/address conversions. */
  readonly addressWidth: AddressWidth;
  readonly sections: readonly ElfSection[];
  readonly programHeaders: readonly ProgramHeader[];
  readonly symbols: readonly ElfSymbol[];
  private readonly sectionByName = new Map<string, ElfSection>();
  private readonly symbolsByName = new Map<string, ElfSymbol[]>();
  /** Function and object symbols with a non-zero size or a definition, sorted by value. */
  private readonly sortedSymbols: ElfSymbol[];
  private readonly loadSegments: ProgramHeader[];

  readonly bytes: Uint8Array;

  constructor(input: Uint8Array) {
    // A plain Uint8Array view: subarrays of a Node Buffer are much slower to create.
    const bytes = new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
    this.bytes = bytes;
    if (bytes.length < 16 || bytes[0] !== 0x7f || bytes[1] !== 0x45 || bytes[2] !== 0x4c || bytes[3] !== 0x46) {
      throw new ElfFormatError('not-elf', 'no ELF magic number');
    }
    if (bytes[4] !== 1 && bytes[4] !== 2) throw new ElfFormatError('unsupported-elf', `its class byte is ${bytes[4]}, neither 32-bit nor 64-bit`);
    if (bytes[5] !== 1) throw new ElfFormatError('unsupported-elf', 'it is not little-endian');
    const is64 = bytes[4] === 2;
    this.elfClass = is64 ? 64 : 32;
    this.addressSize = is64 ? 8 : 4;
    this.addressWidth = is64 ? 64 : 32;
    const r = new ByteReader(bytes, truncatedFail, 'ELF header');
    r.seek(16);
    const type = r.u16();
    const machine = r.u16();
    r.u32(); // e_version
    if (is64 && machine !== EM_X86_64) throw new ElfFormatError('unsupported-elf', `it is a 64-bit ELF for machine ${machine}, not x86-64`);
    this.arch = is64 ? 'x86-64' : 'i386';
    const header: ElfHeader = {
      type,
      machine,
      entry: this.address(r),
      phoff: this.offset(r),
      shoff: this.offset(r),
      flags: r.u32(),
      phentsize: (r.u16(), r.u16()),
      phnum: r.u16(),
      shentsize: r.u16(),
      shnum: r.u16(),
      shstrndx: r.u16(),
    };
    this.header = header;
    this.sections = this.readSections();
    for (const s of this.sections) if (!this.sectionByName.has(s.name)) this.sectionByName.set(s.name, s);
    this.programHeaders = this.readProgramHeaders();
    this.loadSegments = this.programHeaders.filter((p) => p.type === PT_LOAD && p.memsz > 0);
    this.symbols = [...this.readSymbolTable('.symtab'), ...this.readSymbolTable('.dynsym')];
    for (const sym of this.symbols) {
      if (!sym.name) continue;
      const list = this.symbolsByName.get(sym.name);
      if (list) list.push(sym);
      else this.symbolsByName.set(sym.name, [sym]);
    }
    this.sortedSymbols = this.symbols
      .filter((s) => s.name && s.sectionIndex !== SHN_UNDEF && (s.type === 'func' || s.type === 'object' || s.type === 'notype'))
      .sort((a, b) => a.value - b.value || b.size - a.size);
  }

  /** An address field of the file's class (ELF64: the signed value, docs/addresses.md). */
  private address(r: ByteReader): number {
    return r.address(this.addressSize);
  }

  /** An offset, size or other unsigned word of the file's class. */
  private offset(r: ByteReader): number {
    return r.unsigned(this.addressSize);
  }

  private readSections(): ElfSection[] {
    const h = this.header;
    if (h.shoff === 0 || h.shnum === 0) return [];
    if (h.shentsize < (this.elfClass === 64 ? 64 : 40)) throw new ElfFormatError('elf-malformed', `section header size ${h.shentsize} is too small`);
    if (h.shoff + h.shnum * h.shentsize > this.bytes.length) {
      throw new ElfFormatError('elf-truncated', 'the section header table runs past the end of the file');
    }
    const raw: ElfSection[] = [];
    for (let i = 0; i < h.shnum; i++) {
      const r = new ByteReader(this.bytes, truncatedFail, 'section header', h.shoff + i * h.shentsize);
      const nameOffset = r.u32();
      const section: ElfSection = {
        index: i,
        name: String(nameOffset),
        type: r.u32(),
        flags: this.offset(r),
        addr: this.address(r),
        offset: this.offset(r),
        size: this.offset(r),
        link: r.u32(),
        info: r.u32(),
        addralign: this.offset(r),
        entsize: this.offset(r),
      };
      if (section.type !== SHT_NOBITS && section.type !== SHT_NULL && section.offset + section.size > this.bytes.length) {
        throw new ElfFormatError('elf-truncated', `section ${i} runs past the end of the file`);
      }
      raw.push(section);
    }
    if (h.shstrndx !== 0) {
      const strtab = raw[h.shstrndx];
      if (!strtab) throw new ElfFormatError('elf-malformed', 'the section name table index is out of range');
      const names = this.bytes.subarray(strtab.offset, strtab.offset + strtab.size);
      for (const s of raw) {
        const off = Number(s.name);
        s.name = off === 0 && names.length === 0 ? '' : readCString(names, off, elfFail, 'section name table');
      }
    } else {
      for (const s of raw) s.name = '';
    }
    return raw;
  }

  private readProgramHeaders(): ProgramHeader[] {
    const h = this.header;
    if (h.phoff === 0 || h.phnum === 0) return [];
    if (h.phentsize < (this.elfClass === 64 ? 56 : 32)) throw new ElfFormatError('elf-malformed', `program header size ${h.phentsize} is too small`);
    const result: ProgramHeader[] = [];
    for (let i = 0; i < h.phnum; i++) {
      const r = new ByteReader(this.bytes, truncatedFail, 'program header', h.phoff + i * h.phentsize);
      if (this.elfClass === 64) {
        const type = r.u32();
        const flags = r.u32();
        const offset = this.offset(r);
        const vaddr = this.address(r);
        const paddr = this.address(r);
        result.push({ type, offset, vaddr, paddr, filesz: this.offset(r), memsz: this.offset(r), flags, align: this.offset(r) });
        continue;
      }
      result.push({
        type: r.u32(),
        offset: r.u32(),
        vaddr: r.u32(),
        paddr: r.u32(),
        filesz: r.u32(),
        memsz: r.u32(),
        flags: r.u32(),
        align: r.u32(),
      });
    }
    return result;
  }

  private readSymbolTable(name: '.symtab' | '.dynsym'): ElfSymbol[] {
    const table = this.sectionByName.get(name);
    if (!table || table.type === SHT_NOBITS) return [];
    const strtab = this.sections[table.link];
    if (!strtab) throw new ElfFormatError('elf-malformed', `${name} links to a missing string table`);
    const names = this.sectionData(strtab);
    const minimum = this.elfClass === 64 ? 24 : 16;
    const entsize = table.entsize || minimum;
    if (entsize < minimum) throw new ElfFormatError('elf-malformed', `${name} entry size ${entsize} is too small`);
    const result: ElfSymbol[] = [];
    const count = Math.floor(table.size / entsize);
    for (let i = 0; i < count; i++) {
      const r = new ByteReader(this.bytes, truncatedFail, name, table.offset + i * entsize, table.offset + (i + 1) * entsize);
      const nameOffset = r.u32();
      let value: number | undefined;
      let size: number;
      let info: number;
      let sectionIndex: number;
      if (this.elfClass === 64) {
        info = r.u8();
        r.u8(); // st_other
        sectionIndex = r.u16();
        const raw = r.u64();
        value = addressOrUndefined(raw);
        size = r.safe(r.u64());
      } else {
        value = r.u32();
        size = r.u32();
        info = r.u8();
        r.u8(); // st_other
        sectionIndex = r.u16();
      }
      if (i === 0) continue; // the null symbol
      // An absolute ELF64 symbol whose value is no address we can hold (a constant above
      // 2^53 used as a mask, say) is left out rather than failing the whole image.
      if (value === undefined) continue;
      const symbol: ElfSymbol = {
        name: nameOffset === 0 ? '' : readCString(names, nameOffset, elfFail, `${name} names`),
        value,
        size,
        type: SYMBOL_TYPES[info & 0xf] ?? 'other',
        binding: SYMBOL_BINDINGS[info >> 4] ?? 'other',
        sectionIndex,
        table: name,
      };
      const section = sectionIndex !== SHN_UNDEF && sectionIndex < 0xff00 ? this.sections[sectionIndex] : undefined;
      if (section) symbol.section = section.name;
      result.push(symbol);
    }
    return result;
  }

  /** The section called `name` (the first one, if several share it). */
  section(name: string): ElfSection | undefined {
    return this.sectionByName.get(name);
  }

  /** The file bytes of a section (empty for SHT_NOBITS). A view, not a copy. */
  sectionData(section: ElfSection): Uint8Array {
    if (section.type === SHT_NOBITS || section.type === SHT_NULL) return new Uint8Array(0);
    return this.bytes.subarray(section.offset, section.offset + section.size);
  }

  /** The global (or, failing that, any) symbol called `name`. */
  symbolByName(name: string): ElfSymbol | undefined {
    const list = this.symbolsByName.get(name);
    if (!list) return undefined;
    return list.find((s) => s.binding === 'global' && s.sectionIndex !== SHN_UNDEF)
      ?? list.find((s) => s.sectionIndex !== SHN_UNDEF)
      ?? list[0];
  }

  /** Every symbol called `name` (static functions may repeat across files). */
  symbolsNamed(name: string): readonly ElfSymbol[] {
    return this.symbolsByName.get(name) ?? [];
  }

  /**
   * The symbol whose [value, value+size) contains `address`; a zero-sized symbol matches only
   * its own address. Prefers functions and objects over untyped labels. Returns undefined if
   * no symbol covers the address.
   */
  symbolAt(address: number): ElfSymbol | undefined {
    const list = this.sortedSymbols;
    const lo = countAtOrBelow(list, address);
    let best: ElfSymbol | undefined;
    // Walk back over symbols that start at or before the address; sizes are small, so the
    // first few candidates decide. Stop once we are far below any plausible symbol.
    for (let i = lo - 1, steps = 0; i >= 0 && steps < 64; i--, steps++) {
      const s = list[i];
      const covers = s.size === 0 ? s.value === address : address < s.value + s.size;
      if (covers && (!best || rank(s) > rank(best))) best = s;
      if (best && s.value < best.value) break;
    }
    return best;
  }

  /** The nearest symbol at or below `address` (for "func+0x12" labels), or undefined. */
  nearestSymbolBelow(address: number): ElfSymbol | undefined {
    const exact = this.symbolAt(address);
    if (exact) return exact;
    const list = this.sortedSymbols;
    const lo = countAtOrBelow(list, address);
    for (let i = lo - 1; i >= 0; i--) if (list[i].type === 'func' || list[i].type === 'object') return list[i];
    return lo > 0 ? list[lo - 1] : undefined;
  }

  /** The PT_LOAD segment whose virtual range contains `address`. */
  segmentForVirtual(address: number): ProgramHeader | undefined {
    return this.loadSegments.find((p) => address >= p.vaddr && address < p.vaddr + p.memsz);
  }

  /** The PT_LOAD segment whose load (physical) range contains `address`. */
  segmentForLoad(address: number): ProgramHeader | undefined {
    return this.loadSegments.find((p) => address >= p.paddr && address < p.paddr + p.memsz);
  }

  /** Maps a link-time virtual address to where it is loaded; undefined if no segment holds it. */
  virtualToLoad(address: number): number | undefined {
    const seg = this.segmentForVirtual(address);
    return seg ? this.wrapped(address - seg.vaddr + seg.paddr) : undefined;
  }

  /** Maps a load (physical) address back to its link-time virtual address; undefined if none. */
  loadToVirtual(address: number): number | undefined {
    const seg = this.segmentForLoad(address);
    return seg ? this.wrapped(address - seg.paddr + seg.vaddr) : undefined;
  }

  /** Address arithmetic wrapped to the image's width; undefined when (hostile segments) it leaves ±2^53. */
  private wrapped(n: number): number | undefined {
    try {
      return wrapAddress(n, this.addressWidth);
    } catch {
      return undefined;
    }
  }

  /** True when some PT_LOAD segment is loaded somewhere other than its virtual address. */
  get hasLoadOffset(): boolean {
    return this.loadSegments.some((p) => p.vaddr !== p.paddr);
  }
}

function rank(s: ElfSymbol): number {
  return (s.type === 'func' || s.type === 'object' ? 4 : 0) + (s.binding === 'global' ? 2 : s.binding === 'weak' ? 1 : 0) + (s.size > 0 ? 1 : 0);
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const TWO_64 = 1n << 64n;

/** An ELF64 symbol value under the address rule, or undefined outside ±2^53. */
function addressOrUndefined(raw: bigint): number | undefined {
  const signed = raw >= 1n << 63n ? raw - TWO_64 : raw;
  return signed > MAX_SAFE || signed < -MAX_SAFE ? undefined : Number(signed);
}
