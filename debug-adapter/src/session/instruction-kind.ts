// What one x86 instruction does to control flow, as run control needs it: calls (stepped over
// with a breakpoint at the return address), returns, software interrupts, hlt (which a single
// step cannot finish while interrupts are masked), and everything else. Decoded with iced-x86.

import { Code, Decoder, DecoderOptions, FlowControl } from 'iced-x86';

export type InstructionKind = 'call' | 'return' | 'interrupt' | 'halt' | 'branch' | 'other' | 'invalid';

export interface ClassifiedInstruction {
  address: number;
  length: number;
  kind: InstructionKind;
}

/** Classifies the instruction at the start of `bytes` (code at `address`, 32-bit mode). */
export function classifyInstruction(bytes: Uint8Array, address: number): ClassifiedInstruction {
  const decoder = new Decoder(32, bytes, DecoderOptions.None);
  decoder.ip = BigInt(address >>> 0);
  const instr = decoder.decode();
  try {
    if (instr.isInvalid) return { address, length: 1, kind: 'invalid' };
    const length = instr.length;
    let kind: InstructionKind;
    if (instr.code === Code.Hlt) kind = 'halt';
    else {
      switch (instr.flowControl) {
        case FlowControl.Call:
        case FlowControl.IndirectCall:
          kind = 'call';
          break;
        case FlowControl.Return:
          kind = 'return';
          break;
        case FlowControl.Interrupt:
          kind = 'interrupt';
          break;
        case FlowControl.UnconditionalBranch:
        case FlowControl.IndirectBranch:
        case FlowControl.ConditionalBranch:
          kind = 'branch';
          break;
        default:
          kind = 'other';
      }
    }
    return { address, length, kind };
  } finally {
    instr.free();
    decoder.free();
  }
}
