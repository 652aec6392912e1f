// The snapshot document (level 0: nothing described) on the mm test kernels (fixtures-mm,
// docs/testing-mm-kernels.md), stopped at their mm_checkpoint: the current space equals QEMU's
// `info tlb` and the frame map a recomputation from `info tlb` and `info mtree -f`; with every
// process's directory named as well, a clean kernel has no level-0 finding at any checkpoint, and
// each level-0 broken variant has exactly the finding of the fault it planted, at the address the
// kernel's own dump names.

import * as assert from 'assert';
import { parseFlatMemoryMap, parseInfoTlb } from '../../qemu-bridge/src';
import { buildSnapshotDocument } from '../src/mm/model/system-snapshot';
import type { PhysicalRegionJson } from '../src/mm/model/snapshot-document';
import { compareFramesWithTlb, compareSpaceWithTlb } from './document-oracle';
import { MM_BREAKS, mmKernel, mmKernelNames, mmVariantId } from './fixtures-mm/build';
import { bootMmKernel, MmDump, MmKernelRun } from './fixtures-mm/mm-kernels';

const LEVEL0 = ['writable-executable', 'user-writable-kernel', 'writable-code-alias', 'user-maps-page-table', 'mapping-outside-ram', 'null-page-mapped', 'reserved-bits', 'unreadable-page-table'];

async function documentAt(run: MmKernelRun, dump: MmDump, regions: readonly PhysicalRegionJson[], withProcesses: boolean) {
  const registers = await run.registers();
  const spaces = withProcesses ? dump.processes.map((p) => ({ cr3: p.directory, source: 'named' as const, pid: p.pid })) : [];
  return buildSnapshotDocument({ read: run.read, registers, regions, spaces, stop: dump.seq });
}

async function regionsOf(run: MmKernelRun): Promise<PhysicalRegionJson[]> {
  return parseFlatMemoryMap(await run.qmp.humanMonitorCommand('info mtree -f')).map(({ base, size, kind, name }) => ({ base, size, kind, name }));
}

describe('snapshot document (level 0) on the mm test kernels', function () {
  this.timeout(120_000);
  for (const kernel of mmKernelNames()) {
    it(`${kernel}, clean: current space = info tlb, frame map = info tlb + info mtree -f, no level-0 finding in any process at any checkpoint`, async () => {
      const run = await bootMmKernel({ kernel });
      try {
        const regions = await regionsOf(run);
        for (let seq = 1; seq <= mmKernel(kernel).checkpoints; seq++) {
          const dump = seq === 1 ? (run.dump as MmDump) : await run.runToCheckpoint(seq);
          const doc = await documentAt(run, dump, regions, false);
          const current = doc.spaces.find((s) => s.id === doc.currentSpace);
          assert.ok(current, 'the document has the current space');
          const tlbText = await run.qmp.humanMonitorCommand('info tlb');
          const memText = await run.qmp.humanMonitorCommand('info mem');
          assert.deepStrictEqual(compareSpaceWithTlb(current, parseInfoTlb(tlbText), doc.pagingMode), [], `checkpoint ${seq}: the current space`);
          assert.deepStrictEqual(compareFramesWithTlb(doc, tlbText, regions, current.tables, memText), [], `checkpoint ${seq}: the frame map`);
          const all = await documentAt(run, dump, regions, true);
          assert.strictEqual(all.spaces.length, dump.processes.length, `checkpoint ${seq}: one space per process`);
          const level0 = all.findings.filter((f) => LEVEL0.includes(f.kind));
          assert.deepStrictEqual(level0.map((f) => `${f.kind}: ${f.message}`), [], `checkpoint ${seq}`);
        }
      } finally {
        await run.close();
      }
    });
    for (const b of mmKernel(kernel).breaks.filter((x) => MM_BREAKS[x].level === 0)) {
      it(`${mmVariantId({ kernel, break: b })}: exactly the ${MM_BREAKS[b].finding} finding, where the kernel planted it`, async () => {
        const run = await bootMmKernel({ kernel, break: b });
        try {
          const dump = run.dump as MmDump;
          const doc = await documentAt(run, dump, await regionsOf(run), true);
          const level0 = doc.findings.filter((f) => LEVEL0.includes(f.kind));
          assert.deepStrictEqual([...new Set(level0.map((f) => f.kind))], [MM_BREAKS[b].finding], level0.map((f) => `${f.kind}: ${f.message}`).join('\n'));
          const planted = dump.planted[0];
          const at = (f: (typeof level0)[number]): boolean =>
            (f.virtual !== undefined && BigInt(f.virtual) === planted.values.va) || (f.physical !== undefined && BigInt(f.physical) === planted.values.pa);
          assert.ok(level0.some(at), `a finding names va 0x${planted.values.va?.toString(16)} or pa 0x${planted.values.pa?.toString(16)}: ${level0.map((f) => f.message).join('; ')}`);
        } finally {
          await run.close();
        }
      });
    }
  }
});
