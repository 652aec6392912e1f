// QemuSession.physicalMemoryMap against QEMU itself: qemu-system-i386 and qemu-system-x86_64
// (machine pc, as mmscope launches it, with the RAM file) at 16 MiB .. 3.5 GiB. Oracle: QMP's
// query-memory-size-summary. The RAM region's pieces, by their offsets into it, cover exactly
// [0, base-memory) apart from the VGA window at 0xa0000 (which hides 128 KiB of it), and RAM lies
// above 4 GiB exactly when the guest has more than the 3 GiB the pc machine keeps below it.

import * as assert from 'assert';
import { QemuSession } from '../src';
import { launchTestImage } from './fixtures/qemu-fixture';

const MIB = 1 << 20;
const CASES: { binary: string; mib: number }[] = [
  { binary: 'qemu-system-i386', mib: 16 },
  { binary: 'qemu-system-i386', mib: 3072 },
  { binary: 'qemu-system-x86_64', mib: 256 },
  { binary: 'qemu-system-x86_64', mib: 3584 },
];

describe('QEMU memory map against QEMU (QMP)', function () {
  this.timeout(120000);
  for (const c of CASES) {
    it(`${c.binary} -m ${c.mib}: RAM regions equal query-memory-size-summary`, async () => {
      const qemu = await launchTestImage({ qemuBinary: c.binary, memoryMiB: c.mib });
      const session = await QemuSession.attachTo(qemu);
      try {
        const qmp = session.qmp;
        assert.ok(qmp);
        await qmp.cont();
        // Wait until SeaBIOS has assigned the PCI BARs (the VGA framebuffer appears).
        let regions = (await session.physicalMemoryMap()) ?? [];
        for (let i = 0; i < 200 && !regions.some((r) => r.name === 'vga.vram'); i++) {
          await new Promise((r) => setTimeout(r, 50));
          regions = (await session.physicalMemoryMap()) ?? [];
        }
        const summary = (await qmp.execute('query-memory-size-summary')) as { 'base-memory': number };
        const base = summary['base-memory'];
        assert.strictEqual(base, c.mib * MIB);
        const ramName = regions.find((r) => r.base === 0)?.name;
        const pieces = regions.filter((r) => r.name === ramName && r.kind !== 'device').map((r) => [r.offset, r.offset + r.size]).sort((a, b) => a[0] - b[0]);
        pieces.push([0xa0000, 0xc0000]);
        pieces.sort((a, b) => a[0] - b[0]);
        let end = 0;
        for (const [s, e] of pieces) {
          assert.strictEqual(s, end, `RAM offsets are contiguous at 0x${end.toString(16)}`);
          end = e;
        }
        assert.strictEqual(end, base);
        assert.strictEqual(regions.some((r) => r.kind === 'ram' && r.base >= 0x100000000), c.mib > 3072);
        assert.ok(regions.some((r) => r.kind === 'device' && r.base === 0xfee00000), 'the LAPIC window is a device');
        assert.ok(regions.some((r) => r.kind === 'device' && r.base === 0xa0000), 'the VGA window is a device');
      } finally {
        await session.detach();
        await qemu.shutdown();
      }
    });
  }
});
