// The snapshot document, schema 3: what every memory view (Address space, Processes, Allocators,
// Findings, Physical memory, hover, CLI --json, dashboard, live feed) shows of ANY kernel, at every
// level of knowing it (DESIGN.md): level 0 (nothing described: page tables from CR3 and the CR3
// values seen), level 1 (a memory-model description: processes, frame allocators, heaps), and the
// descriptor of our own guest (which adds its chain table, KPD, XMS/DPMI: GuestSections).
//
// Plain types (and one predicate on them) only, no imports: the webview, the dashboard and the language server import this
// file directly (no Node code behind it). docs/snapshot-schema.md documents every field.

/** Exact address: a number below 2^53, else a `0x` hex string (docs/addresses.md). */
export type JsonAddress = number | string;

/** 0: nothing described; 1: a memory-model description (docs/memory-model.md); 'descriptor': our guest's mm_debug_info. */
export type KnowledgeLevel = 0 | 1 | 'descriptor';

export type PagingMode = 'none' | 'x86-32' | 'pae' | 'x86-64' | 'x86-64-la57';

/** One merged run of pages with the same access, contiguous in virtual and physical memory. */
export interface RunJson {
  readonly va: JsonAddress;
  readonly pa: number;
  readonly size: JsonAddress;
  /** Low 12 bits of the leaf entries. */
  readonly flags: number;
  /** Effective execute-disable (NX at any level). */
  readonly nx: boolean;
  readonly pageSize: number;
  /** Effective access (AND over the levels). */
  readonly writable: boolean;
  readonly user: boolean;
}

/** A table reached again (not listed again; its pages are those at `sameAs`). */
export interface SharedJson {
  readonly va: JsonAddress;
  readonly level: string;
  readonly table: number;
  readonly sameAs: JsonAddress;
  readonly span: JsonAddress;
  readonly pages: number;
}

/**
 * How mmscope learnt of an address space: CR3 at the current stop ('current'), CR3 at an earlier
 * stop ('seen'), a traced `mov …, %cr3` ('traced'), a process's page directory from a description
 * or the descriptor ('process'), one the user named (`--cr3`, the Open address space command: 'named'),
 * our guest's kernel half from its descriptor ('descriptor').
 */
export type SpaceSource = 'current' | 'seen' | 'traced' | 'process' | 'named' | 'descriptor';

/**
 * Whether a space's tables are known to be live at this stop, so that it colours the frame map and
 * makes findings. A space only seen at an earlier stop or traced may have been freed and reused:
 * the views list it as possibly stale.
 */
export function isCountedSpace(space: { readonly sources: readonly SpaceSource[] }): boolean {
  return space.sources.some((s) => s === 'current' || s === 'process' || s === 'named' || s === 'descriptor');
}

export interface SpaceJson {
  /** Stable over stops for the same top-level table: `pt:0x<topTable hex>`. */
  readonly id: string;
  /** What the views call it: "pid 3 (shell)", "CR3 0x1234000". */
  readonly label: string;
  readonly topTable: number;
  /** The CR3 value (with PCID/flag bits) it was seen with last. */
  readonly cr3: JsonAddress;
  readonly paging: PagingMode;
  readonly sources: readonly SpaceSource[];
  /** CR3 names it at this stop. */
  readonly current: boolean;
  /** The process it belongs to, when a description or the descriptor says. */
  readonly pid?: number;
  /** The stop it was first / last seen at (sources 'seen', 'current', 'traced'). */
  readonly firstSeenStop?: number;
  readonly lastSeenStop?: number;
  readonly mappings: readonly RunJson[];
  readonly shared: readonly SharedJson[];
  /** Mapped pages of any size, in `mappings` or under `shared`. */
  readonly pages: number;
  readonly tablesRead: number;
  /** Physical addresses of every paging-structure page of this space (the top table included). */
  readonly tables: readonly number[];
}

/** What the page tables make of one 4 KiB physical frame (over every known address space). */
export type FrameMapState = 'not-ram' | 'unmapped' | 'mapped' | 'multi' | 'table';
/** What a frame allocator (a description's, or our chain table) says of a frame. */
export type FrameAllocState = 'free' | 'used' | 'reserved';

/** A run of frames in one state: [first frame number, count, state], sorted, not overlapping. */
export type FrameRun<S extends string> = readonly [first: number, count: number, state: S];

/** A region of QEMU's physical memory map (`info mtree -f`, the system address space). */
export interface PhysicalRegionJson {
  readonly base: number;
  readonly size: number;
  readonly kind: 'ram' | 'rom' | 'device';
  readonly name: string;
}

export interface FramesJson {
  readonly frameSize: 4096;
  /** Frames described: 0 .. count-1 (through the end of RAM or of the highest mapped frame). */
  readonly count: number;
  /** QEMU's memory map was read (QMP); without it RAM is unknown and no frame is 'not-ram'. */
  readonly ramKnown: boolean;
  readonly regions: readonly PhysicalRegionJson[];
  /** 'multi': mapped at more than one distinct virtual address over the known spaces. */
  readonly mapping: readonly FrameRun<FrameMapState>[];
  /** Level 1 and the descriptor: the allocators' view (frames no allocator covers are absent). */
  readonly allocation?: readonly FrameRun<FrameAllocState>[];
  readonly counts: Readonly<Record<FrameMapState, number>>;
  readonly allocationCounts?: Readonly<Record<FrameAllocState, number>>;
}

/** The allocator shapes of docs/memory-model.md. */
export type AllocatorShape = 'bitmap' | 'free-list' | 'free-stack' | 'buddy' | 'region-table' | 'chain-table';

export interface AllocatorJson {
  readonly name: string;
  readonly shape: AllocatorShape;
  /** Bytes per allocator unit (a frame, a block of our guest: 16 KiB). */
  readonly unitBytes: number;
  /** Units the allocator covers, and how many are free / used / reserved. */
  readonly total: number;
  readonly free: number;
  readonly used: number;
  readonly reserved: number;
  /** The kernel's own free counter, when the description names one. */
  readonly counter?: { readonly expression: string; readonly value: number; readonly agrees: boolean };
  /** Buddy: free blocks per order. */
  readonly freeByOrder?: readonly number[];
}

export interface HeapBlockJson {
  readonly address: JsonAddress;
  readonly size: number;
  readonly used: boolean;
  /** Level 2: who allocated it. */
  readonly site?: SiteJson;
}

export interface HeapJson {
  readonly name: string;
  readonly blocks: readonly HeapBlockJson[];
  readonly usedBytes: number;
  readonly freeBytes: number;
  /** The walk stopped at its bound (the list was longer, or cyclic: see findings). */
  readonly truncated: boolean;
}

export interface SiteJson {
  readonly address: JsonAddress;
  readonly function?: string;
  readonly file?: string;
  readonly line?: number;
}

export interface ProcessDocJson {
  readonly pid: number;
  readonly name: string;
  /** The kernel's own state name (an enumerator's name when the field is an enum, else its number). */
  readonly state: string;
  readonly current: boolean;
  /** The SpaceJson id of its address space (null when it has none or it could not be read). */
  readonly space: string | null;
  /** Physical address of its top-level page table, when known. */
  readonly directory: number | null;
  /** Address of the kernel's struct for it (kernel-virtual). */
  readonly address: JsonAddress;
}

export type FindingSeverity = 'error' | 'warning' | 'info';

/**
 * A finding. Level-0 kinds: 'writable-executable', 'user-writable-kernel', 'writable-code-alias',
 * 'user-maps-page-table', 'mapping-outside-ram', 'null-page-mapped', 'reserved-bits',
 * 'unreadable-page-table'. Level-1 kinds: 'free-frame-mapped', 'frame-leaked', 'free-list-cycle',
 * 'pointer-outside-ram', 'counter-mismatch', 'heap-corrupt', 'process-list-broken'. Level 2:
 * 'double-free', 'free-never-allocated'. The descriptor adds the kinds of mm/findings.ts.
 */
export interface FindingDocJson {
  readonly kind: string;
  readonly severity: FindingSeverity;
  /** One sentence a person can read. */
  readonly message: string;
  readonly virtual?: JsonAddress;
  readonly physical?: number;
  /** The SpaceJson id the finding is about. */
  readonly space?: string;
  readonly pid?: number;
  readonly allocator?: string;
  readonly site?: SiteJson;
  /** Descriptor findings (mm/findings.ts). */
  readonly chain?: number;
  readonly otherChain?: number;
  readonly block?: number;
}

/** One mistake in a memory-model description: which part, which expression, why. */
export interface DescriptionErrorJson {
  /** Where in the description, e.g. `allocators[0].bitmap`. */
  readonly path: string;
  readonly expression?: string;
  /** One sentence. */
  readonly message: string;
}

/** Level 2: allocation tracing (the description names the alloc/free functions). */
export interface TracingJson {
  readonly enabled: boolean;
  readonly allocFunction?: string;
  readonly freeFunction?: string;
  readonly tracedCalls: number;
  readonly callsPerSecond: number;
  /** Measured guest slowdown while tracing (fraction, e.g. 0.35), when known. */
  readonly slowdown?: number;
  readonly live: readonly TracedAllocationJson[];
  /** Allocation sites: live allocations per call site. */
  readonly sites: readonly { readonly site: SiteJson; readonly live: number; readonly bytes: number }[];
  /** Tracing's findings ('double-free', 'free-never-allocated'); the document's `findings` lists them too. (Added by helper "trace".) */
  readonly findings?: readonly FindingDocJson[];
}

export interface TracedAllocationJson {
  /** The frame's physical address or the block's address, as the allocator returns it. */
  readonly address: JsonAddress;
  readonly size: number;
  readonly site: SiteJson;
  readonly pid?: number;
  /** Sequence number of the traced call and the stop it happened before. */
  readonly seq: number;
  readonly time: number;
}

/** The part of every snapshot document that does not depend on the kernel being ours. */
export interface SnapshotDocument {
  readonly schema: 3;
  readonly level: KnowledgeLevel;
  readonly stop: number;
  /** Read while the guest ran (the RAM file). */
  readonly live?: boolean;
  readonly pagingMode: PagingMode;
  /** Exact control registers at this stop. */
  readonly registers: { readonly cr0: JsonAddress; readonly cr3: JsonAddress; readonly cr4: JsonAddress; readonly efer: JsonAddress };
  /** The SpaceJson id CR3 names now. */
  readonly currentSpace: string | null;
  readonly spaces: readonly SpaceJson[];
  readonly processes: readonly ProcessDocJson[];
  readonly frames: FramesJson;
  readonly allocators: readonly AllocatorJson[];
  readonly heaps: readonly HeapJson[];
  readonly findings: readonly FindingDocJson[];
  /** Level 1: where the description came from and what was wrong with it. */
  readonly description?: { readonly source: string; readonly errors: readonly DescriptionErrorJson[] };
  readonly tracing?: TracingJson;
}
