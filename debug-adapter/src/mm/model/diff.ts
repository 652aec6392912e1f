// What changed between two snapshots: chains added, freed, resized, moved (blocks changed
// place) or renamed (the defragmenter moved the head, so the ID changed), mapping runs that
// appeared or vanished per address space, and findings that are new.

import { ChainInfo, MmSnapshot } from './snapshot';
import { Finding } from './findings';
import type { FindingDocJson, SnapshotDocument, SpaceJson } from './snapshot-document';

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

/** What changed between two snapshot documents of any kernel (the live feed's `changes` when the kernel is not ours). */
export interface DocumentDiff {
  /** Address spaces that appeared, went away, or whose mappings changed, by SpaceJson id. */
  readonly spaces: readonly { readonly id: string; readonly kind: 'added' | 'removed' | 'changed' }[];
  /** Processes (a description's) that appeared or went away, by pid. */
  readonly processes: readonly { readonly pid: number; readonly kind: 'added' | 'removed' }[];
  readonly newFindings: readonly FindingDocJson[];
  /** The frame map's counts changed. */
  readonly framesChanged: boolean;
}

const spaceKey = (s: SpaceJson): string => `${s.pages}:${s.mappings.length}:${JSON.stringify(s.mappings)}`;

export function diffDocuments(prev: SnapshotDocument, next: SnapshotDocument): DocumentDiff {
  const before = new Map(prev.spaces.map((s) => [s.id, s]));
  const after = new Map(next.spaces.map((s) => [s.id, s]));
  const spaces: { id: string; kind: 'added' | 'removed' | 'changed' }[] = [];
  for (const s of next.spaces) {
    const old = before.get(s.id);
    if (!old) spaces.push({ id: s.id, kind: 'added' });
    else if (spaceKey(old) !== spaceKey(s)) spaces.push({ id: s.id, kind: 'changed' });
  }
  for (const s of prev.spaces) if (!after.has(s.id)) spaces.push({ id: s.id, kind: 'removed' });
  const pidsBefore = new Set(prev.processes.map((p) => p.pid));
  const pidsAfter = new Set(next.processes.map((p) => p.pid));
  const processes = [
    ...[...pidsAfter].filter((p) => !pidsBefore.has(p)).map((pid) => ({ pid, kind: 'added' as const })),
    ...[...pidsBefore].filter((p) => !pidsAfter.has(p)).map((pid) => ({ pid, kind: 'removed' as const })),
  ];
  const old = new Set(prev.findings.map((f) => `${f.kind}:${f.message}`));
  const newFindings = next.findings.filter((f) => !old.has(`${f.kind}:${f.message}`));
  return { spaces, processes, newFindings, framesChanged: JSON.stringify(prev.frames.counts) !== JSON.stringify(next.frames.counts) };
}
