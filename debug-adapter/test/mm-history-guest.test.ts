// The history on the real guest (issue 16): the demo runs with its event ring; it is stopped 20
// times (each at mm_event_hook, where the memory-manager call that recorded the event is
// complete), the ring is drained while it runs and at each stop, and the reconstruction at each
// stop, from the first stop's keyframe and the events only (no keyframe from a later stop), must
// equal that stop's real snapshot on every field the state claims (history-compare.ts).

import * as assert from 'assert';
import * as fs from 'fs';
import { QemuInstance, RspClient, launchQemu } from '../../qemu-bridge/src';
import { ElfFile } from '../src/symbols';
import { buildSnapshot, MmSnapshot, readDescriptor } from '../src/mm/model/snapshot';
import { snapshotSpaces, stateFromSnapshot } from '../src/mm/model/history-state';
import { MmHistory } from '../src/mm/model/history-timeline';
import { diffStates } from '../src/mm/model/history-compare';
import { siteGrowth } from '../src/mm/model/history-blame';
import { EventRecorder } from '../src/mm/plugin/event-recorder';
import { guestSwapDiskMiB } from '../src/session/guest-kernel';
import { KERNEL, descriptorPhysOf, ramFileReader } from './guest-snapshot';

const STOPS = 20;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('mm history on the guest: reconstruction equals the real snapshot at every stop', function () {
  this.timeout(600_000);
  it(`${STOPS} stops over a long demo run, from one keyframe and the drained events`, async function () {
    const descriptorPhys = descriptorPhysOf();
    const elf = new ElfFile(fs.readFileSync(KERNEL));
    const hook = elf.symbolByName('mm_event_hook');
    assert.ok(hook, 'the kernel has mm_event_hook');
    const qemu: QemuInstance = await launchQemu({ kernel: KERNEL, cmdline: 'demo', memoryMiB: 64, swapDiskMiB: guestSwapDiskMiB(KERNEL) });
    const rsp = await RspClient.connect(qemu.gdb);
    const ram = ramFileReader(qemu.ramPath as string);
    const fd = fs.openSync(qemu.ramPath as string, 'r');
    const memory = { readPhysInto: async (address: number, target: Buffer, offset = 0, length = target.length - offset): Promise<void> => { fs.readSync(fd, target, offset, length, address); } };
    try {
      const d = await readDescriptor(ram.read, descriptorPhys).catch(() => undefined);
      const stopAtHook = async (): Promise<MmSnapshot> => {
        await rsp.insertBreakpoint('software', hook.value);
        await rsp.continue();
        await rsp.waitForStop(120_000);
        await rsp.removeBreakpoint('software', hook.value);
        const regs = await rsp.readRegisters();
        return buildSnapshot({ read: ram.read, descriptorPhys, registers: { cr0: regs.value('cr0'), cr3: regs.value('cr3'), cr4: regs.value('cr4') } });
      };
      // Boot to the first heartbeat, then the first stop: the keyframe.
      await rsp.continue();
      await qemu.waitForSerial(/heartbeat 1 /, 90_000);
      rsp.sendInterrupt();
      await rsp.waitForStop(10_000);
      const first = await stopAtHook();
      const info = d ?? (await readDescriptor(ram.read, descriptorPhys));
      const word = async (virt: number): Promise<number> => (await ram.read(virt - info.kernelVbase, 4)).readUInt32LE(0);
      const recorder = EventRecorder.forGuest(memory, info, { from: await word(info.eventHeadAddr) });
      assert.ok(recorder, 'the kernel keeps an event ring');
      const history = new MmHistory(recorder.store, 256);
      history.addSnapshot(0, stateFromSnapshot(first, { pcbOffUpd: info.pcbOffUpd, frees: await word(info.freeCountAddr) }));
      let kinds = new Set<number>();
      for (let stop = 1; stop <= STOPS; stop++) {
        await rsp.continue();
        recorder.start(10);
        await sleep(400 + 100 * (stop % 5));
        await recorder.stop();
        rsp.sendInterrupt();
        await rsp.waitForStop(10_000);
        const snap = await stopAtHook();
        await recorder.drain();
        assert.strictEqual(recorder.store.lostCount, 0, 'no event lost');
        const view = history.stateAt(recorder.store.length);
        assert.ok(view);
        const truth = stateFromSnapshot(snap, { pcbOffUpd: info.pcbOffUpd, frees: await word(info.freeCountAddr) });
        const diff = diffStates(view.state, truth, 20, snapshotSpaces(snap, info.pcbOffUpd));
        assert.deepStrictEqual(diff, [], `stop ${stop} (${recorder.store.length} events since the keyframe)`);
        assert.deepStrictEqual(view.state.anomalies, [], `stop ${stop}: every event fitted the state`);
        for (let i = 0; i < recorder.store.length; i++) kinds.add(recorder.store.kindAt(i));
      }
      assert.ok(recorder.store.length > 1000, `${recorder.store.length} events recorded`);
      for (const k of [1, 2, 4, 5, 17]) assert.ok(kinds.has(k), `events of kind ${k} were recorded`);
      const known = [...(history.stateAt(recorder.store.length)?.state.chains.values() ?? [])].filter((c) => c.blocks).length;
      process.stdout.write(`      ${recorder.store.length} events, kinds ${[...kinds].sort((a, b) => a - b).join(',')}, ${known} chains with a known block list at the end\n`);
      const growth = siteGrowth(history, 0, recorder.store.length);
      assert.ok(growth.length > 0);
      kinds = new Set();
    } finally {
      fs.closeSync(fd);
      ram.close();
      rsp.close();
      qemu.kill('SIGKILL');
      await qemu.exited;
    }
  });
});
