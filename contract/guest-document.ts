// The snapshot document as the physical memory map and the dashboard read it: schema 3's
// SnapshotDocument itself (imported from the one file that defines it: it has no imports, so the
// browser build compiles it), plus the few fields of our guest's descriptor sections they draw
// (a hand copy: the adapter's guest types pull in Node code). A test checks that the adapter's
// document is assignable to it, so the two cannot drift apart. Pure types.

import type { FindingDocJson, JsonAddress, SiteJson, SnapshotDocument } from './snapshot-document.js';

export type { FindingDocJson, FrameAllocState, FrameMapState, FrameRun, FramesJson, JsonAddress, SnapshotDocument, SpaceJson } from './snapshot-document.js';

export type SiteView = SiteJson;

export interface ChainView {
  readonly id: number;
  readonly flagNames: readonly string[];
  readonly blocks: readonly number[];
  readonly runs: readonly { readonly first: number; readonly count: number }[];
  readonly sizeBytes: number;
  readonly owner: { readonly kind: string; readonly seq: number; readonly caller: number };
  readonly site: SiteView | null;
  readonly mappedAt: readonly { readonly space: 'kernel' | number; readonly virtual: number; readonly length: number; readonly firstPage: number }[];
  readonly handles: readonly { readonly type: string; readonly handle: number }[];
}

/** Our guest's descriptor sections that the map and the dashboard draw. */
export interface GuestView {
  readonly geometry: { readonly blockSize: number; readonly blockCount: number; readonly pageSize: number };
  readonly chains: readonly ChainView[];
  readonly blocks: {
    readonly total: number; readonly free: number; readonly used: number; readonly reserved: number;
    readonly largestFreeRun: number; readonly fragmentationPercent: number; readonly map: string;
  };
  readonly counters: { readonly allocations: number; readonly defragRuns: number; readonly contextSwitches: number; readonly ticks: number };
  /** Swap in use (descriptor version 2). */
  readonly swap?: { readonly slotCount: number; readonly used: number; readonly outs: number; readonly ins: number };
}

/** What our guest's descriptor adds to a process that the dashboard draws: its mode, swapped-out pages, DOS task. */
export interface GuestProcessView {
  readonly mode?: string;
  readonly exitCode?: number;
  readonly swappedPages?: readonly { readonly virtual: number; readonly slot: number; readonly page: number; readonly entry: number }[];
  readonly v86?: {
    readonly pspSeg: number; readonly status: string; readonly lowChain: number; readonly lowChainBytes: number;
    readonly mcbBlocks: readonly number[]; readonly mcbParagraphs: number; readonly xmsHandles: readonly number[]; readonly dpmiHandles: readonly number[];
  } | null;
}

/** Any kernel's document; our guest's adds its sections. */
export type SnapshotView = SnapshotDocument & Partial<GuestView>;

/** A document with our guest's sections (its block map is drawn instead of the frame map). */
export type GuestSnapshotView = SnapshotDocument & GuestView;

export function isGuestView(s: SnapshotView): s is GuestSnapshotView {
  return s.blocks !== undefined && s.chains !== undefined && s.geometry !== undefined;
}

/** The old name of a finding in this file. */
export type FindingView = FindingDocJson;

/** A mapping run as the changes name it (the RunJson fields that identify it). */
export interface RunChangeView {
  readonly va: JsonAddress;
  readonly pa: number;
  readonly size: JsonAddress;
  readonly flags: number;
}

/**
 * What changed from one published snapshot to the next: the ONE diff of a stop, computed once in
 * the adapter (debug-adapter/src/live/stop-changes.ts) and carried by mmscope/snapshotReady
 * (`changes`), the mmscope/snapshot response (`diff`) and the live feed's delta (`changes`). Every
 * view marks what it names and computes no "what changed" of its own. Our guest's fields (chains,
 * mappings, changedBlocks) are absent on other kernels; the rest is any kernel's (the documents').
 */
export interface ChangesView {
  /** Our guest: chains added, freed, resized (previous: the old block count), moved, renamed (previous: the old id). */
  readonly chains?: readonly { readonly id: number; readonly kind: string; readonly previous?: number }[];
  /** Our guest: mapping runs of its chain table's view, per space ('kernel' or a pid). */
  readonly mappings?: readonly { readonly space: 'kernel' | number | string; readonly kind: string; readonly virtual: number | string; readonly length: number | string }[];
  /** Findings of the document that are new (by kind and message). */
  readonly newFindings?: readonly FindingView[];
  /** Findings of the snapshot before that are gone (by kind and message). */
  readonly goneFindings?: readonly { readonly kind: string; readonly message: string }[];
  /** Our guest: blocks whose state changed, and heads of chains that are not the same chain. */
  readonly changedBlocks?: readonly number[];
  /**
   * Address spaces added, removed or changed, by SpaceJson id. `newRuns`: the space's runs that
   * the snapshot before did not have (every run of an added space), which the Address space view marks.
   */
  readonly spaces?: readonly { readonly id: string; readonly kind: string; readonly newRuns?: readonly RunChangeView[]; readonly goneRuns?: number }[];
  /** Processes added, removed, or changed (any field of its ProcessDocJson and our guest's additions), by pid. */
  readonly processes?: readonly { readonly pid: number; readonly kind: string }[];
  /** Frame allocators added, removed or whose counts changed, by name. */
  readonly allocators?: readonly { readonly name: string; readonly kind: string }[];
  /** Heaps added, removed or whose blocks changed, by name. */
  readonly heaps?: readonly { readonly name: string; readonly kind: string }[];
  /** Level 2: the live traced allocations changed (in number). */
  readonly tracingChanged?: boolean;
  /** The frame map's counts changed. */
  readonly framesChanged?: boolean;
}
