// The disassembler: i386 machine code to AT&T text (as gdb shows it) through iced-x86, with
// branch targets labelled by symbol, and a way to find instruction starts before an address.

import { Decoder, DecoderOptions, Formatter, FormatterSyntax, Instruction, Mnemonic, Register } from 'iced-x86';
import { addressFromBigInt, addressToBigInt, AddressWidth, wrapAddress } from '../../../qemu-bridge/src/address';
import type { ElfFile } from '../symbols/elf';

export interface DecodedInstruction {
  address: number;
  length: number;
  bytes: Uint8Array;
  text: string;
  invalid: boolean;
  /** Target of a direct jump or call. */
  branchTarget?: number;
}

let formatter: Formatter | undefined;

function getFormatter(): Formatter {
  if (!formatter) {
    formatter = new Formatter(FormatterSyntax.Gas);
    formatter.uppercaseHex = false;
    formatter.hexPrefix = '0x';
    formatter.hexSuffix = '';
    formatter.spaceAfterOperandSeparator = false;
    formatter.smallHexNumbersInDecimal = false;
  }
  return formatter;
}

/** How code is decoded: the CPU's instruction bitness and the width of its address numbers. */
export interface CodeMode {
  readonly bitness: 16 | 32 | 64;
  readonly width: AddressWidth;
}

export const I386_CODE: CodeMode = { bitness: 32, width: 32 };

/** Decodes `bytes` (code at `address`) until `limit` instructions or the bytes run out. */
export function decodeInstructions(bytes: Uint8Array, address: number, limit = Number.MAX_SAFE_INTEGER, mode: CodeMode = I386_CODE): DecodedInstruction[] {
  const decoder = new Decoder(mode.bitness, bytes, DecoderOptions.None);
  decoder.ip = addressToBigInt(address, mode.width);
  const out: DecodedInstruction[] = [];
  const f = getFormatter();
  try {
    while (decoder.canDecode && out.length < limit) {
      const offset = decoder.position;
      const instr: Instruction = decoder.decode();
      try {
        const length = instr.length;
        const invalid = instr.isInvalid;
        // An instruction cut off by the end of the buffer is not known yet.
        if (invalid && offset + 15 > bytes.length) break;
        const target = !invalid && (instr.isCallNear || instr.isJmpNear || instr.isJccShort || instr.isJccNear || instr.isJmpShort || instr.isJcxShort || instr.isLoop)
          ? addressFromBigInt(mode.width === 32 ? BigInt.asUintN(32, instr.nearBranchTarget) : instr.nearBranchTarget, mode.width) : undefined;
        out.push({
          address: wrapAddress(address + offset, mode.width),
          length: invalid ? 1 : length,
          bytes: bytes.slice(offset, offset + (invalid ? 1 : length)),
          text: invalid ? '(bad)' : f.format(instr),
          invalid,
          ...(target !== undefined ? { branchTarget: target } : {}),
        });
        if (invalid) decoder.position = offset + 1;
      } finally {
        instr.free();
      }
    }
  } finally {
    decoder.free();
  }
  return out;
}

/**
 * Instruction starts before `address`: decodes from each of the 16 bytes after `windowStart`
 * until one stream lands exactly on `address` (x86 code resynchronises within a few instructions).
 */
export function instructionsBefore(bytes: Uint8Array, windowStart: number, address: number, mode: CodeMode = I386_CODE): DecodedInstruction[] {
  for (let skip = 0; skip < 16 && windowStart + skip < address; skip++) {
    const list = decodeInstructions(bytes.subarray(skip, address - windowStart), windowStart + skip, Number.MAX_SAFE_INTEGER, mode);
    const last = list[list.length - 1];
    if (last && last.address + last.length === address && !list.some((i) => i.invalid)) return list;
  }
  return [];
}

const SHT_PROGBITS = 1;
const SHF_EXECINSTR = 4;
/** A bound on the code swept (a kernel's text is far smaller). */
const MAX_CODE_BYTES = 64 << 20;

/**
 * Decodes every executable section of `elf` (as 64-bit code in an ELF64, else 32-bit) and calls
 * `visit` for each instruction with its address and the next one's. Decoding restarts at every
 * code symbol, so bytes that are data between functions cannot shift the instructions of the next.
 */
export function sweepCode(elf: ElfFile, visit: (instr: Instruction, address: number, next: number) => void): void {
  const width = elf.addressWidth;
  let swept = 0;
  for (const section of elf.sections) {
    if (section.type !== SHT_PROGBITS || (section.flags & SHF_EXECINSTR) === 0 || section.size === 0) continue;
    swept += section.size;
    if (swept > MAX_CODE_BYTES) break;
    const code = elf.sectionData(section);
    const starts = [...new Set(elf.symbols
      .filter((s) => (s.type === 'func' || s.type === 'notype') && s.section === section.name && s.value > section.addr && s.value < section.addr + code.length)
      .map((s) => s.value - section.addr))].sort((a, b) => a - b);
    const pieces = [0, ...starts, code.length];
    const instr = new Instruction();
    try {
      for (let k = 0; k + 1 < pieces.length; k++) {
        if (pieces[k + 1] <= pieces[k]) continue;
        const decoder = new Decoder(width, code.subarray(pieces[k], pieces[k + 1]), DecoderOptions.None);
        decoder.ip = addressToBigInt(section.addr + pieces[k], width);
        try {
          while (decoder.canDecode) {
            decoder.decodeOut(instr);
            visit(instr, addressFromBigInt(instr.ip, width), addressFromBigInt(instr.nextIP, width));
          }
        } finally {
          decoder.free();
        }
      }
    } finally {
      instr.free();
    }
  }
}

/** A `mov <register>, %crN` instruction: where it is, where the next one starts, and the general register it loads. */
export interface ControlRegisterWrite {
  readonly address: number;
  readonly next: number;
  /** Lower-case source register (`eax`, `rdi`, …). */
  readonly source: string;
}

/**
 * Every `mov` that loads control register `cr` (0F 22 /r with ModRM.reg = cr) in the ELF's code,
 * in address order. Instruction boundaries come from decoding (sweepCode), so the same bytes inside
 * another instruction's operands are not taken for one.
 */
export function controlRegisterWrites(elf: ElfFile, cr: 0 | 2 | 3 | 4 | 8): ControlRegisterWrite[] {
  const target = ({ 0: Register.CR0, 2: Register.CR2, 3: Register.CR3, 4: Register.CR4, 8: Register.CR8 } as const)[cr];
  const out: ControlRegisterWrite[] = [];
  sweepCode(elf, (instr, address, next) => {
    if (instr.mnemonic !== Mnemonic.Mov || instr.op0Register !== target) return;
    const source = (Register as unknown as Record<number, string>)[instr.op1Register] ?? '';
    out.push({ address, next, source: source.toLowerCase() });
  });
  return out;
}
