// The one page walker against QEMU's own `info tlb`, in every x86 paging mode: a test kernel
// (fixtures/paging-kernel.S) builds its tables for one mode and halts in qemu-system-x86_64
// (-cpu max); with the guest stopped, the walker reads QEMU's RAM file with the mode decoded
// from `info registers` (CR0, CR3, CR4, EFER), and every page QEMU lists must be a leaf of ours
// with the same physical address and flags, and no leaf of ours may be missing from QEMU's list.

import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { launchQemu, QemuInstance, QmpClient } from '../src';
import { walkAddressSpace } from '../src/paging/page-table-walk';
import { buildPagingKernel, PAGING_KIND, PAGING_MODES, PAGING_READY } from './fixtures/paging-kernel';
import { compareWithInfoMem, compareWithInfoTlb, pagingRegisters } from './fixtures/paging-oracle';

describe('paging: the walker equals QEMU\'s info tlb in every mode (qemu-system-x86_64, test kernels)', function () {
  this.timeout(120_000);
  let dir: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mmscope-paging-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  for (const mode of PAGING_MODES) {
    it(`${mode}: every page, physical address and flag`, async () => {
      const kernel = buildPagingKernel(mode, dir);
      let qemu: QemuInstance | undefined;
      let qmp: QmpClient | undefined;
      try {
        qemu = await launchQemu({ kernel, memoryMiB: 32, qemuBinary: 'qemu-system-x86_64', extraArgs: ['-cpu', 'max'] });
        qmp = await QmpClient.connect(qemu.qmp);
        await qmp.cont();
        await qemu.waitForSerial(PAGING_READY, 30_000);
        await qmp.execute('stop');
        const { model, cr0, cr3, cr4, efer } = await pagingRegisters(qmp);
        assert.strictEqual(model.kind, PAGING_KIND[mode], `the mode from CR0=${cr0.toString(16)} CR4=${cr4.toString(16)} EFER=${efer.toString(16)}`);
        const ram = fs.readFileSync(qemu.ramPath as string);
        const read = async (a: bigint, n: number): Promise<Buffer> => {
          if (a + BigInt(n) > BigInt(ram.length)) throw new Error('outside RAM');
          return ram.subarray(Number(a), Number(a) + n);
        };
        const space = await walkAddressSpace(model, cr3, read);
        // QEMU 7.2's quirks (NX in PAE's physical column, PSE-36 bits not shown) are named in paging-oracle.ts.
        const tlb = compareWithInfoTlb(model, space, await qmp.humanMonitorCommand('info tlb'));
        assert.ok(tlb.compared > 500, `info tlb listed ${tlb.compared} pages`);
        assert.deepStrictEqual(tlb.mismatches.slice(0, 20), [], `${tlb.mismatches.length} of ${tlb.compared} pages differ; findings: ${space.findings.map((f) => f.text).join(" ")}`);
        if (mode === 'X32') {
          const high = space.leaves.find((l) => l.physical >= 1n << 32n);
          assert.ok(high && high.physical === 0x100800000n, 'the PSE-36 page lies above 4 GiB');
          // The kernel wrote a marker at physical 0x800000: a walk that dropped bits 39:32 would read it.
          assert.strictEqual((await qmp.humanMonitorCommand(`xp /1wx 0x800000`)).trim().split(/\s+/)[1], '0xfeedface');
          assert.match(await qmp.humanMonitorCommand(`x /1wx 0x${high.virtual.toString(16)}`), /Cannot access memory/, 'QEMU\'s MMU goes above RAM, as ours says');
        }
        // `info mem`: ranges contiguous in virtual memory with the same user/write access over all
        // levels, from the walker's mergeLeaves runs. Not in 5-level mode: QEMU 7.2's `info mem` prints nothing there, after ~30 s (measured).
        const mem = mode === 'L5' ? undefined : compareWithInfoMem(space, await qmp.humanMonitorCommand('info mem', 20_000));
        if (mem) assert.deepStrictEqual(mem.mismatches, [], 'info mem');
        // The non-present entries with content are kept with their raw value.
        const raws = space.nonPresent.map((n) => n.raw);
        assert.ok(raws.includes(0x12345000n), `the PT's swap-like entry is kept (${raws.map((r) => r.toString(16)).join(', ')})`);
        assert.deepStrictEqual(space.findings, []);
        console.log(`      ${mode}: ${tlb.compared} pages and ${mem ? `${mem.compared} info mem ranges` : 'no info mem (QEMU prints none in 5-level mode)'} equal, ${space.tablesRead} tables read, ${space.nonPresent.length} non-present entries with content`);
      } finally {
        qmp?.close();
        await qemu?.shutdown();
      }
    });
  }
});
