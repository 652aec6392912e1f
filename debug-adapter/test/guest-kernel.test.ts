// Which kernels the launchers give a swap disk: our guest (it exports mm_debug_info and
// swap_slots), and nothing else (a foreign test kernel, a file that is not an ELF).

import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { GUEST_SWAP_DISK_MIB, guestSwapDiskMiB } from '../src/session/guest-kernel';
import { GUEST_KERNEL, requireGuestKernel } from '../../qemu-bridge/test/fixtures/guest-kernel';
import { buildTestImage } from '../../qemu-bridge/test/fixtures/test-image';

describe('guest swap disk choice', function () {
  it('gives our guest kernel its swap disk', function () {
    requireGuestKernel(GUEST_KERNEL);
    assert.strictEqual(guestSwapDiskMiB(GUEST_KERNEL), GUEST_SWAP_DISK_MIB);
  });

  it('gives a foreign kernel and a non-ELF file none', function () {
    assert.strictEqual(guestSwapDiskMiB(buildTestImage().path), 0);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mmscope-'));
    try {
      fs.writeFileSync(path.join(dir, 'x'), 'not an ELF');
      assert.strictEqual(guestSwapDiskMiB(path.join(dir, 'x')), 0);
      assert.strictEqual(guestSwapDiskMiB(path.join(dir, 'missing')), 0);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
