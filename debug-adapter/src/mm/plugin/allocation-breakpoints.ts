// Allocation breakpoints: exception-breakpoint filters of the debug adapter that stop after a
// memory-manager call completes. The guest calls mm_event_hook() after every call with the
// details in mm_last_event (guest/include/mm_event.h); the adapter breaks there, decodes the
// event, checks the filter's condition, and reports a stop with a sentence, or resumes.

import { EventCondition } from '../model/event-condition';
import { MmEvent } from '../model/guest-structures';
import { SourceSite } from '../model/findings';
import { formatSite } from '../model/site-resolver';

export interface AllocationFilter {
  readonly id: string;
  readonly label: string;
  readonly description: string;
  /** Event kinds the filter stops on. */
  readonly kinds: readonly MmEvent['kind'][];
}

export const ALLOCATION_FILTERS: readonly AllocationFilter[] = [
  { id: 'mm-allocated', label: 'Chain allocated', description: 'Stop after a chain is allocated', kinds: ['allocated'] },
  { id: 'mm-freed', label: 'Chain freed', description: 'Stop after a chain is freed', kinds: ['freed'] },
  { id: 'mm-resized', label: 'Chain resized', description: 'Stop after a chain is resized', kinds: ['resized'] },
  { id: 'mm-mapped', label: 'Chain mapped', description: 'Stop after a chain is mapped (or unmapped)', kinds: ['mapped', 'unmapped'] },
  { id: 'mm-defrag', label: 'Defragmentation', description: 'Stop after the defragmenter ran', kinds: ['defrag'] },
  { id: 'mm-xms', label: 'XMS call', description: 'Stop after an XMS driver call', kinds: ['xms'] },
  { id: 'mm-dpmi', label: 'DPMI call', description: 'Stop after a DPMI memory call', kinds: ['dpmi'] },
  { id: 'mm-dos', label: 'DOS memory call', description: 'Stop after a DOS memory call', kinds: ['dos'] },
];

export const CONDITION_FIELDS = ['chain', 'blocks', 'flags', 'arg', 'status', 'caller', 'pid', 'seq', 'kind'] as const;

export interface ArmedFilter {
  readonly filter: AllocationFilter;
  readonly condition?: EventCondition;
}

/** Parses the filters the user enabled. Throws ConditionError for a bad condition. */
export function armFilters(options: readonly { filterId: string; condition?: string }[]): ArmedFilter[] {
  const out: ArmedFilter[] = [];
  for (const o of options) {
    const filter = ALLOCATION_FILTERS.find((f) => f.id === o.filterId);
    if (!filter) continue;
    const condition = o.condition && o.condition.trim() ? new EventCondition(o.condition, CONDITION_FIELDS) : undefined;
    out.push({ filter, condition });
  }
  return out;
}

/** The armed filter this event should stop for, if any. */
export function matchEvent(armed: readonly ArmedFilter[], e: MmEvent): ArmedFilter | undefined {
  const fields = { chain: e.chain, blocks: e.blocks, flags: e.flags, arg: e.arg, status: e.status, caller: e.caller, pid: e.pid, seq: e.seq, kind: kindNumber(e.kind) };
  return armed.find((a) => a.filter.kinds.includes(e.kind) && (!a.condition || a.condition.evaluate(fields)));
}

function kindNumber(k: MmEvent['kind']): number {
  return ['none', 'allocated', 'freed', 'resized', 'mapped', 'unmapped', 'defrag', 'xms', 'dpmi', 'dos'].indexOf(k);
}

const hex = (n: number): string => `0x${(n >>> 0).toString(16)}`;

/** "chain 0x1c0 allocated, 8 blocks, by worker_main at demo.c:76" and the like. */
export function describeEvent(e: MmEvent, site: SourceSite | undefined): string {
  const by = `by ${formatSite(site, e.caller)}`;
  const failed = e.status ? ` (failed: ${e.status})` : '';
  switch (e.kind) {
    case 'allocated': return `chain ${hex(e.chain)} allocated, ${e.blocks} block${e.blocks === 1 ? '' : 's'}, ${by}`;
    case 'freed': return `chain ${hex(e.chain)} freed (${e.blocks} block${e.blocks === 1 ? '' : 's'}), ${by}`;
    case 'resized': return `chain ${hex(e.chain)} resized from ${e.arg} to ${e.blocks} blocks, ${by}`;
    case 'mapped': return `chain ${hex(e.chain)} mapped at ${hex(e.arg)}, ${e.blocks} pages, ${by}`;
    case 'unmapped': return `chain ${hex(e.chain)} unmapped from ${hex(e.arg)}, ${by}`;
    case 'defrag': return `defragmentation moved ${e.blocks} block${e.blocks === 1 ? '' : 's'}, ${by}`;
    case 'xms': return `XMS function ${hex(e.arg >>> 8)}h${failed}, ${by}`;
    case 'dpmi': return `DPMI function ${hex(e.arg)}${failed}, ${by}`;
    case 'dos': return `DOS memory ${['', 'allocate', 'free', 'resize'][e.arg] ?? 'call'}${failed}, ${by}`;
    default: return `memory-manager event ${e.kind}, ${by}`;
  }
}
