// The address spaces a debug session knows beyond the current one: every CR3 value seen at a
// stop (on any vCPU), the ones the user named (`space CR3`, mmscope/openSpace, `--cr3`), and the
// ones a CR3 tracer reported. Kept by top-level table (the CR3 without its flag/PCID bits),
// bounded: the most recently seen `limit` spaces that only were seen or traced; named ones stay
// until the session ends (they are few, and the user asked for them).

import { pagingModel, topTableAddress } from '../../../../qemu-bridge/src/paging/paging-modes';
import type { SpaceSource } from '../model/snapshot-document';
import type { SpaceRequest } from '../model/system-snapshot';
import type { PagingRegisters } from '../model/paging-registers';

/** How a space came to be known here (the current one is the builder's own). */
export type KnownSpaceSource = Extract<SpaceSource, 'seen' | 'named' | 'traced'>;

export interface KnownSpace {
  /** The CR3 value it was seen (or named) with last: flag and PCID bits included. */
  readonly cr3: bigint;
  readonly topTable: bigint;
  readonly sources: readonly KnownSpaceSource[];
  readonly firstSeenStop?: number;
  readonly lastSeenStop?: number;
}

interface Entry {
  cr3: bigint;
  readonly topTable: bigint;
  readonly sources: Set<KnownSpaceSource>;
  firstSeenStop?: number;
  lastSeenStop?: number;
  /** Order of the last use (seen, traced or named), for eviction. */
  touched: number;
}

/** The top-level table `cr3` names under the paging mode of `registers`; undefined with paging off. */
export function topTableOf(registers: Pick<PagingRegisters, 'cr0' | 'cr4' | 'efer'>, cr3: bigint): bigint | undefined {
  const model = pagingModel({ cr0: registers.cr0, cr4: registers.cr4, efer: registers.efer });
  return model.kind === 'none' ? undefined : topTableAddress(model, cr3);
}

export class KnownSpaces {
  private readonly entries = new Map<bigint, Entry>();
  private clock = 0;

  /** `limit`: spaces only seen or traced kept at most (the most recently used). */
  constructor(readonly limit = 64) {}

  /** CR3 was `cr3` at stop `stop` (on some vCPU), under the paging mode of `registers`. Ignored with paging off. */
  noteSeen(registers: PagingRegisters, stop: number): void {
    this.add(registers, registers.cr3, 'seen', stop);
  }

  /** The kernel switched to `cr3` (a traced `mov …, %cr3`) before stop `atStop`. */
  noteTraced(registers: Pick<PagingRegisters, 'cr0' | 'cr4' | 'efer'>, cr3: bigint, atStop: number): void {
    this.add(registers, cr3, 'traced', atStop);
  }

  /** The user named `cr3`. Returns its top table (undefined with paging off: nothing to walk). */
  name(registers: Pick<PagingRegisters, 'cr0' | 'cr4' | 'efer'>, cr3: bigint): bigint | undefined {
    return this.add(registers, cr3, 'named', undefined);
  }

  private add(registers: Pick<PagingRegisters, 'cr0' | 'cr4' | 'efer'>, cr3: bigint, source: KnownSpaceSource, stop: number | undefined): bigint | undefined {
    const topTable = topTableOf(registers, cr3);
    if (topTable === undefined) return undefined;
    let e = this.entries.get(topTable);
    if (!e) this.entries.set(topTable, (e = { cr3, topTable, sources: new Set(), touched: 0 }));
    e.cr3 = cr3;
    e.sources.add(source);
    e.touched = ++this.clock;
    if (stop !== undefined) {
      e.firstSeenStop = Math.min(e.firstSeenStop ?? stop, stop);
      e.lastSeenStop = Math.max(e.lastSeenStop ?? stop, stop);
    }
    this.evict();
    return topTable;
  }

  private evict(): void {
    const unnamed = [...this.entries.values()].filter((e) => !e.sources.has('named'));
    if (unnamed.length <= this.limit) return;
    unnamed.sort((a, b) => a.touched - b.touched);
    for (const e of unnamed.slice(0, unnamed.length - this.limit)) this.entries.delete(e.topTable);
  }

  /** Every space known, most recently used first. */
  list(): KnownSpace[] {
    return [...this.entries.values()]
      .sort((a, b) => b.touched - a.touched)
      .map((e) => ({
        cr3: e.cr3, topTable: e.topTable, sources: [...e.sources].sort(),
        ...(e.firstSeenStop !== undefined ? { firstSeenStop: e.firstSeenStop, lastSeenStop: e.lastSeenStop } : {}),
      }));
  }

  /**
   * The builder's requests: one per space and source ('named' first: a named space counts for
   * the frame map and findings; one only seen or traced is listed, possibly stale).
   */
  requests(): SpaceRequest[] {
    const out: SpaceRequest[] = [];
    for (const e of this.list()) {
      const stops = e.firstSeenStop !== undefined ? { firstSeenStop: e.firstSeenStop, lastSeenStop: e.lastSeenStop } : {};
      for (const source of (['named', 'seen', 'traced'] as const).filter((s) => e.sources.includes(s))) out.push({ cr3: e.cr3, source, ...stops });
    }
    return out;
  }

  get size(): number {
    return this.entries.size;
  }
}
