// The user's breakpoints of every kind (source line, function, instruction, data) resolved to
// guest addresses, with their conditions, hit conditions and log messages, and the list of
// gdbstub breakpoints/watchpoints they need. No DAP and no I/O: the session fills it from DAP
// requests and the Target arms what armSpecs() lists.

import { AddressWidth, formatAddress, parseAddress as parseAddressText, wrapAddress } from '../../../qemu-bridge/src/address';
import { BreakpointKind } from '../../../qemu-bridge/src';
import { DebugSymbols } from '../symbols';
import { CodeMap } from './code-map';

/** 'internal': placed by a session extension (e.g. allocation breakpoints), never shown to the user. */
export type UserBreakpointKind = 'source' | 'function' | 'instruction' | 'data' | 'internal';
export type DataAccess = 'write' | 'read' | 'readWrite';

/** What a user asked for, common to every kind. */
export interface BreakpointOptions {
  condition?: string;
  hitCondition?: string;
  logMessage?: string;
}

export interface UserBreakpoint extends BreakpointOptions {
  id: number;
  kind: UserBreakpointKind;
  /** Virtual code addresses (empty for data breakpoints and unresolved ones). */
  addresses: number[];
  /** For data breakpoints: the watched range and access. */
  watch?: { address: number; length: number; access: DataAccess };
  /** Times the breakpoint was hit with its condition true. */
  hits: number;
  /** Key that identifies "the same" breakpoint across set requests, so hit counts survive edits. */
  key: string;
}

/** How a breakpoint was placed, for the reply to the client. */
export interface ResolvedBreakpoint {
  id: number;
  verified: boolean;
  /** The line the breakpoint actually sits on (moved to the nearest line with code). */
  line?: number;
  file?: string;
  /** First address, for instruction breakpoints and messages. */
  address?: number;
  message?: string;
}

/** One gdbstub breakpoint or watchpoint to insert. */
export interface ArmSpec {
  kind: BreakpointKind;
  address: number;
  length: number;
  /** A load-address twin of a code breakpoint, only meaningful while paging is off. */
  prePaging: boolean;
}

export interface SourceBreakpointRequest extends BreakpointOptions {
  line: number;
}
export interface FunctionBreakpointRequest extends BreakpointOptions {
  name: string;
}
export interface InstructionBreakpointRequest extends BreakpointOptions {
  instructionReference: string;
  offset?: number;
}
export interface DataBreakpointRequest extends BreakpointOptions {
  dataId: string;
  accessType?: DataAccess;
}

const WATCH_KIND: Record<DataAccess, BreakpointKind> = { write: 'write-watch', read: 'read-watch', readWrite: 'access-watch' };

/** Encodes a watchable range as a data breakpoint id: `0xADDRESS/LENGTH`, the address in 8 (i386) or 16 (x86-64) hex digits. */
export function dataId(address: number, length: number, width: AddressWidth = 32): string {
  return `${formatAddress(address, width)}/${length}`;
}

/** Decodes a data breakpoint id; undefined when malformed. */
export function parseDataId(id: string): { address: number; length: number } | undefined {
  const m = /^0x([0-9a-fA-F]{1,16})\/(\d+)$/.exec(id);
  if (!m) return undefined;
  if (m[1].length <= 8) return { address: parseInt(m[1], 16), length: Number(m[2]) };
  // 16 digits: a 64-bit address (address.ts: the kernel half is a negative number).
  try {
    return { address: parseAddressText(`0x${m[1]}`, 64), length: Number(m[2]) };
  } catch {
    return undefined;
  }
}

/**
 * Parses a hit condition: `N` or `>= N` (stop from the Nth hit on), `== N`, `> N`, `< N`, `<= N`,
 * `% N` (every Nth hit). Returns a predicate over the hit count, or a sentence saying what is wrong.
 */
export function parseHitCondition(text: string): ((hits: number) => boolean) | string {
  const m = /^\s*(>=|<=|==|=|>|<|%)?\s*(\d+)\s*$/.exec(text);
  if (!m) return `the hit condition "${text}" is not a number or an operator (>=, ==, >, <, <=, %) followed by a number`;
  const n = Number(m[2]);
  switch (m[1] ?? '>=') {
    case '>=': return (h) => h >= n;
    case '<=': return (h) => h <= n;
    case '==':
    case '=': return (h) => h === n;
    case '>': return (h) => h > n;
    case '<': return (h) => h < n;
    case '%': return n === 0 ? () => false : (h) => h % n === 0;
  }
  return `the hit condition "${text}" is not understood`;
}

export class BreakpointTable {
  private nextId = 1;
  private readonly bySource = new Map<string, UserBreakpoint[]>();
  private functions: UserBreakpoint[] = [];
  private instructions: UserBreakpoint[] = [];
  private data: UserBreakpoint[] = [];
  private internal: UserBreakpoint[] = [];

  constructor(private readonly symbols: DebugSymbols, private readonly codeMap: CodeMap) {}

  /** Replaces the breakpoints of one source file. */
  setSourceBreakpoints(file: string, requests: readonly SourceBreakpointRequest[]): ResolvedBreakpoint[] {
    const old = this.bySource.get(file) ?? [];
    const list: UserBreakpoint[] = [];
    const results = requests.map((r) => {
      const key = `${file}:${r.line}`;
      const where = this.symbols.hasDebugInfo ? this.codeMap.lineBreakpointAddresses(file, r.line) : undefined;
      const bp = this.make('source', key, old, r, where?.addresses ?? []);
      list.push(bp);
      if (!where) {
        const message = this.symbols.hasDebugInfo
          ? `No code at or after line ${r.line} of ${file}; the breakpoint cannot be placed.`
          : 'The kernel has no debug information, so source breakpoints cannot be placed; use function or instruction breakpoints.';
        return { id: bp.id, verified: false, line: r.line, message };
      }
      return { id: bp.id, verified: true, line: where.line, file: where.file, address: where.addresses[0] };
    });
    this.bySource.set(file, list);
    return results;
  }

  /** Replaces the function breakpoints. A name may be a C function or any ELF code symbol. */
  setFunctionBreakpoints(requests: readonly FunctionBreakpointRequest[]): ResolvedBreakpoint[] {
    const old = this.functions;
    this.functions = [];
    return requests.map((r) => {
      const name = r.name.trim();
      let addresses = this.symbols.hasDebugInfo ? this.codeMap.functionBreakpointAddresses(name) : [];
      if (addresses.length === 0) {
        const sym = this.symbols.elf.symbolsNamed(name).find((s) => s.type === 'func' || s.type === 'notype');
        if (sym) addresses = [sym.value];
      }
      const bp = this.make('function', `fn:${name}`, old, r, [...new Set(addresses)]);
      this.functions.push(bp);
      if (addresses.length === 0) return { id: bp.id, verified: false, message: `No function named "${name}" in the kernel.` };
      const loc = this.codeMap.gdbLineAt(addresses[0]) ?? this.symbols.addressToLine(addresses[0]);
      return { id: bp.id, verified: true, address: addresses[0], ...(loc ? { line: loc.line, file: loc.file } : {}) };
    });
  }

  /** Replaces the instruction breakpoints (`instructionReference` is an address, `offset` bytes from it). */
  setInstructionBreakpoints(requests: readonly InstructionBreakpointRequest[]): ResolvedBreakpoint[] {
    const old = this.instructions;
    this.instructions = [];
    return requests.map((r) => {
      const width = this.codeMap.addressWidth;
      const base = parseAddress(r.instructionReference, width);
      const address = base === undefined ? undefined : wrapAddress(base + (r.offset ?? 0), width);
      const bp = this.make('instruction', `insn:${address}`, old, r, address === undefined ? [] : [address]);
      this.instructions.push(bp);
      if (address === undefined) return { id: bp.id, verified: false, message: `"${r.instructionReference}" is not an address.` };
      const loc = this.symbols.hasDebugInfo ? this.symbols.addressToLine(address) : undefined;
      return { id: bp.id, verified: true, address, ...(loc ? { line: loc.line, file: loc.file } : {}) };
    });
  }

  /** Replaces the data breakpoints (watchpoints). */
  setDataBreakpoints(requests: readonly DataBreakpointRequest[]): ResolvedBreakpoint[] {
    const old = this.data;
    this.data = [];
    return requests.map((r) => {
      const range = parseDataId(r.dataId);
      const access = r.accessType ?? 'write';
      const bp = this.make('data', `data:${r.dataId}:${access}`, old, r, []);
      this.data.push(bp);
      if (!range || range.length < 1 || range.length > 8 || (range.length & (range.length - 1)) !== 0) {
        return { id: bp.id, verified: false, message: `"${r.dataId}" is not a watchable range (1, 2, 4 or 8 bytes).` };
      }
      bp.watch = { ...range, access };
      return { id: bp.id, verified: true, address: range.address };
    });
  }

  /** Every breakpoint, of every kind. */
  all(): UserBreakpoint[] {
    return [...[...this.bySource.values()].flat(), ...this.functions, ...this.instructions, ...this.data, ...this.internal];
  }

  /** Replaces the internal code breakpoints owned by `owner` (a session extension). */
  setInternalBreakpoints(owner: string, addresses: readonly number[]): void {
    this.internal = [
      ...this.internal.filter((b) => !b.key.startsWith(`internal:${owner}:`)),
      ...addresses.map((a) => this.make('internal', `internal:${owner}:${a}`, this.internal, {}, [a])),
    ];
  }

  /** The gdbstub breakpoints and watchpoints the table needs, without duplicates. */
  armSpecs(): ArmSpec[] {
    const specs = new Map<string, ArmSpec>();
    const add = (s: ArmSpec): void => {
      const key = `${s.kind}:${s.address}:${s.length}`;
      const existing = specs.get(key);
      if (!existing || (existing.prePaging && !s.prePaging)) specs.set(key, s);
    };
    for (const bp of this.all()) {
      for (const a of bp.addresses) {
        add({ kind: 'software', address: a, length: 1, prePaging: false });
        const alias = this.codeMap.loadAlias(a);
        if (alias !== undefined) add({ kind: 'software', address: alias, length: 1, prePaging: true });
      }
      if (bp.watch) add({ kind: WATCH_KIND[bp.watch.access], address: bp.watch.address, length: bp.watch.length, prePaging: false });
    }
    return [...specs.values()];
  }

  /** Code breakpoints at `pc` (a virtual address, or a load address while paging is off). */
  codeBreakpointsAt(pc: number, pagingOn: boolean): UserBreakpoint[] {
    return this.all().filter((bp) => bp.addresses.some((a) => a === pc || (!pagingOn && this.codeMap.loadAlias(a) === pc)));
  }

  /** Data breakpoints whose range contains `address`. */
  dataBreakpointsAt(address: number): UserBreakpoint[] {
    return this.data.filter((bp) => bp.watch && address >= bp.watch.address && address < bp.watch.address + bp.watch.length);
  }

  private make(kind: UserBreakpointKind, key: string, old: readonly UserBreakpoint[], options: BreakpointOptions, addresses: number[]): UserBreakpoint {
    const previous = old.find((b) => b.key === key);
    const bp: UserBreakpoint = {
      id: previous?.id ?? this.nextId++,
      kind,
      key,
      addresses,
      hits: previous && previous.condition === options.condition ? previous.hits : 0,
      ...(options.condition?.trim() ? { condition: options.condition } : {}),
      ...(options.hitCondition?.trim() ? { hitCondition: options.hitCondition } : {}),
      ...(options.logMessage !== undefined && options.logMessage !== '' ? { logMessage: options.logMessage } : {}),
    };
    return bp;
  }
}

/** Parses `0x...`, decimal, or a plain hex string with a-f digits as an address. */
export function parseAddress(text: string, width: AddressWidth = 32): number | undefined {
  const t = text.trim();
  if (width === 64) {
    // 16 hex digits (the kernel half as DAP references show it), bare hex or decimal.
    const hexText = /^0x[0-9a-fA-F]{1,16}$/.test(t) ? t : /^[0-9a-fA-F]{1,16}$/.test(t) && !/^\d+$/.test(t) ? `0x${t}` : /^\d{1,20}$/.test(t) ? t : undefined;
    if (hexText === undefined) return undefined;
    try {
      return parseAddressText(hexText, 64);
    } catch {
      return undefined;
    }
  }
  if (/^0x[0-9a-fA-F]{1,8}$/.test(t)) return parseInt(t.slice(2), 16);
  if (/^\d{1,10}$/.test(t) && Number(t) <= 0xffffffff) return Number(t);
  if (/^[0-9a-fA-F]{1,8}$/.test(t)) return parseInt(t, 16);
  return undefined;
}
