// Hand-built snapshot documents (schema 3) of kernels that are not ours, for the view models'
// tests: what the adapter sends at level 0 (a 64-bit kernel, nothing described: two address
// spaces, one only seen at an earlier stop, 3 GiB of RAM, generic findings) and at level 1 (a
// 32-bit kernel with a description: processes, a bitmap and a buddy allocator whose counter
// disagrees, a heap, and level-2 tracing). The guest's real documents are recorded in fixtures/.

import type { RunJson, SnapshotDocument, SpaceJson } from '../../contract/snapshot-document';

const run = (va: number | string, pa: number, size: number | string, o: Partial<RunJson> = {}): RunJson => ({
  va, pa, size, flags: o.flags ?? 0x63, nx: o.nx ?? true, pageSize: o.pageSize ?? 4096, writable: o.writable ?? true, user: o.user ?? false,
});

/** 3 GiB of RAM in 4 KiB frames. */
export const LEVEL0_FRAMES = (3 * 2 ** 30) / 4096;

export function levelZeroDocument(): SnapshotDocument {
  const current: SpaceJson = {
    id: 'pt:0x1000000', label: 'CR3 0x1000000', topTable: 0x1000000, cr3: 0x1000000, paging: 'x86-64', sources: ['current'], current: true,
    firstSeenStop: 1, lastSeenStop: 3,
    mappings: [
      run(0x400000, 0x2000000, 0x3000, { user: true, writable: false, nx: false, flags: 0x25 }),
      run(0x601000, 0x2003000, 0x1000, { user: true, flags: 0x67 }),
      run('0xffff888000000000', 0, 0xc0000000, { pageSize: 2 ** 21, flags: 0xe3 }),
      run('0xffffffff81000000', 0x1000000, 0x200000, { writable: true, nx: false, pageSize: 2 ** 21, flags: 0xe3 }),
    ],
    shared: [],
    pages: 3 + 1 + 1536 + 1,
    tablesRead: 7,
    tables: [0x1000000, 0x1001000, 0x1002000],
  };
  const seen: SpaceJson = {
    id: 'pt:0x1234000', label: 'CR3 0x1234000', topTable: 0x1234000, cr3: 0x1234000, paging: 'x86-64', sources: ['seen'], current: false,
    firstSeenStop: 1, lastSeenStop: 2,
    mappings: [run(0x400000, 0x3000000, 0x1000, { user: true })], shared: [], pages: 1, tablesRead: 4, tables: [0x1234000],
  };
  return {
    schema: 3, level: 0, stop: 3, pagingMode: 'x86-64',
    registers: { cr0: 0x80050033, cr3: 0x1000000, cr4: 0x3006f0, efer: 0xd01 },
    currentSpace: current.id,
    spaces: [current, seen],
    processes: [],
    frames: {
      frameSize: 4096, count: LEVEL0_FRAMES, ramKnown: true,
      regions: [{ base: 0, size: 0xa0000, kind: 'ram', name: 'pc.ram' }, { base: 0xa0000, size: 0x20000, kind: 'device', name: 'vga-lowmem' }, { base: 0x100000, size: 0xbff00000, kind: 'ram', name: 'pc.ram' }],
      mapping: [[0, 0xa0, 'mapped'], [0xa0, 0x20, 'not-ram'], [0xc0, 0xf40, 'mapped'], [0x1000, 3, 'table'], [0x1003, LEVEL0_FRAMES - 0x1003, 'mapped']],
      counts: { mapped: LEVEL0_FRAMES - 0x20 - 3, multi: 0, table: 3, unmapped: 0, 'not-ram': 0x20 },
    },
    allocators: [],
    heaps: [],
    findings: [
      { kind: 'writable-executable', severity: 'warning', message: 'CR3 0x1000000 maps 0xffffffff81000000..0xffffffff811fffff writable and executable', virtual: '0xffffffff81000000', space: current.id },
      { kind: 'mapping-outside-ram', severity: 'error', message: 'CR3 0x1000000 maps frame 0xa0000 which is not RAM', physical: 0xa0000, space: current.id },
    ],
  };
}

export function levelOneDocument(): SnapshotDocument {
  const space = (pid: number, top: number, current: boolean, runs: RunJson[]): SpaceJson => ({
    id: `pt:0x${top.toString(16)}`, label: `pid ${pid} (${pid === 1 ? 'init' : 'sh'})`, topTable: top, cr3: top, paging: 'x86-32',
    sources: current ? ['current', 'process'] : ['process'], current, pid, mappings: runs, shared: [], pages: runs.length, tablesRead: 2, tables: [top, top + 0x1000],
  });
  const init = space(1, 0x10000, false, [run(0x1000, 0x200000, 0x1000, { user: true, nx: false })]);
  const sh = space(2, 0x20000, true, [run(0x1000, 0x201000, 0x2000, { user: true, nx: false }), run(0x80000000, 0x100000, 0x400000, { nx: false, pageSize: 0x400000, flags: 0x83 })]);
  return {
    schema: 3, level: 1, stop: 7, pagingMode: 'x86-32',
    registers: { cr0: 0x80000011, cr3: 0x20000, cr4: 0x10, efer: 0 },
    currentSpace: sh.id,
    spaces: [init, sh],
    processes: [
      { pid: 1, name: 'init', state: 'SLEEPING', current: false, space: init.id, directory: 0x10000, address: 0x80123000 },
      { pid: 2, name: 'sh', state: 'RUNNING', current: true, space: sh.id, directory: 0x20000, address: 0x80123040 },
      { pid: 3, name: 'zombie', state: 'ZOMBIE', current: false, space: null, directory: null, address: 0x80123080 },
    ],
    frames: {
      frameSize: 4096, count: 8192, ramKnown: true, regions: [{ base: 0, size: 0x2000000, kind: 'ram', name: 'pc.ram' }],
      mapping: [[0, 0x10, 'unmapped'], [0x10, 2, 'table'], [0x12, 0xe, 'unmapped'], [0x20, 2, 'table'], [0x22, 0xde, 'unmapped'], [0x100, 0x400, 'mapped'], [0x500, 8192 - 0x500, 'unmapped']],
      allocation: [[0, 0x100, 'reserved'], [0x100, 0x400, 'used'], [0x500, 8192 - 0x500, 'free']],
      counts: { mapped: 0x400, multi: 0, table: 4, unmapped: 8192 - 0x400 - 4, 'not-ram': 0 },
      allocationCounts: { free: 8192 - 0x500, used: 0x400, reserved: 0x100 },
    },
    allocators: [
      { name: 'kmem', shape: 'bitmap', unitBytes: 4096, total: 8192, free: 8192 - 0x500, used: 0x400, reserved: 0x100, counter: { expression: 'kmem.nfree', value: 6900, agrees: false } },
      { name: 'buddy', shape: 'buddy', unitBytes: 4096, total: 1024, free: 24, used: 1000, reserved: 0, freeByOrder: [4, 2, 0, 4] },
    ],
    heaps: [{
      name: 'kheap', usedBytes: 96, freeBytes: 160, truncated: false,
      blocks: [
        { address: 0x80200000, size: 64, used: true, site: { address: 0x80101234, function: 'fork', file: '/src/myos/kernel/proc.c', line: 88 } },
        { address: 0x80200040, size: 160, used: false },
        { address: 0x802000e0, size: 32, used: true },
      ],
    }],
    findings: [
      { kind: 'free-frame-mapped', severity: 'error', message: 'frame 0x500000 is free in kmem but pid 2 (sh) maps it at 0x00001000', physical: 0x500000, virtual: 0x1000, space: sh.id, pid: 2, allocator: 'kmem' },
      { kind: 'counter-mismatch', severity: 'warning', message: 'kmem.nfree is 6900 but the bitmap has 6912 free frames', allocator: 'kmem' },
      { kind: 'double-free', severity: 'error', message: 'kfree(0x80200040) of a block already freed', site: { address: 0x80101300, function: 'exit', file: '/src/myos/kernel/proc.c', line: 131 } },
    ],
    description: { source: 'launch.json', errors: [] },
    tracing: {
      enabled: true, allocFunction: 'kalloc', freeFunction: 'kfree', tracedCalls: 420, callsPerSecond: 35.2, slowdown: 0.12,
      live: [{ address: 0x80200000, size: 64, site: { address: 0x80101234, function: 'fork', file: '/src/myos/kernel/proc.c', line: 88 }, pid: 2, seq: 17, time: 0 }],
      sites: [
        { site: { address: 0x80101234, function: 'fork', file: '/src/myos/kernel/proc.c', line: 88 }, live: 3, bytes: 12288 },
        { site: { address: 0x80105555, function: 'exec', file: '/src/myos/kernel/exec.c', line: 40 }, live: 1, bytes: 4096 },
        { site: { address: 0x80106666, function: 'gone', file: '/src/myos/kernel/proc.c', line: 12 }, live: 0, bytes: 0 },
      ],
    },
  };
}
