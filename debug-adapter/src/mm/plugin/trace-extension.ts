// Tracing plugged into the debug session (session/session-extension.ts): allocation tracing of
// the description's alloc/free functions and, with `traceAddressSpaces`, the CR3 loads. It owns
// the internal breakpoints of owner 'trace', decides their hits (recording, then going on at
// once, or stopping for an enabled "Traced allocation"/"Traced free" filter), measures what the
// tracing costs while the guest runs (traced calls per second, the share of the time the guest
// was stopped for it) and tells the user at every stop. `tracing()` is the document's section and
// `tracedSpaces()` the CR3 values loaded, for the snapshot service.

import type { ExceptionFilter, SessionExtension } from '../../session/session-extension';
import type { Target, TargetStop } from '../../session/target';
import { ConditionError } from '../model/event-condition';
import { siteText } from '../model/allocation-trace';
import type { FindingDocJson, TracingJson } from '../model/snapshot-document';
import type { TracingDescription } from '../model/described-state';
import { tracedSize } from '../model/tracing-description';
import { AddressSpaceTracer, TracedSpace } from './address-space-tracer';
import { AllocationTracer, TraceEvent, TraceSetupError } from './allocation-tracer';
import { hoveredPointer } from './mm-extension';
import { armTraceFilters, ArmedTraceFilter, describeTraceEvent, matchTraceEvent, TRACE_EXCEPTION_FILTERS } from './trace-filters';
import { DapRequest } from '../../../../contract/dap';
import { EventStore } from '../model/event-store';
import { mmEventKindName } from '../model/mm-history-event';
import { tracedEventAddress, tracedEventCaller } from '../model/traced-events';

export const TRACING_REQUEST = DapRequest.tracing;
const OWNER = 'trace';

/** What a launch or attach configuration asks of tracing. */
export interface TraceConfiguration {
  /** The description's `tracing`, checked by the memory model's loader (undefined: no allocation tracing). */
  readonly tracing?: TracingDescription;
  readonly traceAddressSpaces: boolean;
  /** One sentence per mistake found while reading the configuration. */
  readonly errors: readonly string[];
}

/** What a session's start arguments ask of tracing: the description's `tracing` (loaded with the memory model) and `traceAddressSpaces`. */
export function traceConfiguration(args: Readonly<Record<string, unknown>>, tracing: TracingDescription | undefined): TraceConfiguration {
  const errors: string[] = [];
  if (args.traceAddressSpaces !== undefined && typeof args.traceAddressSpaces !== 'boolean') errors.push('"traceAddressSpaces" must be true or false.');
  return { ...(tracing !== undefined ? { tracing } : {}), traceAddressSpaces: args.traceAddressSpaces === true, errors };
}

/** Running-time bookkeeping: wall time while the user's run operations ran, and the part the guest spent stopped in between. */
class TraceClock {
  runningMs = 0;
  stoppedMs = 0;
  private runStart: number | undefined;
  private stopAt: number | undefined;

  resumedByUser(now: number): void {
    this.runStart = now;
    this.stopAt = undefined;
  }

  stoppedForUser(now: number): void {
    if (this.runStart !== undefined) this.runningMs += now - this.runStart;
    this.runStart = undefined;
    this.stopAt = undefined;
  }

  /** A stop reply while a user's operation runs (an internal stop, or the user's own at its end). */
  stubStopped(now: number): void {
    if (this.runStart !== undefined) this.stopAt = now;
  }

  stubResumed(now: number): void {
    if (this.runStart !== undefined && this.stopAt !== undefined) this.stoppedMs += now - this.stopAt;
    this.stopAt = undefined;
  }

  /** Starts counting afresh (at the first traced call: the boot before it is not tracing's time). */
  restart(now: number): void {
    this.runningMs = 0;
    this.stoppedMs = 0;
    if (this.runStart !== undefined) this.runStart = now;
    if (this.stopAt !== undefined) this.stopAt = now;
  }

  /** Wall time so far, the current run included. */
  total(now: number): number {
    return this.runningMs + (this.runStart !== undefined ? now - this.runStart : 0);
  }
}

export class TraceSessionExtension implements SessionExtension {
  readonly commands: readonly string[] = [TRACING_REQUEST];
  readonly exceptionFilters: readonly ExceptionFilter[] = TRACE_EXCEPTION_FILTERS;
  readonly allocations: AllocationTracer | undefined;
  readonly spaces: AddressSpaceTracer | undefined;
  /**
   * The flight recorder of a kernel that is not ours (issue 16): every traced allocation and free
   * as an allocated/freed event (model/traced-events.ts), for the history, `mmscope record` and
   * the trace export; undefined when no allocations are traced.
   */
  readonly events: EventStore | undefined;
  /** The process an address space belongs to (the snapshot service sets it from the description's processes). */
  pidOf: ((cr3: bigint) => number | undefined) | undefined;
  /** At every stop: every CR3 value traced so far (for the memory manager's 'traced' spaces). */
  onTracedSpaces: ((spaces: readonly TracedSpace[]) => void) | undefined;
  /** Called at every stop, after the traced spaces were handed on. */
  onStopped: (() => void) | undefined;
  /** The stop number the documents carry (default: the stops this extension saw). */
  stopNumber: (() => number) | undefined;
  /** The physical address a virtual one maps to at this stop (the memory manager's translation), for allocators that return physical addresses or frames. */
  physicalOf: ((address: bigint) => Promise<bigint | undefined>) | undefined;
  private stopped = false;
  private armed: ArmedTraceFilter[] = [];
  private userStops = 0;
  private readonly clock = new TraceClock();
  private reportedCalls = 0;
  private hitSeen = false;
  private readonly t0 = Date.now();

  constructor(private readonly target: Target, config: TraceConfiguration) {
    for (const e of config.errors) this.say(e);
    if (config.tracing !== undefined) {
      const tracing = config.tracing;
      const size = tracedSize(tracing);
      if (typeof size === 'string') {
        this.say(`Allocation tracing is off: ${size}.`);
      } else {
        try {
          this.allocations = new AllocationTracer(target.symbols, tracing, size, { complete: target.launched });
          this.events = new EventStore();
          this.allocations.recordInto(this.events, (cr3) => this.pidOf?.(cr3));
          this.say(`Tracing allocations: ${tracing.alloc.function} (returns ${tracing.alloc.returns}) and ${tracing.free.function} (argument ${tracing.free.argument ?? 0}); the guest goes on at every traced call.`);
        } catch (e) {
          if (!(e instanceof TraceSetupError)) throw e;
          this.say(`Allocation tracing is off: ${e.message}.`);
        }
      }
    }
    if (config.traceAddressSpaces) {
      this.spaces = new AddressSpaceTracer(target.symbols.elf);
      this.say(this.spaces.describeSites((a) => target.symbols.elf.symbolAt(a) ?? target.symbols.elf.nearestSymbolBelow(a), target.symbols.elf.addressWidth));
    }
    target.rsp.connection.onStop(() => this.clock.stubStopped(Date.now()));
    target.rsp.connection.onResume(() => this.clock.stubResumed(Date.now()));
    this.placeBreakpoints();
  }

  /** True when there is anything to trace. */
  get active(): boolean {
    return this.allocations !== undefined || this.spaces !== undefined;
  }

  private say(line: string): void {
    this.target.emit('console', line);
  }

  private placeBreakpoints(): void {
    const addresses = new Set<number>([...(this.allocations?.breakpointAddresses() ?? []), ...(this.spaces?.breakpointAddresses() ?? [])]);
    this.target.table.setInternalBreakpoints(OWNER, [...addresses]);
  }

  /** Arms the tracing breakpoints (at the session's start). */
  async start(): Promise<void> {
    // The guest runs once the session is configured (launched) or is stopped by the attach (whose first stop ends this run).
    this.clock.resumedByUser(Date.now());
    this.placeBreakpoints();
    await this.target.syncBreakpoints();
  }

  /**
   * `mmscope/tracing` ({ history?: true }): the tracing section, findings, counts, traced spaces,
   * `events` (the traced calls the recorder's store holds), and with history the recent traced
   * calls and the store's last as many events (`recordedEvents`, fields of model/traced-events.ts).
   */
  async customRequest(command: string, args?: unknown): Promise<unknown> {
    if (command !== TRACING_REQUEST) throw new Error(`unknown request ${command}`);
    const history = (args as { history?: unknown } | undefined)?.history === true
      ? (this.allocations?.trace.history ?? []).map((r) => ({ kind: r.kind, seq: r.seq, address: `0x${r.address.toString(16)}`, returnAddress: `0x${r.returnAddress.toString(16)}`, thread: r.thread }))
      : undefined;
    const spaces = this.tracedSpaces().map((s) => ({ cr3: `0x${s.cr3.toString(16)}`, hits: s.hits, firstSeenStop: s.firstSeenStop, lastSeenStop: s.lastSeenStop }));
    return {
      tracing: this.tracing() ?? null,
      findings: this.allocations?.trace.findings ?? [],
      counts: this.allocations?.trace.counts ?? null,
      pendingCalls: this.allocations?.trace.pendingCalls ?? 0,
      spaces,
      cr3Sites: this.spaces?.writes.map((w) => w.address) ?? [],
      cr3Loads: this.spaces?.hits ?? 0,
      runningMs: this.clock.total(Date.now()),
      stoppedMs: this.clock.stoppedMs,
      events: this.events?.length ?? 0,
      ...(history ? { history, recordedEvents: this.recordedEvents(history.length) } : {}),
    };
  }

  /** The last `count` events of the traced calls' store, for `mmscope/tracing`. */
  private recordedEvents(count: number): object[] {
    const s = this.events;
    if (!s) return [];
    const out: object[] = [];
    for (const e of s.range(Math.max(0, s.length - count), s.length)) {
      out.push({
        seq: e.seq, kind: mmEventKindName(e.kind), address: `0x${tracedEventAddress(e).toString(16)}`, returnAddress: `0x${tracedEventCaller(e).toString(16)}`,
        callSeq: e.arg, status: e.status, blocks: e.blocks, pid: e.pid, tsc: Number(e.tsc),
      });
    }
    return out;
  }

  /** The snapshot document's tracing section, or undefined when nothing is traced. */
  tracing(): TracingJson | undefined {
    if (!this.allocations) return undefined;
    const { callsPerSecond, slowdown } = this.cost();
    return this.allocations.json({ callsPerSecond, ...(slowdown !== undefined ? { slowdown } : {}), ...(this.pidOf ? { pidOf: this.pidOf } : {}) });
  }

  /** Every CR3 value a traced mov loaded (empty without traceAddressSpaces). */
  tracedSpaces(): readonly TracedSpace[] {
    return this.spaces?.tracedSpaces() ?? [];
  }

  /** Traced calls per second of running time, and the share of it the guest was stopped. */
  cost(): { callsPerSecond: number; slowdown?: number } {
    const ms = this.clock.total(Date.now());
    const calls = (this.allocations?.trace.tracedCalls ?? 0) + (this.spaces?.hits ?? 0);
    return { callsPerSecond: ms > 0 ? Math.round((calls * 1000) / ms) : 0, ...(ms > 0 && calls > 0 ? { slowdown: Math.min(1, this.clock.stoppedMs / ms) } : {}) };
  }

  async setExceptionFilters(options: readonly { filterId: string; condition?: string }[]): Promise<{ verified: boolean; message?: string }[]> {
    const verdicts = options.map((o) => {
      if (!this.allocations) return { verified: false, message: 'Nothing is traced: name the alloc and free functions in the memory-model description\'s "tracing".' };
      try {
        armTraceFilters([o]);
        return { verified: true };
      } catch (e) {
        return { verified: false, message: e instanceof ConditionError ? `Condition not understood: ${e.message}` : String(e) };
      }
    });
    this.armed = this.allocations ? armTraceFilters(options.filter((_, i) => verdicts[i].verified)) : [];
    return verdicts;
  }

  async decideInternalHit(pc: number): Promise<{ description: string; text?: string } | undefined> {
    const allocations = this.allocations;
    const ownsSpace = this.spaces?.owns(pc) ?? false;
    const ownsAlloc = allocations?.owns(pc) ?? false;
    if (!ownsSpace && !ownsAlloc) return undefined;
    if (!this.hitSeen) {
      this.hitSeen = true;
      this.clock.restart(Date.now());
    }
    const guest = this.target.guest;
    if (ownsSpace && this.spaces) {
      const cr3 = (await guest.exactRegisters()).get('cr3');
      // Loaded while running after stop N: seen before stop N + 1.
      if (cr3 !== undefined) {
        const space = this.spaces.record(cr3, (this.stopNumber?.() ?? this.userStops) + 1);
        if (space.hits === 1) this.onTracedSpaces?.([space]);
      }
    }
    if (!ownsAlloc || !allocations) return undefined;
    const { event, changedBreakpoints } = await allocations.hit(pc, { exactRegisters: () => guest.exactRegisters(), readMemory: (a, n) => guest.readMemory(a, n), thread: this.target.selectedThread }, Date.now() - this.t0);
    if (changedBreakpoints) {
      this.placeBreakpoints();
      await this.target.syncBreakpoints();
    }
    if (!event) return undefined;
    // A double free is said at once; a free never allocated at the next stop, if it still stands (a pool filler withdraws it).
    if (event.kind === 'freed' && event.finding?.kind === 'double-free') this.sayFinding(event.finding);
    const match = matchTraceEvent(this.armed, event, this.pidOfEvent(event));
    if (!match) return undefined;
    return { description: describeTraceEvent(event, { alloc: allocations.description.alloc.function, free: allocations.description.free.function }), text: match.filter.label };
  }

  private readonly said = new Set<FindingDocJson>();

  private sayFinding(f: FindingDocJson): void {
    if (this.said.has(f)) return;
    this.said.add(f);
    this.say(`Allocation tracing: ${f.message}`);
  }

  private pidOfEvent(e: TraceEvent): number | undefined {
    return this.pidOf?.(e.kind === 'allocated' ? e.allocation.cr3 : e.cr3);
  }

  /**
   * Debug hovers over a pointer into a live traced allocation: who allocated it ("allocated by
   * kalloc from proc_grow at freelist.c:123, pid 2, call #57"). Allocators returning physical
   * addresses or frames are matched through the pointer's physical address (physicalOf).
   */
  async hoverNote(value: { readonly result: string; readonly type?: string; readonly memoryReference?: string }): Promise<string | undefined> {
    const a = this.allocations;
    const pointer = hoveredPointer(value);
    if (!a || !this.stopped || pointer === undefined) return undefined;
    const returns = a.description.alloc.returns;
    let key: bigint | undefined = pointer;
    if (returns !== 'address') {
      const physical = await this.physicalOf?.(pointer);
      key = physical === undefined ? undefined : returns === 'frame' ? physical / 4096n : physical;
    }
    const hit = key === undefined ? undefined : a.trace.liveAt(key);
    if (!hit) return undefined;
    const pid = this.pidOf?.(hit.cr3);
    return `allocated by ${a.description.alloc.function} from ${siteText(hit.site)}${pid !== undefined ? `, pid ${pid}` : ''}, call #${hit.seq}`;
  }

  onStop(_stop: TargetStop): void {
    this.stopped = true;
    this.userStops++;
    this.clock.stoppedForUser(Date.now());
    this.onTracedSpaces?.(this.tracedSpaces());
    this.onStopped?.();
    const a = this.allocations;
    if (!a || a.trace.tracedCalls === this.reportedCalls) return;
    for (const f of a.trace.findings) this.sayFinding(f);
    this.reportedCalls = a.trace.tracedCalls;
    const { callsPerSecond, slowdown } = this.cost();
    const live = a.trace.live();
    const sites = new Set(live.map((x) => x.site.address)).size;
    const top = a.json({ callsPerSecond, maxLive: 0 }).sites[0];
    this.say(`Allocation tracing: ${a.trace.tracedCalls} calls traced (${a.trace.counts.allocCalls} ${a.description.alloc.function}, ${a.trace.counts.frees} ${a.description.free.function}), ${callsPerSecond} calls/s while running${slowdown !== undefined ? `, the guest stopped ${Math.round(slowdown * 100)}% of that time for tracing` : ''}; ${live.length} live allocation${live.length === 1 ? '' : 's'} from ${sites} site${sites === 1 ? '' : 's'}${top ? ` (most: ${top.live} by ${siteText({ ...top.site, address: BigInt(top.site.address) })})` : ''}.`);
  }

  onResume(): void {
    this.stopped = false;
    this.clock.resumedByUser(Date.now());
  }
}
