// SMP through the real adapter: QEMU -smp 2, 3 and 4 run the SMP test kernel (smp-kernel/: every AP started
// with INIT-SIPI-SIPI, each CPU with its own stack and its own page directory, and a window at
// 0x40000000 that each CPU maps to other memory). QEMU is the oracle: the test's own QMP monitor
// reads each vCPU's registers (`info registers` with cpu-index) and memory through that vCPU's
// page tables (`x` with cpu-index). Checked: one thread per vCPU, a stop names the vCPU that hit,
// each thread shows its own registers, stack and address space, steps keep to their thread while
// the others stay stopped, continue runs them all, and selecting a thread re-sends the views.

import * as assert from 'assert';
import { DebugClient } from '@vscode/debugadapter-testsupport';
import { DebugProtocol } from '@vscode/debugprotocol';
import { parseXpBytes } from '../../qemu-bridge/src/hmp-parsers';
import { buildSmpKernel } from './smp-kernel/build';
import { endSessionLeavingNoQemu, launchAndStop, nmAddress, qemuMarker, QemuMonitor, requireGuest, resumeAndStop, startClient } from './dap-fixture';

const WINDOW = 0x40000000;

for (const CPUS of [2, 3, 4]) describe(`SMP: every vCPU is a thread (QEMU -smp ${CPUS}, the SMP test kernel)`, function () {
  this.timeout(240000);
  let dc: DebugClient | undefined;
  let monitor: QemuMonitor | undefined;
  let marker: string | undefined;
  let first: DebugProtocol.StoppedEvent;
  const kernel = buildSmpKernel();

  before(async () => {
    marker = qemuMarker();
    dc = await startClient();
    // First a stop on the bootstrap CPU once every AP runs its loop, then one on whichever AP hits ap_round.
    const ready = await launchAndStop(dc, { kernel, cmdline: `cpus=${CPUS}`, marker, monitor: true, qemuArgs: ['-smp', String(CPUS)] }, () =>
      (dc as DebugClient).setFunctionBreakpointsRequest({ breakpoints: [{ name: 'smp_ready' }] }));
    assert.strictEqual(ready.body.threadId, 1, 'smp_ready runs on the bootstrap CPU');
    monitor = await QemuMonitor.connect(marker);
    await dc.setFunctionBreakpointsRequest({ breakpoints: [{ name: 'ap_round' }] });
    first = await resumeAndStop(dc, dc.continueRequest({ threadId: 1 }));
  });

  after(async () => {
    monitor?.close();
    await endSessionLeavingNoQemu(dc, marker);
  });

  const client = (): DebugClient => dc as DebugClient;
  const qemu = (): QemuMonitor => monitor as QemuMonitor;

  async function topFrame(threadId: number): Promise<DebugProtocol.StackFrame> {
    const st = await client().stackTraceRequest({ threadId });
    assert.ok(st.body.stackFrames.length > 0, `thread ${threadId} shows no frames`);
    return st.body.stackFrames[0];
  }

  async function registersShown(threadId: number): Promise<Map<string, number>> {
    const frame = await topFrame(threadId);
    const scopes = await client().scopesRequest({ frameId: frame.id });
    const regs = scopes.body.scopes.find((s) => s.name === 'Registers');
    assert.ok(regs, 'no Registers scope');
    const vars = await client().variablesRequest({ variablesReference: regs.variablesReference });
    return new Map(vars.body.variables.map((v) => [v.name, Number(v.value.split(' ')[0])]));
  }

  async function qemuEips(): Promise<number[]> {
    const out: number[] = [];
    for (let cpu = 0; cpu < CPUS; cpu++) out.push((await qemu().registersOf(cpu)).get('eip') as number);
    return out;
  }

  it('lists one thread per vCPU, as QEMU counts them', async () => {
    const threads = (await client().threadsRequest()).body.threads;
    const cpus = await qemu().hmp('info cpus');
    const qemuCount = cpus.split('\n').filter((l) => /CPU #\d+/.test(l)).length;
    assert.strictEqual(qemuCount, CPUS);
    assert.deepStrictEqual(threads.map((t) => [t.id, t.name]), Array.from({ length: CPUS }, (_, i) => [i + 1, `CPU ${i}`]));
  });

  it('a breakpoint stop names the vCPU that hit it', async () => {
    assert.strictEqual(first.body.reason, 'breakpoint');
    const t = first.body.threadId as number;
    assert.ok(t >= 2 && t <= CPUS, `ap_round runs only on APs, but the stop names thread ${t}`);
    const eips = await qemuEips();
    const top = await topFrame(t);
    assert.strictEqual(top.name, 'ap_round');
    assert.strictEqual(Number(top.instructionPointerReference), eips[t - 1], `the stopped thread's pc vs QEMU's EIP of CPU ${t - 1}`);
  });

  it('each thread shows its own pc, registers and CR3 (QEMU info registers per CPU)', async () => {
    const cr3s = new Set<number>();
    for (let t = 1; t <= CPUS; t++) {
      const oracle = await qemu().registersOf(t - 1);
      const top = await topFrame(t);
      assert.strictEqual(Number(top.instructionPointerReference), oracle.get('eip'), `thread ${t} pc`);
      const shown = await registersShown(t);
      for (const name of ['eip', 'esp', 'ebp', 'cr3', 'eflags']) {
        assert.strictEqual(shown.get(name), oracle.get(name), `thread ${t} ${name}: adapter ${shown.get(name)?.toString(16)} vs QEMU ${oracle.get(name)?.toString(16)}`);
      }
      cr3s.add(shown.get('cr3') as number);
    }
    assert.strictEqual(cr3s.size, CPUS, 'the kernel gives every CPU its own page directory');
  });

  it(`memory reads follow the address space of the thread (the same virtual address, ${CPUS} CPUs)`, async () => {
    for (let t = 1; t <= CPUS; t++) {
      const frame = await topFrame(t);
      const r = await client().evaluateRequest({ expression: `*(unsigned int *)0x${WINDOW.toString(16)}`, frameId: frame.id, context: 'watch' }).catch((e: Error) => {
        throw new Error(`thread ${t}: ${e.message}`);
      });
      const text = await qemu().hmpOn(t - 1, `x /4xb 0x${WINDOW.toString(16)}`);
      const oracle = (parseXpBytes(text) as Buffer).readUInt32LE(0);
      assert.strictEqual(oracle, (0xc0de0000 | (t - 1)) >>> 0, `QEMU reads CPU ${t - 1}'s own id through its page tables`);
      assert.strictEqual(Number(r.body.result), oracle, `thread ${t}: adapter ${r.body.result} vs QEMU 0x${oracle.toString(16)}`);
    }
  });

  it('steps keep to their thread while the other vCPUs stay stopped', async () => {
    await client().setFunctionBreakpointsRequest({ breakpoints: [] });
    const t = first.body.threadId as number;
    const others = (eips: number[]): number[] => eips.filter((_, i) => i !== t - 1);
    let before = await qemuEips();
    let moved = 0;
    for (let i = 0; i < 40; i++) {
      // Step out only of the functions that return (cpu_loop never does).
      const inLeaf = ['cpu_work', 'ap_round'].includes((await topFrame(t)).name);
      const kind = inLeaf ? (['next', 'instruction', 'stepOut'] as const)[i % 3] : (['next', 'stepIn', 'instruction'] as const)[i % 3];
      const request = kind === 'next' ? client().nextRequest({ threadId: t })
        : kind === 'stepIn' ? client().stepInRequest({ threadId: t })
        : kind === 'stepOut' ? client().stepOutRequest({ threadId: t })
        : client().nextRequest({ threadId: t, granularity: 'instruction' });
      const stop = await resumeAndStop(client(), request).catch((e: Error) => {
        throw new Error(`${kind} #${i} on thread ${t} did not stop: ${e.message}`);
      });
      assert.strictEqual(stop.body.threadId, t, `${kind} #${i} ended on thread ${stop.body.threadId}`);
      const after = await qemuEips();
      assert.deepStrictEqual(others(after), others(before), `${kind} #${i} on thread ${t} moved another vCPU`);
      if (after[t - 1] !== before[t - 1]) moved++;
      assert.strictEqual(Number((await topFrame(t)).instructionPointerReference), after[t - 1]);
      before = after;
    }
    assert.ok(moved >= 35, `the stepped thread moved in only ${moved} of 40 steps`);
  });

  it('continue runs every vCPU; pause stops them all', async () => {
    const counters = nmAddress('counters', kernel);
    const read = async (): Promise<number[]> => {
      const bytes = parseXpBytes(await qemu().hmp(`xp /${CPUS * 4}xb 0x${counters.toString(16)}`)) as Buffer;
      return Array.from({ length: CPUS }, (_, i) => bytes.readUInt32LE(i * 4));
    };
    const before = await read();
    await client().continueRequest({ threadId: 1 });
    await new Promise((r) => setTimeout(r, 500));
    const stop = await resumeAndStop(client(), client().pauseRequest({ threadId: 1 }));
    assert.strictEqual(stop.body.reason, 'pause');
    assert.strictEqual(await qemu().running(), false);
    const after = await read();
    for (let i = 0; i < CPUS; i++) assert.notStrictEqual(after[i], before[i], `CPU ${i} did not run during continue`);
  });

  it('an unknown thread is refused in one sentence', async () => {
    const list = Array.from({ length: CPUS }, (_, i) => i + 1).join(', ');
    await assert.rejects(client().customRequest('mmscope/selectThread', { threadId: 99 }), (e: Error) => e.message === `The guest has no thread 99; its threads are its vCPUs ${list}.`);
    await assert.rejects(client().nextRequest({ threadId: 7 }), (e: Error) => e.message === `The guest has no thread 7; its threads are its vCPUs ${list}.`);
    const top = await topFrame(1);
    assert.ok(top.name.length > 0, 'the session still answers after refusals');
  });
});

describe('SMP: the memory views follow the selected vCPU (our guest under -smp 2)', function () {
  this.timeout(240000);
  let dc: DebugClient | undefined;
  let monitor: QemuMonitor | undefined;
  let marker: string | undefined;

  before(async () => {
    requireGuest();
    marker = qemuMarker();
    dc = await startClient();
    await launchAndStop(dc, { cmdline: 'demo', marker, monitor: true, qemuArgs: ['-smp', '2'] }, () =>
      (dc as DebugClient).setFunctionBreakpointsRequest({ breakpoints: [{ name: 'MmAllocateChain' }] }));
    monitor = await QemuMonitor.connect(marker);
  });

  after(async () => {
    monitor?.close();
    await endSessionLeavingNoQemu(dc, marker);
  });

  async function snapshotCr3(): Promise<number> {
    const r = await (dc as DebugClient).customRequest('mmscope/snapshot', {});
    return (r.body as { snapshot: { cr3: number } }).snapshot.cr3;
  }

  it('selecting a vCPU re-sends the snapshot, built from that vCPU\'s CR3 (QEMU info registers per CPU)', async () => {
    const client = dc as DebugClient;
    const qemu = monitor as QemuMonitor;
    const cr3 = async (cpu: number): Promise<number> => (await qemu.registersOf(cpu)).get('cr3') as number;
    assert.strictEqual(await snapshotCr3(), await cr3(0), 'the stop on CPU 0 shows its address space');
    // The guest never starts its AP: CPU 1 waits for a SIPI, with paging off and CR3 0.
    assert.notStrictEqual(await cr3(1), await cr3(0));
    let event = client.waitForEvent('mmscope/snapshotReady', 20000);
    await client.customRequest('mmscope/selectThread', { threadId: 2 });
    const second = (await event).body as { stop: number };
    const shown = await client.customRequest('mmscope/snapshot', {}).then((r) => (r.body as { snapshot: { cr3: number } }).snapshot.cr3, (e: Error) => e.message);
    assert.ok(shown === (await cr3(1)) || /paging|CR3|not/i.test(String(shown)), `after selecting CPU 1 the snapshot says ${shown}`);
    event = client.waitForEvent('mmscope/snapshotReady', 20000);
    await client.customRequest('mmscope/selectThread', { threadId: 1 });
    const third = (await event).body as { stop: number };
    assert.ok(third.stop > second.stop, 'each selection is a new snapshot');
    assert.strictEqual(await snapshotCr3(), await cr3(0));
  });
});
