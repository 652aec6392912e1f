// .debug_line: the line number program header (DWARF 2-5 file and directory tables) and the
// state machine that turns the program into rows (address -> file, line, column, is_stmt).

import { ByteReader, readCString } from './byteReader';
import { DwarfFormatError } from './errors';
import { DW_FORM, DW_LNCT, DW_LNE, DW_LNS } from './dwarfConstants';
import { DwarfSections } from './dwarfSections';

export interface LineFileEntry {
  /** The path as written in the table (may be relative). */
  name: string;
  /** Directory index of the entry. */
  directoryIndex: number;
  /** The name joined with its directory (and the compilation directory when relative). */
  path: string;
}

export interface LineRow {
  address: number;
  /** Index into the header's file table (as the program numbers them). */
  file: number;
  line: number;
  column: number;
  isStmt: boolean;
  basicBlock: boolean;
  endSequence: boolean;
  prologueEnd: boolean;
  epilogueBegin: boolean;
  discriminator: number;
}

export interface LineProgramHeader {
  offset: number;
  version: number;
  addressSize: number;
  minimumInstructionLength: number;
  maximumOperationsPerInstruction: number;
  defaultIsStmt: boolean;
  lineBase: number;
  lineRange: number;
  opcodeBase: number;
  standardOpcodeLengths: number[];
  directories: string[];
  /** Indexed as the program indexes files: from 0 in DWARF 5, from 1 in DWARF 2-4 (slot 0 unused). */
  files: (LineFileEntry | undefined)[];
  programStart: number;
  programEnd: number;
}

export interface LineProgram {
  header: LineProgramHeader;
  rows: LineRow[];
}

const fail = (detail: string): Error => new DwarfFormatError(detail);

/** Joins a directory and a name the way a C compiler would (absolute names win). */
export function joinPath(dir: string, name: string): string {
  if (name.startsWith('/') || dir === '') return name;
  return dir.endsWith('/') ? dir + name : `${dir}/${name}`;
}

/**
 * Parses the line program at `offset`. `compDir` resolves relative directories, `unitAddressSize`
 * is used for DWARF <= 4 headers, which do not carry one. Throws DwarfFormatError.
 */
export function parseLineProgram(sections: DwarfSections, offset: number, compDir: string, unitAddressSize: number): LineProgram {
  const header = parseLineProgramHeader(sections, offset, compDir, unitAddressSize);
  return { header, rows: runLineProgram(sections.line, header) };
}

/** Parses only the header (file and directory tables) of the line program at `offset`. */
export function parseLineProgramHeader(sections: DwarfSections, offset: number, compDir: string, unitAddressSize: number): LineProgramHeader {
  const r = new ByteReader(sections.line, fail, '.debug_line', offset);
  let length = r.u32();
  let offsetSize = 4;
  if (length === 0xffffffff) {
    length = r.safe(r.u64());
    offsetSize = 8;
  }
  const end = r.offset + length;
  if (end > r.end) throw fail(`line program at ${offset} runs past the end of .debug_line`);
  const version = r.u16();
  if (version < 2 || version > 5) throw new DwarfFormatError(`line table version ${version} is not supported`, 'dwarf-unsupported');
  let addressSize = unitAddressSize;
  if (version >= 5) {
    addressSize = r.u8();
    r.u8(); // segment selector size
  }
  const headerLength = r.unsigned(offsetSize);
  const programStart = r.offset + headerLength;
  if (programStart > end) throw fail(`line program header at ${offset} is longer than the program`);
  const h = new ByteReader(sections.line, fail, '.debug_line header', r.offset, programStart);
  const minimumInstructionLength = h.u8();
  const maximumOperationsPerInstruction = version >= 4 ? h.u8() : 1;
  const defaultIsStmt = h.u8() !== 0;
  const lineBase = h.s8();
  const lineRange = h.u8();
  const opcodeBase = h.u8();
  if (lineRange === 0) throw fail(`line program at ${offset} has line_range 0`);
  const standardOpcodeLengths: number[] = [];
  for (let i = 1; i < opcodeBase; i++) standardOpcodeLengths.push(h.u8());

  const directories: string[] = [];
  const files: (LineFileEntry | undefined)[] = [];
  if (version >= 5) {
    const dirEntries = readEntryTable(h, sections, offsetSize);
    for (const e of dirEntries) directories.push(e.path ?? '');
    // Directory 0 is the compilation directory; others may be relative to it.
    for (let i = 1; i < directories.length; i++) directories[i] = joinPath(directories[0] || compDir, directories[i]);
    for (const e of readEntryTable(h, sections, offsetSize)) {
      const name = e.path ?? '';
      const dirIndex = e.directoryIndex ?? 0;
      const dir = directories[dirIndex] ?? compDir;
      files.push({ name, directoryIndex: dirIndex, path: joinPath(joinPath(compDir, dir), name) });
    }
  } else {
    directories.push(compDir);
    for (;;) {
      const dir = h.cstring();
      if (dir === '') break;
      directories.push(joinPath(compDir, dir));
    }
    files.push(undefined);
    for (;;) {
      const name = h.cstring();
      if (name === '') break;
      const dirIndex = h.uleb();
      h.uleb(); // modification time
      h.uleb(); // length
      files.push({ name, directoryIndex: dirIndex, path: joinPath(directories[dirIndex] ?? compDir, name) });
    }
  }
  return {
    offset, version, addressSize, minimumInstructionLength, maximumOperationsPerInstruction, defaultIsStmt,
    lineBase, lineRange, opcodeBase, standardOpcodeLengths, directories, files, programStart, programEnd: end,
  };
}

interface EntryFields {
  path?: string;
  directoryIndex?: number;
}

/** Reads a DWARF 5 entry-format description and the entries it describes. */
function readEntryTable(h: ByteReader, sections: DwarfSections, offsetSize: number): EntryFields[] {
  const formatCount = h.u8();
  const format: { type: number; form: number }[] = [];
  for (let i = 0; i < formatCount; i++) format.push({ type: h.uleb(), form: h.uleb() });
  const count = h.uleb();
  if (formatCount === 0 && count > 0) throw fail('a line table lists entries without describing them');
  if (count > h.remaining) throw fail(`a line table claims ${count} entries in ${h.remaining} bytes`);
  const entries: EntryFields[] = [];
  for (let i = 0; i < count; i++) {
    const entry: EntryFields = {};
    for (const f of format) {
      const value = readEntryValue(h, f.form, sections, offsetSize);
      if (f.type === DW_LNCT.path && typeof value === 'string') entry.path = value;
      else if (f.type === DW_LNCT.directory_index && typeof value === 'number') entry.directoryIndex = value;
    }
    entries.push(entry);
  }
  return entries;
}

function readEntryValue(h: ByteReader, form: number, sections: DwarfSections, offsetSize: number): string | number | undefined {
  switch (form) {
    case DW_FORM.string: return h.cstring();
    case DW_FORM.line_strp: return readCString(sections.lineStr, h.unsigned(offsetSize), fail, '.debug_line_str');
    case DW_FORM.strp: return readCString(sections.str, h.unsigned(offsetSize), fail, '.debug_str');
    case DW_FORM.udata: return h.uleb();
    case DW_FORM.data1: return h.u8();
    case DW_FORM.data2: return h.u16();
    case DW_FORM.data4: return h.u32();
    case DW_FORM.data8: h.skip(8); return undefined;
    case DW_FORM.data16: h.skip(16); return undefined;
    case DW_FORM.block: h.skip(h.uleb()); return undefined;
    default: throw fail(`line table entry uses unsupported form 0x${form.toString(16)}`);
  }
}

function checked(address: number): number {
  if (!Number.isSafeInteger(address)) throw fail(`a line program advances to address ${address}, beyond 2^53`);
  return address;
}

/** Runs the line program described by `header` and returns its rows in program order. */
export function runLineProgram(section: Uint8Array, header: LineProgramHeader): LineRow[] {
  const r = new ByteReader(section, fail, '.debug_line program', header.programStart, header.programEnd);
  const rows: LineRow[] = [];
  const minLen = header.minimumInstructionLength;
  // 32-bit addresses wrap at 2^32; 64-bit ones are signed numbers (docs/addresses.md) and a
  // program that advances past 2^53 fails below rather than going inexact.
  const wide = header.addressSize === 8;
  const firstFile = 1;
  let address = 0;
  let file = firstFile;
  let line = 1;
  let column = 0;
  let isStmt = header.defaultIsStmt;
  let basicBlock = false;
  let prologueEnd = false;
  let epilogueBegin = false;
  let discriminator = 0;
  const reset = (): void => {
    address = 0; file = firstFile; line = 1; column = 0; isStmt = header.defaultIsStmt;
    basicBlock = false; prologueEnd = false; epilogueBegin = false; discriminator = 0;
  };
  const emit = (endSequence: boolean): void => {
    rows.push({ address, file, line, column, isStmt, basicBlock, endSequence, prologueEnd, epilogueBegin, discriminator });
    basicBlock = false; prologueEnd = false; epilogueBegin = false; discriminator = 0;
  };
  const advance = (operationAdvance: number): void => {
    address = wide ? checked(address + operationAdvance * minLen) : (address + operationAdvance * minLen) >>> 0;
  };
  while (!r.atEnd) {
    const opcode = r.u8();
    if (opcode >= header.opcodeBase) {
      const adjusted = opcode - header.opcodeBase;
      advance(Math.floor(adjusted / header.lineRange));
      line += header.lineBase + (adjusted % header.lineRange);
      emit(false);
      continue;
    }
    switch (opcode) {
      case 0: {
        const len = r.uleb();
        if (len === 0) break;
        const ext = r.sub(r.offset, len, 'extended line opcode');
        r.skip(len);
        const sub = ext.u8();
        if (sub === DW_LNE.end_sequence) {
          emit(true);
          reset();
        } else if (sub === DW_LNE.set_address) {
          address = ext.address(Math.min(ext.remaining, 8));
        } else if (sub === DW_LNE.set_discriminator) {
          discriminator = ext.uleb();
        }
        // DW_LNE_define_file and vendor opcodes are skipped by their length.
        break;
      }
      case DW_LNS.copy: emit(false); break;
      case DW_LNS.advance_pc: advance(r.uleb()); break;
      case DW_LNS.advance_line: line += r.sleb(); break;
      case DW_LNS.set_file: file = r.uleb(); break;
      case DW_LNS.set_column: column = r.uleb(); break;
      case DW_LNS.negate_stmt: isStmt = !isStmt; break;
      case DW_LNS.set_basic_block: basicBlock = true; break;
      case DW_LNS.const_add_pc: advance(Math.floor((255 - header.opcodeBase) / header.lineRange)); break;
      case DW_LNS.fixed_advance_pc: address = wide ? checked(address + r.u16()) : (address + r.u16()) >>> 0; break;
      case DW_LNS.set_prologue_end: prologueEnd = true; break;
      case DW_LNS.set_epilogue_begin: epilogueBegin = true; break;
      case DW_LNS.set_isa: r.uleb(); break;
      default: {
        // An unknown standard opcode: skip its ULEB operands as the header says.
        const n = header.standardOpcodeLengths[opcode - 1] ?? 0;
        for (let i = 0; i < n; i++) r.uleb();
      }
    }
  }
  return rows;
}
