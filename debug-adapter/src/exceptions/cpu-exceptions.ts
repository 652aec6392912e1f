// The CPU exceptions mmscope can stop on, what their error codes mean, and the one sentence a
// stop says about each. Pure: numbers in, text out. Vector numbers and error-code layouts follow
// the Intel SDM vol. 3A, chapter 6 ("Interrupt and Exception Handling"). Addresses are printed
// exactly at the target's width (qemu-bridge/src/address.ts): 0xdead0000, 0xffffffff80105786.

import { addressToBigInt, AddressWidth } from '../../../qemu-bridge/src/address';

/** An exception-breakpoint filter for one CPU exception (or the triple fault, which is no vector). */
export interface CpuExceptionKind {
  readonly filter: string;
  /** The vector, or undefined for the triple fault. */
  readonly vector?: number;
  readonly mnemonic: string;
  readonly name: string;
  readonly label: string;
  /** Whether the CPU pushes an error code for this vector. */
  readonly errorCode: boolean;
  readonly default: boolean;
}

export const TRIPLE_FAULT_FILTER = 'cpu-triple-fault';

export const CPU_EXCEPTIONS: readonly CpuExceptionKind[] = [
  { filter: 'cpu-page-fault', vector: 14, mnemonic: '#PF', name: 'page fault', label: 'CPU: page fault (#PF)', errorCode: true, default: false },
  { filter: 'cpu-general-protection', vector: 13, mnemonic: '#GP', name: 'general protection fault', label: 'CPU: general protection (#GP)', errorCode: true, default: false },
  { filter: 'cpu-double-fault', vector: 8, mnemonic: '#DF', name: 'double fault', label: 'CPU: double fault (#DF)', errorCode: true, default: false },
  { filter: 'cpu-invalid-opcode', vector: 6, mnemonic: '#UD', name: 'invalid opcode', label: 'CPU: invalid opcode (#UD)', errorCode: false, default: false },
  { filter: 'cpu-breakpoint', vector: 3, mnemonic: '#BP', name: 'breakpoint', label: 'CPU: breakpoint (#BP, int3)', errorCode: false, default: false },
  { filter: 'cpu-divide-error', vector: 0, mnemonic: '#DE', name: 'divide error', label: 'CPU: divide error (#DE)', errorCode: false, default: false },
  { filter: TRIPLE_FAULT_FILTER, mnemonic: 'triple fault', name: 'triple fault', label: 'CPU: triple fault', errorCode: false, default: true },
];

/** Mnemonics of all 32 exception vectors, for exception chains (which may hold any of them). */
const MNEMONICS = ['#DE', '#DB', 'NMI', '#BP', '#OF', '#BR', '#UD', '#NM', '#DF', 'coprocessor overrun', '#TS', '#NP', '#SS', '#GP', '#PF', 'vector 15',
  '#MF', '#AC', '#MC', '#XM', '#VE', '#CP'];
const NAMES = ['divide error', 'debug exception', 'NMI', 'breakpoint', 'overflow', 'bound range exceeded', 'invalid opcode', 'device not available',
  'double fault', 'coprocessor segment overrun', 'invalid TSS', 'segment not present', 'stack-segment fault', 'general protection fault', 'page fault',
  'vector 15', 'x87 floating-point error', 'alignment check', 'machine check', 'SIMD floating-point exception', 'virtualization exception', 'control-protection exception'];

/** Vectors for which the CPU pushes an error code (SDM table 6-1). */
const WITH_ERROR_CODE = new Set([8, 10, 11, 12, 13, 14, 17, 21]);

export function pushesErrorCode(vector: number): boolean {
  return WITH_ERROR_CODE.has(vector);
}

export function mnemonicOf(vector: number): string {
  return MNEMONICS[vector] ?? `vector ${vector}`;
}

export function nameOf(vector: number): string {
  return NAMES[vector] ?? `exception vector ${vector}`;
}

export function kindOfVector(vector: number): CpuExceptionKind | undefined {
  return CPU_EXCEPTIONS.find((k) => k.vector === vector);
}

/** A page fault's error code, bit by bit (SDM figure 4-12). */
export interface PageFaultError {
  /** False: the page was not present; true: a protection violation on a present page. */
  readonly present: boolean;
  readonly write: boolean;
  readonly user: boolean;
  /** A reserved bit was set in a paging-structure entry. */
  readonly reserved: boolean;
  /** The access was an instruction fetch. */
  readonly fetch: boolean;
  readonly protectionKey: boolean;
  readonly shadowStack: boolean;
}

export function decodePageFaultError(code: number): PageFaultError {
  return {
    present: (code & 1) !== 0,
    write: (code & 2) !== 0,
    user: (code & 4) !== 0,
    reserved: (code & 8) !== 0,
    fetch: (code & 16) !== 0,
    protectionKey: (code & 32) !== 0,
    shadowStack: (code & 64) !== 0,
  };
}

/** A segment-selector error code (#GP, #NP, #SS, #TS; SDM figure 6-7). */
export interface SelectorError {
  /** The event was external to the program (an interrupt or an earlier exception). */
  readonly external: boolean;
  readonly table: 'GDT' | 'IDT' | 'LDT';
  readonly index: number;
}

export function decodeSelectorError(code: number): SelectorError {
  const idt = (code & 2) !== 0;
  return { external: (code & 1) !== 0, table: idt ? 'IDT' : code & 4 ? 'LDT' : 'GDT', index: (code & 0xffff) >>> 3 };
}

export const hex = (n: number): string => `0x${(n >>> 0).toString(16)}`;

/** An address in hex without leading zeros, exact at `width` (a 64-bit address number is signed). */
export const hexAddress = (a: number, width: AddressWidth = 32): string => (width === 32 ? hex(a) : `0x${addressToBigInt(a, 64).toString(16)}`);

/** The access of a page fault in words: "write to 0xdead0000, not present, in kernel mode". */
export function describePageFaultAccess(error: number, cr2: number, width: AddressWidth = 32): string {
  const e = decodePageFaultError(error);
  const access = e.fetch ? 'instruction fetch from' : e.write ? 'write to' : 'read from';
  const parts = [`${access} ${hexAddress(cr2, width)}`, e.present ? 'protection violation' : 'not present'];
  if (e.reserved) parts.push('reserved bit set in a paging entry');
  if (e.protectionKey) parts.push('protection key');
  if (e.shadowStack) parts.push('shadow-stack access');
  parts.push(`in ${e.user ? 'user' : 'kernel'} mode`);
  return parts.join(', ');
}

/** What a selector error code names: "segment selector 0x1234 (LDT entry 582)", or "" for 0. */
export function describeSelectorError(error: number): string {
  if ((error & 0xffff) === 0) return '';
  const s = decodeSelectorError(error);
  const what = s.table === 'IDT' ? `IDT vector ${s.index}` : `${s.table} entry ${s.index}`;
  return `${s.table === 'IDT' ? 'gate' : 'segment selector'} ${hex(error & 0xfffc)} (${what}${s.external ? ', during an external event' : ''})`;
}

/** What the CPU reported for one exception at a handler's entry. */
export interface ExceptionReport {
  readonly vector: number;
  /** The error code the CPU pushed (undefined for vectors without one). */
  readonly errorCode?: number;
  /** CR2 at the stop (meaningful for #PF). */
  readonly cr2?: number;
  /** "kmain.c:42 (poke)" or "0x00100451". */
  readonly where: string;
  /** Extra clauses: the translation of CR2, the chain behind a #DF. */
  readonly notes?: readonly string[];
  /** The width CR2 is printed at (default 32). */
  readonly width?: AddressWidth;
}

/** The stop's one sentence, e.g. "page fault: write to 0xdead0000, not present, in kernel mode, at kmain.c:42 (poke)". */
export function describeException(r: ExceptionReport): string {
  let head: string;
  if (r.vector === 14 && r.errorCode !== undefined && r.cr2 !== undefined) head = `page fault: ${describePageFaultAccess(r.errorCode, r.cr2, r.width)}, at ${r.where}`;
  else {
    const selector = r.errorCode !== undefined && r.vector !== 8 ? describeSelectorError(r.errorCode) : '';
    head = `${nameOf(r.vector)}${selector ? `: ${selector},` : ''} at ${r.where}`;
    if (r.errorCode !== undefined && !selector && r.vector !== 8 && r.errorCode !== 0) head += ` (error code ${hex(r.errorCode)})`;
  }
  return [head, ...(r.notes ?? [])].join('; ');
}
