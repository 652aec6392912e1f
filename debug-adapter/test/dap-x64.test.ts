// An x86-64 kernel end to end through the real adapter (DAP) on a real qemu-system-x86_64, with
// gdb, QEMU's monitor and binutils as oracles: the test kernel of fixtures-x64 (32-bit multiboot
// entry, long mode, C in the higher half at 0xffffffff80100000) stops at a function breakpoint
// where gdb places it; the call stack, the 64-bit registers (exact, decoded by bit), the
// disassembly (64-bit code), locals, LP64 expressions and seeded step sequences agree with them.

import * as assert from 'assert';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { DebugClient } from '@vscode/debugadapter-testsupport';
import { DebugProtocol } from '@vscode/debugprotocol';
import { launchQemu, QemuInstance, QmpClient } from '../../qemu-bridge/src';
import { buildX64Kernel, fixtureDirX64 } from './fixtures-x64/build';
import {
  assertSameFrames, endSessionLeavingNoQemu, launchAndStop, parseBacktrace, processesWith, QemuMonitor, qemuMarker, runGdb, shownStack, startClient, stopClient,
} from './dap-fixture';
import { differences, runInAdapter, runInGdb } from './step-compare';

/** Runs gdb on a fresh qemu-system-x86_64 with the kernel stopped at `break fn` (set once paging is on), then `commands`. */
async function gdbAtFunction(kernel: string, fn: string, commands: string[]): Promise<string[]> {
  let qemu: QemuInstance | undefined;
  try {
    qemu = await launchQemu({ kernel, cmdline: '', memoryMiB: 32, qemuBinary: 'qemu-system-x86_64' });
    const args = ['-batch', '-nx', '-ex', 'set pagination off', '-ex', 'set confirm off', '-ex', `file ${kernel}`, '-ex', 'set architecture i386:x86-64',
      '-ex', `target remote 127.0.0.1:${qemu.gdb.port}`, '-ex', 'tbreak *kmain', '-ex', 'continue', '-ex', `tbreak ${fn}`, '-ex', 'continue'];
    for (const c of commands) args.push('-ex', 'echo @@\\n', '-ex', c);
    args.push('-ex', 'kill');
    return (await runGdb(args)).split('@@\n').slice(1);
  } finally {
    await qemu?.shutdown(1000);
  }
}

/** The registers QEMU's `info registers` shows, exactly (RAX=… as bigints, lower-case names). */
function monitorRegisters(text: string): Map<string, bigint> {
  const out = new Map<string, bigint>();
  for (const m of text.matchAll(/\b([A-Z][A-Z0-9]*)\s?=([0-9a-f]{8,16})\b/g)) if (!out.has(m[1].toLowerCase())) out.set(m[1].toLowerCase(), BigInt(`0x${m[2]}`));
  return out;
}

const hex16 = (v: bigint): string => `0x${v.toString(16).padStart(16, '0')}`;

describe('DAP: an x86-64 kernel (real qemu-system-x86_64, gdb as oracle)', function () {
  this.timeout(300000);
  let kernel = '';
  let dc: DebugClient | undefined;
  const marker = qemuMarker();
  let monitor: QemuMonitor | undefined;
  let stop: DebugProtocol.StoppedEvent;
  let breakpoint: DebugProtocol.Breakpoint;
  let gdb: string[] = [];

  before(async () => {
    kernel = buildX64Kernel();
    gdb = await gdbAtFunction(kernel, 'page_alloc', ['p/x $pc', 'bt', 'p *r', 'p r->free->next->pfn', 'p sizeof(long)', 'p sizeof(r)', 'p/x (unsigned long)r + 8', 'p $rsp', 'info registers efer', 'watch -l r->count', 'continue', 'frame']);
    dc = await startClient();
    const client = dc;
    stop = await launchAndStop(client, { kernel, marker, monitor: true, cmdline: '' }, async () => {
      breakpoint = (await client.setFunctionBreakpointsRequest({ breakpoints: [{ name: 'page_alloc' }] })).body.breakpoints[0];
    });
    monitor = await QemuMonitor.connect(marker);
  });

  after(async () => {
    monitor?.close();
    await endSessionLeavingNoQemu(dc, marker);
  });

  const session = (): DebugClient => dc as DebugClient;
  const topId = async (): Promise<number> => (await session().stackTraceRequest({ threadId: 1 })).body.stackFrames[0].id;
  const evaluate = async (expression: string): Promise<string> => (await session().evaluateRequest({ expression, frameId: await topId(), context: 'watch' })).body.result;

  it('stops at break page_alloc at the higher-half address gdb stops at (16 hex digits)', async () => {
    const gdbPc = /\$\d+ = (0x[0-9a-f]+)/.exec(gdb[0])?.[1];
    assert.ok(gdbPc, gdb[0]);
    assert.strictEqual(breakpoint.verified, true);
    assert.strictEqual(breakpoint.instructionReference, `0x${gdbPc.slice(2).padStart(16, '0')}`);
    assert.strictEqual(stop.body.reason, 'breakpoint');
    const regs = monitorRegisters(await (monitor as QemuMonitor).hmp('info registers'));
    assert.strictEqual(hex16(regs.get('rip') ?? 0n), breakpoint.instructionReference, 'QEMU stopped there');
    const { raw } = await shownStack(session());
    assert.strictEqual(raw[0].instructionPointerReference, breakpoint.instructionReference);
  });

  it('shows the call stack gdb shows, unwound by CFI through the higher half into the boot code', async () => {
    const { frames, raw } = await shownStack(session());
    assertSameFrames(frames, parseBacktrace(gdb[1]), 'at page_alloc');
    assert.deepStrictEqual(frames.slice(0, 3).map((f) => f.name), ['page_alloc', 'workload', 'kmain']);
    for (const f of raw) assert.match(f.instructionPointerReference ?? '', /^0x[0-9a-f]{16}$/);
  });

  it('shows the 64-bit registers exactly as QEMU holds them, EFER and CR4 decoded by bit', async () => {
    const scopes = (await session().scopesRequest({ frameId: await topId() })).body.scopes;
    const registers = scopes.find((s) => s.name === 'Registers');
    assert.ok(registers);
    const rows = (await session().variablesRequest({ variablesReference: registers.variablesReference })).body.variables;
    const shown = new Map(rows.map((r) => [r.name, r.value]));
    const qemu = monitorRegisters(await (monitor as QemuMonitor).hmp('info registers'));
    for (const name of ['rax', 'rbx', 'rcx', 'rdx', 'rsi', 'rdi', 'rbp', 'rsp', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15', 'rip', 'cr0', 'cr2', 'cr3', 'cr4', 'efer']) {
      const q = qemu.get(name);
      assert.ok(q !== undefined, `QEMU shows ${name}`);
      assert.strictEqual((shown.get(name) ?? '').split(' ')[0], hex16(q), `${name}: ${shown.get(name)}`);
    }
    // r8 holds 0xffff800000400000, a value with more than 53 significant bits.
    assert.strictEqual(shown.get('r8')?.split(' ')[0], hex16(qemu.get('r8') ?? 0n));
    assert.match(shown.get('efer') ?? '', /\[ SCE LME LMA NXE \]$/);
    assert.match(gdb[8], /\[ NXE LMA LME SCE \]/, 'gdb decodes the same EFER bits');
    assert.match(shown.get('cr4') ?? '', /\[ PAE \]$/);
    assert.match(shown.get('rip') ?? '', /<page_alloc\+\d+>$/);
    const efer = rows.find((r) => r.name === 'efer') as DebugProtocol.Variable;
    const bits = (await session().variablesRequest({ variablesReference: efer.variablesReference })).body.variables;
    assert.deepStrictEqual(bits.filter((b) => ['SCE', 'LME', 'LMA', 'NXE'].includes(b.name)).map((b) => `${b.name}=${b.value}`), ['SCE=1', 'LME=1', 'LMA=1', 'NXE=1']);
  });

  it('disassembles 64-bit code at rip as objdump decodes the kernel file', async () => {
    const pc = breakpoint.instructionReference as string;
    const ours = (await session().disassembleRequest({ memoryReference: pc, instructionCount: 8 })).body?.instructions ?? [];
    const text = execFileSync('objdump', ['-d', '--insn-width=16', `--start-address=${pc}`, `--stop-address=0x${(BigInt(pc) + 128n).toString(16)}`, kernel], { encoding: 'latin1' });
    const theirs = [...text.matchAll(/^\s*([0-9a-f]+):\t((?:[0-9a-f]{2} )+)\s*\t/gm)].slice(0, 8).map((m) => ({ address: `0x${(m[1] ?? '').padStart(16, '0')}`, bytes: (m[2] ?? '').trim() }));
    assert.deepStrictEqual(ours.map((i) => ({ address: i.address, bytes: i.instructionBytes })), theirs);
    assert.ok(ours.some((i) => /%r[a-z0-9]+/.test(i.instruction)), `64-bit registers in: ${ours.map((i) => i.instruction).join('; ')}`);
    const back = (await session().disassembleRequest({ memoryReference: pc, instructionOffset: -3, instructionCount: 4 })).body?.instructions ?? [];
    assert.strictEqual(back[3]?.address, pc);
  });

  it('evaluates locals, pointers and LP64 expressions as gdb prints them', async () => {
    const value = (section: string): string => (/^\$\d+ = (.*)$/m.exec(section)?.[1] ?? section).trim();
    assert.strictEqual(await evaluate('*r'), value(gdb[2]));
    assert.strictEqual(await evaluate('r->free->next->pfn'), value(gdb[3]));
    assert.strictEqual(await evaluate('sizeof(long)'), value(gdb[4]));
    assert.strictEqual(await evaluate('sizeof(r)'), value(gdb[5]));
    assert.strictEqual(await evaluate('(unsigned long)r + 8'), String(BigInt(value(gdb[6]))));
    assert.strictEqual(await evaluate('$rsp'), value(gdb[7]));
  });

  it('watches r->count at its 64-bit address (a write watchpoint) and stops where gdb stops', async () => {
    const frameId = await topId();
    const info = await session().dataBreakpointInfoRequest({ name: 'r->count', frameId });
    assert.match(info.body.dataId ?? '', /^0x[0-9a-f]{16}\/8$/, JSON.stringify(info.body));
    const set = await session().setDataBreakpointsRequest({ breakpoints: [{ dataId: info.body.dataId as string, accessType: 'write' }] });
    assert.strictEqual(set.body.breakpoints[0]?.verified, true);
    const stopped = session().waitForEvent('stopped') as Promise<DebugProtocol.StoppedEvent>;
    await session().continueRequest({ threadId: 1 });
    const stop = await stopped;
    assert.strictEqual(stop.body.reason, 'data breakpoint');
    const gdbFrame = parseBacktrace(gdb[11]);
    const { frames } = await shownStack(session());
    assert.deepStrictEqual(frames[0], gdbFrame[0], `gdb: ${gdb[10]}${gdb[11]}`);
    await session().setDataBreakpointsRequest({ breakpoints: [] });
  });

  it('reads memory at a 16-digit reference and writes a 64-bit register exactly, as QEMU then holds them', async () => {
    const frame = (await session().stackTraceRequest({ threadId: 1 })).body.stackFrames[0];
    assert.ok(frame?.instructionPointerReference);
    const read = await session().customRequest('readMemory', { memoryReference: frame.instructionPointerReference, count: 16 }) as DebugProtocol.ReadMemoryResponse;
    assert.strictEqual(read.body?.address, frame.instructionPointerReference);
    const qemuBytes = await (monitor as QemuMonitor).hmp(`x /16xb ${frame.instructionPointerReference}`);
    const expected = [...qemuBytes.matchAll(/0x([0-9a-f]{2})\b/g)].map((m) => m[1]).join('');
    assert.strictEqual(Buffer.from(read.body?.data ?? '', 'base64').toString('hex'), expected);
    const scopes = (await session().scopesRequest({ frameId: frame.id })).body.scopes;
    const registers = scopes.find((s) => s.name === 'Registers');
    assert.ok(registers);
    // More than 53 significant bits: a JavaScript number would round it.
    const set = await session().setVariableRequest({ variablesReference: registers.variablesReference, name: 'r9', value: '0x123456789abcdef1' });
    assert.strictEqual(set.body.value, '0x123456789abcdef1');
    assert.strictEqual(monitorRegisters(await (monitor as QemuMonitor).hmp('info registers')).get('r9'), 0x123456789abcdef1n);
    assert.strictEqual(await evaluate('$r9'), String(0x123456789abcdef1n));
  });
});

describe('DAP: line breakpoints in an x86-64 kernel (real qemu-system-x86_64, gdb as oracle)', function () {
  this.timeout(120000);

  it('places them where gdb\'s break FILE:LINE does (16 hex digits) and stops there', async () => {
    const kernel = buildX64Kernel(['-O2', '-fno-omit-frame-pointer']);
    const file = path.join(fixtureDirX64, 'kernel.c');
    const lines = [82, 88, 105, 130];
    const args = ['-batch', '-nx', kernel];
    for (const l of lines) args.push('-ex', `break kernel.c:${l}`);
    const placed = [...(await runGdb(args)).matchAll(/^Breakpoint \d+ at 0x([0-9a-f]+): file \S+, line (\d+)\.$/gm)].map((m) => ({ address: `0x${(m[1] ?? '').padStart(16, '0')}`, line: Number(m[2]) }));
    assert.strictEqual(placed.length, lines.length, 'gdb places every breakpoint');
    const marker = qemuMarker();
    let dc: DebugClient | undefined;
    try {
      dc = await startClient();
      const client = dc;
      let ours: DebugProtocol.Breakpoint[] = [];
      const stop = await launchAndStop(client, { kernel, marker, cmdline: '' }, async () => {
        ours = (await client.setBreakpointsRequest({ source: { path: file }, breakpoints: lines.map((line) => ({ line })) })).body.breakpoints;
      });
      assert.deepStrictEqual(ours.map((b) => ({ address: b.instructionReference, line: b.line })), placed);
      assert.strictEqual(stop.body.reason, 'breakpoint');
      const top = (await shownStack(client)).raw[0];
      assert.ok(placed.some((p) => p.address === top?.instructionPointerReference), `stopped at one of them: ${top?.instructionPointerReference}`);
    } finally {
      await endSessionLeavingNoQemu(dc, marker);
    }
  });
});

describe('DAP: a caller frame\'s registers in an x86-64 kernel, exactly as gdb shows them (real qemu-system-x86_64)', function () {
  this.timeout(180000);

  it('frame 1\'s callee-saved registers (CFI-unwound, 64-bit data beyond 2^53 included) equal gdb\'s "frame 1" "info registers"', async () => {
    // At -O2 workload() keeps its 64-bit hash in a callee-saved register across the call to depth().
    const kernel = buildX64Kernel(['-O2']);
    const names = ['rbx', 'rbp', 'r12', 'r13', 'r14', 'r15', 'rsp', 'rip'];
    const [bt, , regsText] = await gdbAtFunction(kernel, 'depth', ['bt 2', 'frame 1', `info registers ${names.join(' ')}`]);
    assert.match(bt, /#1 .* workload/, bt);
    const theirs = new Map([...regsText.matchAll(/^(\w+)\s+0x([0-9a-f]+)/gm)].map((m) => [m[1], BigInt(`0x${m[2]}`)]));
    assert.ok(theirs.size >= 6, regsText);
    const marker = qemuMarker();
    let dc: DebugClient | undefined;
    try {
      dc = await startClient();
      const client = dc;
      await launchAndStop(client, { kernel, marker, cmdline: '' }, async () => {
        await client.setFunctionBreakpointsRequest({ breakpoints: [{ name: 'depth' }] });
      });
      const frames = (await client.stackTraceRequest({ threadId: 1 })).body.stackFrames;
      assert.strictEqual(frames[1]?.name.replace(/\(.*$/, ''), 'workload');
      const scopes = (await client.scopesRequest({ frameId: frames[1].id })).body.scopes;
      const registers = scopes.find((x) => x.name === 'Registers');
      assert.ok(registers);
      const rows = (await client.variablesRequest({ variablesReference: registers.variablesReference })).body.variables;
      const ours = new Map(rows.map((r) => [r.name, r.value.split(' ')[0]]));
      const compared: string[] = [];
      for (const [name, value] of theirs) {
        if (!ours.has(name)) continue;
        assert.strictEqual(ours.get(name), hex16(value), `${name} in frame 1: gdb ${hex16(value)}`);
        compared.push(name);
      }
      console.log(`      (${[...theirs].map(([n, v]) => `${n}=${hex16(v)}`).join(" ")})`);
      assert.ok(compared.length >= 5, `compared ${compared.join(', ')}`);
      // The point: a register beyond 2^53 (a JavaScript number would round it) is among them.
      assert.ok([...theirs].some(([name, v]) => compared.includes(name) && v > BigInt(Number.MAX_SAFE_INTEGER) && v < 0xffff800000000000n),
        `a callee-saved register holds 64-bit data in frame 1: ${[...theirs].map(([n, v]) => `${n}=${hex16(v)}`).join(' ')}`);
    } finally {
      await endSessionLeavingNoQemu(dc, marker);
    }
  });
});

describe('DAP: an x86-64 kernel without call frame information (real qemu-system-x86_64, gdb as oracle)', function () {
  this.timeout(120000);

  it('unwinds by the rbp chain as gdb does, in a recursion', async () => {
    const kernel = buildX64Kernel(['-O0'], { withoutCfi: true });
    assert.ok(!execFileSync('readelf', ['-SW', kernel], { encoding: 'latin1' }).includes('_frame'), 'no .eh_frame or .debug_frame left');
    // depth(n) stopped at its 3rd call (round 0: depth(3) -> depth(2) -> depth(1)).
    const bt = (await gdbAtFunction(kernel, 'depth', ['break depth', 'continue', 'continue', 'bt']))[3] ?? '';
    const marker = qemuMarker();
    let dc: DebugClient | undefined;
    try {
      dc = await startClient();
      const client = dc;
      await launchAndStop(client, { kernel, marker, cmdline: '' }, () => client.setFunctionBreakpointsRequest({ breakpoints: [{ name: 'depth' }] }));
      for (let i = 0; i < 2; i++) {
        const stopped = client.waitForEvent('stopped');
        await client.continueRequest({ threadId: 1 });
        await stopped;
      }
      const { frames } = await shownStack(client);
      assert.deepStrictEqual(frames.slice(0, 5).map((f) => f.name), ['depth', 'depth', 'depth', 'workload', 'kmain']);
      assertSameFrames(frames, parseBacktrace(bt), 'depth(1) without CFI');
    } finally {
      await endSessionLeavingNoQemu(dc, marker);
    }
  });
});

describe('DAP: the QEMU an x86-64 kernel runs on', function () {
  this.timeout(120000);

  it('is qemu-system-x86_64 also when the configuration names qemu-system-i386 (the extension\'s default setting)', async () => {
    const kernel = buildX64Kernel();
    const marker = qemuMarker();
    let dc: DebugClient | undefined;
    try {
      dc = await startClient();
      const client = dc;
      const stop = await launchAndStop(client, { kernel, marker, cmdline: '', qemuPath: 'qemu-system-i386' }, () => client.setFunctionBreakpointsRequest({ breakpoints: [{ name: 'region_init' }] }));
      assert.strictEqual(stop.body.reason, 'breakpoint');
      const [pid] = processesWith(marker);
      assert.ok(pid, 'the adapter started a QEMU');
      const argv0 = fs.readFileSync(`/proc/${pid}/cmdline`, 'latin1').split('\0')[0] ?? '';
      assert.match(argv0, /qemu-system-x86_64$/);
      assert.strictEqual((await shownStack(client)).frames[0]?.name, 'region_init');
    } finally {
      await endSessionLeavingNoQemu(dc, marker);
    }
  });
});

/** Functions that never return: no `finish` from them or from what they call directly. */
const NO_FINISH = ['kmain', 'long_entry', '_start'];
const STEPS = 120;

const KERNEL_FLAGS: Record<string, { flags: string[]; withoutCfi?: boolean }> = {
  O0: { flags: ['-O0'] },
  O2: { flags: ['-O2', '-fno-omit-frame-pointer'] },
  Os: { flags: ['-Os', '-fomit-frame-pointer'] },
  'O0 without CFI': { flags: ['-O0'], withoutCfi: true },
};

describe('DAP: stepping an x86-64 kernel agrees with gdb (real qemu-system-x86_64, gdb as oracle)', function () {
  this.timeout(600000);
  for (const [level, { flags, withoutCfi }] of Object.entries(KERNEL_FLAGS)) {
    for (const [fn, seed] of [['page_alloc', 5], ['hash_region', 17], ['workload', 29]] as const) {
      it(`${level}: ${STEPS} seeded steps from break ${fn} stop where gdb stops`, async () => {
        const kernel = buildX64Kernel(flags, { withoutCfi: withoutCfi === true });
        const marker = qemuMarker();
        let dc: DebugClient | undefined;
        let ours;
        try {
          dc = await startClient();
          ours = await runInAdapter(dc, { kernel, fn, marker, seed, count: STEPS, noFinish: NO_FINISH });
        } finally {
          await endSessionLeavingNoQemu(dc, marker);
        }
        assert.deepStrictEqual(ours.errors, []);
        const gdb = await runInGdb(kernel, fn, ours.commands, { pagingAt: 'kmain' });
        const diff = differences(ours.commands, ours.places, gdb);
        const mismatches = diff.filter((d) => !d.includes('(same in both)'));
        assert.ok(mismatches.length === 0, `${mismatches.length} of ${ours.places.length} stops differ from gdb:\n${diff.join('\n')}`);
        assert.strictEqual(gdb.length, STEPS + 1, 'gdb answered every command');
        assert.ok(ours.places.every((p) => p.pc < 0), 'every stop is in the higher half (a negative address number)');
        assert.ok(new Set(ours.places.map((p) => p.fn)).size > 1, `the sequence leaves ${fn}: ${[...new Set(ours.places.map((p) => p.fn))].join(', ')}`);
      });
    }
  }
});

/** objdump's decoding of the kernel file from `start`: addresses (16 digits) and bytes; `mode32` decodes as 32-bit code. */
function objdumpFrom(kernel: string, start: bigint, count: number, mode32: boolean): { address: string; bytes: string }[] {
  const args = ['-d', '--insn-width=16', ...(mode32 ? ['-M', 'i386'] : []), `--start-address=0x${start.toString(16)}`, `--stop-address=0x${(start + BigInt(count * 16)).toString(16)}`, kernel];
  const text = execFileSync('objdump', args, { encoding: 'latin1' });
  return [...text.matchAll(/^\s*([0-9a-f]+):\t((?:[0-9a-f]{2} )+)\s*\t/gm)].slice(0, count).map((m) => ({ address: `0x${(m[1] ?? '').padStart(16, '0')}`, bytes: (m[2] ?? '').trim() }));
}

function nmSymbol(kernel: string, name: string): bigint {
  const m = new RegExp(`^([0-9a-f]+) \\w ${name}$`, 'm').exec(execFileSync('nm', [kernel], { encoding: 'latin1' }));
  if (!m) throw new Error(`nm finds no ${name} in ${kernel}`);
  return BigInt(`0x${m[1]}`);
}

/** gdb's pc after each of `steps` stepi from `start` (the gdbstub at reset when start is undefined), on a fresh qemu-system-x86_64. */
async function gdbStepiPcs(kernel: string, start: bigint | undefined, steps: number): Promise<string[]> {
  let qemu: QemuInstance | undefined;
  try {
    qemu = await launchQemu({ kernel, cmdline: '', memoryMiB: 32, qemuBinary: 'qemu-system-x86_64' });
    const args = ['-batch', '-nx', '-ex', 'set pagination off', '-ex', `file ${kernel}`, '-ex', 'set architecture i386:x86-64', '-ex', `target remote 127.0.0.1:${qemu.gdb.port}`];
    if (start !== undefined) args.push('-ex', `tbreak *0x${start.toString(16)}`, '-ex', 'continue');
    args.push('-ex', 'echo @@\\n', '-ex', 'p/x $pc');
    for (let i = 0; i < steps; i++) args.push('-ex', 'stepi', '-ex', 'echo @@\\n', '-ex', 'p/x $pc');
    args.push('-ex', 'kill');
    return (await runGdb(args)).split('@@\n').slice(1).map((s) => `0x${(/\$\d+ = 0x([0-9a-f]+)/.exec(s)?.[1] ?? '?').padStart(16, '0')}`);
  } finally {
    await qemu?.shutdown(1000);
  }
}

describe('DAP: an x86-64 kernel in its 32-bit and 16-bit code (real qemu-system-x86_64, gdb and objdump as oracles)', function () {
  this.timeout(300000);

  const topFrame = async (dc: DebugClient): Promise<DebugProtocol.StackFrame> => {
    const f = (await dc.stackTraceRequest({ threadId: 1 })).body.stackFrames[0];
    assert.ok(f, 'a top frame');
    return f;
  };
  const stepi = async (dc: DebugClient): Promise<void> => {
    const stopped = dc.waitForEvent('stopped');
    await dc.stepInRequest({ threadId: 1, granularity: 'instruction' });
    await stopped;
  };
  const registerRows = async (dc: DebugClient): Promise<Map<string, string>> => {
    const scopes = (await dc.scopesRequest({ frameId: (await topFrame(dc)).id })).body.scopes;
    const registers = scopes.find((s) => s.name === 'Registers');
    assert.ok(registers);
    return new Map((await dc.variablesRequest({ variablesReference: registers.variablesReference })).body.variables.map((v) => [v.name, v.value]));
  };

  it('stops on entry in 32-bit protected mode, disassembles 32-bit code, and steps through the switch to long mode as gdb does', async () => {
    const kernel = buildX64Kernel();
    const entry = nmSymbol(kernel, '_start');
    const longEntry = nmSymbol(kernel, 'long_entry');
    const marker = qemuMarker();
    let dc: DebugClient | undefined;
    const ours: string[] = [];
    try {
      dc = await startClient();
      const stop = await launchAndStop(dc, { kernel, marker, stopOnEntry: true, cmdline: '' }, async () => undefined);
      assert.strictEqual(stop.body.reason, 'entry');
      const top = await topFrame(dc);
      assert.strictEqual(top.instructionPointerReference, `0x${entry.toString(16).padStart(16, '0')}`);
      assert.strictEqual(top.name, '_start');
      const regs = await registerRows(dc);
      assert.match(regs.get('cr0') ?? '', /\[ PE ET \]$/, 'protected mode, no paging');
      assert.match(regs.get('efer') ?? '', /^0x0{16} \[ \]$/, 'long mode not enabled yet');
      // 32-bit code: objdump -M i386 decodes the same instruction boundaries; `(,%ecx,8)` is 32-bit addressing.
      const code = (await dc.disassembleRequest({ memoryReference: top.instructionPointerReference ?? '', instructionCount: 16 })).body?.instructions ?? [];
      assert.deepStrictEqual(code.map((i) => ({ address: i.address, bytes: i.instructionBytes })), objdumpFrom(kernel, entry, 16, true));
      assert.ok(code.some((i) => i.instruction.includes('(,%ecx,8)')), code.map((i) => i.instruction).join('; '));
      // Run to the first 64-bit instruction (an instruction breakpoint at long_entry).
      const ref = `0x${longEntry.toString(16).padStart(16, '0')}`;
      const set = await dc.customRequest('setInstructionBreakpoints', { breakpoints: [{ instructionReference: ref }] }) as DebugProtocol.SetInstructionBreakpointsResponse;
      const bp = set.body.breakpoints[0];
      assert.strictEqual(bp?.verified, true);
      const stopped = dc.waitForEvent('stopped');
      await dc.continueRequest({ threadId: 1 });
      await stopped;
      await dc.customRequest('setInstructionBreakpoints', { breakpoints: [] });
      assert.strictEqual((await topFrame(dc)).instructionPointerReference, ref);
      assert.match((await registerRows(dc)).get('efer') ?? '', /LMA/);
      const code64 = (await dc.disassembleRequest({ memoryReference: ref, instructionCount: 10 })).body?.instructions ?? [];
      assert.deepStrictEqual(code64.map((i) => ({ address: i.address, bytes: i.instructionBytes })), objdumpFrom(kernel, longEntry, 10, false));
      assert.ok(code64.some((i) => /movabs \$0x[0-9a-f]+,%rsp/.test(i.instruction)), code64.map((i) => i.instruction).join('; '));
      ours.push(ref);
      for (let i = 0; i < 12; i++) {
        await stepi(dc);
        ours.push((await topFrame(dc)).instructionPointerReference ?? '');
      }
      assert.strictEqual((await topFrame(dc)).name, 'kmain', 'the steps end in kmain, in the higher half');
    } finally {
      await endSessionLeavingNoQemu(dc, marker);
    }
    assert.deepStrictEqual(ours, await gdbStepiPcs(kernel, longEntry, 12));
  });

  it('stops in compatibility mode (long mode active, 32-bit CS) before the far jump, decodes it as 32-bit code and steps into 64-bit code as gdb does', async () => {
    const kernel = buildX64Kernel();
    // The instruction after `mov %eax,%cr0` (paging on with EFER.LME: long mode active, CS still the 32-bit loader's).
    const boot = execFileSync('objdump', ['-d', '--insn-width=16', '-M', 'i386', '-j', '.boot', kernel], { encoding: 'latin1' });
    const lines = [...boot.matchAll(/^\s*([0-9a-f]+):\t((?:[0-9a-f]{2} )+)\s*\t(.*)$/gm)];
    const at = lines.findIndex((m) => /mov\s+%eax,%cr0/.test(m[3] ?? ''));
    assert.ok(at >= 0 && lines[at + 2], 'objdump shows the write of cr0 and two instructions after it');
    const compat = BigInt(`0x${lines[at + 1]?.[1]}`);
    assert.match(lines[at + 2]?.[3] ?? '', /ljmp/, 'the far jump into long mode follows');
    const marker = qemuMarker();
    let dc: DebugClient | undefined;
    const ours: string[] = [];
    try {
      dc = await startClient();
      const client = dc;
      const ref = `0x${compat.toString(16).padStart(16, '0')}`;
      await launchAndStop(client, { kernel, marker, cmdline: '' }, () => client.customRequest('setInstructionBreakpoints', { breakpoints: [{ instructionReference: ref }] }));
      await client.customRequest('setInstructionBreakpoints', { breakpoints: [] });
      const top = await topFrame(client);
      assert.strictEqual(top.instructionPointerReference, ref);
      const regs = await registerRows(client);
      assert.match(regs.get('efer') ?? '', /LMA/, 'long mode is active');
      assert.strictEqual(regs.get('cs'), '0x0008', "the multiboot loader's 32-bit code segment (the kernel's 64-bit one has the same selector)");
      const code = (await client.disassembleRequest({ memoryReference: ref, instructionCount: 2 })).body?.instructions ?? [];
      assert.deepStrictEqual(code.map((i) => ({ address: i.address, bytes: i.instructionBytes })), objdumpFrom(kernel, compat, 2, true));
      assert.match(code[1]?.instruction ?? '', /^ljmp/, `32-bit code: ${code.map((i) => i.instruction).join('; ')}`);
      ours.push(ref);
      for (let i = 0; i < 3; i++) {
        await stepi(client);
        ours.push((await topFrame(client)).instructionPointerReference ?? '');
      }
    } finally {
      await endSessionLeavingNoQemu(dc, marker);
    }
    assert.deepStrictEqual(ours, await gdbStepiPcs(kernel, compat, 3));
  });

  it('attached to a kernel that ran (paused where it was), shows the 64-bit pc QEMU holds, its code and the stack gdb shows there', async () => {
    const kernel = buildX64Kernel();
    let qemu: QemuInstance | undefined;
    let dc: DebugClient | undefined;
    let qmp: QmpClient | undefined;
    try {
      qemu = await launchQemu({ kernel, cmdline: '', memoryMiB: 32, qemuBinary: 'qemu-system-x86_64' });
      const started = qemu;
      qmp = await QmpClient.connect(started.qmp, { timeoutMs: 10000 });
      await qmp.cont();
      // Running (its first lines are out).
      await new Promise<void>((resolve, reject) => {
        let text = '';
        const timer = setTimeout(() => reject(new Error(`the kernel printed only: ${text}`)), 30000);
        started.serial.on('data', (d: Buffer) => {
          text += d.toString('latin1');
          if (text.split('\n').length > 4) {
            clearTimeout(timer);
            resolve();
          }
        });
      });
      // Paused where it is; gdb looks first and disconnects (QEMU stays paused), then the adapter attaches.
      await qmp.execute('stop');
      const out = await runGdb(['-batch', '-nx', '-ex', `file ${kernel}`, '-ex', 'set architecture i386:x86-64', '-ex', `target remote 127.0.0.1:${started.gdb.port}`, '-ex', 'bt', '-ex', 'disconnect']);
      dc = await startClient();
      const client = dc;
      const stopped = client.waitForEvent('stopped');
      await Promise.all([
        client.initializeRequest(),
        client.waitForEvent('initialized').then(() => client.configurationDoneRequest()),
        client.attachRequest({ gdb: `127.0.0.1:${started.gdb.port}`, kernel } as DebugProtocol.AttachRequestArguments),
      ]);
      await stopped;
      const rip = monitorRegisters(await qmp.humanMonitorCommand('info registers')).get('rip') ?? 0n;
      const { frames, raw } = await shownStack(client);
      assert.strictEqual(raw[0]?.instructionPointerReference, hex16(rip), 'the pc QEMU stopped at');
      assert.ok(rip >= 0xffffffff80100000n, `in the higher half: ${hex16(rip)}`);
      assert.ok(frames.some((f) => f.name === 'kmain'), `kmain is on the stack: ${JSON.stringify(frames)}`);
      const code = (await client.disassembleRequest({ memoryReference: hex16(rip), instructionCount: 6 })).body?.instructions ?? [];
      assert.deepStrictEqual(code.map((i) => ({ address: i.address, bytes: i.instructionBytes })), objdumpFrom(kernel, rip, 6, false));
      assertSameFrames(frames, parseBacktrace(out), 'attached');
    } finally {
      qmp?.close();
      await stopClient(dc);
      await qemu?.shutdown(1000);
    }
  });

  it('attached at reset, shows the real-mode pc, decodes 16-bit code and steps as gdb does', async () => {
    const kernel = buildX64Kernel();
    let qemu: QemuInstance | undefined;
    let dc: DebugClient | undefined;
    const ours: string[] = [];
    try {
      qemu = await launchQemu({ kernel, cmdline: '', memoryMiB: 32, qemuBinary: 'qemu-system-x86_64' });
      dc = await startClient();
      const client = dc;
      const stopped = client.waitForEvent('stopped');
      await Promise.all([
        client.initializeRequest(),
        client.waitForEvent('initialized').then(() => client.configurationDoneRequest()),
        client.attachRequest({ gdb: `127.0.0.1:${qemu.gdb.port}`, qmp: `127.0.0.1:${qemu.qmp.port}`, kernel } as DebugProtocol.AttachRequestArguments),
      ]);
      await stopped;
      const regs = await registerRows(client);
      assert.strictEqual(regs.get('cs'), '0xf000');
      assert.match(regs.get('cr0') ?? '', /^0x0000000060000010 /, 'real mode (CR0.PE clear)');
      let top = await topFrame(client);
      ours.push(top.instructionPointerReference ?? '');
      for (let i = 0; i < 3; i++) {
        await stepi(client);
        top = await topFrame(client);
        ours.push(top.instructionPointerReference ?? '');
      }
      // The BIOS code at cs:ip (linear cs * 16 + ip; the gdbstub's pc is ip, as gdb shows it) decoded
      // as 16-bit code, as objdump -m i8086 decodes the same bytes.
      const linear = 0xf0000 + Number(BigInt(top.instructionPointerReference ?? '0'));
      const code = (await client.disassembleRequest({ memoryReference: `0x${linear.toString(16)}`, instructionCount: 8 })).body?.instructions ?? [];
      assert.strictEqual(code.length, 8);
      const bytes = Buffer.from(code.map((i) => i.instructionBytes ?? '').join(' ').replace(/ /g, ''), 'hex');
      const file = path.join(os.tmpdir(), `mmscope-x64-real-${process.pid}.bin`);
      fs.writeFileSync(file, bytes);
      try {
        const dump = execFileSync('objdump', ['-D', '-z', '-b', 'binary', '-m', 'i8086', `--adjust-vma=0x${linear.toString(16)}`, file], { encoding: 'latin1' });
        const theirs = [...dump.matchAll(/^\s*([0-9a-f]+):\t((?:[0-9a-f]{2} )+)\s*\t/gm)].map((m) => ({ address: `0x${(m[1] ?? '').padStart(16, '0')}`, bytes: (m[2] ?? '').trim() }));
        assert.deepStrictEqual(code.map((i) => ({ address: i.address, bytes: i.instructionBytes })), theirs, `objdump -m i8086 decodes the same instructions:\n${dump}`);
        assert.ok(code.some((i) => /^[0-9a-f]{2}( [0-9a-f]{2})*$/.test(i.instructionBytes ?? '') && i.instruction !== '(bad)'));
      } finally {
        fs.rmSync(file, { force: true });
      }
    } finally {
      await stopClient(dc);
      await qemu?.shutdown(1000);
    }
    assert.deepStrictEqual(ours, await gdbStepiPcs(kernel, undefined, 3));
  });
});
