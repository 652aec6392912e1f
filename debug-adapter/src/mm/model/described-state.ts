// What a memory-model description (docs/memory-model.md) yields at one stop, once evaluated
// against the kernel's own globals: the processes with their page directories, each frame
// allocator's view of the frames, the heaps, structural findings, and the description's own
// mistakes. The snapshot builder (system-snapshot.ts) walks the processes' directories, lays the
// allocators' frame states over the page tables, and adds the cross-checks (a free frame mapped,
// a used frame reachable from nothing). Plain data: the evaluator fills it, the builder reads it.

import type { AllocatorJson, DescriptionErrorJson, FindingDocJson, FrameAllocState, FrameRun, HeapJson } from './snapshot-document';

export interface DescribedProcess {
  readonly pid: number;
  readonly name: string;
  readonly state: string;
  readonly current: boolean;
  /** Physical address of its top-level page table (the description's `directory`, translated when virtual). */
  readonly directoryPhys?: bigint;
  /** Kernel-virtual address of the kernel's struct for it. */
  readonly address: bigint;
}

export interface DescribedAllocator {
  readonly summary: AllocatorJson;
  /** The frames (4 KiB frame numbers) it covers, in states, sorted and not overlapping. */
  readonly frames: readonly FrameRun<FrameAllocState>[];
}

export interface DescribedState {
  readonly processes: readonly DescribedProcess[];
  readonly allocators: readonly DescribedAllocator[];
  readonly heaps: readonly HeapJson[];
  /** Found while decoding (a free-list cycle, a pointer outside RAM, a counter that disagrees). */
  readonly findings: readonly FindingDocJson[];
  /** The description's own mistakes, one sentence each; the parts without mistakes still count. */
  readonly errors: readonly DescriptionErrorJson[];
}

/** Level 2's part of a description: the allocation and free functions to trace. */
export interface TracingDescription {
  readonly alloc: {
    readonly function: string;
    /** What it returns: a kernel-virtual address, a physical address, or a frame number. */
    readonly returns: 'address' | 'physical' | 'frame';
    /** Bytes per call when constant (default: the allocator unit, 4096), or a C expression over `$arg0`…`$arg5`. */
    readonly size?: number | string;
  };
  readonly free: {
    readonly function: string;
    /** Which argument holds what alloc returned (default 0). */
    readonly argument?: number;
  };
}
