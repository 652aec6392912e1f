// What changed between two snapshots: chains added, freed, resized, moved (blocks changed
// place) or renamed (the defragmenter moved the head, so the ID changed), mapping runs that
// appeared or vanished per address space, and findings that are new.

import { ChainInfo, MmSnapshot } from './snapshot';
import { Finding } from './findings';
import type { AllocatorJson, FindingDocJson, HeapJson, JsonAddress, RunJson, SnapshotDocument, SpaceJson } from './snapshot-document';

export interface ChainChange {
  readonly id: number;
  readonly kind: 'added' | 'freed' | 'resized' | 'moved' | 'renamed';
  /** For 'renamed': the chain's previous ID. For 'resized': the previous block count. */
  readonly previous?: number;
}

export interface MappingChange {
  readonly space: 'kernel' | number;
  readonly kind: 'mapped' | 'unmapped';
  readonly virtual: number;
  readonly length: number;
}

export interface SnapshotDiff {
  readonly chains: readonly ChainChange[];
  readonly mappings: readonly MappingChange[];
  readonly newFindings: readonly Finding[];
  /** Blocks whose state character changed in the physical map. */
  readonly changedBlocks: readonly number[];
}

const runKey = (r: { virtual: number; physical: number; length: number; flags: number }): string => `${r.virtual}:${r.physical}:${r.length}:${r.flags}`;

export function diffSnapshots(prev: MmSnapshot, next: MmSnapshot): SnapshotDiff {
  const chains: ChainChange[] = [];
  const before = new Map(prev.chains.map((c) => [c.id, c]));
  const after = new Map(next.chains.map((c) => [c.id, c]));
  // The owner's sequence number identifies a chain across a rename.
  const beforeBySeq = new Map<number, ChainInfo>();
  for (const c of prev.chains) if (c.owner.seq) beforeBySeq.set(c.owner.seq, c);
  const renamedFrom = new Set<number>();
  for (const c of next.chains) {
    const old = before.get(c.id);
    if (old && old.owner.seq === c.owner.seq) {
      if (old.blockCount !== c.blockCount) chains.push({ id: c.id, kind: 'resized', previous: old.blockCount });
      else if (old.blocks.some((b, i) => b !== c.blocks[i])) chains.push({ id: c.id, kind: 'moved' });
      continue;
    }
    const was = c.owner.seq ? beforeBySeq.get(c.owner.seq) : undefined;
    if (was && !after.has(was.id)) {
      renamedFrom.add(was.id);
      chains.push({ id: c.id, kind: 'renamed', previous: was.id });
    } else {
      chains.push({ id: c.id, kind: 'added' });
    }
  }
  for (const c of prev.chains) {
    const now = after.get(c.id);
    if ((!now || now.owner.seq !== c.owner.seq) && !renamedFrom.has(c.id)) chains.push({ id: c.id, kind: 'freed' });
  }

  const mappings: MappingChange[] = [];
  const spaces = new Map<'kernel' | number, [MmSnapshot['kernel']['mappings'], MmSnapshot['kernel']['mappings']]>();
  spaces.set('kernel', [prev.kernel.mappings, next.kernel.mappings]);
  for (const p of prev.processes) spaces.set(p.pid, [p.mappings, []]);
  for (const p of next.processes) spaces.set(p.pid, [spaces.get(p.pid)?.[0] ?? [], p.mappings]);
  for (const [space, [a, b]] of spaces) {
    const ak = new Set(a.map(runKey));
    const bk = new Set(b.map(runKey));
    for (const r of b) if (!ak.has(runKey(r))) mappings.push({ space, kind: 'mapped', virtual: r.virtual, length: r.length });
    for (const r of a) if (!bk.has(runKey(r))) mappings.push({ space, kind: 'unmapped', virtual: r.virtual, length: r.length });
  }

  const oldFindings = new Set(prev.findings.map((f) => `${f.kind}:${f.message}`));
  const newFindings = next.findings.filter((f) => !oldFindings.has(`${f.kind}:${f.message}`));
  return { chains, mappings, newFindings, changedBlocks: changedBlocksOf(prev, next, before, after) };
}

/**
 * Blocks whose state character changed, and the heads of chains that are not the same chain
 * (by owner sequence number) in both, ascending. Only heads can differ by owner, so those are
 * looked up per chain rather than per block (a 3 GiB guest has 196,608 blocks: this runs at
 * every live snapshot).
 */
function changedBlocksOf(prev: MmSnapshot, next: MmSnapshot, before: ReadonlyMap<number, ChainInfo>, after: ReadonlyMap<number, ChainInfo>): number[] {
  const a = prev.blocks.map;
  const b = next.blocks.map;
  const n = Math.min(a.length, b.length);
  const changed: number[] = [];
  if (a !== b) for (let i = 0; i < n; i++) if (a.charCodeAt(i) !== b.charCodeAt(i)) changed.push(i);
  const heads: number[] = [];
  for (const c of next.chains) if (c.id < n && before.get(c.id)?.owner.seq !== c.owner.seq) heads.push(c.id);
  for (const c of prev.chains) if (c.id < n && after.get(c.id)?.owner.seq !== c.owner.seq) heads.push(c.id);
  if (!heads.length) return changed;
  const all = [...new Set([...changed, ...heads])];
  return all.sort((x, y) => x - y);
}

/** A run as the changes name it (the RunJson fields that identify it). */
export interface RunChange {
  readonly va: JsonAddress;
  readonly pa: number;
  readonly size: JsonAddress;
  readonly flags: number;
}

export type EntryChangeKind = 'added' | 'removed' | 'changed';

/** What changed between two snapshot documents of any kernel (every view's and the live feed's `changes`). */
export interface DocumentDiff {
  /**
   * Address spaces that appeared, went away, or whose mappings changed, by SpaceJson id, with the
   * runs it has that the document before did not (all of an added space's) and how many went.
   */
  readonly spaces: readonly { readonly id: string; readonly kind: EntryChangeKind; readonly newRuns: readonly RunChange[]; readonly goneRuns: number }[];
  /** Processes (a description's or our guest's) that appeared, went away, or whose entry changed, by pid. */
  readonly processes: readonly { readonly pid: number; readonly kind: EntryChangeKind }[];
  readonly newFindings: readonly FindingDocJson[];
  readonly goneFindings: readonly { readonly kind: string; readonly message: string }[];
  /** Frame allocators whose counts (or kernel counter) changed, by name. */
  readonly allocators: readonly { readonly name: string; readonly kind: EntryChangeKind }[];
  /** Heaps whose use or number of blocks changed, by name. */
  readonly heaps: readonly { readonly name: string; readonly kind: EntryChangeKind }[];
  /** Level 2: the number of live traced allocations changed. */
  readonly tracingChanged: boolean;
  /** The frame map's counts changed. */
  readonly framesChanged: boolean;
}

const docRunKey = (r: RunJson): string => `${r.va}:${r.pa}:${r.size}:${r.flags}`;
const findingKey = (f: { readonly kind: string; readonly message: string }): string => `${f.kind}:${f.message}`;

/** Entries of `prev` and `next` keyed by `key`: added, removed, and those `same` says differ. */
function entryChanges<T, K>(prev: readonly T[], next: readonly T[], key: (t: T) => K, same: (a: T, b: T) => boolean): { key: K; kind: EntryChangeKind }[] {
  const before = new Map(prev.map((t) => [key(t), t]));
  const after = new Set(next.map(key));
  const out: { key: K; kind: EntryChangeKind }[] = [];
  for (const t of next) {
    const old = before.get(key(t));
    if (old === undefined) out.push({ key: key(t), kind: 'added' });
    else if (!same(old, t)) out.push({ key: key(t), kind: 'changed' });
  }
  for (const t of prev) if (!after.has(key(t))) out.push({ key: key(t), kind: 'removed' });
  return out;
}

function spaceChanges(prev: readonly SpaceJson[], next: readonly SpaceJson[]): DocumentDiff['spaces'] {
  const before = new Map(prev.map((s) => [s.id, s]));
  const after = new Set(next.map((s) => s.id));
  const out: { id: string; kind: EntryChangeKind; newRuns: RunChange[]; goneRuns: number }[] = [];
  for (const s of next) {
    const old = before.get(s.id);
    const had = new Set((old?.mappings ?? []).map(docRunKey));
    const has = new Set(s.mappings.map(docRunKey));
    const newRuns = s.mappings.filter((r) => !had.has(docRunKey(r))).map((r) => ({ va: r.va, pa: r.pa, size: r.size, flags: r.flags }));
    const goneRuns = (old?.mappings ?? []).filter((r) => !has.has(docRunKey(r))).length;
    if (!old) out.push({ id: s.id, kind: 'added', newRuns, goneRuns: 0 });
    else if (newRuns.length || goneRuns || old.pages !== s.pages || JSON.stringify(old.shared) !== JSON.stringify(s.shared)) out.push({ id: s.id, kind: 'changed', newRuns, goneRuns });
  }
  for (const s of prev) if (!after.has(s.id)) out.push({ id: s.id, kind: 'removed', newRuns: [], goneRuns: s.mappings.length });
  return out;
}

const allocatorState = (a: AllocatorJson): string => `${a.total}:${a.free}:${a.used}:${a.reserved}:${a.counter?.value ?? ''}:${a.freeByOrder?.join(',') ?? ''}`;
const heapState = (h: HeapJson): string => `${h.usedBytes}:${h.freeBytes}:${h.blocks.length}:${h.truncated}`;

export function diffDocuments(prev: SnapshotDocument, next: SnapshotDocument): DocumentDiff {
  const processes = entryChanges(prev.processes, next.processes, (p) => p.pid, (a, b) => JSON.stringify(a) === JSON.stringify(b)).map((c) => ({ pid: c.key, kind: c.kind }));
  const oldFindings = new Set(prev.findings.map(findingKey));
  const nowFindings = new Set(next.findings.map(findingKey));
  const newFindings = next.findings.filter((f) => !oldFindings.has(findingKey(f)));
  const goneFindings = prev.findings.filter((f) => !nowFindings.has(findingKey(f))).map((f) => ({ kind: f.kind, message: f.message }));
  return {
    spaces: spaceChanges(prev.spaces, next.spaces),
    processes,
    newFindings,
    goneFindings,
    allocators: entryChanges(prev.allocators, next.allocators, (a) => a.name, (a, b) => allocatorState(a) === allocatorState(b)).map((c) => ({ name: c.key, kind: c.kind })),
    heaps: entryChanges(prev.heaps, next.heaps, (h) => h.name, (a, b) => heapState(a) === heapState(b)).map((c) => ({ name: c.key, kind: c.kind })),
    tracingChanged: (prev.tracing?.live.length ?? -1) !== (next.tracing?.live.length ?? -1),
    framesChanged: JSON.stringify(prev.frames.counts) !== JSON.stringify(next.frames.counts),
  };
}
