// The memory-model description (docs/memory-model.md) as types: where a kernel keeps its
// processes, its physical frame allocators of the common shapes and its heaps, written as C
// expressions over the kernel's globals. Plain data: loadMemoryModel checks a JSON value into
// this shape, createDescriber evaluates it at each stop.

import type { TracingDescription } from './described-state';

/** A C expression (docs/memory-model.md#expressions), or a constant. */
export type Expression = string | number;

/** What an address-valued key holds (docs/memory-model.md#virtual-or-physical). */
export type AddressHolds = 'virtual' | 'physical' | 'frame';

export interface ProcessesDescription {
  /** Linked list: the first struct, and the next pointer (element expression). */
  readonly list?: Expression;
  readonly next?: Expression;
  /** Array: of structs, of pointers to structs, or a pointer to the first struct; `count` elements. */
  readonly array?: Expression;
  readonly count?: Expression;
  readonly pid: Expression;
  readonly name?: Expression;
  readonly state?: Expression;
  readonly directory?: Expression;
  readonly directoryHolds?: 'virtual' | 'physical';
  readonly filter?: Expression;
  readonly current?: Expression;
}

interface AllocatorCommon {
  readonly name: string;
  /** Bytes per unit, a multiple of 4096 (default 4096; chain-table 16384). */
  readonly unitBytes?: number;
  /** Physical address of unit 0 (default 0). */
  readonly base?: Expression;
  /** Units managed (not for region-table and chain-table). */
  readonly units?: Expression;
  /** The kernel's own count of free units. */
  readonly counter?: Expression;
}

/** How a free list (or a buddy order's list) is linked through the free units. */
export interface LinkDescription {
  readonly holds?: AddressHolds;
  /** Element expression over `$elem` (virtual links only). */
  readonly next?: Expression;
  /** Byte offset of the link word in the free unit (any `holds`). */
  readonly nextOffset?: number;
  readonly linkBytes?: 4 | 8;
}

export interface BitmapAllocatorDescription extends AllocatorCommon {
  readonly shape: 'bitmap';
  readonly bitmap: Expression;
  readonly used?: 0 | 1;
  readonly bitOrder?: 'lsb' | 'msb';
  readonly wordBytes?: 1 | 2 | 4 | 8;
}

export interface FreeListAllocatorDescription extends AllocatorCommon, LinkDescription {
  readonly shape: 'free-list';
  readonly head: Expression;
}

export interface FreeStackAllocatorDescription extends AllocatorCommon {
  readonly shape: 'free-stack';
  readonly array: Expression;
  readonly count: Expression;
  readonly holds?: AddressHolds;
}

export interface BuddyAllocatorDescription extends AllocatorCommon, LinkDescription {
  readonly shape: 'buddy';
  readonly orders: Expression;
  /** Global expression with `$order`. */
  readonly head: Expression;
}

export interface RegionTableAllocatorDescription extends AllocatorCommon {
  readonly shape: 'region-table';
  readonly array: Expression;
  readonly count?: Expression;
  readonly start: Expression;
  readonly length: Expression;
  readonly lengthIn?: 'bytes' | 'units';
  readonly type: Expression;
  readonly free: readonly Expression[];
  readonly reserved?: readonly Expression[];
}

export interface ChainTableAllocatorDescription extends AllocatorCommon {
  readonly shape: 'chain-table';
  readonly table: Expression;
  readonly count: Expression;
}

export type AllocatorDescription =
  | BitmapAllocatorDescription
  | FreeListAllocatorDescription
  | FreeStackAllocatorDescription
  | BuddyAllocatorDescription
  | RegionTableAllocatorDescription
  | ChainTableAllocatorDescription;

export interface HeapDescription {
  readonly name: string;
  readonly first: Expression;
  /** Linked headers (0 ends) … */
  readonly next?: Expression;
  /** … or adjacent headers up to this address. */
  readonly end?: Expression;
  readonly size: Expression;
  readonly sizeIncludesHeader?: boolean;
  readonly headerBytes?: number;
  readonly used: Expression;
  readonly valid?: Expression;
}

export interface MemoryModelDescription {
  readonly name?: string;
  readonly directMapOffset?: Expression;
  readonly processes?: ProcessesDescription;
  readonly allocators?: readonly AllocatorDescription[];
  readonly heaps?: readonly HeapDescription[];
  readonly tracing?: TracingDescription;
}

/** Bounds of every walk (docs/memory-model.md#findings). */
export const MAX_PROCESSES = 4096;
export const MAX_HEAP_BLOCKS = 65536;
/** Units an allocator may manage (2^24 units: 64 GiB of 4 KiB frames). */
export const MAX_UNITS = 1 << 24;
