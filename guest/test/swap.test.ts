// Swapping at the level of whole boots: every runGuest boot gets a fresh sparse swap disk
// that is gone afterwards, and a guest booted without one has swapping off and still fails
// allocations cleanly with NOMEM (guest test swap.nodisk_nomem, swapdisk=none).

import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import { runGuest, SWAP_DISK_MIB } from './qemu-run';

function swapDirs(): string[] {
  return fs.readdirSync(os.tmpdir()).filter((n) => n.startsWith('mmscope-swap-'));
}

describe('guest swap disk', function () {
  this.timeout(120_000);

  it('attaches a swap disk to every boot and deletes it when QEMU ends', async function () {
    const before = new Set(swapDirs());
    let during: string[] = [];
    const result = await runGuest({
      cmdline: 'selftest only=swap.out_and_back', memoryMiB: 32, timeLimitMs: 60_000,
      onLine: (line) => {
        if (line.startsWith('swap: ')) during = swapDirs().filter((d) => !before.has(d));
      },
    });
    assert.strictEqual(result.exitCode, 33, result.lines.join('\n'));
    const slots = (SWAP_DISK_MIB * 1024) / 16;
    assert.ok(result.lines.includes(`swap: ${slots} slots (${SWAP_DISK_MIB} MiB) on ata0`), result.lines.join('\n'));
    assert.ok(result.lines.includes('test swap.out_and_back ... ok'), result.lines.join('\n'));
    assert.strictEqual(during.length, 1, 'one swap disk directory while QEMU ran');
    assert.deepStrictEqual(swapDirs().filter((d) => !before.has(d)), [], 'the swap disk is deleted');
  });

  it('boots without a disk: swapping is off and allocation fails with NOMEM', async function () {
    const result = await runGuest({
      cmdline: 'selftest only=swap.nodisk_nomem swapdisk=none', memoryMiB: 32, timeLimitMs: 60_000, swapDisk: false,
    });
    assert.strictEqual(result.exitCode, 33, result.lines.join('\n'));
    assert.ok(result.lines.some((l) => l.startsWith('swap: no disk')), result.lines.join('\n'));
    assert.ok(result.lines.includes('test swap.nodisk_nomem ... ok'), result.lines.join('\n'));
  });

  it('the disk tests fail without a disk (they can fail)', async function () {
    const result = await runGuest({
      cmdline: 'selftest only=swap.page_clean', memoryMiB: 32, timeLimitMs: 60_000, swapDisk: false,
    });
    assert.notStrictEqual(result.exitCode, 33);
    assert.ok(result.lines.some((l) => l.startsWith('test swap.page_clean ... FAIL: ') && l.includes('no swap disk')), result.lines.join('\n'));
  });
});
