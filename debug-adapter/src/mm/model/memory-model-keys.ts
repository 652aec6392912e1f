// Every key of a memory-model description (docs/memory-model.md), once: its kind, whether it is
// required, and a one-line meaning. The loader checks descriptions against these tables and the
// JSON schema (extension/schemas/memory-model.schema.json, and the `memoryModel` launch attribute)
// is generated from them, so the three never disagree.

import type { AllocatorDescription } from './memory-model';

export type KeyKind =
  | { readonly kind: 'expression'; readonly doc: string }
  | { readonly kind: 'string'; readonly doc: string }
  | { readonly kind: 'boolean'; readonly doc: string }
  | { readonly kind: 'number'; readonly doc: string; readonly values?: readonly number[]; readonly multipleOf?: number; readonly minimum?: number; readonly maximum?: number }
  | { readonly kind: 'enum'; readonly doc: string; readonly values: readonly string[] }
  | { readonly kind: 'expressions'; readonly doc: string };

export interface PartSpec {
  /** "a bitmap allocator": for sentences. */
  readonly what: string;
  readonly keys: Readonly<Record<string, KeyKind>>;
  readonly required: readonly string[];
  /** Keys of which exactly one must be present. */
  readonly oneOf?: readonly (readonly string[])[];
  /** A hint for a missing key. */
  readonly hints?: Readonly<Record<string, string>>;
}

const expr = (doc: string): KeyKind => ({ kind: 'expression', doc });
const HOLDS = (doc: string): KeyKind => ({ kind: 'enum', values: ['virtual', 'physical', 'frame'], doc });

const COMMON: Readonly<Record<string, KeyKind>> = {
  name: { kind: 'string', doc: 'What the views call this allocator; unique in the description.' },
  shape: { kind: 'string', doc: 'bitmap, free-list, free-stack, buddy, region-table or chain-table.' },
  unitBytes: { kind: 'number', multipleOf: 4096, minimum: 4096, doc: 'Bytes per allocator unit, a multiple of 4096 (default 4096; chain-table 16384).' },
  base: expr('Physical address of unit 0 of the managed range (default 0, 4 KiB aligned).'),
  units: expr('Global integer: how many units it manages.'),
  counter: expr('Global integer: the kernel\'s own count of free units, compared with what mmscope decodes.'),
};

const LINKS: Readonly<Record<string, KeyKind>> = {
  holds: HOLDS('What the head and every link hold: a kernel-virtual address, a physical address, or a frame number (default "virtual").'),
  next: expr('Element expression over $elem (the current free unit): the next link. Virtual links only.'),
  nextOffset: { kind: 'number', minimum: 0, doc: 'Instead of next: byte offset of the link word inside the free unit (any holds).' },
  linkBytes: { kind: 'number', values: [4, 8], doc: 'Size of the link word read at nextOffset (default: the kernel\'s pointer size).' },
};

export const PROCESSES_SPEC: PartSpec = {
  what: 'processes',
  keys: {
    list: expr('Global address: the first process struct of a linked list (0: none).'),
    next: expr('Element address: the next struct; the list ends at 0 or back at the first.'),
    array: expr('Global array: of structs, of pointers to structs (nulls skipped), or a pointer to the first struct.'),
    count: expr('Global integer: number of array elements (default: the declared length).'),
    pid: expr('Element integer: the process id, e.g. "pid".'),
    name: expr('Element char array or char pointer: the name.'),
    state: expr('Element enum or integer: the state (enumerator names are shown).'),
    directory: expr('Element address: the top-level page table.'),
    directoryHolds: { kind: 'enum', values: ['virtual', 'physical'], doc: 'What directory holds (default "physical").' },
    filter: expr('Element condition: elements for which it is false are skipped, e.g. "state != UNUSED".'),
    current: expr('Element condition: true for the running process, e.g. "$elem == current".'),
  },
  required: ['pid'],
  oneOf: [['list', 'array']],
  hints: { pid: 'say which member holds the process id, e.g. "pid"' },
};

export const SHAPE_SPECS: Readonly<Record<AllocatorDescription['shape'], PartSpec>> = {
  bitmap: {
    what: 'a bitmap allocator',
    keys: {
      ...COMMON,
      bitmap: expr('Global array: the bitmap\'s words (an array or a pointer to the first).'),
      used: { kind: 'number', values: [0, 1], doc: 'The bit value that means used (default 1).' },
      bitOrder: { kind: 'enum', values: ['lsb', 'msb'], doc: 'lsb (default): unit i is bit i%8 of byte i/8; msb: the highest bit of each word first.' },
      wordBytes: { kind: 'number', values: [1, 2, 4, 8], doc: 'Word size for msb order (default: the bitmap\'s element size).' },
    },
    required: ['name', 'shape', 'bitmap', 'units'],
  },
  'free-list': {
    what: 'a free-list allocator',
    keys: { ...COMMON, head: expr('Global address: the first free unit (0: none free).'), ...LINKS },
    required: ['name', 'shape', 'head', 'units'],
    oneOf: [['next', 'nextOffset']],
  },
  'free-stack': {
    what: 'a free-stack allocator',
    keys: {
      ...COMMON,
      array: expr('Global array: the stack\'s entries (4 or 8 bytes each).'),
      count: expr('Global integer: how many entries are valid.'),
      holds: HOLDS('What an entry holds (default "frame").'),
    },
    required: ['name', 'shape', 'array', 'count', 'units'],
  },
  buddy: {
    what: 'a buddy allocator',
    keys: {
      ...COMMON,
      orders: expr('The number of orders (max order + 1).'),
      head: expr('Global address with $order: the first free block of that order, e.g. "free_area[$order]".'),
      ...LINKS,
    },
    required: ['name', 'shape', 'orders', 'head', 'units'],
    oneOf: [['next', 'nextOffset']],
  },
  'region-table': {
    what: 'a region-table allocator',
    keys: {
      ...COMMON,
      array: expr('Global array: the regions.'),
      count: expr('Global integer: how many regions are valid (default: the declared length).'),
      start: expr('Element address: the region\'s physical base.'),
      length: expr('Element integer: its length.'),
      lengthIn: { kind: 'enum', values: ['bytes', 'units'], doc: 'What length counts (default "bytes").' },
      type: expr('Element integer: its type.'),
      free: { kind: 'expressions', doc: 'The type values that mean free (numbers or enumerators).' },
      reserved: { kind: 'expressions', doc: 'The type values that mean reserved; other types are used.' },
    },
    required: ['name', 'shape', 'array', 'start', 'length', 'type', 'free'],
  },
  'chain-table': {
    what: 'a chain-table allocator',
    keys: { ...COMMON, table: expr('Global array: the 32-bit entries (uint32_t *).'), count: expr('Global integer: the number of entries (blocks).') },
    required: ['name', 'shape', 'table', 'count'],
  },
};

export const HEAP_SPEC: PartSpec = {
  what: 'a heap',
  keys: {
    name: { kind: 'string', doc: 'What the views call this heap.' },
    first: expr('Global address: a typed pointer to the first header, e.g. "(struct hdr *)0xD0000000".'),
    next: expr('Element address: linked headers, the next header (0 ends).'),
    end: expr('Global address: adjacent headers, the walk ends here (the heap\'s end).'),
    size: expr('Element integer: the block\'s size in bytes.'),
    sizeIncludesHeader: { kind: 'boolean', doc: 'Whether size counts the header (default true).' },
    headerBytes: { kind: 'number', minimum: 1, doc: 'The header\'s size (default: sizeof the type first points to).' },
    used: expr('Element condition: true for an allocated block.'),
    valid: expr('Element condition: false for a header that is not one (a bad magic).'),
  },
  required: ['name', 'first', 'size', 'used'],
  oneOf: [['next', 'end']],
};

export const TRACING_ALLOC_SPEC: PartSpec = {
  what: 'the allocation function',
  keys: {
    function: { kind: 'string', doc: 'The allocation function\'s name, e.g. "kalloc".' },
    returns: { kind: 'enum', values: ['address', 'physical', 'frame'], doc: 'What it returns: a kernel-virtual address, a physical address or a frame number.' },
    size: expr('Bytes per call: a constant, or a C expression over $arg0..$arg5 (default 4096).'),
  },
  required: ['function', 'returns'],
};

export const TRACING_FREE_SPEC: PartSpec = {
  what: 'the free function',
  keys: {
    function: { kind: 'string', doc: 'The free function\'s name, e.g. "kfree".' },
    argument: { kind: 'number', minimum: 0, maximum: 5, doc: 'Which argument (0-based) holds what alloc returned (default 0).' },
  },
  required: ['function'],
};

export const TOP_KEYS: Readonly<Record<string, string>> = {
  $schema: 'The JSON schema of descriptions (ignored).',
  name: 'What the views call the description.',
  directMapOffset: 'Kernel-virtual = physical + this, for every "virtual" address; without it virtual addresses are translated through the current page tables.',
  processes: 'Where the processes are.',
  allocators: 'The physical frame allocators.',
  heaps: 'Kernel heaps as lists of block headers.',
  tracing: 'Level 2: the allocation and free functions to trace.',
};
