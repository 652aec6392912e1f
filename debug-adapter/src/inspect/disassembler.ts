// The disassembler: i386 machine code to AT&T text (as gdb shows it) through iced-x86, with
// branch targets labelled by symbol, and a way to find instruction starts before an address.

import { Decoder, DecoderOptions, Formatter, FormatterSyntax, Instruction } from 'iced-x86';
import { addressFromBigInt, addressToBigInt, AddressWidth, wrapAddress } from '../../../qemu-bridge/src/address';

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
