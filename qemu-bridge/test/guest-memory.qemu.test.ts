// GuestMemory against a real QEMU running the test image: every tier matches pmemsave, virtual
// reads match QEMU's own translation (info tlb) for 4 KiB and 4 MiB pages, in the current and in
// another address space, CR4.PSE is honoured, unmapped pages give a typed error, and the per-stop
// cache is dropped on resume.

import * as assert from 'assert';
import * as fs from 'fs';
import {
  GdbstubTier,
  GuestMemory,
  PageNotPresentError,
  parseInfoTlb,
  QemuInstance,
  QemuSession,
  QmpClient,
  QmpTier,
  RamFileTier,
  TlbEntry,
  GuestRunningError,
} from '../src';
import { expectedFill, IMAGE } from './fixtures/test-image';
import { startReadyImage } from './fixtures/qemu-fixture';

async function pmemsave(qmp: QmpClient, qemu: QemuInstance, address: number, length: number): Promise<Buffer> {
  const file = `${qemu.ramPath}.oracle`;
  await qmp.pmemsave(address, length, file);
  try {
    return fs.readFileSync(file);
  } finally {
    fs.rmSync(file, { force: true });
  }
}

describe('GuestMemory against QEMU (test image)', function () {
  this.timeout(60000);
  let qemu: QemuInstance;
  let oracle: QmpClient;
  let session: QemuSession;

  before(async () => {
    const started = await startReadyImage();
    qemu = started.qemu;
    started.qmp.close(); // QEMU serves one QMP client per socket: the session's doubles as the oracle
    session = await QemuSession.attachTo(qemu);
    oracle = session.qmp as QmpClient;
  });
  after(async () => {
    await session?.detach();
    await qemu?.shutdown();
  });

  it('every tier reads what pmemsave saves: 4 KiB, 64 KiB, 1 MiB, unaligned', async () => {
    const ram = new RamFileTier(qemu.ramPath as string);
    const qmpTier = new QmpTier(oracle);
    const tiers = [new GuestMemory([ram]), new GuestMemory([new GdbstubTier(session.rsp as NonNullable<QemuSession['rsp']>)]), new GuestMemory([qmpTier])];
    for (const [address, length] of [[0x100000, 4096], [0x00400000, 65536], [0x00a00000, 1 << 20], [0x00400ffd, 5000]]) {
      const expected = await pmemsave(oracle, qemu, address, length);
      for (const m of tiers) assert.ok((await m.readPhys(address, length)).equals(expected), `${m.tiers[0].name} at ${address.toString(16)}+${length}`);
    }
    ram.close();
    qmpTier.close();
  });

  it('the session reads through the RAM file first, and the VGA window through the gdbstub', async () => {
    const before = { ...session.memory.served };
    await session.memory.readPhys(0x9f000, 0x22000);
    const served = session.memory.served;
    assert.strictEqual(served['ram-file'] - before['ram-file'], 0x1000 + 0x1000);
    assert.strictEqual(served.gdbstub + served.cache - before.gdbstub - before.cache, 0x20000);
    const expected = await pmemsave(oracle, qemu, 0x9f000, 0x22000);
    assert.ok((await session.memory.readPhys(0x9f000, 0x22000)).equals(expected));
  });

  async function checkAgainstTlb(cr3: number): Promise<TlbEntry[]> {
    const tlb = parseInfoTlb(await oracle.humanMonitorCommand('info tlb'));
    assert.ok(tlb.length > 1000);
    for (const e of tlb) {
      const size = e.large ? 4 << 20 : 4096;
      const runs = await session.memory.translate(e.virtual, size, cr3);
      assert.deepStrictEqual(runs, [{ virtual: e.virtual, physical: e.physical, length: size }], `page ${e.virtual.toString(16)}`);
    }
    return tlb;
  }

  it('translations match info tlb for every present page of the current address space', async () => {
    const cr3 = await session.cr3();
    assert.strictEqual(cr3, IMAGE.directoryA);
    const tlb = await checkAgainstTlb(cr3);
    assert.ok(tlb.some((e) => e.large && e.virtual === 0xc0000000 && e.physical === 0x00400000));
    assert.ok(tlb.some((e) => !e.large && e.virtual === 0xc0400000));
  });

  it('virtual reads return the bytes at the translated physical addresses (4 KiB and 4 MiB pages, crossing pages)', async () => {
    const cr3 = IMAGE.directoryA;
    const v = 0xc0400ff0; // crosses from page 0 (phys 0x803000) to page 1 (phys 0x808000)
    const data = await session.memory.readVirt(v, 0x30, cr3);
    assert.ok(data.equals(Buffer.concat([expectedFill(0x00803ff0, 0x10), expectedFill(0x00808000, 0x20)])));
    const big = await session.memory.readVirt(0xc0000000, 4 << 20, cr3);
    assert.ok(big.equals(expectedFill(0x00400000, 4 << 20)));
  });

  it('reads another address space (page directory B) without loading it, and agrees with info tlb once loaded', async () => {
    const rsp = session.rsp as NonNullable<QemuSession['rsp']>;
    const viaB = await session.memory.readVirt(0xc0000000, 16 * 4096, IMAGE.directoryB);
    const expected = Buffer.concat(Array.from({ length: 16 }, (_, i) => expectedFill(0x00c00000 + (15 - i) * 4096, 4096)));
    assert.ok(viaB.equals(expected));
    assert.ok((await session.memory.readVirt(0xc0400000, 4096, IMAGE.directoryB)).equals(expectedFill(0x01000000, 4096)));
    await rsp.writeRegister('cr3', IMAGE.directoryB);
    try {
      const tlb = await checkAgainstTlb(IMAGE.directoryB);
      assert.ok(tlb.some((e) => e.virtual === 0xc0000000 && e.physical === 0x00c0f000 && e.flags.includes('U')));
    } finally {
      await rsp.writeRegister('cr3', IMAGE.directoryA);
    }
  });

  it('honours CR4.PSE: with PSE clear the 4 MiB entries are walked as page tables, like QEMU does', async () => {
    const rsp = session.rsp as NonNullable<QemuSession['rsp']>;
    const cr4 = Number(await rsp.readRegister('cr4'));
    await rsp.writeRegister('cr4', cr4 & ~0x10);
    try {
      const tlb = parseInfoTlb(await oracle.humanMonitorCommand('info tlb'));
      assert.ok(!tlb.some((e) => e.large));
      // Our walk with PSE off (read from the session's cr4) must agree with QEMU's for 0xC0000000.
      const ours = await session.memory
        .translate(0xc0000000, 4096, IMAGE.directoryA, { pse: false })
        .then((r) => r[0].physical)
        .catch((e: unknown) => (e instanceof PageNotPresentError ? -1 : Promise.reject(e)));
      const theirs = tlb.find((e) => e.virtual === 0xc0000000)?.physical ?? -1;
      assert.strictEqual(ours, theirs);
      assert.notStrictEqual(ours, 0x00400000);
    } finally {
      await rsp.writeRegister('cr4', cr4);
    }
  });

  it('unmapped addresses give PageNotPresentError naming the address and level', async () => {
    await assert.rejects(session.memory.readVirt(0xc0410000, 4, IMAGE.directoryA), (e: unknown) => {
      assert.ok(e instanceof PageNotPresentError);
      assert.strictEqual(e.level, 'table');
      assert.strictEqual(e.entryAddress, IMAGE.tableA1 + 16 * 4);
      assert.match(e.message, /0xc0410000/);
      return true;
    });
    await assert.rejects(session.memory.readVirt(0x80000000, 4, IMAGE.directoryA), (e: unknown) => e instanceof PageNotPresentError && e.level === 'directory');
    await assert.rejects(session.memory.readVirt(IMAGE.unmappedIdentityPage, 4, IMAGE.directoryA), (e: unknown) => e instanceof PageNotPresentError && e.virtualAddress === IMAGE.unmappedIdentityPage);
  });

  it('caches gdbstub reads per stop and drops the cache on resume', async () => {
    const rsp = session.rsp as NonNullable<QemuSession['rsp']>;
    const memory = new GuestMemory([new GdbstubTier(rsp)]);
    rsp.connection.onStop(() => memory.setRunning(false));
    rsp.connection.onResume(() => memory.setRunning(true));
    const address = 0x00700000;
    const first = await memory.readPhys(address, 16);
    assert.ok(memory.cachedPages > 0);
    // Change the memory behind the cache's back, through the RAM file.
    const ram = new RamFileTier(qemu.ramPath as string, true);
    await ram.write(address, Buffer.from('cache-check-1234'));
    assert.ok((await memory.readPhys(address, 16)).equals(first), 'served from the cache while stopped');
    await rsp.continue();
    assert.strictEqual(memory.cachedPages, 0);
    await assert.rejects(memory.readPhys(address, 16), GuestRunningError);
    await rsp.interrupt(10000);
    assert.strictEqual((await memory.readPhys(address, 16)).toString(), 'cache-check-1234');
    await ram.write(address, expectedFill(address, 16));
    ram.close();
  });

  it('writes only on request, through the gdbstub, and QEMU sees them', async () => {
    const address = 0x00710000;
    await session.memory.writePhys(address, Buffer.from('hello'));
    assert.strictEqual((await pmemsave(oracle, qemu, address, 5)).toString(), 'hello');
    // 0xC0310000 lies in the 4 MiB page at 0xC0000000 -> 0x00400000 (directory A).
    await session.memory.writeVirt(0xc0000000 + 0x310000, Buffer.from('virt!'), IMAGE.directoryA);
    assert.strictEqual((await pmemsave(oracle, qemu, address, 5)).toString(), 'virt!');
    assert.strictEqual((await session.memory.readPhys(address, 5)).toString(), 'virt!', 'our reads see our write');
    await session.memory.writePhys(address, expectedFill(address, 8));
  });

  it('while the guest runs, the RAM file still serves live memory', async () => {
    const rsp = session.rsp as NonNullable<QemuSession['rsp']>;
    const counter = (await import('./fixtures/test-image')).buildTestImage().symbol('counter');
    await rsp.continue();
    const a = (await session.memory.readPhys(counter, 4)).readUInt32LE(0);
    await new Promise((r) => setTimeout(r, 50));
    const b = (await session.memory.readPhys(counter, 4)).readUInt32LE(0);
    await rsp.interrupt(10000);
    assert.notStrictEqual(a, b);
  });
});
