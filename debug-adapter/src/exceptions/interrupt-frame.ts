// The frame the CPU pushes when it delivers an exception (SDM vol. 3A, 6.12.1): at the first
// instruction of the handler, esp points at [error code], eip, cs, eflags, and, when the
// exception came from a less privileged ring, the interrupted esp and ss. Pure: turns the live
// registers at the handler's entry and those stack words into the faulting frame's registers.
// faultingFrame64 does the same for the long-mode frame (8-byte slots, ss:rsp always pushed).

import { addressFromBigInt } from '../../../qemu-bridge/src/address';

export interface FaultingFrame {
  /** Registers of the interrupted code: the live ones with eip, cs, eflags, esp (and ss) from the frame. */
  readonly registers: Map<string, number>;
  readonly errorCode?: number;
  /** True when the exception came from a less privileged ring (user mode). */
  readonly fromUser: boolean;
}

/** Words to read at esp for a frame: error code, eip, cs, eflags, esp, ss. */
export const FRAME_WORDS = 6;

/**
 * Rebuilds the faulting frame from the registers at the handler's entry and the words at esp
 * (at least 3, or 4 with an error code; 2 more for a ring change). Returns undefined when the
 * words are too few or the pushed cs is not a code selector the CPU could have pushed.
 */
export function faultingFrame(live: ReadonlyMap<string, number>, words: Buffer, hasErrorCode: boolean): FaultingFrame | undefined {
  const esp = live.get('esp');
  if (esp === undefined) return undefined;
  const first = hasErrorCode ? 1 : 0;
  if (words.length < (first + 3) * 4) return undefined;
  const w = (i: number): number => words.readUInt32LE(i * 4);
  const eip = w(first);
  const cs = w(first + 1) & 0xffff;
  const eflags = w(first + 2);
  if (cs === 0) return undefined;
  const handlerRing = (live.get('cs') ?? 0) & 3;
  const fromUser = (cs & 3) > handlerRing;
  const registers = new Map(live);
  registers.set('eip', eip >>> 0);
  registers.set('cs', cs);
  registers.set('eflags', eflags >>> 0);
  if (fromUser) {
    if (words.length < (first + 5) * 4) return undefined;
    registers.set('esp', w(first + 3) >>> 0);
    registers.set('ss', w(first + 4) & 0xffff);
  } else {
    registers.set('esp', (esp + (first + 3) * 4) >>> 0);
  }
  return { registers, fromUser, ...(hasErrorCode ? { errorCode: w(0) >>> 0 } : {}) };
}

/** Bytes of one slot of the long-mode frame. */
export const LONG_FRAME_SLOT = 8;

/**
 * The long-mode frame (SDM vol. 3A, 6.14.2): in 64-bit mode the CPU always pushes ss, rsp,
 * rflags, cs, rip (and the error code) as 8-byte slots, after aligning rsp to 16 bytes, from any
 * ring. So the faulting rsp and ss are always in the frame, never computed. `words` are the slots
 * at the handler's rsp (at least 5, or 6 with an error code). The low halves the adapter keeps
 * beside the 64-bit registers (eip, esp) follow. Undefined when the slots are too few or the
 * pushed cs is null.
 */
export function faultingFrame64(live: ReadonlyMap<string, number>, words: Buffer, hasErrorCode: boolean): FaultingFrame | undefined {
  if (!live.has('rsp')) return undefined;
  const first = hasErrorCode ? 1 : 0;
  if (words.length < (first + 5) * LONG_FRAME_SLOT) return undefined;
  const low = (i: number): number => words.readUInt32LE(i * LONG_FRAME_SLOT);
  const address = (i: number): number => addressFromBigInt(words.readBigUInt64LE(i * LONG_FRAME_SLOT), 64);
  const cs = low(first + 1) & 0xffff;
  if (cs === 0) return undefined;
  const rip = address(first);
  const rsp = address(first + 3);
  const handlerRing = (live.get('cs') ?? 0) & 3;
  const registers = new Map(live);
  registers.set('rip', rip);
  registers.set('rsp', rsp);
  registers.set('cs', cs);
  registers.set('eflags', low(first + 2));
  registers.set('ss', low(first + 4) & 0xffff);
  if (registers.has('eip')) registers.set('eip', Number(BigInt.asUintN(32, BigInt(rip))));
  if (registers.has('esp')) registers.set('esp', Number(BigInt.asUintN(32, BigInt(rsp))));
  return { registers, fromUser: (cs & 3) > handlerRing, ...(hasErrorCode ? { errorCode: low(0) } : {}) };
}
