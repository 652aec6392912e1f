// How real kernels boot, through the real adapter (DebugClient over stdio) and a real QEMU:
// `kernel` is the ELF for symbols while `boot` says what QEMU starts -- a GRUB ISO, or the same
// hybrid image as a raw hard disk. The session reaches breakpoints in the kernel's C code after
// the BIOS and GRUB ran (lines checked against gdb's `info line` and source markers),
// stopOnEntry stops at the kernel's physical entry, `smp` reaches QEMU (threads request, QMP
// query-cpus-fast on a second QMP server), progress events come paired, and bad boot settings
// end the session with one sentence and no QEMU left.

import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { DebugClient } from '@vscode/debugadapter-testsupport';
import { DebugProtocol } from '@vscode/debugprotocol';
import { findFreePort, launchQemu, QmpClient } from '../../qemu-bridge/src';
import { buildGrubIso, buildVgaKernel, markerLine, VGA_KERNEL_SOURCE } from '../../qemu-bridge/test/fixtures/boot-media';
import { ADAPTER, endSessionLeavingNoQemu, KERNEL, killQemu, processesWith, qemuMarker, requireGuest, runGdb, waitNoQemu } from './dap-fixture';

type Args = Record<string, unknown>;

interface Progress {
  starts: DebugProtocol.ProgressStartEvent[];
  ends: DebugProtocol.ProgressEndEvent[];
}

async function client(env?: NodeJS.ProcessEnv): Promise<DebugClient> {
  const dc = new DebugClient('node', ADAPTER, 'mmscope', { stdio: ['pipe', 'pipe', 'pipe'], ...(env ? { env } : {}) });
  dc.defaultTimeout = 60000;
  await dc.start();
  return dc;
}

function recordProgress(dc: DebugClient): Progress {
  const p: Progress = { starts: [], ends: [] };
  dc.on('progressStart', (e: DebugProtocol.ProgressStartEvent) => p.starts.push(e));
  dc.on('progressEnd', (e: DebugProtocol.ProgressEndEvent) => p.ends.push(e));
  return p;
}

/** Launches with `args`, runs `configure` in the configuration phase, resolves with the first stop. */
async function launchAndStop(dc: DebugClient, args: Args, configure: () => Promise<unknown>, progress = false): Promise<DebugProtocol.StoppedEvent> {
  const stopped = dc.waitForEvent('stopped', 120000) as Promise<DebugProtocol.StoppedEvent>;
  await dc.initializeRequest({ adapterID: 'mmscope', linesStartAt1: true, columnsStartAt1: true, pathFormat: 'path', supportsProgressReporting: progress });
  await Promise.all([
    dc.waitForEvent('initialized', 120000).then(async () => {
      await configure();
      await dc.configurationDoneRequest();
    }),
    // launchRequest, not DebugClient.launch(): that one sends a second initialize of its own.
    dc.launchRequest(args as DebugProtocol.LaunchRequestArguments),
  ]);
  return stopped;
}

async function failingLaunch(dc: DebugClient, args: Args): Promise<{ message: string; terminated: boolean }> {
  let terminated = false;
  dc.on('terminated', () => (terminated = true));
  await dc.initializeRequest();
  const message = await dc.launch(args as DebugProtocol.LaunchRequestArguments).then(() => 'launch succeeded', (e: Error) => e.message);
  await new Promise((r) => setTimeout(r, 300));
  return { message, terminated };
}

/** EAX at the top frame: a multiboot loader hands over 0x2BADB002 there, so this proves the bootloader jumped. */
async function eaxAtTop(dc: DebugClient): Promise<number> {
  const frame = await topFrame(dc);
  const r = await dc.evaluateRequest({ expression: '(unsigned int)$eax', frameId: frame.id, context: 'watch' });
  return Number(r.body.result.split(' ')[0]);
}

async function topFrame(dc: DebugClient): Promise<DebugProtocol.StackFrame> {
  const st = await dc.stackTraceRequest({ threadId: 1 });
  return st.body.stackFrames[0];
}

/** gdb's file and line for a code address of `elf`. */
async function gdbLine(elf: string, pc: string): Promise<{ file: string; line: number }> {
  const out = await runGdb(['-batch', '-nx', '-ex', `info line *${pc}`, elf]);
  const m = /^Line (\d+) of "([^"]+)"/m.exec(out);
  assert.ok(m, `gdb: ${out}`);
  return { file: path.basename(m[2]), line: Number(m[1]) };
}

/** Where gdb puts a breakpoint on `location` of `elf`: its address and line. */
async function gdbBreak(elf: string, location: string): Promise<{ address: string; line: number }> {
  const out = await runGdb(['-batch', '-nx', '-ex', `break ${location}`, elf]);
  const m = /^Breakpoint 1 at 0x([0-9a-f]+): file .*, line (\d+)\.$/m.exec(out);
  assert.ok(m, `gdb: ${out}`);
  return { address: '0x' + m[1].padStart(8, '0'), line: Number(m[2]) };
}

/**
 * Where gdb itself stops at a breakpoint on `location`: the kernel booted with QEMU's -kernel
 * loader, gdb attached, `break`, `continue`; frame 0's function, line and pc as gdb shows them
 * (at an address inside an inlined call gdb may show the inlined function's line).
 */
async function gdbStop(elf: string, location: string): Promise<{ function: string; line: number; pc: string }> {
  const qemu = await launchQemu({ kernel: elf, memoryMiB: 32 });
  try {
    const out = await runGdb(['-batch', '-nx', '-ex', 'set trust-readonly-sections on', '-ex', `target remote ${qemu.gdb.host}:${qemu.gdb.port}`,
      '-ex', `break ${location}`, '-ex', 'continue', '-ex', 'frame', '-ex', 'printf "pc=%x\\n", $pc', elf]);
    const frame = /^#0\s+(?:0x[0-9a-f]+ in )?(\w+) \(.*\) at \S+:(\d+)$/m.exec(out);
    const pc = /^pc=([0-9a-f]+)$/m.exec(out);
    assert.ok(frame && pc, `gdb: ${out}`);
    return { function: frame[1], line: Number(frame[2]), pc: '0x' + pc[1].padStart(8, '0') };
  } finally {
    await qemu.shutdown(500);
  }
}

function entryOf(elf: string): string {
  return '0x' + fs.readFileSync(elf).readUInt32LE(24).toString(16).padStart(8, '0');
}

describe('DAP: booting from an ISO or a disk (real QEMU, GRUB)', function () {
  this.timeout(240000);
  const clients: DebugClient[] = [];
  const markers: string[] = [];
  const marker = (): string => {
    const m = qemuMarker();
    markers.push(m);
    return m;
  };
  const open = async (env?: NodeJS.ProcessEnv): Promise<DebugClient> => {
    const dc = await client(env);
    clients.push(dc);
    return dc;
  };
  let guestIso: string;
  let vgakIso: string;
  let vgak: string;

  before(function () {
    requireGuest();
    guestIso = buildGrubIso(KERNEL, 'demo');
    vgak = buildVgaKernel();
    vgakIso = buildGrubIso(vgak);
  });

  afterEach(async () => {
    for (const dc of clients.splice(0)) await endSessionLeavingNoQemu(dc, undefined);
    for (const m of markers.splice(0)) {
      const left = await waitNoQemu(m);
      killQemu(m);
      assert.deepStrictEqual(left, [], 'QEMU was left behind');
    }
  });

  it('boots our guest from a GRUB ISO with its ELF for symbols and stops in its C code where gdb says', async () => {
    const dc = await open();
    const progress = recordProgress(dc);
    const m = marker();
    const args = { kernel: KERNEL, boot: { iso: guestIso }, memory: 128, qemuArgs: ['-name', m] };
    const t0 = Date.now();
    const stop = await launchAndStop(dc, args, () => dc.setFunctionBreakpointsRequest({ breakpoints: [{ name: 'MmFreeChain' }] }));
    console.log(`      (launch to the first breakpoint through BIOS and GRUB: ${Date.now() - t0} ms)`);
    assert.strictEqual(stop.body.reason, 'breakpoint');
    const top = await topFrame(dc);
    assert.strictEqual(top.name, 'MmFreeChain');
    const gdb = await gdbLine(KERNEL, top.instructionPointerReference as string);
    assert.deepStrictEqual({ file: path.basename(top.source?.path ?? ''), line: top.line }, gdb);
    // The client did not ask for progress events, so none came.
    assert.deepStrictEqual([progress.starts.length, progress.ends.length], [0, 0]);
  });

  it('stops on entry at the kernel\'s physical entry after the bootloader, then runs on to a source line', async () => {
    const dc = await open();
    const m = marker();
    const output: string[] = [];
    dc.on('output', (e: DebugProtocol.OutputEvent) => output.push(e.body.output));
    const stop = await launchAndStop(dc, { kernel: KERNEL, boot: { iso: guestIso }, stopOnEntry: true, qemuArgs: ['-name', m] }, async () => undefined);
    assert.strictEqual(stop.body.reason, 'entry');
    const top = await topFrame(dc);
    assert.strictEqual(top.instructionPointerReference, entryOf(KERNEL));
    assert.strictEqual(await eaxAtTop(dc), 0x2badb002, 'EAX is not the multiboot magic: this is not the hand-over from GRUB');
    assert.ok(!output.join('').includes('mmscope guest kernel'), 'the kernel printed before its entry');
    const bp = await dc.setFunctionBreakpointsRequest({ breakpoints: [{ name: 'MmFreeChain' }] });
    assert.strictEqual(bp.body.breakpoints[0].verified, true);
    const next = dc.waitForEvent('stopped', 60000) as Promise<DebugProtocol.StoppedEvent>;
    await dc.continueRequest({ threadId: 1 });
    assert.strictEqual((await next).body.reason, 'breakpoint');
    assert.match(output.join(''), /mmscope guest kernel: cmdline "demo"/);
  });

  it('boots the hybrid ISO as a raw disk: stopOnEntry, then a line breakpoint in vgak at its marker line', async () => {
    const dc = await open();
    const progress = recordProgress(dc);
    const m = marker();
    const args = { kernel: vgak, boot: { disk: vgakIso, format: 'raw' }, stopOnEntry: true, qemuArgs: ['-name', m] };
    const stop = await launchAndStop(dc, args, async () => undefined, true);
    assert.strictEqual(stop.body.reason, 'entry');
    assert.strictEqual((await topFrame(dc)).instructionPointerReference, entryOf(vgak));
    assert.strictEqual(await eaxAtTop(dc), 0x2badb002, 'EAX is not the multiboot magic: this is not the hand-over from GRUB');
    const line = markerLine(VGA_KERNEL_SOURCE, 'cursor-read');
    const bp = await dc.setBreakpointsRequest({ source: { path: VGA_KERNEL_SOURCE }, breakpoints: [{ line }] });
    assert.strictEqual(bp.body.breakpoints[0].line, line);
    const next = dc.waitForEvent('stopped', 60000) as Promise<DebugProtocol.StoppedEvent>;
    await dc.continueRequest({ threadId: 1 });
    assert.strictEqual((await next).body.reason, 'breakpoint');
    const top = await topFrame(dc);
    assert.strictEqual(path.basename(top.source?.path ?? ''), 'vgak.c');
    // The line's code starts inside the inlined outb: gdb stops showing outb's line there.
    const gdb = await gdbStop(vgak, `vgak.c:${line}`);
    assert.deepStrictEqual({ function: top.name, line: top.line, pc: top.instructionPointerReference }, gdb);
    assert.strictEqual(gdb.pc, (await gdbBreak(vgak, `vgak.c:${line}`)).address);
    // Progress: symbols and QEMU start, each start ended once with its own id.
    const titles = progress.starts.map((s) => s.body.title).sort();
    assert.deepStrictEqual(titles, ['Reading kernel symbols', 'Starting QEMU']);
    assert.deepStrictEqual(progress.ends.map((e) => e.body.progressId).sort(), progress.starts.map((s) => s.body.progressId).sort());
    assert.strictEqual(new Set(progress.starts.map((s) => s.body.progressId)).size, 2);
    assert.match(progress.starts.find((s) => s.body.title === 'Starting QEMU')?.body.message ?? '', /^disk boot-\d+\.iso \(BIOS and bootloader first\)$/);
  });

  it('starts the vCPUs `smp` asks for: two threads, and QEMU reports two CPUs of the `cpu` model', async () => {
    const dc = await open();
    const m = marker();
    const qmpPort = await findFreePort();
    const args = { kernel: vgak, smp: 2, cpu: 'qemu32,+nx', stopOnEntry: true, qemuArgs: ['-name', m, '-qmp', `tcp:127.0.0.1:${qmpPort},server=on,wait=off`] };
    await launchAndStop(dc, args, async () => undefined);
    const threads = await dc.threadsRequest();
    assert.strictEqual(threads.body.threads.length, 2, JSON.stringify(threads.body));
    const qmp = await QmpClient.connect({ host: '127.0.0.1', port: qmpPort });
    try {
      const cpus = (await qmp.execute('query-cpus-fast')) as { 'cpu-index': number; 'qom-path': string }[];
      assert.deepStrictEqual(cpus.map((c) => c['cpu-index']), [0, 1]);
      assert.strictEqual(await qmp.execute('qom-get', { path: cpus[1]['qom-path'], property: 'type' }), 'qemu32-i386-cpu');
      assert.strictEqual(await qmp.execute('qom-get', { path: cpus[1]['qom-path'], property: 'nx' }), true);
    } finally {
      qmp.close();
    }
  });

  it('reports progress while attaching too: symbols, then connecting to the QEMU', async () => {
    const qemu = await launchQemu({ kernel: vgak, memoryMiB: 64 });
    try {
      const dc = await open();
      const progress = recordProgress(dc);
      await dc.initializeRequest({ adapterID: 'mmscope', linesStartAt1: true, columnsStartAt1: true, pathFormat: 'path', supportsProgressReporting: true });
      const stopped = dc.waitForEvent('stopped', 60000);
      await Promise.all([
        dc.waitForEvent('initialized', 60000).then(() => dc.configurationDoneRequest()),
        dc.attachRequest({ gdb: `127.0.0.1:${qemu.gdb.port}`, qmp: `127.0.0.1:${qemu.qmp.port}`, kernel: vgak } as DebugProtocol.AttachRequestArguments),
      ]);
      await stopped;
      assert.deepStrictEqual(progress.starts.map((s) => [s.body.title, s.body.message]), [
        ['Reading kernel symbols', 'vgak.elf'],
        ['Connecting to QEMU', `gdbstub 127.0.0.1:${qemu.gdb.port}`],
      ]);
      assert.deepStrictEqual(progress.ends.map((e) => e.body.progressId), progress.starts.map((s) => s.body.progressId));
      await dc.disconnectRequest({});
    } finally {
      await qemu.shutdown(1000);
    }
  });

  describe('bad boot settings: one sentence, the session ends, no QEMU', () => {
    const cases: { name: string; args: () => Args; message: string | RegExp }[] = [
      {
        name: 'both an ISO and a disk',
        args: () => ({ kernel: vgak, boot: { iso: vgakIso, disk: vgakIso } }),
        message: 'The debug configuration is not valid: "boot" names both "iso" and "disk"; give only one image to boot; fix it in launch.json.',
      },
      {
        name: 'a missing ISO',
        args: () => ({ kernel: vgak, boot: { iso: 'build/none.iso' }, cwd: '/nonexistent' }),
        message: 'The debug configuration is not valid: "boot.iso" names /nonexistent/build/none.iso, which does not exist (build it first or correct the path); fix it in launch.json.',
      },
      {
        name: 'smp out of range',
        args: () => ({ kernel: vgak, smp: 0 }),
        message: 'The debug configuration is not valid: "smp" is 0, but it must be a whole number of CPUs from 1 to 255; fix it in launch.json.',
      },
      {
        name: 'a command line with an ISO',
        args: () => ({ kernel: vgak, boot: { iso: vgakIso }, cmdline: 'demo' }),
        message: /^The debug configuration is not valid: "cmdline" applies only when QEMU loads the kernel itself; with "boot.iso" the bootloader passes the command line \(put it in your grub.cfg\); fix it in launch.json\.$/,
      },
      {
        name: 'an unknown drive interface',
        args: () => ({ kernel: vgak, drives: [{ file: vgakIso, interface: 'sata' }] }),
        message: 'The debug configuration is not valid: "drives[0].interface" is "sata", not one of "ide", "floppy", "virtio", "none"; fix it in launch.json.',
      },
      {
        name: 'a CPU model QEMU does not know (as QEMU reports it)',
        args: () => ({ kernel: vgak, cpu: 'pentium9' }),
        message: 'QEMU (qemu-system-i386) does not know the CPU model "pentium9"; choose one that "qemu-system-i386 -cpu help" lists, for example qemu32, pentium3 or max.',
      },
    ];
    for (const c of cases) {
      it(c.name, async () => {
        const dc = await open();
        const m = marker();
        const r = await failingLaunch(dc, { ...c.args(), qemuArgs: ['-name', m] });
        if (typeof c.message === 'string') assert.strictEqual(r.message, c.message);
        else assert.match(r.message, c.message);
        assert.strictEqual(r.terminated, true);
        assert.deepStrictEqual(processesWith(m), []);
      });
    }

    it('a QEMU that fails to start ends its progress, as "failed"', async () => {
      const dc = await open();
      const progress = recordProgress(dc);
      const m = marker();
      await dc.initializeRequest({ adapterID: 'mmscope', linesStartAt1: true, columnsStartAt1: true, pathFormat: 'path', supportsProgressReporting: true });
      const message = await dc.launchRequest({ kernel: vgak, cpu: 'pentium9', qemuArgs: ['-name', m] } as DebugProtocol.LaunchRequestArguments).then(() => 'launch succeeded', (e: Error) => e.message);
      assert.match(message, /does not know the CPU model "pentium9"/);
      const qemuStart = progress.starts.find((s) => s.body.title === 'Starting QEMU');
      assert.ok(qemuStart);
      assert.deepStrictEqual(progress.ends.filter((e) => e.body.progressId === qemuStart.body.progressId).map((e) => e.body.message), ['failed']);
      assert.strictEqual(progress.ends.length, progress.starts.length);
    });

    it('display "window" without a desktop (DISPLAY unset)', async () => {
      const env = { ...process.env };
      delete env.DISPLAY;
      delete env.WAYLAND_DISPLAY;
      const dc = await open(env);
      const m = marker();
      const r = await failingLaunch(dc, { kernel: vgak, display: 'window', qemuArgs: ['-name', m] });
      assert.strictEqual(r.message, 'QEMU could not open its window ("display": "window") because no graphical display is reachable (DISPLAY and WAYLAND_DISPLAY are not set); start it where a graphical desktop is available, or set "display" to "none".');
      assert.strictEqual(r.terminated, true);
      assert.deepStrictEqual(await waitNoQemu(m), []);
    });
  });
});
