// DAP lifecycle tests against real QEMU: restart through QMP re-arms breakpoints and agrees with
// gdb on the boot-time backtrace, attach/disconnect leaves a user's QEMU running, and the errors a
// user can meet (missing kernel, not an ELF, no debug info, QEMU missing, QEMU dying) each end
// the session with one clear sentence and no QEMU left behind.

import * as assert from 'assert';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { DebugClient } from '@vscode/debugadapter-testsupport';
import { DebugProtocol } from '@vscode/debugprotocol';
import { launchQemu, QemuInstance, QmpClient } from '../../qemu-bridge/src';
import {
  assertSameFrames, CHAIN_C, requireGuest, KERNEL, killQemu, launchAndStop, launchArgs, parseBacktrace, processesWith,
  qemuMarker, resumeAndStop, runGdb, shownStack, startClient, waitNoQemu,
  stopClient,
} from './dap-fixture';
import { markerLine } from './source-markers';

/** MmFreeChain's call of mm_unmap_all: the line with the marker @dap:free-chain-unmap. */
const freeLine = (): number => markerLine(CHAIN_C, 'free-chain-unmap');

/** Collects output events of a category. */
function collectOutput(dc: DebugClient): string[] {
  const out: string[] = [];
  dc.on('output', (e: DebugProtocol.Event) => out.push((e as DebugProtocol.OutputEvent).body.output));
  return out;
}

/** Launch that is expected to fail: resolves with the error message and whether `terminated` came. */
async function failingLaunch(dc: DebugClient, args: Record<string, unknown>): Promise<{ message: string; terminated: boolean }> {
  let terminated = false;
  dc.on('terminated', () => (terminated = true));
  await dc.initializeRequest();
  const message = await dc.launch(args as DebugProtocol.LaunchRequestArguments).then(() => 'launch succeeded', (e: Error) => e.message);
  await new Promise((r) => setTimeout(r, 200));
  return { message, terminated };
}

describe('DAP: lifecycle and bad input (real QEMU)', function () {
  this.timeout(180000);
  const clients: DebugClient[] = [];
  const markers: string[] = [];
  const client = async (): Promise<DebugClient> => {
    const dc = await startClient();
    clients.push(dc);
    return dc;
  };
  const marker = (): string => {
    const m = qemuMarker();
    markers.push(m);
    return m;
  };

  before(function () {
    requireGuest();
  });

  afterEach(async () => {
    for (const dc of clients.splice(0)) await stopClient(dc);
    for (const m of markers.splice(0)) killQemu(m);
  });

  it('restarts the guest through QMP, hits the same boot-time breakpoint again, and agrees with gdb on its backtrace', async () => {
    const dc = await client();
    const m = marker();
    let address = '';
    await launchAndStop(dc, { marker: m }, async () => {
      const r = await dc.setFunctionBreakpointsRequest({ breakpoints: [{ name: 'mm_map_pages' }] });
      address = r.body.breakpoints[0].instructionReference as string;
    });
    const first = (await shownStack(dc)).frames;
    assert.strictEqual(first[0].name, 'mm_map_pages');
    // Run on a little so the restart really has something to undo.
    await resumeAndStop(dc, dc.continueRequest({ threadId: 1 }));
    const restarted = dc.waitForEvent('stopped') as Promise<DebugProtocol.StoppedEvent>;
    await dc.customRequest('restart', {});
    assert.strictEqual((await restarted).body.reason, 'breakpoint');
    const again = (await shownStack(dc)).frames;
    assert.deepStrictEqual(again, first);
    assert.deepStrictEqual(processesWith(m).length, 1, 'restart must reuse the same QEMU');

    let qemu: QemuInstance | undefined;
    try {
      qemu = await launchQemu({ kernel: KERNEL, cmdline: 'demo' });
      const out = await runGdb(['-batch', '-nx', '-ex', 'set pagination off', '-ex', `file ${KERNEL}`, '-ex', `target remote 127.0.0.1:${qemu.gdb.port}`,
        '-ex', `break *${address}`, '-ex', 'continue', '-ex', 'echo @@\\n', '-ex', 'bt', '-ex', 'kill']);
      assertSameFrames(again, parseBacktrace(out.split('@@\n')[1] ?? ''), 'backtrace at mm_map_pages after restart');
    } finally {
      await qemu?.shutdown(1000);
    }
    await dc.disconnectRequest({});
    assert.deepStrictEqual(await waitNoQemu(m), []);
  });

  it('attaches to a running QEMU, debugs it, and leaves it running on disconnect', async () => {
    const qemu = await launchQemu({ kernel: KERNEL, cmdline: 'demo' });
    try {
      let qmp = await QmpClient.connect(qemu.qmp);
      await qmp.cont();
      qmp.close();
      await qemu.waitForSerial('heartbeat', 30000);
      const dc = await client();
      const output = collectOutput(dc);
      const stopped = dc.waitForEvent('stopped') as Promise<DebugProtocol.StoppedEvent>;
      stopped.catch(() => undefined);
      await Promise.all([
        dc.initializeRequest(),
        dc.waitForEvent('initialized').then(async () => {
          await dc.setBreakpointsRequest({ source: { path: CHAIN_C }, breakpoints: [{ line: freeLine() }] });
          await dc.configurationDoneRequest();
        }),
        dc.attachRequest({ gdb: `127.0.0.1:${qemu.gdb.port}`, qmp: `127.0.0.1:${qemu.qmp.port}`, kernel: KERNEL } as DebugProtocol.AttachRequestArguments),
      ]);
      assert.strictEqual((await stopped.catch((e: Error) => assert.fail(`${e.message}; adapter said: ${output.join('')}`))).body.reason, 'pause');
      const hit = await resumeAndStop(dc, dc.continueRequest({ threadId: 1 }));
      assert.strictEqual(hit.body.reason, 'breakpoint');
      assert.deepStrictEqual((await shownStack(dc)).frames[0], { name: 'MmFreeChain', file: 'chain.c', line: freeLine() });
      await dc.disconnectRequest({});
      assert.ok(qemu.alive, 'disconnect killed an attached QEMU');
      qmp = await QmpClient.connect(qemu.qmp);
      const status = await qmp.queryStatus();
      qmp.close();
      assert.strictEqual(status.running, true, `QEMU is ${status.status} after disconnect`);
      // The breakpoint is gone: the guest keeps printing heartbeats.
      const seen = qemu.serialText.length;
      await qemu.waitForSerial(new RegExp(`[\\s\\S]{${seen}}[\\s\\S]*heartbeat`), 30000);
    } finally {
      await qemu.shutdown(1000);
    }
  });

  it('says the kernel does not exist and ends', async () => {
    const dc = await client();
    const r = await failingLaunch(dc, launchArgs({ marker: marker(), kernel: '/nonexistent/kernel.elf' }));
    assert.strictEqual(r.message, 'The kernel file /nonexistent/kernel.elf does not exist; build it first, or set "kernel" in launch.json to your kernel\'s ELF file.');
    assert.strictEqual(r.terminated, true);
  });

  it('says a file that is not an ELF cannot be debugged and ends', async () => {
    const dc = await client();
    const file = path.join(os.tmpdir(), `mmscope-not-elf-${process.pid}.bin`);
    fs.writeFileSync(file, 'this is not a kernel\n');
    try {
      const r = await failingLaunch(dc, launchArgs({ marker: marker(), kernel: file }));
      assert.match(r.message, /cannot be read as an ELF32 i386 image/);
      assert.strictEqual(r.terminated, true);
    } finally {
      fs.rmSync(file, { force: true });
    }
  });

  it('says QEMU is not installed and ends without starting anything', async () => {
    const dc = await client();
    const m = marker();
    const r = await failingLaunch(dc, launchArgs({ marker: m, qemuPath: '/nonexistent/bin/qemu-system-i386' }));
    assert.match(r.message, /was not found; install it with "apt-get install/);
    assert.strictEqual(r.terminated, true);
    assert.deepStrictEqual(processesWith(m), []);
  });

  it('debugs a kernel without debug info at symbol level, with a warning', async () => {
    const stripped = path.join(os.tmpdir(), `mmscope-stripped-${process.pid}.elf`);
    execFileSync('objcopy', ['--strip-debug', KERNEL, stripped]);
    try {
      const dc = await client();
      const output = collectOutput(dc);
      const m = marker();
      let verified = false;
      const stop = await launchAndStop(dc, { marker: m, kernel: stripped }, async () => {
        const src = await dc.setBreakpointsRequest({ source: { path: CHAIN_C }, breakpoints: [{ line: freeLine() }] });
        assert.strictEqual(src.body.breakpoints[0].verified, false);
        const r = await dc.setFunctionBreakpointsRequest({ breakpoints: [{ name: 'MmFreeChain' }] });
        verified = r.body.breakpoints[0].verified;
      });
      assert.strictEqual(verified, true);
      assert.strictEqual(stop.body.reason, 'breakpoint');
      assert.ok(output.some((o) => /has no debug information, so only function symbols and instructions are shown/.test(o)), output.join(''));
      const { frames, raw } = await shownStack(dc);
      assert.strictEqual(frames[0].name, 'MmFreeChain');
      assert.strictEqual(raw[0].source, undefined);
      const next = await resumeAndStop(dc, dc.nextRequest({ threadId: 1 }));
      assert.strictEqual(next.body.reason, 'step');
      await dc.disconnectRequest({});
      assert.deepStrictEqual(await waitNoQemu(m), []);
    } finally {
      fs.rmSync(stripped, { force: true });
    }
  });

  it('reports QEMU dying mid-session in one sentence and ends', async () => {
    const dc = await client();
    const output = collectOutput(dc);
    const m = marker();
    await launchAndStop(dc, { marker: m }, () => dc.setBreakpointsRequest({ source: { path: CHAIN_C }, breakpoints: [{ line: freeLine() }] }));
    const terminated = dc.waitForEvent('terminated');
    const pids = processesWith(m);
    assert.strictEqual(pids.length, 1);
    process.kill(pids[0], 'SIGKILL');
    await terminated;
    assert.ok(output.some((o) => /^QEMU was killed by SIGKILL.*, so the debug session ended; start it again\.\n$/.test(o)), output.join(''));
    assert.deepStrictEqual(await waitNoQemu(m), []);
  });
});
