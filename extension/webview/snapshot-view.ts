// The fields of the snapshot document (docs/snapshot-schema.md) that the physical memory map and
// the dashboard read. A test checks that the server's SnapshotJson is assignable to it, so the
// two cannot drift apart. Pure types: shared by the browser and Node.

export interface SiteView {
  readonly address: number;
  readonly function?: string;
  readonly file?: string;
  readonly line?: number;
}

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

export interface MappingView {
  readonly va: number;
  readonly pa: number;
  readonly size: number;
  readonly flags: number;
}

export interface ProcessView {
  readonly pid: number;
  readonly name: string;
  readonly state: string;
  readonly current: boolean;
  readonly updMatchesKpd: boolean | null;
  readonly mappings: readonly MappingView[];
}

export interface FindingView {
  readonly kind: string;
  readonly severity: string;
  readonly message: string;
  readonly chain?: number;
  readonly block?: number;
  readonly pid?: number;
  readonly site?: SiteView;
}

export interface SnapshotView {
  readonly schema: number;
  readonly stop: number;
  readonly geometry: { readonly blockSize: number; readonly blockCount: number; readonly pageSize: number };
  readonly processes: readonly ProcessView[];
  readonly chains: readonly ChainView[];
  readonly blocks: {
    readonly total: number; readonly free: number; readonly used: number; readonly reserved: number;
    readonly largestFreeRun: number; readonly fragmentationPercent: number; readonly map: string;
  };
  readonly counters: { readonly allocations: number; readonly defragRuns: number; readonly contextSwitches: number; readonly ticks: number };
  readonly findings: readonly FindingView[];
}

/** The semantic changes a delta carries (debug-adapter/src/mm/diff.ts). */
export interface ChangesView {
  readonly chains: readonly { readonly id: number; readonly kind: string; readonly previous?: number }[];
  readonly mappings: readonly { readonly space: 'kernel' | number; readonly kind: string; readonly virtual: number; readonly length: number }[];
  readonly newFindings: readonly FindingView[];
  readonly changedBlocks: readonly number[];
}
