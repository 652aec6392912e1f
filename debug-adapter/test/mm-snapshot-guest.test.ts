// The memory-manager model on real guest memory: the guest runs its demo in QEMU, we stop it
// through QMP, read its RAM file, build a snapshot, and compare it with QEMU's own view
// (`info tlb` for the current address space) and the guest's own counters.

import * as assert from 'assert';
import { parseInfoTlb } from '../../qemu-bridge/src';
import { MmSnapshot } from '../src/mm/model/snapshot';
import { tlbLetters } from '../src/mm/model/paging-entry';
import { StoppedGuest, bootAndStop } from './guest-snapshot';

/** The DOS programs the demo runs as V86 tasks (guest/demo/dos_demo.c). */
const DOS_TASKS = ['dosdemo', 'dpmitest'];

describe('mm snapshot of the running demo guest', function () {
  this.timeout(120_000);
  let guest: StoppedGuest | undefined;
  let snap: MmSnapshot;
  let tlbText = '';
  let guestFree = 0;

  before(async function () {
    guest = await bootAndStop('demo', /heartbeat 3 /);
    tlbText = await guest.qmp.humanMonitorCommand('info tlb');
    const d = guest.descriptor;
    guestFree = (await guest.read(d.freeBlocksAddr - d.kernelVbase, 4)).readUInt32LE(0);
    snap = await guest.snapshot();
  });

  after(async function () {
    await guest?.close();
  });

  it('finds no inconsistency in a clean demo', function () {
    assert.deepStrictEqual(snap.findings.map((f) => f.message), []);
  });

  it('decodes the block table like the guest counts it', function () {
    assert.strictEqual(snap.blocks.free, guestFree);
    const inChains = snap.chains.reduce((n, c) => n + c.blockCount - c.swapped.length, 0);   // resident blocks
    assert.strictEqual(snap.blocks.used, inChains);
    assert.strictEqual(snap.blocks.free + snap.blocks.used + snap.blocks.reserved + snap.blocks.corrupt, snap.geometry.blockCount);
    assert.strictEqual(snap.blocks.map.length, snap.geometry.blockCount);
    assert.ok(snap.registers.paging && snap.registers.pse);
  });

  it('lists the demo processes with exactly one current, whose KPD slice matches', function () {
    // Kernel threads (the DOS tasks' 'dosmgr' among them), the ring-3 'ualloc' processes of
    // guest/demo/user_demo.c (three, one fewer while the supervisor is between reaping a killed
    // one and starting its replacement), and the DOS tasks of guest/demo/dos_demo.c ('dosmgr'
    // runs one at a time, so at most one is alive when the guest stops): each by its mode.
    const ofMode = (...modes: string[]): MmSnapshot['processes'] => snap.processes.filter((p) => modes.includes(p.mode));
    assert.deepStrictEqual(ofMode('kernel').map((p) => p.name).sort(), ['compiler', 'dosmgr', 'editor', 'kernel', 'player', 'shell', 'swapper', 'userdemo']);
    const ring3 = ofMode('user');
    assert.ok(ring3.length >= 2 && ring3.length <= 3 && ring3.every((p) => p.name === 'ualloc'), `ring-3 processes: ${ring3.map((p) => p.name)}`);
    const dos = ofMode('v86', 'dpmi');
    assert.ok(dos.length <= 1 && dos.every((p) => DOS_TASKS.includes(p.name)), `DOS tasks: ${dos.map((p) => p.name)}`);
    assert.strictEqual(ofMode('kernel').length + ring3.length + dos.length, snap.processes.length, 'every process has a known mode');
    const current = snap.processes.filter((p) => p.current);
    assert.strictEqual(current.length, 1);
    assert.strictEqual(current[0].updMatchesKpd, true);
  });

  it('decodes every process\'s mode, each DOS task, the DOS arena\'s MCB chain and swap in use', function () {
    assert.deepStrictEqual(snap.processes.filter((p) => p.mode === 'unknown').map((p) => p.name), []);
    assert.strictEqual(snap.processes.find((p) => p.pid === 0)?.mode, 'kernel');
    const dos = snap.dos;
    assert.ok(dos, 'the arena was read');
    assert.strictEqual(dos.broken, undefined);
    assert.strictEqual(dos.blocks.reduce((n, b) => n + 1 + b.paragraphs, 0), dos.endSeg - dos.firstMcbSeg, 'the blocks and their MCBs tile the arena');
    assert.strictEqual(dos.blocks[dos.blocks.length - 1].type, 'Z');
    const live = new Set(snap.chains.map((c) => c.id));
    for (const p of snap.processes.filter((x) => x.mode === 'v86' || x.mode === 'dpmi')) {
      assert.ok(p.v86, `DOS task ${p.pid} has its v86 record`);
      assert.ok(p.state === 'zombie' || live.has(p.v86.lowChain), `DOS task ${p.pid}'s low chain ${p.v86.lowChain} is live`);
      assert.strictEqual(p.v86.mcbOwner, p.pid + 1);
    }
    const swap = snap.swap;
    assert.ok(swap);
    assert.ok(swap.used <= swap.slotCount);
    for (const p of snap.processes) for (const s of p.swappedPages) assert.ok(s.slot < swap.slotCount, `pid ${p.pid} ${s.virtual.toString(16)}: slot ${s.slot} of ${swap.slotCount}`);
  });

  it('agrees page by page with QEMU info tlb for the current address space', function () {
    const tlb = parseInfoTlb(tlbText);
    assert.ok(tlb.length > 100, `info tlb printed ${tlb.length} pages`);
    const cur = snap.processes.find((p) => p.current);
    assert.ok(cur);
    // Runs keep physical addresses and the U/W permissions exactly; compare those per page.
    const ours = new Map<number, { physical: number; letters: string }>();
    for (const run of [...snap.kernel.mappings, ...cur.mappings]) {
      for (let off = 0; off < run.length; off += 4096) {
        ours.set(run.virtual + off, { physical: run.physical + off, letters: `${run.user ? 'U' : '-'}${run.writable ? 'W' : '-'}` });
      }
    }
    const theirs = tlb;
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
    const dosPids = new Set<number | string>(snap.processes.filter((p) => DOS_TASKS.includes(p.name)).map((p) => p.pid));
    let userChains = 0, ring3Chains = 0;
    for (const c of snap.chains.filter((c) => c.flags.user)) {
      if (c.mappedAt.some((m) => dosPids.has(m.space))) {
        // A DOS task's low chain (owner 'process') at linear 0, or a DPMI block of its client
        // at 128 MiB and up: mapped only in that task's space.
        assert.ok(c.mappedAt.every((m) => dosPids.has(m.space)), `chain ${c.id} only in its DOS task`);
        assert.ok(['process', 'dpmi'].includes(c.owner.kind), `chain ${c.id} is a low chain or a DPMI block`);
        continue;
      }
      if (c.owner.kind === 'process') {
        // A ring-3 process's image, stack or system-call chain: mapped only in its owner's
        // space (owner handle = pid), below 256 MiB.
        ring3Chains++;
        for (const m of c.mappedAt) {
          assert.strictEqual(m.space, c.owner.handle, `chain ${c.id} is mapped in its owner's space`);
          assert.ok(m.virtual + m.length <= 0x10000000, `chain ${c.id} below 256 MiB`);
        }
        continue;
      }
      userChains++;
      assert.strictEqual(c.mappedAt.length, 1, `chain ${c.id} is mapped once`);
      const m = c.mappedAt[0];
      assert.ok(typeof m.space === 'number' && workers.some((p) => p.pid === m.space), `chain ${c.id} lives in a worker`);
      assert.strictEqual((m.virtual - 0x400000) % 0x100000, 0, `chain ${c.id} at a slot address`);
      assert.strictEqual(m.length, c.sizeBytes);
      assert.strictEqual(m.firstPage, 0);
    }
    assert.ok(userChains > 0, 'the demo has user chains');
    assert.ok(ring3Chains >= 4, `the ring-3 processes hold ${ring3Chains} chains (each an image and a stack)`);
    const heap = snap.chains.filter((c) => c.owner.kind === 'heap');
    assert.ok(heap.length > 0 && heap.every((c) => c.mappedAt.some((m) => m.space === 'kernel' && m.virtual >= 0xd0000000)));
  });
});
