// The exception filters of allocation tracing, for any kernel whose description names its
// alloc/free functions: stop after a traced allocation returns, at a traced free, or at a free
// that is a finding (double free, never allocated). Conditions are the allocation breakpoints'
// small expressions (event-condition.ts) over the traced call's fields.

import { EventCondition, EventFields } from '../model/event-condition';
import { siteText } from '../model/allocation-trace';
import type { TraceEvent } from './allocation-tracer';

export interface TraceFilter {
  readonly id: string;
  readonly label: string;
  readonly description: string;
  readonly matches: (e: TraceEvent) => boolean;
}

export const TRACE_FILTERS: readonly TraceFilter[] = [
  { id: 'trace-allocated', label: 'Traced allocation', description: 'Stop in the caller after a traced allocation function returns (memory-model description: tracing)', matches: (e) => e.kind === 'allocated' },
  { id: 'trace-freed', label: 'Traced free', description: 'Stop at a traced free function\'s call (memory-model description: tracing)', matches: (e) => e.kind === 'freed' },
  { id: 'trace-bad-free', label: 'Double free / free never allocated', description: 'Stop at a traced free of something already freed or never allocated', matches: (e) => e.kind === 'freed' && e.finding !== undefined && e.finding.severity === 'error' },
];

export const TRACE_CONDITION_FIELDS = ['address', 'size', 'pid', 'caller', 'seq', 'function', 'file', 'line'] as const;

export const TRACE_EXCEPTION_FILTERS = TRACE_FILTERS.map((f) => ({
  filter: f.id,
  label: f.label,
  description: f.description,
  supportsCondition: true,
  conditionDescription: 'e.g. size >= 8192, function == "load_elf", pid == 2 (fields: address size pid caller seq function file line)',
}));

export interface ArmedTraceFilter {
  readonly filter: TraceFilter;
  readonly condition?: EventCondition;
}

/** Parses the filters the user enabled (only the tracing ones). Throws ConditionError for a bad condition. */
export function armTraceFilters(options: readonly { filterId: string; condition?: string }[]): ArmedTraceFilter[] {
  const out: ArmedTraceFilter[] = [];
  for (const o of options) {
    const filter = TRACE_FILTERS.find((f) => f.id === o.filterId);
    if (!filter) continue;
    out.push({ filter, ...(o.condition && o.condition.trim() ? { condition: new EventCondition(o.condition, TRACE_CONDITION_FIELDS) } : {}) });
  }
  return out;
}

/** The fields a condition sees for `e` (pid: the process of its address space, when known). */
export function traceEventFields(e: TraceEvent, pid: number | undefined): EventFields {
  const site = e.kind === 'allocated' ? e.allocation.site : e.site;
  const address = e.kind === 'allocated' ? e.allocation.address : e.address;
  return {
    address: Number(address),
    size: e.kind === 'allocated' ? e.allocation.size : e.allocation?.size ?? 0,
    pid: pid ?? -1,
    caller: Number(site.address),
    seq: e.kind === 'allocated' ? e.allocation.seq : e.seq,
    function: site.function ?? '',
    file: site.file?.split(/[\\/]/).pop() ?? '',
    line: site.line ?? 0,
  };
}

export function matchTraceEvent(armed: readonly ArmedTraceFilter[], e: TraceEvent, pid: number | undefined): ArmedTraceFilter | undefined {
  const fields = traceEventFields(e, pid);
  return armed.find((a) => a.filter.matches(e) && (!a.condition || a.condition.evaluate(fields)));
}

/** "kalloc returned 0x104000 (4096 bytes) to build_tree at trace.c:40" and the like. */
export function describeTraceEvent(e: TraceEvent, names: { alloc: string; free: string }): string {
  if (e.kind === 'allocated') {
    const a = e.allocation;
    return `${names.alloc} returned 0x${a.address.toString(16)} (${a.size} bytes) to ${siteText(a.site)}`;
  }
  if (e.finding) return e.finding.message;
  return `${siteText(e.site)} calls ${names.free}(0x${e.address.toString(16)})${e.allocation ? `, allocated by ${siteText(e.allocation.site)}` : ''}`;
}
