// The stepping engine against a FAKE scripted gdbstub, without QEMU: a tiny i386 machine
// (qemu-bridge/test/fake-i386-gdbstub.ts) runs fixtures-c/stepper.c, built at test time with gcc
// -m32 -g, so the engine reads real DWARF lines, CFI and variables and runs unmodified. The parts
// are wired as Target's constructor wires them. Each test checks the engine's result and the
// packets the fake received; the comment above each says what engine behaviour it guards.

import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { BridgeError, QemuSession, RspClient } from '../../qemu-bridge/src';
import { FakeI386Gdbstub } from '../../qemu-bridge/test/fake-i386-gdbstub';
import { INTERRUPT } from '../../qemu-bridge/test/fake-rsp-peer';
import { BreakpointArming } from '../src/session/breakpoint-arming';
import { BreakpointDecider } from '../src/session/breakpoint-decision';
import { BreakpointTable, SourceBreakpointRequest } from '../src/session/breakpoint-table';
import { CodeMap } from '../src/session/code-map';
import { GuestAccess } from '../src/session/guest-access';
import { TargetStop } from '../src/session/run-events';
import { GuestExited, SteppingEngine } from '../src/session/stepping-engine';
import { DebugSymbols } from '../src/symbols';
import { build, fixtureDir, haveTool } from './fixtures-c/compile';
import { markerLine } from './source-markers';

const SOURCE = path.join(fixtureDir, 'stepper.c');
/** Stack tops of the two vCPUs. */
const STACK_1 = 0x1f0000;
const STACK_2 = 0x1e0000;

interface Rig {
  machine: FakeI386Gdbstub;
  rsp: RspClient;
  bridge: QemuSession;
  access: GuestAccess;
  table: BreakpointTable;
  arming: BreakpointArming;
  engine: SteppingEngine;
  /** Packets the fake received since the rig was set up (or since mark()). */
  packets(): string[];
  mark(): void;
}

const isResume = (p: string): boolean => p === 's' || p === 'c' || p.startsWith('vCont;');

describe('stepping engine against a fake scripted gdbstub (no QEMU)', function () {
  this.timeout(20000);
  let symbols: DebugSymbols;
  let segments: { address: number; bytes: Uint8Array }[];
  const rigs: Rig[] = [];

  const symbol = (name: string): number => {
    const s = symbols.elf.symbolByName(name);
    if (!s) throw new Error(`stepper.c has no symbol ${name}`);
    return s.value;
  };
  /** The first address of the line carrying marker `@dap:NAME`. */
  const line = (marker: string): number => {
    const where = symbols.lineToAddresses(SOURCE, markerLine(SOURCE, marker));
    if (!where || where.line !== markerLine(SOURCE, marker)) throw new Error(`no code on the line of @dap:${marker}`);
    return where.addresses[0];
  };
  const functionRange = (name: string): { lowPc: number; highPc: number } => {
    const f = symbols.functionsNamed(name)[0];
    if (!f) throw new Error(`stepper.c has no function ${name}`);
    return f;
  };

  /**
   * A fake machine with vCPU 1 at _start (and vCPU 2 at ap_main with `threads` 2), `scene` run
   * on it locally, then the gdbstub client and the engine's parts wired as Target does.
   */
  async function rig(scene: (machine: FakeI386Gdbstub) => void, threads = 1): Promise<Rig> {
    const machine = new FakeI386Gdbstub({ segments });
    machine.addCpu(1, symbol('_start'), STACK_1);
    if (threads > 1) {
      machine.addCpu(2, symbol('ap_main'), STACK_2 - 4); // a zero return address ends its stack
      machine.write32(STACK_2 - 4, 0);
    }
    scene(machine);
    const bridge = await QemuSession.attach({ gdb: await machine.listen(), timeoutMs: 3000 });
    const rsp = bridge.rsp as RspClient;
    // As in Target's constructor.
    const codeMap = new CodeMap(symbols);
    const table = new BreakpointTable(symbols, codeMap);
    const access = new GuestAccess(symbols, codeMap, rsp, bridge);
    const arming = new BreakpointArming(rsp, table, () => access.pagingSeen);
    const engine = new SteppingEngine(symbols, codeMap, table, rsp, access, arming);
    const decider = new BreakpointDecider(symbols, access, () => undefined);
    engine.decide = (hit) => decider.decide(hit.breakpoints);
    // As in Target.learnThreads.
    const ids = await rsp.threadIds();
    access.multipleThreads = ids.length > 1;
    engine.currentThread = ids[0];
    access.selectThread(ids[0]);
    let from = machine.received.length;
    const r: Rig = {
      machine, rsp, bridge, access, table, arming, engine,
      packets: () => machine.received.slice(from),
      mark: () => {
        from = machine.received.length;
      },
    };
    rigs.push(r);
    return r;
  }

  /** Sets source breakpoints on stepper.c and arms them, as Target.syncBreakpoints does while stopped. */
  async function setBreakpoints(r: Rig, requests: SourceBreakpointRequest[]): Promise<void> {
    const placed = r.table.setSourceBreakpoints(SOURCE, requests);
    assert.ok(placed.every((p) => p.verified), JSON.stringify(placed));
    r.arming.pending = true;
    await r.arming.sync();
    r.mark();
  }

  /** Waits (bounded) for `condition`. */
  async function until(condition: () => boolean, what: string): Promise<void> {
    for (let i = 0; i < 500 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 5));
    assert.ok(condition(), `timed out waiting for ${what}`);
  }

  const resumes = (r: Rig): string[] => r.packets().filter(isResume);
  const stopsAt = (r: Rig, pc: number): number => r.machine.stops.filter((s) => s.pc === pc && s.reply.startsWith('T05')).length;
  /** `a` comes before `b` in the packets since the mark. */
  const precedes = (r: Rig, a: string, b: string): boolean => {
    const p = r.packets();
    const i = p.indexOf(a);
    return i >= 0 && p.indexOf(b, i + 1) > i;
  };

  before(function () {
    // gcc and ld are prerequisites (scripts/setup.sh installs them): without them this fails, it does not skip.
    for (const tool of ['gcc', 'ld']) assert.ok(haveTool(tool), `${tool} is missing; run scripts/setup.sh`);
    const elf = build('stepper.c', { flags: ['-O0', '-fcf-protection=none'], script: 'runctl_kernel.ld' });
    symbols = new DebugSymbols(fs.readFileSync(elf));
    segments = symbols.elf.programHeaders
      .filter((h) => h.type === 1 && h.filesz > 0)
      .map((h) => ({ address: h.paddr, bytes: symbols.elf.bytes.subarray(h.offset, h.offset + h.filesz) }));
  });

  afterEach(async () => {
    for (const r of rigs.splice(0)) {
      const fault = r.machine.fault;
      r.rsp.close();
      await r.machine.stop();
      assert.strictEqual(fault, undefined, 'the fake machine met code it cannot run');
    }
  });

  // Guards: an instruction step is exactly one `s` whose stop is reported as 'step' at the new pc.
  it('stepInstruction sends one step and reports step', async () => {
    const r = await rig((m) => m.runTo(line('call-leaf')));
    r.engine.beginOperation();
    const stop = await r.engine.stepInstruction();
    assert.deepStrictEqual([stop.reason, stop.pc, stop.threadId], ['step', line('call-leaf') + 2, 1]); // push $1 is 2 bytes
    assert.strictEqual(r.machine.cpu(1).eip, stop.pc);
    assert.deepStrictEqual(resumes(r), ['s']);
    assert.strictEqual(r.machine.stops.length, 1);
  });

  // Guards: resuming from a pc with an armed breakpoint lifts it for one step and re-arms it (the
  // fake, like QEMU, reports a breakpoint at the resume pc before running its instruction).
  it('steps over a software breakpoint at the pc: lifts it, steps, re-arms it', async () => {
    const r = await rig((m) => m.runTo(line('call-leaf')));
    const at = line('call-leaf');
    await setBreakpoints(r, [{ line: markerLine(SOURCE, 'call-leaf') }]);
    assert.ok(r.machine.breakpoints.has(`0:${at}`));
    r.engine.beginOperation();
    const stop = await r.engine.stepInstruction();
    assert.deepStrictEqual([stop.reason, stop.pc], ['step', at + 2]);
    const hex = at.toString(16);
    assert.deepStrictEqual(r.packets().filter((p) => /^[zZ]|^s$/.test(p)), [`z0,${hex},1`, 's', `Z0,${hex},1`]);
    assert.ok(r.machine.breakpoints.has(`0:${at}`), 'the breakpoint is armed again');
  });

  // Guards: `next` over a call runs the callee at full speed to a breakpoint on the return
  // address (not single steps through it), removes that breakpoint, and stops on the next line.
  it('next over a call finishes the callee and stops on the next line', async () => {
    const r = await rig((m) => m.runTo(line('call-leaf')));
    const esp = r.machine.cpu(1).esp;
    const returnAddress = line('call-leaf') + 7; // after push $1; call leaf
    r.engine.beginOperation();
    const stop = await r.engine.stepLine('over');
    assert.deepStrictEqual([stop.reason, stop.pc], ['step', line('after-leaf')]);
    assert.strictEqual(r.machine.cpu(1).eax, 3, 'leaf(1) ran');
    assert.strictEqual(r.machine.cpu(1).esp, esp);
    const hex = returnAddress.toString(16);
    assert.ok(precedes(r, `Z0,${hex},1`, 'c') && precedes(r, 'c', `z0,${hex},1`), r.packets().join(' '));
    assert.strictEqual(resumes(r).filter((p) => p === 'c').length, 1);
    assert.ok(resumes(r).filter((p) => p === 's').length <= 3, `the callee was single-stepped: ${resumes(r).join(' ')}`);
    assert.strictEqual(stopsAt(r, returnAddress), 1);
    assert.strictEqual(r.machine.breakpoints.size, 0);
  });

  // Guards gdb's frame-id rule: the return-address breakpoint of `next` is hit first by the inner
  // recursive frames returning to the same address; those hits are resumed, and the step ends
  // only in the frame it started in.
  it('next in a recursion ends in the frame it started in, not at an inner frame\'s return', async () => {
    const r = await rig((m) => m.runTo(line('sum-recurse'))); // first reached in sum(3)
    const ebp = r.machine.cpu(1).ebp;
    assert.strictEqual(r.machine.read32(ebp + 8), 3);
    r.engine.beginOperation();
    const stop = await r.engine.stepLine('over');
    assert.deepStrictEqual([stop.reason, stop.pc], ['step', line('sum-end')]);
    assert.strictEqual(r.machine.cpu(1).ebp, ebp, 'stopped in the frame of sum(3)');
    assert.strictEqual(r.machine.cpu(1).eax, 6, 'sum(3) = 3 + 2 + 1');
    const returnAddress = line('sum-recurse') + 15; // the instruction after `call sum`
    assert.strictEqual(stopsAt(r, returnAddress), 3, 'hit by sum(1), sum(2) and at last sum(3)');
    assert.strictEqual(resumes(r).filter((p) => p === 'c').length, 3);
  });

  // Guards: `step` enters a called function that has line information and stops after its
  // prologue (on the first line of its body), by single steps.
  it('step into a call stops after the callee\'s prologue', async () => {
    const r = await rig((m) => m.runTo(line('call-leaf')));
    r.engine.beginOperation();
    const stop = await r.engine.stepLine('into');
    assert.deepStrictEqual([stop.reason, stop.pc], ['step', line('leaf-body')]);
    assert.ok(line('leaf-body') > functionRange('leaf').lowPc);
    assert.deepStrictEqual(resumes(r), ['s', 's', 's', 's', 's']); // push $1, call, push %ebp, mov, sub
  });

  // Guards: step out runs to the return address in the caller's frame and stops there.
  it('stepOut returns to the caller', async () => {
    let espAtCall = 0;
    const r = await rig((m) => {
      m.runTo(line('call-leaf'));
      espAtCall = m.cpu(1).esp;
      m.runTo(line('leaf-body'));
    });
    const returnAddress = line('call-leaf') + 7;
    r.engine.beginOperation();
    const stop = await r.engine.stepOut();
    assert.deepStrictEqual([stop.reason, stop.pc], ['step', returnAddress]);
    assert.strictEqual(r.machine.cpu(1).eax, 3);
    assert.strictEqual(r.machine.cpu(1).esp, espAtCall - 4, 'back in kmain with its argument still pushed');
    const hex = returnAddress.toString(16);
    assert.deepStrictEqual(r.packets().filter((p) => /^[zZ]|^[sc]$/.test(p)), [`Z0,${hex},1`, 'c', `z0,${hex},1`]);
  });

  // Guards: a user breakpoint met while `next` runs a callee ends the step as a breakpoint stop
  // naming that breakpoint, and the step's temporary breakpoint goes away.
  it('a user breakpoint hit during next ends the step with reason breakpoint', async () => {
    const r = await rig((m) => m.runTo(line('call-leaf')));
    await setBreakpoints(r, [{ line: markerLine(SOURCE, 'leaf-body') }]);
    const [bp] = r.table.codeBreakpointsAt(line('leaf-body'), true);
    r.engine.beginOperation();
    const stop = await r.engine.stepLine('over');
    assert.deepStrictEqual([stop.reason, stop.pc, stop.breakpoints.map((b) => b.id)], ['breakpoint', line('leaf-body'), [bp.id]]);
    assert.deepStrictEqual([...r.machine.breakpoints], [`0:${line('leaf-body')}`], 'only the user breakpoint stays armed');
  });

  // Guards: a breakpoint whose condition is false at the hit (evaluated in the hit's frame from
  // DWARF) is resumed silently and the step goes on; with the condition true it stops.
  it('a conditional breakpoint whose condition is false does not stop', async () => {
    const r = await rig((m) => m.runTo(line('call-leaf')));
    await setBreakpoints(r, [{ line: markerLine(SOURCE, 'leaf-body'), condition: 'x == 5' }]);
    r.engine.beginOperation();
    const stop = await r.engine.stepLine('over');
    assert.deepStrictEqual([stop.reason, stop.pc], ['step', line('after-leaf')]);
    assert.strictEqual(stopsAt(r, line('leaf-body')), 1, 'the breakpoint was hit, then resumed');
    assert.strictEqual(r.table.codeBreakpointsAt(line('leaf-body'), true)[0].hits, 0);

    const t = await rig((m) => m.runTo(line('call-leaf')));
    await setBreakpoints(t, [{ line: markerLine(SOURCE, 'leaf-body'), condition: 'x == 1' }]);
    t.engine.beginOperation();
    const hit = await t.engine.stepLine('over');
    assert.deepStrictEqual([hit.reason, hit.pc], ['breakpoint', line('leaf-body')]);
  });

  // Guards: a pause asked for while `next` runs a call that never returns interrupts the guest
  // (0x03) and ends the step as a pause stop, removing the step's temporary breakpoint.
  it('pause during a long next stops with pause', async () => {
    const r = await rig((m) => {
      m.write32(symbol('mode'), 1);
      m.runTo(line('call-spin'));
    });
    r.engine.beginOperation();
    const stepping = r.engine.stepLine('over');
    await until(() => r.packets().includes('c') && r.machine.executed > 5000, 'the guest to run in spin()');
    r.engine.requestPause();
    const stop: TargetStop = await stepping;
    const spin = functionRange('spin');
    assert.strictEqual(stop.reason, 'pause');
    assert.ok(stop.pc >= spin.lowPc && stop.pc < spin.highPc, `stopped in spin(), at 0x${stop.pc.toString(16)}`);
    assert.ok(precedes(r, 'c', INTERRUPT));
    assert.ok(r.machine.stops.at(-1)?.reply.startsWith('T02'));
    const returnAddress = (line('call-spin') + 5).toString(16);
    assert.ok(precedes(r, INTERRUPT, `z0,${returnAddress},1`), r.packets().join(' '));
    assert.strictEqual(r.machine.breakpoints.size, 0);
  });

  // Guards: a pause asked for while the engine re-arms breakpoints before a resume (the guest is
  // stopped then, so no interrupt can be sent) is not lost: the operation ends as a pause without
  // resuming. Before the fix the continue ran on in spin() and never stopped.
  it('a pause asked for while breakpoints are re-armed before a resume is not lost', async () => {
    const r = await rig((m) => {
      m.write32(symbol('mode'), 1);
      m.runTo(line('call-spin'));
    });
    r.table.setSourceBreakpoints(SOURCE, [{ line: markerLine(SOURCE, 'leaf-body') }]);
    r.arming.pending = true; // armed by the next resume, as after a setBreakpoints while stopped
    r.machine.onPacket = (p) => {
      if (p.startsWith('Z0')) r.engine.requestPause();
    };
    r.engine.beginOperation();
    let timer: NodeJS.Timeout | undefined;
    const stop = await Promise.race([
      r.engine.continue(),
      new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('the pause was lost: the guest runs on')), 3000))),
    ]).finally(() => clearTimeout(timer));
    assert.deepStrictEqual([stop.reason, stop.pc], ['pause', line('call-spin')]);
    assert.deepStrictEqual(resumes(r), [], 'nothing was resumed');
    assert.ok(r.machine.breakpoints.has(`0:${line('leaf-body')}`), 'the new breakpoint is armed');
  });

  // Guards: the guest exiting (a `W` stop reply) while a step runs rejects the operation with
  // GuestExited carrying the exit status.
  it('the guest exiting during a step raises GuestExited', async () => {
    const r = await rig((m) => m.runTo(line('call-finish')));
    r.engine.beginOperation();
    // total is 7 at the exit; isa-debug-exit makes QEMU's status (7 << 1) | 1.
    await assert.rejects(r.engine.stepLine('over'), (e: unknown) => e instanceof GuestExited && e.code === 15);
    assert.strictEqual(r.machine.stops.at(-1)?.reply, 'W0f');
  });

  // Guards gdb's all-stop stepping on SMP: a step operation on vCPU 2 reads vCPU 2's registers
  // (Hg), resumes only vCPU 2 (vCont;s:p1.2 and, over a call, vCont;c:p1.2), reports thread 2,
  // and vCPU 1 does not move.
  it('with two vCPUs, beginOperation(2) locks the steps to thread 2 and thread 1 stays stopped', async () => {
    const r = await rig((m) => {
      m.runTo(line('call-leaf'), 1);
      m.runTo(line('ap-call'), 2);
    }, 2);
    assert.ok(r.access.multipleThreads);
    const cpu1 = { ...r.machine.cpu(1) };
    r.engine.beginOperation(2);
    const step = await r.engine.stepInstruction();
    assert.deepStrictEqual([step.reason, step.threadId, step.pc], ['step', 2, line('ap-call') + 5]); // mov counter,%eax
    r.engine.beginOperation(2);
    const next = await r.engine.stepLine('over');
    assert.deepStrictEqual([next.reason, next.threadId], ['step', 2]);
    // The loop's jump back: a statement start of the line before (gdb stops there too).
    const shown = new CodeMap(symbols).gdbLineAt(next.pc);
    assert.deepStrictEqual([shown?.line, shown?.start], [markerLine(SOURCE, 'ap-body'), next.pc]);
    assert.deepStrictEqual(r.machine.cpu(1), cpu1, 'vCPU 1 did not run');
    const run = resumes(r);
    assert.ok(run.includes('vCont;s:p1.2') && run.includes('vCont;c:p1.2'), run.join(' '));
    assert.deepStrictEqual(run.filter((p) => !/^vCont;[sc]:p1\.2$/.test(p)), [], 'every resume names thread 2');
    // Every register read after the first resume goes to thread 2.
    let selected = 0;
    for (const p of r.packets()) {
      if (p.startsWith('Hg')) selected = p === 'Hgp1.2' ? 2 : -1;
      if (p === 'g') assert.strictEqual(selected, 2, r.packets().join(' '));
      if (isResume(p)) selected = 0;
    }
    assert.ok(r.machine.stops.every((s) => s.thread === 2));
  });

  // Guards: a register read refused by the stub in the middle of a step fails that operation
  // only; the next operation starts from fresh caches and completes.
  it('a peer error reply mid-step (a refused register read) leaves the engine usable', async () => {
    const r = await rig((m) => m.runTo(line('call-leaf')));
    let reads = 0;
    r.machine.failOnce((p) => p === 'g' && ++reads === 2); // the read after the first single step
    r.engine.beginOperation();
    await assert.rejects(r.engine.stepLine('over'), (e: unknown) => e instanceof BridgeError && e.code === 'RSP_COMMAND_FAILED');
    r.engine.beginOperation();
    const stop = await r.engine.stepLine('over');
    assert.deepStrictEqual([stop.reason, stop.pc], ['step', line('after-leaf')]);
    assert.strictEqual(r.machine.breakpoints.size, 0);
  });

  // Guards: a temporary breakpoint the stub refused to insert is not left behind in the arming:
  // the next operation arms and removes its own, and nothing stays armed in the stub.
  it('a peer error reply mid-step (a refused breakpoint) leaves the engine usable', async () => {
    const r = await rig((m) => m.runTo(line('call-leaf')));
    const returnAddress = (line('call-leaf') + 7).toString(16);
    r.machine.failOnce(`Z0,${returnAddress},1`, 'E22');
    r.engine.beginOperation();
    await assert.rejects(r.engine.stepLine('over'), (e: unknown) => e instanceof BridgeError && e.code === 'RSP_COMMAND_FAILED');
    r.engine.beginOperation();
    const stop = await r.engine.stepLine('over');
    assert.deepStrictEqual([stop.reason, stop.pc], ['step', line('after-leaf')]);
    assert.deepStrictEqual([...r.machine.breakpoints], [], 'no temporary breakpoint stays armed');
    assert.ok(precedes(r, 'c', `z0,${returnAddress},1`), r.packets().join(' '));
  });

  // Guards: runToEntry continues to the entry with a temporary breakpoint and reports 'entry'.
  it('runToEntry stops at the entry with reason entry', async () => {
    const r = await rig(() => undefined);
    const entry = symbol('kmain');
    r.engine.beginOperation();
    const stop = await r.engine.runToEntry(entry);
    assert.deepStrictEqual([stop.reason, stop.pc], ['entry', entry]);
    assert.deepStrictEqual(resumes(r), ['c']);
    assert.strictEqual(r.machine.breakpoints.size, 0);
  });
});
