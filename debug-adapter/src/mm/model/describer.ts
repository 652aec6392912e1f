// Evaluates a memory-model description (docs/memory-model.md) at one stop: its expressions are
// parsed once (createDescriber), then at every stop (Describer.evaluate) the processes are walked,
// each allocator's memory is read and handed to its pure shape decoder (allocator-decoders.ts),
// the heaps are walked, and everything becomes a DescribedState. Failure modes, stated once:
// a wrong expression is one DescriptionErrorJson (its part is left out, the rest works); data that
// cannot be read or does not hold together is a finding; nothing throws, every walk is bounded.

import { byteSizeOf, DebugSymbols, DwarfType, stripTypedefs } from '../../symbols';
import { findMember } from '../../inspect/c-evaluator';
import { jsonAddress } from '../../../../qemu-bridge/src/paging/translation-steps';
import { TableCache, walkAddress } from '../../../../qemu-bridge/src/paging/page-table-walk';
import { PagingModel, pagingModel } from '../../../../qemu-bridge/src/paging/paging-modes';
import type { PagingRegisters } from './paging-registers';
import type { AllocatorJson, DescriptionErrorJson, FindingDocJson, HeapBlockJson, HeapJson, PhysicalRegionJson } from './snapshot-document';
import type { DescribedAllocator, DescribedProcess, DescribedState } from './described-state';
import {
  AddressHolds, AllocatorDescription, Expression, HeapDescription, MAX_HEAP_BLOCKS, MAX_PROCESSES, MAX_UNITS, MemoryModelDescription,
} from './memory-model';
import { CompiledExpression, DescriptionFailure, ElementBindings, StopEvaluation, compileExpression } from './description-expressions';
import {
  DecodedUnits, FreeListWalk, UnitRange, bitmapBytes, countUnits, decodeBitmap, decodeBuddy, decodeChainTableUnits, decodeFreeStack,
  capFindings, decodeRegions, frameRuns, freeListUnits, walkFreeList,
} from './allocator-decoders';

/** What a description is evaluated against at one stop (the seam of the issue 13 overview). */
export interface DescribeAccess {
  /** Kernel-virtual reads in the address space CR3 names at the stop. */
  readVirtual(address: bigint, length: number): Promise<Buffer>;
  readPhys(address: bigint, length: number): Promise<Buffer>;
  readonly registers: PagingRegisters;
  /** QEMU's memory map, when QMP is there. */
  readonly regions?: readonly PhysicalRegionJson[];
}

export interface Describer {
  readonly description: MemoryModelDescription;
  /** The mistakes found while parsing the expressions (also in every evaluation's errors). */
  readonly errors: readonly DescriptionErrorJson[];
  evaluate(access: DescribeAccess): Promise<DescribedState>;
}

/** Region tables: at most this many regions; regions span at most MAX_UNITS frames. */
const MAX_REGIONS = 65536;
const MAX_ORDERS = 64;

type Compiled = Readonly<Record<string, CompiledExpression>>;

interface CompiledPart<D> {
  readonly path: string;
  readonly desc: D;
  readonly x: Compiled;
  /** region-table's free / reserved type values. */
  readonly lists: Readonly<Record<string, readonly CompiledExpression[]>>;
}

/** Keys that hold expressions, per part; the rest are constants. Optional ones may be dropped on a mistake. */
const EXPRESSION_KEYS = new Set(['list', 'next', 'array', 'count', 'pid', 'name', 'state', 'directory', 'filter', 'current',
  'base', 'units', 'counter', 'bitmap', 'head', 'orders', 'start', 'length', 'type', 'table', 'first', 'end', 'size', 'used', 'valid']);
const OPTIONAL_KEYS = new Set(['name', 'state', 'directory', 'filter', 'current', 'counter', 'valid']);

function compilePart<D extends object>(symbols: DebugSymbols, path: string, desc: D, errors: DescriptionErrorJson[], constantKeys: readonly string[] = []): CompiledPart<D> | undefined {
  const x: Record<string, CompiledExpression> = {};
  const lists: Record<string, CompiledExpression[]> = {};
  let ok = true;
  for (const [key, value] of Object.entries(desc)) {
    if (constantKeys.includes(key)) continue;
    if (Array.isArray(value) && (key === 'free' || key === 'reserved')) {
      const list: CompiledExpression[] = [];
      value.forEach((v: Expression, i: number) => {
        try {
          list.push(compileExpression(symbols, `${path}.${key}[${i}]`, v));
        } catch (e) {
          errors.push(failureOf(e));
          ok = false;
        }
      });
      lists[key] = list;
      continue;
    }
    if (!EXPRESSION_KEYS.has(key) || (typeof value !== 'string' && typeof value !== 'number')) continue;
    try {
      x[key] = compileExpression(symbols, `${path}.${key}`, value);
    } catch (e) {
      errors.push(failureOf(e));
      if (!OPTIONAL_KEYS.has(key)) ok = false;
    }
  }
  return ok ? { path, desc, x, lists } : undefined;
}

function failureOf(e: unknown): DescriptionErrorJson {
  if (e instanceof DescriptionFailure) return e.error;
  return { path: '', message: `The description could not be evaluated: ${e instanceof Error ? e.message : String(e)}` };
}

const hex = (v: bigint): string => `0x${v.toString(16)}`;

/**
 * Parses every expression of `description` against `symbols` once. Parts whose required
 * expressions do not parse are left out (their errors are in `errors`).
 */
export function createDescriber(description: MemoryModelDescription, symbols: DebugSymbols): Describer {
  const errors: DescriptionErrorJson[] = [];
  let directMap: CompiledExpression | undefined;
  if (description.directMapOffset !== undefined) {
    try {
      directMap = compileExpression(symbols, 'directMapOffset', description.directMapOffset);
    } catch (e) {
      errors.push(failureOf(e));
    }
  }
  const processes = description.processes ? compilePart(symbols, 'processes', description.processes, errors, ['directoryHolds']) : undefined;
  const allocators = (description.allocators ?? [])
    .map((a, i) => compilePart(symbols, `allocators[${i}]`, a, errors, ['name', 'shape', 'unitBytes', 'used', 'bitOrder', 'wordBytes', 'holds', 'nextOffset', 'linkBytes', 'lengthIn']))
    .filter((a): a is CompiledPart<AllocatorDescription> => a !== undefined);
  const heaps = (description.heaps ?? [])
    .map((h, i) => compilePart(symbols, `heaps[${i}]`, h, errors, ['name', 'sizeIncludesHeader', 'headerBytes']))
    .filter((h): h is CompiledPart<HeapDescription> => h !== undefined);
  return {
    description,
    errors,
    evaluate: (access) => new StopDescription(symbols, access, directMap, [...errors]).run(processes, allocators, heaps),
  };
}

/** One evaluation: the stop's reads, errors and findings. */
class StopDescription {
  private readonly ev: StopEvaluation;
  private readonly findings: FindingDocJson[] = [];
  private offset: bigint | undefined;
  private tables: TableCache | undefined;
  private model: PagingModel | undefined;

  constructor(private readonly symbols: DebugSymbols, private readonly access: DescribeAccess, private readonly directMap: CompiledExpression | undefined, private readonly errors: DescriptionErrorJson[]) {
    this.ev = new StopEvaluation(symbols, access);
  }

  async run(
    processes: CompiledPart<NonNullable<MemoryModelDescription['processes']>> | undefined,
    allocators: readonly CompiledPart<AllocatorDescription>[],
    heaps: readonly CompiledPart<HeapDescription>[],
  ): Promise<DescribedState> {
    if (this.directMap) {
      try {
        this.offset = await this.ev.integer(this.directMap);
      } catch (e) {
        this.errors.push(failureOf(e));
      }
    }
    const procs = processes ? await this.guard(() => this.processes(processes)) : undefined;
    const allocs: DescribedAllocator[] = [];
    for (const a of allocators) {
      const d = await this.guard(() => this.allocator(a));
      if (d) allocs.push(d);
    }
    const hs: HeapJson[] = [];
    for (const h of heaps) {
      const d = await this.guard(() => this.heap(h));
      if (d) hs.push(d);
    }
    return { processes: procs ?? [], allocators: allocs, heaps: hs, findings: this.findings, errors: this.errors };
  }

  /** Runs one part; a failure is one error and no result. */
  private async guard<T>(f: () => Promise<T>): Promise<T | undefined> {
    try {
      return await f();
    } catch (e) {
      this.errors.push(failureOf(e));
      return undefined;
    }
  }

  // ---- addresses ----

  /** The physical address a value stands for, by what it holds; undefined when it is not mapped. */
  private async physical(value: bigint, holds: AddressHolds, unitBytes: number): Promise<bigint | undefined> {
    if (holds === 'physical') return value;
    if (holds === 'frame') return value * BigInt(unitBytes);
    // The page tables CR3 names first (exact wherever the kernel maps the address, its image
    // included); the direct map's offset for what they do not map.
    const r = this.access.registers;
    this.tables ??= new TableCache((address, length) => this.access.readPhys(address, length));
    this.model ??= pagingModel({ cr0: r.cr0, cr4: r.cr4, efer: r.efer });
    try {
      const walk = await walkAddress(this.model, r.cr3, value, this.tables);
      if (walk.kind === 'mapped' || walk.kind === 'paging-off') return walk.physical;
    } catch {
      // not translatable through the tables
    }
    if (this.offset !== undefined && value >= this.offset) return BigInt.asUintN(this.symbols.addressSize * 8, value - this.offset);
    return undefined;
  }

  private async readLink(holds: AddressHolds, link: bigint, physical: bigint, offset: number, bytes: number): Promise<bigint> {
    const b = holds === 'virtual' ? await this.access.readVirtual(link + BigInt(offset), bytes) : await this.access.readPhys(physical + BigInt(offset), bytes);
    if (b.length < bytes) throw new Error('short read');
    return bytes === 8 ? b.readBigUInt64LE(0) : BigInt(b.readUInt32LE(0));
  }

  // ---- processes ----

  private async processes(p: CompiledPart<NonNullable<MemoryModelDescription['processes']>>): Promise<DescribedProcess[]> {
    const out: DescribedProcess[] = [];
    const disabled = new Set<string>();
    const broken = (message: string, address?: bigint): void => {
      this.findings.push({ kind: 'process-list-broken', severity: 'error', message, ...(address !== undefined ? { virtual: jsonAddress(address) } : {}) });
    };
    const holds = p.desc.directoryHolds ?? 'physical';
    /** One element; undefined when filtered out. Throws DescriptionFailure (memory: the element cannot be read). */
    const one = async (elem: ElementBindings, address: bigint): Promise<DescribedProcess | undefined> => {
      const optional = async <T>(key: string, f: (c: CompiledExpression) => Promise<T>): Promise<T | undefined> => {
        const c = p.x[key];
        if (!c || disabled.has(key)) return undefined;
        try {
          return await f(c);
        } catch (e) {
          if (e instanceof DescriptionFailure && e.memory) throw e;
          disabled.add(key);
          this.errors.push(failureOf(e));
          return undefined;
        }
      };
      const keep = await optional('filter', (c) => this.ev.truth(c, elem));
      if (keep === false) return undefined;
      const pid = await this.ev.integer(p.x.pid, elem);
      const name = await optional('name', (c) => this.ev.name(c, elem));
      const state = await optional('state', (c) => this.ev.state(c, elem));
      const directory = await optional('directory', (c) => this.ev.address(c, elem));
      const current = await optional('current', (c) => this.ev.truth(c, elem));
      const directoryPhys = directory !== undefined && directory !== 0n ? await this.physical(directory, holds, 4096) : undefined;
      return { pid: Number(BigInt.asIntN(64, pid)), name: name ?? '', state: state ?? '', current: current ?? false, address, ...(directoryPhys !== undefined ? { directoryPhys } : {}) };
    };
    const structOf = (t: DwarfType | undefined, c: CompiledExpression): DwarfType => {
      const s = t ? stripTypedefs(t) : undefined;
      if (!s || (s.kind !== 'struct' && s.kind !== 'union')) {
        throw new DescriptionFailure({ path: c.path, expression: c.text, message: `${c.path} "${c.text}" must give a pointer to the process struct${t ? `, not to a ${this.symbols.typeName(t)}` : ' (cast an integer to the struct\'s pointer type)'}.` }, false);
      }
      return t as DwarfType;
    };
    if (p.x.list) {
      if (!p.x.next) throw new DescriptionFailure({ path: 'processes.next', message: 'processes.next is missing; a linked list needs the member that points to the next process.' }, false);
      const head = await this.ev.pointerValue(p.x.list);
      const type = structOf(head.pointee, p.x.list);
      const seen = new Set<bigint>();
      let address = head.address;
      for (let i = 0; address !== 0n; i++) {
        if (seen.has(address)) {
          if (address !== head.address) broken(`The process list comes back to the struct at ${hex(address)} after ${i} processes: it loops.`, address);
          break;
        }
        if (i >= MAX_PROCESSES) {
          broken(`The process list is longer than ${MAX_PROCESSES} processes; mmscope stopped reading it.`);
          break;
        }
        seen.add(address);
        const elem = { elem: this.ev.pointer(type, address), index: i };
        try {
          const proc = await one(elem, address);
          if (proc) out.push(proc);
          address = await this.ev.address(p.x.next, elem);
        } catch (e) {
          if (e instanceof DescriptionFailure && e.memory) {
            broken(`The process list points at ${hex(address)} (process ${i}), which cannot be read.`, address);
            break;
          }
          throw e;
        }
      }
      return out;
    }
    if (!p.x.array) return out;
    const array = await this.ev.array(p.x.array);
    const count = p.x.count ? await this.ev.integer(p.x.count) : array.length !== undefined ? BigInt(array.length) : undefined;
    if (count === undefined) throw new DescriptionFailure({ path: 'processes.count', message: `processes.count is missing; "${p.x.array.text}" is a pointer, so say how many processes it points to.` }, false);
    if (count < 0n || count > BigInt(MAX_PROCESSES)) {
      broken(`The process array has ${count} elements, more than mmscope reads (${MAX_PROCESSES}); it read none.`);
      return out;
    }
    const element = stripTypedefs(array.elementType);
    const ofPointers = element.kind === 'pointer';
    const type = ofPointers ? structOf(element.target, p.x.array) : structOf(array.elementType, p.x.array);
    for (let i = 0; i < Number(count); i++) {
      let address = array.address + BigInt(i * array.elementSize);
      try {
        if (ofPointers) {
          const bytes = await this.ev.read(p.x.array, address, array.elementSize);
          address = littleEndian(bytes);
          if (address === 0n) continue;
        }
        const proc = await one({ elem: this.ev.pointer(type, address), index: i }, address);
        if (proc) out.push(proc);
      } catch (e) {
        if (e instanceof DescriptionFailure && e.memory) {
          broken(`Process ${i} of the process array is at ${hex(address)}, which cannot be read.`, address);
          continue;
        }
        throw e;
      }
    }
    return out;
  }

  // ---- allocators ----

  private async allocator(a: CompiledPart<AllocatorDescription>): Promise<DescribedAllocator | undefined> {
    const d = a.desc;
    const unitBytes = d.unitBytes ?? (d.shape === 'chain-table' ? 16384 : 4096);
    const base = a.x.base ? await this.ev.integer(a.x.base) : 0n;
    if (base < 0n || base % 4096n !== 0n) throw new DescriptionFailure({ path: `${a.path}.base`, expression: a.x.base?.text, message: `${a.path}.base is ${hex(BigInt.asUintN(64, base))}, which is not a 4 KiB aligned physical address.` }, false);
    const unitCount = async (c: CompiledExpression): Promise<number> => {
      const n = await this.ev.integer(c);
      if (n < 0n || n > BigInt(MAX_UNITS)) throw new DescriptionFailure({ path: c.path, expression: c.text, message: `${c.path} "${c.text}" is ${n}, not a number of units mmscope reads (0..${MAX_UNITS}).` }, false);
      return Number(n);
    };
    const units = a.x.units ? await unitCount(a.x.units) : 0;
    const range: UnitRange = { base, unitBytes, units, ...(this.access.regions ? { regions: this.access.regions } : {}) };
    let decoded: DecodedUnits | undefined;
    let frames: DescribedAllocator['frames'] | undefined;
    let counts;
    switch (d.shape) {
      case 'bitmap': {
        const array = await this.ev.array(a.x.bitmap);
        const layout = { used: d.used ?? 1, bitOrder: d.bitOrder ?? 'lsb', wordBytes: d.wordBytes ?? wordSize(array.elementSize) };
        decoded = decodeBitmap(await this.ev.read(a.x.bitmap, array.address, bitmapBytes(units, layout)), units, layout);
        break;
      }
      case 'free-list':
        decoded = freeListUnits(range, await this.linkedList(a, range, a.x.head, {}, 'free list'));
        break;
      case 'free-stack': {
        const array = await this.ev.array(a.x.array);
        let count = await this.ev.integer(a.x.count);
        if (count < 0n || count > BigInt(units)) {
          this.findings.push({ kind: 'counter-mismatch', severity: 'error', allocator: d.name,
            message: `The free stack of allocator "${d.name}" says it holds ${count} entries, but the allocator manages ${units} units; mmscope read ${count < 0n ? 'none' : units}.` });
          count = count < 0n ? 0n : BigInt(units);
        }
        if (array.elementSize !== 4 && array.elementSize !== 8) throw new DescriptionFailure({ path: `${a.path}.array`, expression: a.x.array.text, message: `${a.path}.array "${a.x.array.text}" has ${array.elementSize}-byte entries; a free stack holds 4- or 8-byte frame numbers or addresses.` }, false);
        const bytes = Buffer.from(await this.ev.read(a.x.array, array.address, Number(count) * array.elementSize));
        const holds = d.holds ?? 'frame';
        const entries: { raw: bigint; physical: bigint | undefined }[] = [];
        for (let i = 0; i < Number(count); i++) {
          const raw = array.elementSize === 8 ? bytes.readBigUInt64LE(i * 8) : BigInt(bytes.readUInt32LE(i * 4));
          entries.push({ raw, physical: await this.physical(raw, holds, unitBytes) });
        }
        decoded = decodeFreeStack(d.name, range, entries);
        break;
      }
      case 'buddy': {
        const orders = await this.ev.integer(a.x.orders);
        if (orders < 1n || orders > BigInt(MAX_ORDERS)) throw new DescriptionFailure({ path: `${a.path}.orders`, expression: a.x.orders.text, message: `${a.path}.orders "${a.x.orders.text}" is ${orders}; a buddy allocator has 1..${MAX_ORDERS} orders.` }, false);
        const walks: FreeListWalk[] = [];
        for (let order = 0; order < Number(orders); order++) walks.push(await this.linkedList(a, range, a.x.head, { order }, `order-${order} free list`));
        decoded = decodeBuddy(d.name, range, walks);
        break;
      }
      case 'region-table': {
        const r = await this.regions(a);
        frames = r.frames;
        counts = r.counts;
        this.findings.push(...capFindings(d.name, r.findings));
        break;
      }
      case 'chain-table': {
        const array = await this.ev.array(a.x.table);
        if (array.elementSize !== 4) throw new DescriptionFailure({ path: `${a.path}.table`, expression: a.x.table.text, message: `${a.path}.table "${a.x.table.text}" has ${array.elementSize}-byte entries; a chain table holds 32-bit entries (uint32_t *).` }, false);
        const count = await unitCount(a.x.count);
        const bytes = await this.ev.read(a.x.table, array.address, count * 4);
        const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
        const words = new Uint32Array(count);
        for (let i = 0; i < count; i++) words[i] = view.getUint32(i * 4, true);
        decoded = decodeChainTableUnits(d.name, words);
        break;
      }
    }
    if (decoded) {
      this.findings.push(...capFindings(d.name, decoded.findings));
      frames = frameRuns(decoded.states, base, unitBytes);
      counts = countUnits(decoded.states);
    }
    if (!frames || !counts) return undefined;
    let counter: AllocatorJson['counter'];
    if (a.x.counter) {
      try {
        const value = Number(await this.ev.integer(a.x.counter));
        counter = { expression: a.x.counter.text, value, agrees: value === counts.free };
        if (!counter.agrees) {
          this.findings.push({ kind: 'counter-mismatch', severity: 'warning', allocator: d.name,
            message: `Allocator "${d.name}" counts ${value} free units (${a.x.counter.text}) but ${counts.free} are free in its ${d.shape}.` });
        }
      } catch (e) {
        this.errors.push(failureOf(e));
      }
    }
    const total = counts.free + counts.used + counts.reserved;
    const summary: AllocatorJson = {
      name: d.name, shape: d.shape, unitBytes: d.shape === 'region-table' ? 4096 : unitBytes, total, free: counts.free, used: counts.used, reserved: counts.reserved,
      ...(counter ? { counter } : {}),
      ...(decoded?.freeByOrder ? { freeByOrder: decoded.freeByOrder } : {}),
    };
    return { summary, frames };
  }

  /** Walks one list linked through free units (a free list, or one order of a buddy allocator). */
  private async linkedList(a: CompiledPart<AllocatorDescription>, range: UnitRange, headExpr: CompiledExpression, bindings: ElementBindings, what: string): Promise<FreeListWalk> {
    const d = a.desc as AllocatorDescription & { holds?: AddressHolds; nextOffset?: number; linkBytes?: 4 | 8 };
    const holds = d.holds ?? 'virtual';
    const next = a.x.next;
    if (next && holds !== 'virtual') {
      throw new DescriptionFailure({ path: `${a.path}.next`, expression: next.text, message: `${a.path}.next is an expression, which reads through virtual addresses, but the links hold ${holds === 'frame' ? 'frame numbers' : 'physical addresses'}; give nextOffset instead.` }, false);
    }
    const head = await this.ev.pointerValue(headExpr, bindings);
    const pointee = head.pointee && stripTypedefs(head.pointee).kind !== 'void' ? head.pointee : undefined;
    if (next && !pointee) {
      throw new DescriptionFailure({ path: `${headExpr.path}`, expression: headExpr.text, message: `${headExpr.path} "${headExpr.text}" is not a typed pointer, so "${next.text}" has no struct to read; cast it, or give nextOffset.` }, false);
    }
    let fatal: DescriptionFailure | undefined;
    // A plain member (`next`, `$elem->next`) is read straight from the free unit's physical
    // bytes: no expression evaluation and no second translation per link.
    const member = next && pointee ? plainMember(next, pointee) : undefined;
    const readNext = async (link: bigint, physical: bigint): Promise<bigint> => {
      if (member) return this.readLink('physical', link, physical, member.offset, member.size);
      if (next && pointee) {
        try {
          return await this.ev.address(next, { ...bindings, elem: this.ev.pointer(pointee, link) });
        } catch (e) {
          if (e instanceof DescriptionFailure && !e.memory) {
            fatal = e;
            return 0n;
          }
          throw e;
        }
      }
      return this.readLink(holds, link, physical, d.nextOffset ?? 0, d.linkBytes ?? this.symbols.addressSize);
    };
    const walk = await walkFreeList(d.name, what, head.address, range, (link) => this.physical(link, holds, range.unitBytes), readNext);
    if (fatal) throw fatal;
    return walk;
  }

  private async regions(a: CompiledPart<AllocatorDescription>): Promise<ReturnType<typeof decodeRegions>> {
    const d = a.desc as Extract<AllocatorDescription, { shape: 'region-table' }>;
    const array = await this.ev.array(a.x.array);
    const count = a.x.count ? await this.ev.integer(a.x.count) : array.length !== undefined ? BigInt(array.length) : undefined;
    if (count === undefined) throw new DescriptionFailure({ path: `${a.path}.count`, message: `${a.path}.count is missing; "${a.x.array.text}" is a pointer, so say how many regions it points to.` }, false);
    if (count < 0n || count > BigInt(MAX_REGIONS)) throw new DescriptionFailure({ path: `${a.path}.count`, expression: a.x.count?.text, message: `${a.path}.count is ${count}, not a number of regions mmscope reads (0..${MAX_REGIONS}).` }, false);
    const values = async (list: readonly CompiledExpression[] | undefined): Promise<Set<bigint>> => {
      const out = new Set<bigint>();
      for (const c of list ?? []) out.add(await this.ev.integer(c));
      return out;
    };
    const free = await values(a.lists.free);
    const reserved = await values(a.lists.reserved);
    const unit = BigInt(d.unitBytes ?? 4096);
    const entries = [];
    for (let i = 0; i < Number(count); i++) {
      const elem = { elem: this.ev.pointer(array.elementType, array.address + BigInt(i * array.elementSize)), index: i };
      const start = await this.ev.integer(a.x.start, elem);
      let length = await this.ev.integer(a.x.length, elem);
      if (d.lengthIn === 'units') length *= unit;
      const type = await this.ev.integer(a.x.type, elem);
      entries.push({ start, length, state: free.has(type) ? 'free' as const : reserved.has(type) ? 'reserved' as const : 'used' as const });
    }
    return decodeRegions(d.name, entries, MAX_UNITS);
  }

  // ---- heaps ----

  private async heap(h: CompiledPart<HeapDescription>): Promise<HeapJson> {
    const d = h.desc;
    const first = await this.ev.pointerValue(h.x.first);
    const type = first.pointee ? stripTypedefs(first.pointee) : undefined;
    if (!first.pointee || !type || (type.kind !== 'struct' && type.kind !== 'union')) {
      throw new DescriptionFailure({ path: `${h.path}.first`, expression: h.x.first.text, message: `${h.path}.first "${h.x.first.text}" must be a typed pointer to the first header; cast it, e.g. "(struct hdr *)0x…".` }, false);
    }
    const headerBytes = d.headerBytes ?? byteSizeOf(first.pointee);
    const includes = d.sizeIncludesHeader ?? true;
    const end = h.x.end ? await this.ev.address(h.x.end) : undefined;
    const blocks: HeapBlockJson[] = [];
    const seen = new Set<bigint>();
    let usedBytes = 0;
    let freeBytes = 0;
    let truncated = false;
    const corrupt = (message: string, address: bigint): void => {
      this.findings.push({ kind: 'heap-corrupt', severity: 'error', message, virtual: jsonAddress(address) });
    };
    /** A header's field read: undefined (and a heap-corrupt finding) when the header's memory cannot be read. */
    const readable = async <T>(address: bigint, read: () => Promise<T>): Promise<T | undefined> => {
      try {
        return await read();
      } catch (e) {
        if (!(e instanceof DescriptionFailure && e.memory)) throw e;
        corrupt(`The header at ${hex(address)} of heap "${d.name}" cannot be read.`, address);
        return undefined;
      }
    };
    let validOn = true;
    for (let address = first.address; ; ) {
      if (end !== undefined ? address >= end : address === 0n) break;
      if (blocks.length >= MAX_HEAP_BLOCKS) {
        truncated = true;
        break;
      }
      if (seen.has(address)) {
        corrupt(`The headers of heap "${d.name}" come back to ${hex(address)} after ${blocks.length} blocks: the list loops.`, address);
        truncated = true;
        break;
      }
      seen.add(address);
      const elem = { elem: this.ev.pointer(first.pointee, address), index: blocks.length };
      const header = await readable(address, async () => {
        if (h.x.valid && validOn) {
          let valid = true;
          try {
            valid = await this.ev.truth(h.x.valid, elem);
          } catch (e) {
            if (e instanceof DescriptionFailure && !e.memory) {
              validOn = false;
              this.errors.push(e.error);
            } else throw e;
          }
          if (!valid) return 'invalid' as const;
        }
        return { size: await this.ev.integer(h.x.size, elem), used: await this.ev.truth(h.x.used, elem) };
      });
      if (header === 'invalid') corrupt(`The header at ${hex(address)} of heap "${d.name}" is not valid (${h.x.valid?.text} is false).`, address);
      if (header === undefined || header === 'invalid') {
        truncated = true;
        break;
      }
      const { size, used } = header;
      const whole = includes ? size : size + BigInt(headerBytes);
      if (size <= 0n || whole < BigInt(headerBytes)) {
        corrupt(`The header at ${hex(address)} of heap "${d.name}" gives the size ${size}, ${size <= 0n ? 'which is no size' : `less than the ${headerBytes}-byte header`}.`, address);
        truncated = true;
        break;
      }
      if (end !== undefined && address + whole > end) {
        corrupt(`The block at ${hex(address)} of heap "${d.name}" (${whole} bytes) runs past the heap's end ${hex(end)}.`, address);
        truncated = true;
        break;
      }
      const payload = Number(whole - BigInt(headerBytes));
      blocks.push({ address: jsonAddress(address + BigInt(headerBytes)), size: payload, used });
      if (used) usedBytes += payload;
      else freeBytes += payload;
      if (end !== undefined) address += whole;
      else {
        const next = await readable(address, () => this.ev.address(h.x.next, elem));
        if (next === undefined) {
          truncated = true;
          break;
        }
        address = next;
      }
    }
    return { name: d.name, blocks, usedBytes, freeBytes, truncated };
  }
}

/** The byte offset and size of a pointer member that `c` names plainly (`next`, `$elem->next`), if it does. */
function plainMember(c: CompiledExpression, pointee: DwarfType): { offset: number; size: 4 | 8 } | undefined {
  const e = c.ast;
  const name = e.kind === 'identifier' ? e.name
    : e.kind === 'member' && e.arrow && e.object.kind === 'register' && e.object.name === 'elem' ? e.member : undefined;
  const s = stripTypedefs(pointee);
  if (name === undefined || (s.kind !== 'struct' && s.kind !== 'union')) return undefined;
  const found = findMember(s, name);
  if (!found || found.member.bitSize !== undefined) return undefined;
  const t = stripTypedefs(found.member.type);
  const size = byteSizeOf(found.member.type);
  if ((t.kind !== 'pointer' && !(t.kind === 'base' && t.encoding !== 0x4)) || (size !== 4 && size !== 8)) return undefined;
  return { offset: found.offset + found.member.byteOffset, size };
}

/** The unsigned little-endian integer in `bytes`. */
function littleEndian(bytes: Uint8Array): bigint {
  let v = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[i]);
  return v;
}

function wordSize(n: number): 1 | 2 | 4 | 8 {
  return n === 2 || n === 4 || n === 8 ? n : 1;
}
