// The snapshot document on the mm test kernels (docs/testing-mm-kernels.md: five kernels that are
// not ours, one allocator shape each, processes with their own page directories, a broken variant
// for every finding). Each variant stops at its last checkpoint; the kernel's own dump of that
// moment (its processes with their directories, its allocator's frame states) stands in for an
// evaluated description (DescribedState), so the oracle is the kernel's account, not mmscope's.
//   - clean kernels: no level-0 finding and no cross-check finding;
//   - each broken level-0 variant: exactly its finding kind, at the planted address;
//   - use-after-free and leak: free-frame-mapped / frame-leaked at the planted frame, and no
//     level-0 finding.

import * as assert from 'assert';
import { parseFlatMemoryMap } from '../../qemu-bridge/src';
import { buildSnapshotDocument } from '../src/mm/model/system-snapshot';
import type { DescribedState } from '../src/mm/model/described-state';
import type { FindingDocJson } from '../src/mm/model/snapshot-document';
import { MM_BREAKS, mmKernel, mmVariantId, mmVariants } from './fixtures-mm/build';
import { bootMmKernel, MmDump } from './fixtures-mm/mm-kernels';

const LEVEL0 = ['writable-executable', 'user-writable-kernel', 'writable-code-alias', 'user-maps-page-table', 'mapping-outside-ram', 'null-page-mapped', 'reserved-bits', 'unreadable-page-table'];
const CROSS = ['free-frame-mapped', 'frame-leaked'];

/** The kernel's own account as what a description would yield. */
function describedFromDump(dump: MmDump): DescribedState {
  return {
    processes: dump.processes.map((p) => ({ pid: p.pid, name: p.name, state: p.state, current: p.pid === dump.currentPid, directoryPhys: p.directory, address: p.address })),
    allocators: dump.allocators.map((a) => {
      const count = (s: string): number => a.frames.filter((r) => r[2] === s).reduce((n, r) => n + r[1], 0);
      return {
        summary: { name: a.name, shape: a.shape as 'bitmap', unitBytes: a.unitBytes, total: a.count, free: count('free'), used: count('used'), reserved: count('reserved') },
        frames: a.frames,
      };
    }),
    heaps: [], findings: [], errors: [],
  };
}

const show = (fs: readonly FindingDocJson[]): string => fs.map((f) => `${f.kind}: ${f.message}`).join('\n');

const VARIANTS = mmVariants().filter((v) => !v.break || MM_BREAKS[v.break].level === 0 || v.break === 'use-after-free' || v.break === 'leak');

describe('snapshot document on the mm test kernels (the kernel\'s own dump as the description)', function () {
  this.timeout(180_000);
  for (const v of VARIANTS) {
    it(`${mmVariantId(v)}: ${v.break ? `exactly ${MM_BREAKS[v.break].finding}` : 'no finding'}`, async () => {
      const run = await bootMmKernel(v, { checkpoint: mmKernel(v.kernel).checkpoints });
      try {
        const dump = run.dump;
        assert.ok(dump);
        const registers = await run.registers();
        const regions = parseFlatMemoryMap(await run.qmp.humanMonitorCommand('info mtree -f'));
        const doc = await buildSnapshotDocument({ read: run.read, registers, regions, described: describedFromDump(dump), stop: 1 });
        // Every process's space is walked and counted.
        assert.strictEqual(doc.level, 1);
        for (const p of doc.processes) assert.ok(p.space && doc.spaces.some((s) => s.id === p.space && (s.sources.includes('process'))), `pid ${p.pid}'s space`);
        const level0 = doc.findings.filter((f) => LEVEL0.includes(f.kind));
        const cross = doc.findings.filter((f) => CROSS.includes(f.kind));
        if (!v.break) {
          assert.deepStrictEqual(show([...level0, ...cross]), '');
          return;
        }
        const info = MM_BREAKS[v.break];
        const planted = dump.planted.find((p) => p.kind === info.finding);
        assert.ok(planted, `the dump names the planted ${info.finding}`);
        if (info.level === 0) {
          assert.deepStrictEqual([...new Set(level0.map((f) => f.kind))], [info.finding], show(level0));
          const va = planted.values.va;
          const pa = planted.values.pa;
          assert.ok(level0.some((f) => (f.virtual !== undefined && BigInt(f.virtual) === va) || (f.physical !== undefined && BigInt(f.physical) === pa)),
            `a ${info.finding} finding at va 0x${va.toString(16)} or pa 0x${pa.toString(16)}:\n${show(level0)}`);
          assert.deepStrictEqual(show(cross), '');
        } else {
          assert.deepStrictEqual(show(level0), '');
          const frame = Number(planted.values.frame);
          const mine = cross.filter((f) => f.kind === info.finding);
          assert.ok(mine.some((f) => f.physical !== undefined && f.physical <= frame * 4096 && frame * 4096 < f.physical + 4096 * 64),
            `a ${info.finding} finding at frame 0x${frame.toString(16)}:\n${show(cross)}`);
          assert.deepStrictEqual([...new Set(cross.map((f) => f.kind))], [info.finding], show(cross));
        }
      } finally {
        await run.close();
      }
    });
  }
});
