// "When did it break?" on the real guest (issue 16), for each injection kind that arises through
// memory-manager calls (guest/kernel/inject.c): the demo is stopped before the injection (the
// keyframe), the ring is drained up to a stop after it, and for the finding the stop's snapshot
// shows, the history must name the memory-manager call that broke it, at its site in inject.c.

import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { RspClient, launchQemu } from '../../qemu-bridge/src';
import { DebugSymbols, ElfFile } from '../src/symbols';
import { buildSnapshot, readDescriptor } from '../src/mm/model/snapshot';
import { stateFromSnapshot } from '../src/mm/model/history-state';
import { MmHistory } from '../src/mm/model/history-timeline';
import { whenDidItBreak } from '../src/mm/model/history-when';
import { makeSiteResolver } from '../src/mm/model/site-resolver';
import { MmEventKind } from '../src/mm/model/mm-history-event';
import { EventRecorder } from '../src/mm/plugin/event-recorder';
import { guestSwapDiskMiB } from '../src/session/guest-kernel';
import { KERNEL, descriptorPhysOf, ramFileReader } from './guest-snapshot';

/** Injection kind → the finding it produces and the kind of the event that breaks it, with the function in inject.c that calls it. */
const CASES = [
  { inject: 'leaked-chain', event: MmEventKind.allocated, fn: 'leaked_chain' },
  { inject: 'handle-to-freed-chain', event: MmEventKind.freed, fn: 'handle_to_freed_chain' },
] as const;

describe('mm history on the guest: when did it break?', function () {
  this.timeout(300_000);
  for (const c of CASES) {
    it(`finds the call that made the ${c.inject} of inject=${c.inject}`, async function () {
      const descriptorPhys = descriptorPhysOf();
      const resolve = makeSiteResolver(new DebugSymbols(fs.readFileSync(KERNEL)));
      const qemu = await launchQemu({ kernel: KERNEL, cmdline: `demo inject=${c.inject}`, memoryMiB: 32, swapDiskMiB: guestSwapDiskMiB(KERNEL) });
      const rsp = await RspClient.connect(qemu.gdb);
      const ram = ramFileReader(qemu.ramPath as string);
      const fd = fs.openSync(qemu.ramPath as string, 'r');
      const memory = { readPhysInto: async (address: number, target: Buffer, offset = 0, length = target.length - offset): Promise<void> => { fs.readSync(fd, target, offset, length, address); } };
      try {
        const hook = new ElfFile(fs.readFileSync(KERNEL)).symbolByName('mm_event_hook');
        assert.ok(hook);
        await rsp.continue();
        await qemu.waitForSerial(/heartbeat 1 t=\d+ms procs=/, 90_000);
        rsp.sendInterrupt();
        await rsp.waitForStop(10_000);
        const snapAt = async (): Promise<ReturnType<typeof buildSnapshot>> => {
          const regs = await rsp.readRegisters();
          return buildSnapshot({ read: ram.read, descriptorPhys, registers: { cr0: regs.value('cr0'), cr3: regs.value('cr3'), cr4: regs.value('cr4') } });
        };
        const info = await readDescriptor(ram.read, descriptorPhys);
        const word = async (virt: number): Promise<number> => (await ram.read(virt - info.kernelVbase, 4)).readUInt32LE(0);
        // The keyframe: at mm_event_hook, where the call that recorded the last event is complete.
        await rsp.insertBreakpoint('software', hook.value);
        await rsp.continue();
        await rsp.waitForStop(60_000);
        await rsp.removeBreakpoint('software', hook.value);
        const first = await snapAt();
        const recorder = EventRecorder.forGuest(memory, info, { from: await word(info.eventHeadAddr) });
        assert.ok(recorder);
        const history = new MmHistory(recorder.store, 256);
        history.addSnapshot(0, stateFromSnapshot(first, { pcbOffUpd: info.pcbOffUpd }));
        await rsp.continue();
        recorder.start(10);
        await qemu.waitForSerial(/heartbeat 1 t=\d+ms injected=/, 90_000);
        await recorder.stop();
        rsp.sendInterrupt();
        await rsp.waitForStop(10_000); // after the injection the world is idle: no memory-manager call runs
        await recorder.drain();
        assert.strictEqual(recorder.store.lostCount, 0);
        const snap = await snapAt();
        const findings = snap.findings.filter((f) => f.kind === c.inject);
        assert.ok(findings.length > 0, `the stop shows a ${c.inject}`);
        const answers = findings.map((f) => whenDidItBreak(history, f, recorder.store.length, resolve));
        const hit = answers.find((a) => a.covered && a.event?.kind === c.event && a.site?.function === c.fn);
        assert.ok(hit && hit.covered, `an answer at ${c.fn}: ${JSON.stringify(answers, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v))}`);
        assert.strictEqual(path.basename(hit.site?.file ?? ''), 'inject.c');
        assert.strictEqual(hit.beforeRecording, false);
      } finally {
        fs.closeSync(fd);
        ram.close();
        rsp.close();
        qemu.kill('SIGKILL');
        await qemu.exited;
      }
    });
  }
});
