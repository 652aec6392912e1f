// Compares a reconstructed state with a true one (a stop's snapshot made into a state, or a
// generator's model) on exactly the fields the reconstruction claims (history-state.ts): the
// check that "the reconstruction at a stop equals that stop's real snapshot". Pure.

import { CT_CONTIG, CT_FROZEN, CT_SWAPPABLE, CT_USER } from './chain-table';
import { HistoryChain, MmHistoryState, PAGE } from './history-state';

const CLAIMED_FLAGS = (CT_FROZEN | CT_CONTIG | CT_SWAPPABLE | CT_USER) >>> 0;
/** enum mm_owner_kind codes whose front ends rewrite the owner's caller after allocating (the DOS task's low chain, DOS DMA buffers). */
const CALLER_REWRITTEN = new Set([7, 9]);

function pages(c: HistoryChain, spaces?: ReadonlySet<number>): string[] {
  const out: string[] = [];
  for (const m of c.mappings) if (!spaces || spaces.has(m.space)) for (let i = 0; i < m.pages; i++) out.push(`${m.space.toString(16)}:${(m.virtual + i * PAGE).toString(16)}:${m.pageOffset + i}`);
  return out.sort();
}

/**
 * The differences, one sentence each (empty: equal on every claimed field), at most `limit`.
 * `spaces`: compare only the mappings of these address spaces (a snapshot sees the spaces of the
 * processes in its list only: a process being created or torn down is not there yet, or any more).
 */
export function diffStates(reconstructed: MmHistoryState, truth: MmHistoryState, limit = 50, spaces?: ReadonlySet<number>): string[] {
  const out: string[] = [];
  const add = (s: string): boolean => (out.length < limit && out.push(s), out.length < limit);
  for (const id of truth.chains.keys()) if (!reconstructed.chains.has(id)) add(`chain ${id} is live but not in the reconstruction`);
  for (const [id, r] of reconstructed.chains) {
    const t = truth.chains.get(id);
    if (!t) {
      add(`chain ${id} is in the reconstruction but not live`);
      continue;
    }
    if (r.blockCount !== t.blockCount) add(`chain ${id}: ${r.blockCount} blocks reconstructed, ${t.blockCount} live`);
    if ((r.flags & CLAIMED_FLAGS) !== (t.flags & CLAIMED_FLAGS)) add(`chain ${id}: flags 0x${(r.flags >>> 0).toString(16)} reconstructed, 0x${(t.flags >>> 0).toString(16)} live`);
    if (r.seq !== t.seq) add(`chain ${id}: allocation ${r.seq} reconstructed, ${t.seq} live`);
    if (r.kind !== t.kind) add(`chain ${id}: owner kind ${r.kind} reconstructed, ${t.kind} live`);
    if (r.caller !== t.caller && !CALLER_REWRITTEN.has(t.kind)) add(`chain ${id}: caller 0x${r.caller.toString(16)} reconstructed, 0x${t.caller.toString(16)} live`);
    if (r.swappedOut !== t.swappedOut || [...r.slots].sort().join() !== [...t.slots].sort().join()) add(`chain ${id}: ${r.swappedOut} blocks out reconstructed (slots ${[...r.slots].join(' ')}), ${t.swappedOut} live (slots ${[...t.slots].join(' ')})`);
    if (r.blocks && t.blocks && r.blocks.join() !== t.blocks.join()) add(`chain ${id}: blocks [${r.blocks.join(',')}] reconstructed, [${t.blocks.join(',')}] live`);
    const rp = pages(r, spaces).join(' '), tp = pages(t, spaces).join(' ');
    if (rp !== tp) add(`chain ${id}: mapped pages {${rp}} reconstructed, {${tp}} live`);
    if (out.length >= limit) return out;
  }
  const rc = reconstructed.counters, tc = truth.counters;
  if (rc.allocations !== tc.allocations) add(`${rc.allocations} allocations reconstructed, ${tc.allocations} counted`);
  if (rc.frees !== undefined && tc.frees !== undefined && rc.frees !== tc.frees) add(`${rc.frees} frees reconstructed, ${tc.frees} counted`);
  if (rc.freeBlocksExact && rc.freeBlocks !== tc.freeBlocks) add(`${rc.freeBlocks} free blocks reconstructed, ${tc.freeBlocks} counted`);
  return out;
}
