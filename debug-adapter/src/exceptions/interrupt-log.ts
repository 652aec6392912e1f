// Parser of QEMU's `-d int,cpu_reset` log (i386 and x86-64 targets): which exceptions were raised
// ("check_exception old: 0xe new 0xd"), which were delivered with the CPU state at that moment
// ("0: v=0e e=0002 i=0 cpl=0 IP=0008:00100451 pc=00100451 SP=0010:00104fe0 CR2=dead0000"
// followed by a register dump), and "Triple fault". qemu-system-x86_64 (7.2) prints the same
// line with 16-digit IP, SP and CR2 ("IP=0008:ffffffff80105786 ... CR2=00000000dead0000") and a
// 64-bit dump (RAX=.. RSI=.. "R8 =".. R12=.. RIP=.. RFL=..); its addresses are read exactly under
// the adapter's rule (qemu-bridge/src/address.ts), 64-bit data registers that do not fit are left
// out. Pure; tolerant of lines QEMU runs together
// and of a log that starts in the middle of a dump (we read only its tail). From those events,
// tripleFaultChain() tells the chain of exceptions that ended in the last triple fault.

import { parseInfoRegisters } from '../../../qemu-bridge/src';
import { addressFromBigInt, AddressWidth } from '../../../qemu-bridge/src/address';
import { LOW_HALVES } from '../session/cpu-mode';
import { mnemonicOf } from './cpu-exceptions';

/** An exception raised while `previous` (undefined: none) was being delivered. */
export interface RaisedEvent {
  readonly kind: 'raised';
  readonly previous?: number;
  readonly vector: number;
}

/** One interrupt or exception delivered, with the CPU state QEMU dumped before delivering it. */
export interface DeliveredEvent {
  readonly kind: 'delivered';
  readonly vector: number;
  readonly errorCode: number;
  /** A software interrupt (`int n`). */
  readonly software: boolean;
  readonly cpl: number;
  /** 64 when QEMU printed 64-bit addresses (qemu-system-x86_64), else 32. */
  readonly width: AddressWidth;
  readonly cs: number;
  /** The instruction pointer (rip on x86-64), an address number. */
  readonly eip: number;
  readonly ss: number;
  /** The stack pointer (rsp on x86-64), an address number. */
  readonly esp: number;
  readonly cr2?: number;
  /** The register dump after the line (lower-case names; empty when the log was cut there). */
  readonly registers: ReadonlyMap<string, number>;
}

export interface TripleFaultEvent {
  readonly kind: 'triple';
}

export type InterruptLogEvent = RaisedEvent | DeliveredEvent | TripleFaultEvent;

const RAISED = /check_exception old: 0x([0-9a-fA-F]+) new 0x([0-9a-fA-F]+)/g;
const DELIVERED = /^\s*\d+: v=([0-9a-fA-F]+) e=([0-9a-fA-F]+) i=(\d) cpl=(\d) IP=([0-9a-fA-F]+):([0-9a-fA-F]+) pc=[0-9a-fA-F]+ SP=([0-9a-fA-F]+):([0-9a-fA-F]+)(?: CR2=([0-9a-fA-F]+))?/;
/** The lines of one register dump (cpu_dump_state, i386 or x86-64), from EAX=/RAX= to EFER=. */
const DUMP_LINE = /^(?:EAX=|ESI=|EIP=|RAX=|RSI=|R8 =|R12=|RIP=|[ECSDFG]S =|LDT=|TR =|GDT=|IDT=|CR0=|DR[0-7]=|CCS=|EFER=|FCW=|FPR|XMM|YMM|ZMM)/;

/** A value of `digits` hex digits as the adapter holds it: 64-bit values under the address rule. */
function logValue(digits: string): number | undefined {
  if (digits.length <= 8) return parseInt(digits, 16) >>> 0;
  try {
    return addressFromBigInt(BigInt(`0x${digits}`), 64);
  } catch {
    return undefined; // 64-bit data beyond ±2^53: not exact as a number
  }
}

/** The registers of one dump: the i386 one as `info registers` is parsed, the x86-64 one exactly. */
function parseDump(dump: string): Map<string, number> {
  if (!/^RAX=/m.test(dump)) return parseInfoRegisters(dump);
  const out = new Map<string, number>();
  for (const m of dump.matchAll(/\b([A-Z][A-Z0-9]*)\s?=([0-9a-fA-F]+)\b/g)) {
    const name = m[1].toLowerCase();
    const value = logValue(m[2]);
    if (!out.has(name) && value !== undefined) out.set(name, value);
  }
  const rfl = out.get('rfl');
  if (rfl !== undefined) out.set('eflags', rfl);
  for (const [low, full] of LOW_HALVES) {
    const v = out.get(full);
    if (v !== undefined) out.set(low, Number(BigInt.asUintN(32, BigInt(v))));
  }
  return out;
}

/** Parses the log text into events, in order. Lines that are none of the three are skipped. */
export function parseInterruptLog(text: string): InterruptLogEvent[] {
  const events: InterruptLogEvent[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    // QEMU may write "check_exception" right after another message without a newline.
    for (const m of line.matchAll(RAISED)) {
      const old = parseInt(m[1], 16);
      events.push({ kind: 'raised', vector: parseInt(m[2], 16), ...(old === 0xffffffff ? {} : { previous: old }) });
    }
    if (line.includes('Triple fault')) {
      events.push({ kind: 'triple' });
      continue;
    }
    const d = DELIVERED.exec(line);
    if (!d) continue;
    let dump = '';
    while (i + 1 < lines.length && DUMP_LINE.test(lines[i + 1])) dump += lines[++i] + '\n';
    const eip = logValue(d[6]);
    const esp = logValue(d[8]);
    const cr2 = d[9] !== undefined ? logValue(d[9]) : undefined;
    if (eip === undefined || esp === undefined) continue;
    events.push({
      kind: 'delivered',
      vector: parseInt(d[1], 16),
      errorCode: parseInt(d[2], 16),
      software: d[3] === '1',
      cpl: Number(d[4]),
      width: d[6].length > 8 ? 64 : 32,
      cs: parseInt(d[5], 16),
      eip,
      ss: parseInt(d[7], 16),
      esp,
      ...(cr2 !== undefined ? { cr2 } : {}),
      registers: parseDump(dump),
    });
  }
  return events;
}

/** One exception of a chain: raised while delivering the one before it. */
export interface ChainLink {
  readonly vector: number;
  /** The vector the CPU actually tried to deliver for it (8 when it became a double fault). */
  readonly deliveredAs?: number;
}

export interface ExceptionChain {
  readonly links: readonly ChainLink[];
  /** The delivery of the first exception: its error code, CR2 and the registers when it happened. */
  readonly first?: DeliveredEvent;
  /** True when the chain ended in a triple fault. */
  readonly triple: boolean;
}

/**
 * The chain of exceptions that ended in the last triple fault of `events`: from the last
 * exception raised outside any delivery (`old: 0xffffffff`) before it, every exception raised
 * while delivering the previous one. A #DF whose delivery faults is a triple fault even when the
 * log has no "Triple fault" line (QEMU prints it only with `cpu_reset`). Undefined when the
 * events hold no triple fault or not its start.
 */
export function tripleFaultChain(events: readonly InterruptLogEvent[]): ExceptionChain | undefined {
  let end = -1;
  for (let i = events.length - 1; i >= 0; i--) {
    const e = events[i];
    if (e.kind === 'triple' || (e.kind === 'raised' && e.previous === 8)) {
      end = i;
      break;
    }
  }
  if (end < 0) return undefined;
  return chainBefore(events, end, true);
}

/** The chain of exceptions that led to the last delivery of vector `vector` (e.g. a #DF). */
export function chainToDelivery(events: readonly InterruptLogEvent[], vector: number): ExceptionChain | undefined {
  for (let i = events.length - 1; i >= 0; i--) {
    const e = events[i];
    if (e.kind === 'delivered' && e.vector === vector) return chainBefore(events, i + 1, false);
  }
  return undefined;
}

function chainBefore(events: readonly InterruptLogEvent[], end: number, triple: boolean): ExceptionChain | undefined {
  let start = -1;
  for (let i = Math.min(end, events.length - 1); i >= 0; i--) {
    const e = events[i];
    if (e.kind === 'raised' && e.previous === undefined) {
      start = i;
      break;
    }
  }
  if (start < 0) return undefined;
  const links: ChainLink[] = [];
  let first: DeliveredEvent | undefined;
  for (let i = start; i <= end && i < events.length; i++) {
    const e = events[i];
    if (e.kind === 'raised') {
      if (links.length && e.previous === undefined) break;
      links.push({ vector: e.vector });
    } else if (e.kind === 'delivered' && !e.software && links.length) {
      const last = links[links.length - 1];
      if (last.deliveredAs === undefined) links[links.length - 1] = { ...last, deliveredAs: e.vector };
      first ??= e;
    }
  }
  return { links, triple, ...(first ? { first } : {}) };
}

/** "#PF → #GP (as #DF) → #GP → triple fault". */
export function formatChain(chain: ExceptionChain): string {
  const parts = chain.links.map((l) => (l.deliveredAs !== undefined && l.deliveredAs !== l.vector ? `${mnemonicOf(l.vector)} (delivered as ${mnemonicOf(l.deliveredAs)})` : mnemonicOf(l.vector)));
  if (chain.triple) parts.push('triple fault');
  return parts.join(' → ');
}
