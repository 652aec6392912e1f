// The built-in memory-model description of our own guest (guest/): its PCB list, its chain
// table and its kernel heap, written with the same keys any user writes (docs/memory-model.md),
// so the seed's guest is one user of the general mechanism.

import type { MemoryModelDescription } from './memory-model';

export const MMSCOPE_GUEST_DESCRIPTION: MemoryModelDescription = {
  name: 'mmscope guest',
  directMapOffset: '0xC0000000',
  processes: {
    list: 'proc_list',
    next: 'next',
    pid: 'pid',
    name: 'name',
    state: '(enum proc_state)state',
    // Every process shares the KPD (its UPD is copied into KPD[0..63] when it runs).
    directory: '&kpd',
    directoryHolds: 'virtual',
    current: '$elem == current',
  },
  allocators: [
    { name: 'chains', shape: 'chain-table', table: 'mm_block_table', count: 'mm_block_count', counter: 'mm_free_blocks' },
  ],
  heaps: [
    {
      name: 'kheap',
      first: '(struct hdr *)0xD0000000',
      end: 'heap_end',
      size: 'size',
      used: 'magic == 0xA110C8ED',
      valid: 'magic == 0xA110C8ED || magic == 0xF4EEF4EE',
    },
  ],
};

/** The descriptions `builtin:<name>` names. */
export const BUILTIN_DESCRIPTIONS: Readonly<Record<string, MemoryModelDescription>> = {
  'mmscope-guest': MMSCOPE_GUEST_DESCRIPTION,
};
