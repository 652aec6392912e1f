// The `v86-foreign-memory` check (docs/snapshot-schema.md, "Our guest's descriptor"): a DOS
// task's first megabyte must show only its own memory. Its layout (guest/include/v86.h):
//   0x00000-0x0FFFF  its private low chain
//   arena            the DOS arena, identity mapped (every task sees the whole arena at its
//                    real segments: that other tasks' MCB blocks are visible there is by design)
//   above the arena  not mapped by the guest today
// A mapped page below 1 MiB is foreign when
//   (a) it lies in the private range and its frame is not in the task's own low chain;
//   (b) its frame is in another DOS task's low chain;
//   (c) its frame is in a chain an XMS handle or DPMI block of another process holds;
//   (d) it lies in the arena's range but does not map the arena's frame at the same address.
// None of these happens on a sound guest, whatever other tasks allocate. Pure.

import type { MappingRun } from './address-space';
import type { Finding } from './findings';

const hex = (n: number): string => `0x${(n >>> 0).toString(16)}`;
const PAGE = 4096;
const FIRST_MEGABYTE = 0x100000;
const PRIVATE_END = 0x10000;

export interface V86CheckTask {
  readonly pid: number;
  readonly name: string;
  readonly lowChain: number;
  readonly runs: readonly MappingRun[];
}

export interface V86CheckContext {
  readonly blockSize: number;
  /** Chain id of each block, -1 when it is in none. */
  readonly chainOf: ArrayLike<number>;
  /** The DOS tasks' low chains: chain → pid. */
  readonly lowChains: ReadonlyMap<number, number>;
  /** Chains that XMS handles and DPMI blocks hold: chain → the owner's pid and the handle. */
  readonly handleChains: ReadonlyMap<number, { readonly pid: number; readonly what: string }>;
  /** The DOS arena's physical range [start, end). */
  readonly arenaStart: number;
  readonly arenaEnd: number;
}

/**
 * Why the page at `va` mapping frame `pa` is foreign to `task` (`key`: pages with the same key
 * make one finding; `text`: said of the first), or undefined when it is its own.
 */
function foreignReason(task: V86CheckTask, va: number, pa: number, c: V86CheckContext): { key: string; text: string } | undefined {
  const block = Math.floor(pa / c.blockSize);
  const chain = block < c.chainOf.length ? c.chainOf[block] : -1;
  const owner = chain > 0 ? c.lowChains.get(chain) : undefined;
  if (owner !== undefined && owner !== task.pid) return { key: `low:${chain}`, text: `the low chain ${chain} of DOS task ${owner}` };
  const held = chain > 0 ? c.handleChains.get(chain) : undefined;
  if (held && held.pid !== task.pid) return { key: `held:${chain}`, text: `chain ${chain}, held by ${held.what} of process ${held.pid}` };
  if (va < PRIVATE_END && task.lowChain !== 0 && chain !== task.lowChain) {
    return chain > 0 ? { key: `private:${chain}`, text: `chain ${chain}, not its own low chain ${task.lowChain}` }
      : { key: 'private', text: `frame ${hex(pa)}, outside its own low chain ${task.lowChain}` };
  }
  if (va >= c.arenaStart && va < c.arenaEnd && pa !== va) return { key: `arena:${pa - va}`, text: `frame ${hex(pa)} instead of the DOS arena's frame ${hex(va)}` };
  return undefined;
}

/** One finding per run of consecutive foreign pages with the same reason. */
export function v86ForeignMemory(task: V86CheckTask, c: V86CheckContext): Finding[] {
  const out: Finding[] = [];
  let open: { start: number; end: number; key: string; text: string } | undefined;
  const flush = (): void => {
    if (!open) return;
    const pages = (open.end - open.start) / PAGE;
    out.push({ kind: 'v86-foreign-memory', severity: 'error', pid: task.pid, virtual: open.start,
      message: `DOS task ${task.pid} (${task.name}) maps ${pages === 1 ? `${hex(open.start)}` : `${hex(open.start)}..${hex(open.end - 1)}`} of its first megabyte to ${open.text}` });
    open = undefined;
  };
  for (const r of task.runs) {
    if (r.virtual >= FIRST_MEGABYTE) break;
    const end = Math.min(r.virtual + r.length, FIRST_MEGABYTE);
    for (let va = r.virtual; va < end; va += PAGE) {
      const reason = foreignReason(task, va, r.physical + (va - r.virtual), c);
      if (reason && open && open.end === va && open.key === reason.key) open.end += PAGE;
      else {
        flush();
        if (reason) open = { start: va, end: va + PAGE, ...reason };
      }
    }
  }
  flush();
  return out;
}
