// The memory-manager model on real guest memory: the guest runs its demo in QEMU, we stop it
// through QMP, read its RAM file, build a snapshot, and compare it with QEMU's own view
// (`info tlb` for the current address space, `info registers`) and the guest's own counters.

import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { QemuInstance, QmpClient, launchQemu, parseInfoRegisters, parseInfoTlb } from '../../qemu-bridge/src';
import { ElfFile } from '../src/symbols';
import { MmSnapshot, buildSnapshot, readDescriptor } from '../src/mm/snapshot';
import { tlbLetters } from '../src/mm/paging-entry';

const KERNEL = path.resolve(__dirname, '../../../guest/build/kernel.elf');

describe('mm snapshot of the running demo guest', function () {
  this.timeout(120_000);
  let qemu: QemuInstance | undefined;
  let qmp: QmpClient | undefined;
  let snap: MmSnapshot;
  let tlbText = '';
  let guestFree = 0;

  before(async function () {
    if (!fs.existsSync(KERNEL)) throw new Error(`build the guest first: ${KERNEL} is missing (make -C guest)`);
    const elf = new ElfFile(fs.readFileSync(KERNEL));
    const sym = elf.symbolByName('mm_debug_info');
    assert.ok(sym, 'the kernel exports mm_debug_info');
    const descriptorPhys = elf.virtualToLoad(sym.value);
    assert.ok(descriptorPhys !== undefined);
    qemu = await launchQemu({ kernel: KERNEL, cmdline: 'demo', memoryMiB: 64 });
    qmp = await QmpClient.connect(qemu.qmp);
    await qmp.cont();
    await qemu.waitForSerial(/heartbeat 3 /, 90_000);
    await qmp.stop();
    const regs = parseInfoRegisters(await qmp.humanMonitorCommand('info registers'));
    tlbText = await qmp.humanMonitorCommand('info tlb');
    const fd = fs.openSync(qemu.ramPath as string, 'r');
    const read = async (address: number, length: number): Promise<Buffer> => {
      const b = Buffer.alloc(length);
      fs.readSync(fd, b, 0, length, address);
      return b;
    };
    const d = await readDescriptor(read, descriptorPhys);
    guestFree = (await read(d.freeBlocksAddr - d.kernelVbase, 4)).readUInt32LE(0);
    snap = await buildSnapshot({ read, descriptorPhys, registers: { cr0: regs.get('cr0') ?? 0, cr3: regs.get('cr3') ?? 0, cr4: regs.get('cr4') ?? 0 } });
    fs.closeSync(fd);
  });

  after(async function () {
    qmp?.close();
    if (qemu?.alive) {
      qemu.kill();
      await qemu.exited;
    }
  });

  it('finds no inconsistency in a clean demo', function () {
    assert.deepStrictEqual(snap.findings.map((f) => f.message), []);
  });

  it('decodes the block table like the guest counts it', function () {
    assert.strictEqual(snap.blocks.free, guestFree);
    const inChains = snap.chains.reduce((n, c) => n + c.blockCount, 0);
    assert.strictEqual(snap.blocks.used, inChains);
    assert.strictEqual(snap.blocks.free + snap.blocks.used + snap.blocks.reserved + snap.blocks.corrupt, snap.geometry.blockCount);
    assert.strictEqual(snap.blocks.map.length, snap.geometry.blockCount);
    assert.ok(snap.registers.paging && snap.registers.pse);
  });

  it('lists the demo processes with exactly one current, whose KPD slice matches', function () {
    assert.deepStrictEqual(snap.processes.map((p) => p.name).sort(), ['compiler', 'editor', 'kernel', 'player', 'shell']);
    const current = snap.processes.filter((p) => p.current);
    assert.strictEqual(current.length, 1);
    assert.strictEqual(current[0].updMatchesKpd, true);
  });

  it('agrees page by page with QEMU info tlb for the current address space', function () {
    const tlb = parseInfoTlb(tlbText);
    assert.ok(tlb.length > 100, `info tlb printed ${tlb.length} pages`);
    const cur = snap.processes.find((p) => p.current);
    assert.ok(cur);
    const ours = new Map<number, { physical: number; letters: string }>();
    // Rebuild per-page entries from the runs and the raw PDEs/PTEs is not possible from runs alone;
    // compare physical addresses and the U/W permissions, which runs keep exactly.
    for (const run of [...snap.kernel.mappings, ...cur.mappings]) {
      for (let off = 0; off < run.length; off += 4096) {
        ours.set(run.virtual + off, { physical: run.physical + off, letters: `${run.user ? 'U' : '-'}${run.writable ? 'W' : '-'}` });
      }
    }
    const windowBase = 0xff800000;
    const theirs = tlb.filter((t) => t.virtual < windowBase || t.virtual >= windowBase + 0x400000);
    for (const t of theirs) {
      const o = ours.get(t.virtual);
      assert.ok(o, `QEMU maps 0x${t.virtual.toString(16)} but the snapshot does not`);
      assert.strictEqual(o.physical, t.physical, `physical of 0x${t.virtual.toString(16)}`);
      assert.strictEqual(o.letters, t.flags.slice(7), `U/W of 0x${t.virtual.toString(16)}`);
    }
    assert.strictEqual(ours.size, theirs.length, 'the snapshot maps pages QEMU does not');
    assert.strictEqual(tlbLetters(0x67, false), '---DA--UW'); // the letter decoder itself
  });

  it('finds every demo chain mapped in its own process at the slot addresses', function () {
    const workers = snap.processes.filter((p) => p.pid !== 0);
    let userChains = 0;
    for (const c of snap.chains.filter((c) => c.flags.user)) {
      userChains++;
      assert.strictEqual(c.mappedAt.length, 1, `chain ${c.id} is mapped once`);
      const m = c.mappedAt[0];
      assert.ok(typeof m.space === 'number' && workers.some((p) => p.pid === m.space), `chain ${c.id} lives in a worker`);
      assert.strictEqual((m.virtual - 0x400000) % 0x100000, 0, `chain ${c.id} at a slot address`);
      assert.strictEqual(m.length, c.sizeBytes);
      assert.strictEqual(m.firstPage, 0);
    }
    assert.ok(userChains > 0, 'the demo has user chains');
    const heap = snap.chains.filter((c) => c.owner.kind === 'heap');
    assert.ok(heap.length > 0 && heap.every((c) => c.mappedAt.some((m) => m.space === 'kernel' && m.virtual >= 0xd0000000)));
  });
});
