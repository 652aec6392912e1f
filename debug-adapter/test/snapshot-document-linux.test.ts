// The snapshot document (level 0: no ELF, nothing described) on Debian's Linux kernels in every
// paging mode: the current space equals QEMU's `info tlb` page by page, the frame map equals a
// frame-by-frame recomputation from `info tlb` and QEMU's memory map (`info mtree -f`), and none
// of the level-0 finding kinds appears (Linux maps W^X, keeps page tables and kernel text from
// user mode, and maps nothing outside RAM or at virtual 0).

import * as assert from 'assert';
import { parseInfoTlb, QemuSession } from '../../qemu-bridge/src';
import { bootLinuxGuest, LINUX_MODES } from '../../qemu-bridge/test/fixtures/linux-guests';
import { buildSnapshotDocument } from '../src/mm/model/system-snapshot';
import { compareFramesWithTlb, compareSpaceWithTlb } from './document-oracle';

const LEVEL0 = ['writable-executable', 'user-writable-kernel', 'writable-code-alias', 'user-maps-page-table', 'mapping-outside-ram', 'null-page-mapped', 'reserved-bits', 'unreadable-page-table'];

for (const mode of LINUX_MODES) {
  describe(`snapshot document on Linux ${mode.mode} (level 0)`, function () {
    this.timeout(300_000);
    it('current space = info tlb, frame map = info tlb + info mtree -f, no level-0 finding', async () => {
      const { qemu, qmp } = await bootLinuxGuest(mode);
      qmp.close();
      const session = await QemuSession.attachTo(qemu);
      try {
        const registers = await session.pagingRegisters();
        const regions = await session.physicalMemoryMap();
        assert.ok(regions?.length);
        const doc = await buildSnapshotDocument({ read: (a, n) => session.memory.readPhys(Number(a), n), registers, regions, stop: 1 });
        const tlbText = await (session.qmp as NonNullable<typeof session.qmp>).humanMonitorCommand('info tlb', 60_000);
        const tlb = parseInfoTlb(tlbText);
        assert.strictEqual(doc.pagingMode, mode.kind);
        const current = doc.spaces.find((s) => s.id === doc.currentSpace);
        assert.ok(current);
        assert.ok(!current.mappings.some((m) => m.pageSize === 0x40000000), 'no 1 GiB page (the oracle takes large pages as 2 MiB)');
        assert.deepStrictEqual(compareSpaceWithTlb(current, tlb, doc.pagingMode), []);
        assert.deepStrictEqual(compareFramesWithTlb(doc, tlbText, regions, current.tables), []);
        const level0 = doc.findings.filter((f) => LEVEL0.includes(f.kind));
        assert.deepStrictEqual(level0.map((f) => `${f.kind}: ${f.message}`), []);
        const c = doc.frames.counts;
        console.log(`      (${tlb.length} pages, ${current.tables.length} tables; frames: ${c.mapped} mapped, ${c.multi} multi, ${c.table} table, ${c.unmapped} unmapped, ${c['not-ram']} not RAM)`);
      } finally {
        await session.detach();
        await qemu.shutdown();
      }
    });
  });
}
