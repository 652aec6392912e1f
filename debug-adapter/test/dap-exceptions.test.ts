// CPU exceptions stop the debugger, through the real adapter (DebugClient over stdio) on a real
// QEMU, with a kernel written for the tests (fixtures-exc: no IDT, an IDT with handlers, a #PF
// handler that maps the page and returns). Oracles: the kernel's source markers and addr2line
// for the faulting line, QEMU's own `info tlb`/`info registers` on a second QMP monitor for CR2
// and its translation, and the kernel's serial output for what ran.

import * as assert from 'assert';
import { DebugClient } from '@vscode/debugadapter-testsupport';
import { DebugProtocol } from '@vscode/debugprotocol';
import { findFreePort, parseInfoRegisters, parseInfoTlb, QmpClient } from '../../qemu-bridge/src';
import { endSessionLeavingNoQemu, processesWith, qemuMarker, shownStack, startClient } from './dap-fixture';
import { buildExceptionKernel, KernelLayout, lineOf, markerLine } from './fixtures-exc/build';

interface Session {
  dc: DebugClient;
  marker: string;
  qmp: QmpClient;
  serial: () => string;
  stops: DebugProtocol.StoppedEvent[];
  terminated: () => boolean;
}

/** Launches the test kernel with `test=<scenario>` and the given exception filters. */
async function launch(scenario: string, filters: string[], opt = '-O0', configure?: (dc: DebugClient) => Promise<unknown>, layout: KernelLayout = 'identity'): Promise<Session> {
  const kernel = buildExceptionKernel(opt, layout);
  const marker = qemuMarker();
  const qmpPort = await findFreePort();
  const dc = await startClient();
  let serial = '';
  const stops: DebugProtocol.StoppedEvent[] = [];
  dc.on('output', (e: DebugProtocol.OutputEvent) => {
    if (e.body.category === 'stdout') serial += e.body.output;
  });
  dc.on('stopped', (e: DebugProtocol.StoppedEvent) => stops.push(e));
  let terminated = false;
  dc.on('terminated', () => (terminated = true));
  await Promise.all([
    dc.initializeRequest().then((r) => {
      assert.strictEqual(r.body?.supportsExceptionInfoRequest, true);
      const offered = (r.body?.exceptionBreakpointFilters ?? []).map((f) => `${f.filter}${f.default ? '*' : ''}`);
      for (const f of ['cpu-page-fault', 'cpu-general-protection', 'cpu-double-fault', 'cpu-invalid-opcode', 'cpu-divide-error', 'cpu-triple-fault*']) assert.ok(offered.includes(f), `filter ${f} offered`);
    }),
    dc.waitForEvent('initialized').then(async () => {
      const r = await dc.setExceptionBreakpointsRequest({ filters });
      assert.deepStrictEqual(r.body?.breakpoints?.map((b) => b.verified), filters.map(() => true));
      await configure?.(dc);
      await dc.configurationDoneRequest();
    }),
    dc.launch({ kernel, cmdline: `test=${scenario}`, memory: 32, stopOnEntry: false, qemuArgs: ['-name', marker, '-qmp', `tcp:127.0.0.1:${qmpPort},server=on,wait=off`] }),
  ]);
  // QEMU may already be gone (test=reset): then there is no QEMU to ask.
  const qmp = await QmpClient.connect({ host: '127.0.0.1', port: qmpPort }).catch(() => undefined) as QmpClient;
  return { dc, marker, qmp, serial: () => serial, stops, terminated: () => terminated };
}

async function end(s: Session | undefined): Promise<void> {
  if (!s) return;
  s.qmp?.close();
  await endSessionLeavingNoQemu(s.dc, s.marker);
}

async function waitFor<T>(what: string, probe: () => T | undefined, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const firstStop = (s: Session): Promise<DebugProtocol.StoppedEvent> => waitFor('the first stop', () => s.stops[0]);
const hex = (n: number): string => `0x${n.toString(16)}`;

/** The top frame's function, file, line and pc, with addr2line's line for that pc. */
async function topFrame(s: Session, elf: string): Promise<{ name: string; file?: string; line: number; pc: number; oracle: { file: string; line: number }; frames: string[] }> {
  const st = await shownStack(s.dc);
  const top = st.raw[0];
  const pc = Number(top.instructionPointerReference);
  return { name: st.frames[0].name, file: st.frames[0].file, line: top.line, pc, oracle: lineOf(elf, pc), frames: st.frames.map((f) => f.name) };
}

describe('CPU exceptions stop the debugger (DAP, real QEMU, test kernels)', function () {
  this.timeout(180_000);
  let s: Session | undefined;
  afterEach(async () => {
    await end(s);
    s = undefined;
  });

  it('no IDT, higher half at 0xC0000000 (-O2): the triple fault with its chain and the faulting frame on top', async () => {
    const elf = buildExceptionKernel('-O2', 'higher-half');
    s = await launch('noidt-pf', ['cpu-triple-fault'], '-O2', undefined, 'higher-half');
    const stop = await firstStop(s);
    const line = markerLine('FAULT-PF');
    assert.strictEqual(stop.body.description,
      `triple fault: #PF → #GP (delivered as #DF) → #GP → triple fault; the first fault: page fault: write to 0xdead0000, not present, in kernel mode, at kmain.c:${line} (poke); ` +
      'QEMU stopped instead of resetting the machine; the registers are those of the first fault');
    const top = await topFrame(s, elf);
    assert.ok(top.pc >= 0xc0000000, `the pc ${hex(top.pc)} is in the higher half`);
    assert.deepStrictEqual([top.name, top.line, top.oracle.line, top.frames[1]], ['poke', line, line, 'kmain']);
  });

  it('no IDT: a write to an unmapped page stops as a triple fault before QEMU resets, with the chain and the first fault\'s registers', async () => {
    const elf = buildExceptionKernel('-O0');
    s = await launch('noidt-pf', ['cpu-triple-fault']);
    const stop = await firstStop(s);
    const line = markerLine('FAULT-PF');
    assert.strictEqual(stop.body.reason, 'exception');
    assert.strictEqual(stop.body.text, 'CPU: triple fault');
    assert.strictEqual(stop.body.description,
      `triple fault: #PF → #GP (delivered as #DF) → #GP → triple fault; the first fault: page fault: write to 0xdead0000, not present, in kernel mode, at kmain.c:${line} (poke); ` +
      'QEMU stopped instead of resetting the machine; the registers are those of the first fault');
    // QEMU is alive, stopped in its shutdown state, and did not reboot (the kernel started once).
    assert.strictEqual(processesWith(s.marker).length, 1);
    assert.strictEqual((await s.qmp.queryStatus()).status, 'shutdown');
    assert.strictEqual(s.serial().split('scenario noidt-pf').length - 1, 1);
    // The faulting frame on top, then its caller; the pc's line by addr2line.
    const top = await topFrame(s, elf);
    assert.deepStrictEqual([top.name, top.file, top.line], ['poke', 'kmain.c', line]);
    assert.deepStrictEqual(top.oracle, { file: 'kmain.c', line });
    assert.strictEqual(top.frames[1], 'kmain');
    // The registers of the first fault equal QEMU's own view (nothing ran after it).
    const qemu = parseInfoRegisters(await s.qmp.humanMonitorCommand('info registers'));
    const frameId = (await s.dc.stackTraceRequest({ threadId: 1 })).body.stackFrames[0].id;
    const scopes = await s.dc.scopesRequest({ frameId });
    const regScope = scopes.body.scopes.find((x) => /register/i.test(x.name));
    assert.ok(regScope, 'a Registers scope');
    const regs = new Map((await s.dc.variablesRequest({ variablesReference: regScope.variablesReference })).body.variables.map((v) => [v.name.toLowerCase(), Number(v.value.split(' ')[0])]));
    for (const name of ['eax', 'ecx', 'edx', 'ebx', 'esp', 'ebp', 'esi', 'edi', 'eip']) assert.strictEqual(regs.get(name), qemu.get(name), name);
    assert.strictEqual(qemu.get('eax'), 0xdead0000);
    assert.strictEqual(qemu.get('cr2'), 0xdead0000);
    const info = await s.dc.customRequest('exceptionInfo', { threadId: 1 }) as DebugProtocol.ExceptionInfoResponse;
    assert.strictEqual(info.body.exceptionId, 'cpu-triple-fault');
    assert.strictEqual(info.body.description, stop.body.description);
    assert.deepStrictEqual(info.body.details?.innerException?.map((x) => x.typeName), ['#PF', '#GP', '#GP']);
    // Continuing cannot work: one sentence, and the session stays usable.
    await assert.rejects(s.dc.continueRequest({ threadId: 1 }), /triple-faulted and QEMU cannot run it on from there; restart the session/);
    assert.strictEqual((await topFrame(s, elf)).name, 'poke');
    // A restart resets the machine: the kernel boots again and triple-faults again, stopped again.
    await s.dc.restartRequest({});
    const cur = s;
    const again = await waitFor('the stop after the restart', () => cur.stops[1]);
    assert.strictEqual(again.body.description, stop.body.description);
    assert.strictEqual(cur.serial().split('scenario noidt-pf').length - 1, 2);
  });

  it('a guest that resets the machine itself (no fault) still ends the session, as -no-reboot does without the filter', async () => {
    s = await launch('reset', ['cpu-triple-fault']);
    const cur = s;
    await waitFor('the session to end', () => (cur.terminated() ? true : undefined));
    assert.strictEqual(cur.stops.length, 0);
    assert.deepStrictEqual(await waitFor('QEMU to end', () => (processesWith(cur.marker).length === 0 ? [] : undefined), 10_000), []);
  });

  it('an IDT loaded over the first one: the stop is at the new table\'s handler (re-armed after lidt)', async () => {
    s = await launch('reload-pf', ['cpu-page-fault']);
    const stop = await firstStop(s);
    assert.match(stop.body.description ?? '', new RegExp(`^page fault: write to 0xdead0000, not present, in kernel mode, at kmain\\.c:${markerLine('FAULT-PF')} \\(poke\\); .*; stopped at the entry of its handler \\(isr14_alt at 0x[0-9a-f]+, boot\\.S:\\d+\\)$`));
  });

  it('stepping over the faulting statement stops as the exception, with the faulting frame on top', async () => {
    const elf = buildExceptionKernel('-O0');
    s = await launch('pf', ['cpu-page-fault'], '-O0', (dc) => dc.setFunctionBreakpointsRequest({ breakpoints: [{ name: 'poke' }] }));
    const first = await firstStop(s);
    assert.strictEqual(first.body.reason, 'breakpoint');
    const line = markerLine('FAULT-PF');
    assert.strictEqual((await topFrame(s, elf)).line, line);
    await s.dc.nextRequest({ threadId: 1 });
    const cur = s;
    const stop = await waitFor('the stop after next', () => cur.stops[1]);
    assert.strictEqual(stop.body.reason, 'exception');
    assert.strictEqual(stop.body.text, 'CPU: page fault (#PF)');
    assert.match(stop.body.description ?? '', /^page fault: write to 0xdead0000, not present, in kernel mode, at kmain\.c:\d+ \(poke\);/);
    const top = await topFrame(s, elf);
    assert.deepStrictEqual([top.name, top.line, top.oracle.line], ['poke', line, line]);
  });

  const pfRuns: [string, KernelLayout][] = [['-O0', 'identity'], ['-O2', 'identity'], ['-Os', 'identity'], ['-O2', 'higher-half']];
  for (const [opt, layout] of pfRuns) {
    it(`IDT with handlers (${opt}, ${layout}): #PF on a write to 0xdead0000 stops at the handler entry with the sentence, CR2 translated, and the faulting frame on top`, async () => {
      const elf = buildExceptionKernel(opt, layout);
      s = await launch('pf', ['cpu-page-fault', 'cpu-triple-fault'], opt, undefined, layout);
      const stop = await firstStop(s);
      const line = markerLine('FAULT-PF');
      const qemu = parseInfoRegisters(await s.qmp.humanMonitorCommand('info registers'));
      const cr3 = qemu.get('cr3') as number;
      // The oracle for the translation: QEMU's info tlb lists no page at 0xdead0000.
      const tlb = parseInfoTlb(await s.qmp.humanMonitorCommand('info tlb'));
      assert.ok(tlb.length > 0 && !tlb.some((e) => e.virtual === 0xdead0000));
      const pdeAddress = cr3 + (0xdead0000 >>> 22) * 4;
      assert.strictEqual(stop.body.reason, 'exception');
      assert.strictEqual(stop.body.text, 'CPU: page fault (#PF)');
      const isr14 = qemu.get('eip') as number;
      const handler = lineOf(elf, isr14);
      assert.strictEqual(stop.body.description,
        `page fault: write to 0xdead0000, not present, in kernel mode, at kmain.c:${line} (poke); ` +
        `CR3 ${hex(cr3)} maps nothing at 0xdead0000: page-directory entry 890 (at physical ${hex(pdeAddress)}) is 0x0, not present; ` +
        `stopped at the entry of its handler (isr14 at ${hex(isr14)}, ${handler.file}:${handler.line})`);
      assert.strictEqual(qemu.get('cr2'), 0xdead0000);
      const top = await topFrame(s, elf);
      assert.deepStrictEqual([top.name, top.file, top.line], ['poke', 'kmain.c', line]);
      assert.deepStrictEqual(top.oracle, { file: 'kmain.c', line });
      assert.strictEqual(top.frames[1], 'kmain');
      const info = await s.dc.customRequest('exceptionInfo', { threadId: 1 }) as DebugProtocol.ExceptionInfoResponse;
      assert.deepStrictEqual([info.body.exceptionId, info.body.description, info.body.breakMode, info.body.details?.typeName], ['cpu-page-fault', stop.body.description, 'always', '#PF']);
    });
  }

  it('#PF on a present read-only page (CR0.WP): a protection violation, with CR2 mapped as QEMU\'s info tlb says', async () => {
    s = await launch('wp', ['cpu-page-fault']);
    const stop = await firstStop(s);
    const qemu = parseInfoRegisters(await s.qmp.humanMonitorCommand('info registers'));
    const page = parseInfoTlb(await s.qmp.humanMonitorCommand('info tlb')).find((e) => e.virtual === 0x300000);
    assert.ok(page, 'info tlb lists the page');
    assert.strictEqual(page.flags[8], '-', 'read-only for QEMU');
    assert.strictEqual(page.flags[7], '-', 'kernel-only for QEMU');
    assert.strictEqual(qemu.get('cr2'), 0x300000);
    assert.match(stop.body.description ?? '', new RegExp(`^page fault: write to 0x300000, protection violation, in kernel mode, at kmain\\.c:${markerLine('FAULT-PF')} \\(poke\\); ` +
      `CR3 ${hex(qemu.get('cr3') as number)} maps 0x300000 to physical ${hex(page.physical)} \\(4 KiB page, read-only, kernel-only\\); stopped at the entry of its handler \\(isr14 at `));
  });

  it('#PF from ring 3: the frame the CPU pushed with the user esp and ss, and the user code on top', async () => {
    const elf = buildExceptionKernel('-O0');
    s = await launch('user-pf', ['cpu-page-fault']);
    const stop = await firstStop(s);
    const line = markerLine('FAULT-PF');
    assert.match(stop.body.description ?? '', new RegExp(`^page fault: write to 0xdead0000, not present, in user mode, at kmain\\.c:${line} \\(poke\\); `));
    const top = await topFrame(s, elf);
    assert.deepStrictEqual([top.name, top.line, top.oracle.line, top.frames[1]], ['poke', line, line, 'user_main']);
    // QEMU's view at the handler entry: ring 0 on the TSS stack; the pushed frame holds ring 3's ss:esp.
    const qemu = parseInfoRegisters(await s.qmp.humanMonitorCommand('info registers'));
    assert.strictEqual((qemu.get('cs') as number) & 3, 0);
    const pushed = Buffer.from((await s.qmp.humanMonitorCommand(`xp /6wx ${qemu.get('esp')}`)).split('\n').flatMap((l) => l.split(':')[1]?.trim().split(/\s+/) ?? []).filter(Boolean).flatMap((w) => {
      const b = Buffer.alloc(4);
      b.writeUInt32LE(Number(w));
      return [...b];
    }));
    const [error, eip, cs, , esp, ss] = [0, 1, 2, 3, 4, 5].map((i) => pushed.readUInt32LE(i * 4));
    assert.deepStrictEqual([error, cs, ss], [6, 0x1b, 0x23]);
    const frameId = (await s.dc.stackTraceRequest({ threadId: 1 })).body.stackFrames[0].id;
    const scopes = await s.dc.scopesRequest({ frameId });
    const regScope = scopes.body.scopes.find((x) => /register/i.test(x.name));
    assert.ok(regScope);
    const regs = new Map((await s.dc.variablesRequest({ variablesReference: regScope.variablesReference })).body.variables.map((v) => [v.name.toLowerCase(), Number(v.value.split(' ')[0])]));
    assert.deepStrictEqual([regs.get('eip'), regs.get('esp'), regs.get('cs'), regs.get('ss')], [eip, esp, 0x1b, 0x23]);
  });

  const cases: { scenario: string; filter: string; marker: string; text: string; sentence: (line: number, isr: string) => RegExp }[] = [
    { scenario: 'gp', filter: 'cpu-general-protection', marker: 'FAULT-GP', text: 'CPU: general protection (#GP)',
      sentence: (l, isr) => new RegExp(`^general protection fault: segment selector 0x1234 \\(LDT entry 582\\), at kmain\\.c:${l} \\(bad_selector\\); stopped at the entry of its handler \\(${isr} at 0x[0-9a-f]+, boot\\.S:\\d+\\)$`) },
    { scenario: 'ud', filter: 'cpu-invalid-opcode', marker: 'FAULT-UD', text: 'CPU: invalid opcode (#UD)',
      sentence: (l, isr) => new RegExp(`^invalid opcode at kmain\\.c:${l} \\(invalid_opcode\\); the bytes there: 0f 0b [0-9a-f]{2} [0-9a-f]{2}; stopped at the entry of its handler \\(${isr} at 0x[0-9a-f]+, boot\\.S:\\d+\\)$`) },
    { scenario: 'de', filter: 'cpu-divide-error', marker: 'FAULT-DE', text: 'CPU: divide error (#DE)',
      sentence: (l, isr) => new RegExp(`^divide error at kmain\\.c:${l} \\(divide\\); stopped at the entry of its handler \\(${isr} at 0x[0-9a-f]+, boot\\.S:\\d+\\)$`) },
    { scenario: 'df', filter: 'cpu-double-fault', marker: 'FAULT-DE', text: 'CPU: double fault (#DF)',
      sentence: (l, isr) => new RegExp(`^double fault at kmain\\.c:${l} \\(divide\\); the exceptions before it: #DE → #NP \\(delivered as #DF\\); stopped at the entry of its handler \\(${isr} at 0x[0-9a-f]+, boot\\.S:\\d+\\)$`) },
  ];
  const isrOf: Record<string, string> = { gp: 'isr13', ud: 'isr6', de: 'isr0', df: 'isr8' };
  for (const [c, opt] of cases.flatMap((c) => ['-O0', '-O2'].map((o) => [c, o] as const))) {
    it(`IDT with handlers (${opt}): ${c.text} stops at the handler entry with the faulting statement on top`, async () => {
      const elf = buildExceptionKernel(opt);
      s = await launch(c.scenario, [c.filter, 'cpu-triple-fault'], opt);
      const stop = await firstStop(s);
      const line = markerLine(c.marker);
      assert.strictEqual(stop.body.reason, 'exception');
      assert.strictEqual(stop.body.text, c.text);
      assert.match(stop.body.description ?? '', c.sentence(line, isrOf[c.scenario]));
      const top = await topFrame(s, elf);
      assert.deepStrictEqual([top.file, top.line], ['kmain.c', line]);
      assert.deepStrictEqual(top.oracle, { file: 'kmain.c', line });
    });
  }

  it('a filter that is off does not stop: #DE with only the page-fault filter runs into the kernel\'s own handler', async () => {
    s = await launch('de', ['cpu-page-fault', 'cpu-general-protection']);
    const cur = s;
    await waitFor('the kernel\'s handler output', () => (/unhandled exception 0x00000000/.test(cur.serial()) ? true : undefined));
    assert.strictEqual(cur.stops.length, 0);
  });

  it('filters changed while the kernel runs take effect at once: on, the fault stops; off, it does not', async () => {
    // QEMU drops input while the VM is stopped (the adapter stops it briefly to re-arm): send
    // keys until the kernel has gone on past its wait.
    const key = async (cur: Session, past: () => boolean): Promise<void> => {
      for (let i = 0; i < 100 && !past(); i++) {
        await cur.qmp.execute('send-key', { keys: [{ type: 'qcode', data: 'a' }] });
        await new Promise((r) => setTimeout(r, 300));
      }
    };
    // Started without filters; the page-fault filter is set while the kernel waits (running).
    s = await launch('key-pf', []);
    let cur = s;
    await waitFor('the kernel waiting for a key', () => (/waiting for a key/.test(cur.serial()) ? true : undefined));
    const on = await cur.dc.setExceptionBreakpointsRequest({ filters: ['cpu-page-fault'] });
    assert.deepStrictEqual(on.body?.breakpoints?.map((b) => b.verified), [true]);
    await key(cur, () => cur.stops.length > 0 || /unhandled exception/.test(cur.serial()));
    const stop = await firstStop(cur);
    assert.strictEqual(stop.body.text, 'CPU: page fault (#PF)');
    assert.ok(!/unhandled exception/.test(cur.serial()), 'the stop came before the kernel\'s handler ran');
    await end(s);
    s = undefined;
    // Started with the filter; turned off while the kernel waits: the kernel's own handler runs.
    s = await launch('key-pf', ['cpu-page-fault']);
    cur = s;
    await waitFor('the kernel waiting for a key', () => (/waiting for a key/.test(cur.serial()) ? true : undefined));
    await cur.dc.setExceptionBreakpointsRequest({ filters: [] });
    await key(cur, () => cur.stops.length > 0 || /unhandled exception/.test(cur.serial()));
    await waitFor('the kernel\'s handler output', () => (/unhandled exception 0x0000000e/.test(cur.serial()) ? true : undefined));
    assert.strictEqual(cur.stops.length, 0);
  });

  it('a #PF handler that maps the page and returns: the stop happens, continue resumes and the kernel goes on', async () => {
    s = await launch('fixpf', ['cpu-page-fault']);
    const stop = await firstStop(s);
    assert.strictEqual(stop.body.text, 'CPU: page fault (#PF)');
    assert.ok(!/after poke/.test(s.serial()));
    await s.dc.continueRequest({ threadId: 1 });
    const cur = s;
    await waitFor('the kernel\'s success line', () => (/scenario done/.test(cur.serial()) ? true : undefined));
    assert.match(cur.serial(), /after poke: 0x00001234 fixes 0x00000001\n/);
    assert.strictEqual(cur.stops.length, 1);
  });

  it('the same handler with the filter off: no stop, the kernel fixes the fault and goes on', async () => {
    s = await launch('fixpf', []);
    const cur = s;
    await waitFor('the kernel\'s success line', () => (/scenario done/.test(cur.serial()) ? true : undefined));
    assert.match(cur.serial(), /after poke: 0x00001234 fixes 0x00000001\n/);
    assert.strictEqual(cur.stops.length, 0);
  });
});
