// CPU exceptions stop the debugger, through the real adapter (DebugClient over stdio) on a real
// QEMU, with a kernel written for the tests (fixtures-exc: no IDT, an IDT with handlers, a #PF
// handler that maps the page and returns), run once per architecture: the i386 build on
// qemu-system-i386 and the x86-64 build (long mode, higher half) on qemu-system-x86_64. Oracles: the kernel's source markers and addr2line
// for the faulting line, QEMU's own `info tlb`/`info registers` on a second QMP monitor for CR2
// and its translation, and the kernel's serial output for what ran.

import * as assert from 'assert';
import { DebugClient } from '@vscode/debugadapter-testsupport';
import { DebugProtocol } from '@vscode/debugprotocol';
import { findFreePort, parseInfoTlb, QmpClient } from '../../qemu-bridge/src';
import { endSessionLeavingNoQemu, processesWith, qemuMarker, shownStack, startClient } from './dap-fixture';
import { buildExceptionKernel, ExceptionArch, KernelLayout, lineOf, markerLine } from './fixtures-exc/build';

/** `info registers` (i386 or x86-64) with exact values: 64-bit registers do not fit a number. */
function exactRegisters(text: string): Map<string, bigint> {
  const out = new Map<string, bigint>();
  for (const m of text.matchAll(/\b([A-Z][A-Z0-9]*)\s?=([0-9a-fA-F]+)\b/g)) if (!out.has(m[1].toLowerCase())) out.set(m[1].toLowerCase(), BigInt(`0x${m[2]}`));
  return out;
}

/** The Registers scope of frame 0, by lower-case name, exact. */
async function scopeRegisters(dc: DebugClient): Promise<Map<string, bigint>> {
  const frameId = (await dc.stackTraceRequest({ threadId: 1 })).body.stackFrames[0].id;
  const scopes = await dc.scopesRequest({ frameId });
  const regScope = scopes.body.scopes.find((x) => /register/i.test(x.name));
  assert.ok(regScope, 'a Registers scope');
  return new Map((await dc.variablesRequest({ variablesReference: regScope.variablesReference })).body.variables.map((v) => [v.name.toLowerCase(), BigInt(v.value.split(' ')[0])]));
}

/** Words of `size` bytes of guest memory through QEMU's own monitor: `xp` (physical) or `x` (virtual, the CPU's paging). */
async function xpWords(qmp: QmpClient, address: bigint, count: number, size: 4 | 8, command: 'xp' | 'x' = 'xp'): Promise<bigint[]> {
  const text = await qmp.humanMonitorCommand(`${command} /${count}${size === 8 ? 'g' : 'w'}x 0x${address.toString(16)}`);
  return text.split('\n').flatMap((l) => l.split(':')[1]?.trim().split(/\s+/) ?? []).filter(Boolean).map((w) => BigInt(w));
}

interface Session {
  dc: DebugClient;
  marker: string;
  qmp: QmpClient;
  serial: () => string;
  stops: DebugProtocol.StoppedEvent[];
  terminated: () => boolean;
}

/** Launches the test kernel with `test=<scenario>` and the given exception filters. */
async function launch(arch: ExceptionArch, scenario: string, filters: string[], opt = '-O0', configure?: (dc: DebugClient) => Promise<unknown>, layout: KernelLayout = 'identity'): Promise<Session> {
  const kernel = buildExceptionKernel(opt, layout, arch);
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
      for (const f of ['cpu-page-fault', 'cpu-general-protection', 'cpu-double-fault', 'cpu-invalid-opcode', 'cpu-divide-error', 'cpu-breakpoint', 'cpu-triple-fault*']) assert.ok(offered.includes(f), `filter ${f} offered`);
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
const hex = (n: number | bigint): string => `0x${BigInt.asUintN(64, BigInt(n)).toString(16)}`;

/** The top frame's function, file, line and pc, with addr2line's line for that pc. */
async function topFrame(s: Session, elf: string): Promise<{ name: string; file?: string; line: number; pc: bigint; oracle: { file: string; line: number }; frames: string[] }> {
  const st = await shownStack(s.dc);
  const top = st.raw[0];
  // Exact: a 64-bit address does not fit a number.
  const pc = BigInt(top.instructionPointerReference ?? '0');
  return { name: st.frames[0].name, file: st.frames[0].file, line: top.line, pc, oracle: lineOf(elf, pc), frames: st.frames.map((f) => f.name) };
}

/** What differs between the two builds of the test kernel. */
interface ArchProfile {
  readonly arch: ExceptionArch;
  readonly source: string;
  readonly boot: string;
  /** The registers compared with QEMU's view at a triple fault. */
  readonly gprs: readonly string[];
  readonly pc: string;
  readonly sp: string;
  /** The builds the #PF sentence is checked on. */
  readonly pfRuns: readonly (readonly [string, KernelLayout])[];
}

const ARCHES: readonly ArchProfile[] = [
  { arch: 'i386', source: 'kmain.c', boot: 'boot.S', gprs: ['eax', 'ecx', 'edx', 'ebx', 'esp', 'ebp', 'esi', 'edi', 'eip'], pc: 'eip', sp: 'esp',
    pfRuns: [['-O0', 'identity'], ['-O2', 'identity'], ['-Os', 'identity'], ['-O2', 'higher-half']] },
  { arch: 'x86-64', source: 'kmain64.c', boot: 'boot64.S', gprs: ['rax', 'rcx', 'rdx', 'rbx', 'rsp', 'rbp', 'rsi', 'rdi', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15', 'rip'], pc: 'rip', sp: 'rsp',
    pfRuns: [['-O0', 'higher-half'], ['-O2', 'higher-half'], ['-Os', 'higher-half']] },
];

const re = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

for (const A of ARCHES) {
  const x64 = A.arch === 'x86-64';
  const build = (opt = '-O0', layout: KernelLayout = 'identity'): string => buildExceptionKernel(opt, layout, A.arch);
  const marker = (m: string): number => markerLine(m, A.arch);
  const src = re(A.source);
  const start = (scenario: string, filters: string[], opt = '-O0', configure?: (dc: DebugClient) => Promise<unknown>, layout: KernelLayout = 'identity'): Promise<Session> =>
    launch(A.arch, scenario, filters, opt, configure, layout);
  /** The kernel's own handler reported `vector` on COM1 (8 hex digits on i386, 16 on x86-64). */
  const unhandled = (vector: number): RegExp => new RegExp(`unhandled exception 0x0*${vector.toString(16)} `);

describe(`CPU exceptions stop the debugger (DAP, real QEMU, ${A.arch} test kernel)`, function () {
  this.timeout(180_000);
  let s: Session | undefined;
  afterEach(async () => {
    await end(s);
    s = undefined;
  });

  const tripleSentence = (line: number): string =>
    `triple fault: #PF → #GP (delivered as #DF) → #GP → triple fault; the first fault: page fault: write to 0xdead0000, not present, in kernel mode, at ${A.source}:${line} (poke); ` +
    'QEMU stopped instead of resetting the machine; the registers are those of the first fault';

  it(`no IDT, higher half (${x64 ? '0xffffffff80000000' : '0xC0000000'}, -O2): the triple fault with its chain and the faulting frame on top`, async () => {
    const layout: KernelLayout = 'higher-half';
    const elf = build('-O2', layout);
    s = await start('noidt-pf', ['cpu-triple-fault'], '-O2', undefined, layout);
    const stop = await firstStop(s);
    const line = marker('FAULT-PF');
    assert.strictEqual(stop.body.description, tripleSentence(line));
    const top = await topFrame(s, elf);
    const pc = BigInt.asUintN(x64 ? 64 : 32, BigInt(top.pc));
    assert.ok(pc >= (x64 ? 0xffffffff80000000n : 0xc0000000n), `the pc ${hex(top.pc)} is in the higher half`);
    assert.deepStrictEqual([top.name, top.line, top.oracle.line, top.frames[1]], ['poke', line, line, 'kmain']);
  });

  it('no IDT: a write to an unmapped page stops as a triple fault before QEMU resets, with the chain and the first fault\'s registers', async () => {
    const elf = build('-O0');
    s = await start('noidt-pf', ['cpu-triple-fault']);
    const stop = await firstStop(s);
    const line = marker('FAULT-PF');
    assert.strictEqual(stop.body.reason, 'exception');
    assert.strictEqual(stop.body.text, 'CPU: triple fault');
    assert.strictEqual(stop.body.description, tripleSentence(line));
    // QEMU is alive, stopped in its shutdown state, and did not reboot (the kernel started once).
    assert.strictEqual(processesWith(s.marker).length, 1);
    assert.strictEqual((await s.qmp.queryStatus()).status, 'shutdown');
    assert.strictEqual(s.serial().split('scenario noidt-pf').length - 1, 1);
    // The faulting frame on top, then its caller; the pc's line by addr2line.
    const top = await topFrame(s, elf);
    assert.deepStrictEqual([top.name, top.file, top.line], ['poke', A.source, line]);
    assert.deepStrictEqual(top.oracle, { file: A.source, line });
    assert.strictEqual(top.frames[1], 'kmain');
    // The registers of the first fault equal QEMU's own view (nothing ran after it), exactly.
    const qemu = exactRegisters(await s.qmp.humanMonitorCommand('info registers'));
    const regs = await scopeRegisters(s.dc);
    for (const name of A.gprs) assert.strictEqual(regs.get(name), qemu.get(name), name);
    assert.strictEqual(qemu.get(x64 ? 'rax' : 'eax'), 0xdead0000n);
    assert.strictEqual(qemu.get('cr2'), 0xdead0000n);
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
    s = await start('reset', ['cpu-triple-fault']);
    const cur = s;
    await waitFor('the session to end', () => (cur.terminated() ? true : undefined));
    assert.strictEqual(cur.stops.length, 0);
    assert.deepStrictEqual(await waitFor('QEMU to end', () => (processesWith(cur.marker).length === 0 ? [] : undefined), 10_000), []);
  });

  it('an IDT loaded over the first one: the stop is at the new table\'s handler (re-armed after lidt)', async () => {
    s = await start('reload-pf', ['cpu-page-fault']);
    const stop = await firstStop(s);
    assert.match(stop.body.description ?? '', new RegExp(`^page fault: write to 0xdead0000, not present, in kernel mode, at ${src}:${marker('FAULT-PF')} \\(poke\\); .*; stopped at the entry of its handler \\(isr14_alt at 0x[0-9a-f]+, ${re(A.boot)}:\\d+\\)$`));
  });

  it('stepping over the faulting statement stops as the exception, with the faulting frame on top', async () => {
    const elf = build('-O0');
    s = await start('pf', ['cpu-page-fault'], '-O0', (dc) => dc.setFunctionBreakpointsRequest({ breakpoints: [{ name: 'poke' }] }));
    const first = await firstStop(s);
    assert.strictEqual(first.body.reason, 'breakpoint');
    const line = marker('FAULT-PF');
    assert.strictEqual((await topFrame(s, elf)).line, line);
    await s.dc.nextRequest({ threadId: 1 });
    const cur = s;
    const stop = await waitFor('the stop after next', () => cur.stops[1]);
    assert.strictEqual(stop.body.reason, 'exception');
    assert.strictEqual(stop.body.text, 'CPU: page fault (#PF)');
    assert.match(stop.body.description ?? '', new RegExp(`^page fault: write to 0xdead0000, not present, in kernel mode, at ${src}:\\d+ \\(poke\\);`));
    const top = await topFrame(s, elf);
    assert.deepStrictEqual([top.name, top.line, top.oracle.line], ['poke', line, line]);
  });

  /** The entry of the table that maps nothing at 0xdead0000, from QEMU's memory (xp) for x86-64. */
  const missingEntry = async (qmp: QmpClient, cr3: bigint): Promise<string> => {
    if (!x64) return `page-directory entry 890 (at physical ${hex(cr3 + BigInt((0xdead0000 >>> 22) * 4))}) is 0x0`;
    const [pml4e] = await xpWords(qmp, cr3, 1, 8);
    const pdpte = (pml4e & 0xffffffffff000n) + 3n * 8n;
    assert.deepStrictEqual(await xpWords(qmp, pdpte, 1, 8), [0n]);
    return `page-directory-pointer entry 3 (at physical ${hex(pdpte)}) is 0x0`;
  };

  for (const [opt, layout] of A.pfRuns) {
    it(`IDT with handlers (${opt}, ${layout}): #PF on a write to 0xdead0000 stops at the handler entry with the sentence, CR2 translated, and the faulting frame on top; continue runs the kernel's handler`, async () => {
      const elf = build(opt, layout);
      s = await start('pf', ['cpu-page-fault', 'cpu-triple-fault'], opt, undefined, layout);
      const stop = await firstStop(s);
      const line = marker('FAULT-PF');
      const qemu = exactRegisters(await s.qmp.humanMonitorCommand('info registers'));
      const cr3 = qemu.get('cr3') as bigint;
      // The oracle for the translation: QEMU's info tlb lists no page at 0xdead0000.
      const tlb = parseInfoTlb(await s.qmp.humanMonitorCommand('info tlb'));
      assert.ok(tlb.length > 0 && !tlb.some((e) => e.virtualExact === 0xdead0000n));
      assert.strictEqual(stop.body.reason, 'exception');
      assert.strictEqual(stop.body.text, 'CPU: page fault (#PF)');
      const isr14 = qemu.get(A.pc) as bigint;
      const handler = lineOf(elf, isr14);
      assert.strictEqual(stop.body.description,
        `page fault: write to 0xdead0000, not present, in kernel mode, at ${A.source}:${line} (poke); ` +
        `CR3 ${hex(cr3)} maps nothing at 0xdead0000: ${await missingEntry(s.qmp, cr3)}, not present; ` +
        `stopped at the entry of its handler (isr14 at ${hex(isr14)}, ${handler.file}:${handler.line})`);
      assert.strictEqual(qemu.get('cr2'), 0xdead0000n);
      const top = await topFrame(s, elf);
      assert.deepStrictEqual([top.name, top.file, top.line], ['poke', A.source, line]);
      assert.deepStrictEqual(top.oracle, { file: A.source, line });
      assert.strictEqual(top.frames[1], 'kmain');
      const info = await s.dc.customRequest('exceptionInfo', { threadId: 1 }) as DebugProtocol.ExceptionInfoResponse;
      assert.deepStrictEqual([info.body.exceptionId, info.body.description, info.body.breakMode, info.body.details?.typeName], ['cpu-page-fault', stop.body.description, 'always', '#PF']);
      // The guest is at the handler's entry: continue runs the kernel's own handler, with the error code the stop decoded.
      await s.dc.continueRequest({ threadId: 1 });
      const cur = s;
      await waitFor('the kernel\'s handler output', () => (unhandled(14).test(cur.serial()) ? true : undefined));
      assert.match(cur.serial(), /unhandled exception 0x0*e error 0x0*2 /);
    });
  }

  it('#PF on a present read-only page (CR0.WP): a protection violation, with CR2 mapped as QEMU\'s info tlb says', async () => {
    s = await start('wp', ['cpu-page-fault']);
    const stop = await firstStop(s);
    const qemu = exactRegisters(await s.qmp.humanMonitorCommand('info registers'));
    const page = parseInfoTlb(await s.qmp.humanMonitorCommand('info tlb')).find((e) => e.virtualExact === 0x300000n);
    assert.ok(page, 'info tlb lists the page');
    assert.strictEqual(page.flags[8], '-', 'read-only for QEMU');
    assert.strictEqual(page.flags[7], '-', 'kernel-only for QEMU');
    assert.strictEqual(qemu.get('cr2'), 0x300000n);
    assert.match(stop.body.description ?? '', new RegExp(`^page fault: write to 0x300000, protection violation, in kernel mode, at ${src}:${marker('FAULT-PF')} \\(poke\\); ` +
      `CR3 ${hex(qemu.get('cr3') as bigint)} maps 0x300000 to physical ${hex(page.physicalExact)} \\(4 KiB page, read-only, kernel-only\\); stopped at the entry of its handler \\(isr14 at `));
  });

  it('#PF from ring 3: the frame the CPU pushed with the user stack pointer and ss, and the user code on top', async () => {
    const elf = build('-O0');
    s = await start('user-pf', ['cpu-page-fault']);
    const stop = await firstStop(s);
    const line = marker('FAULT-PF');
    assert.match(stop.body.description ?? '', new RegExp(`^page fault: write to 0xdead0000, not present, in user mode, at ${src}:${line} \\(poke\\); `));
    const top = await topFrame(s, elf);
    assert.deepStrictEqual([top.name, top.line, top.oracle.line, top.frames[1]], ['poke', line, line, 'user_main']);
    // QEMU's view at the handler entry: ring 0 on the TSS stack; the pushed frame holds ring 3's ss and stack pointer.
    const qemu = exactRegisters(await s.qmp.humanMonitorCommand('info registers'));
    assert.strictEqual((qemu.get('cs') as bigint) & 3n, 0n);
    const [error, ip, cs, , sp, ss] = await xpWords(s.qmp, qemu.get(A.sp) as bigint, 6, x64 ? 8 : 4, 'x');
    assert.deepStrictEqual([error, cs, ss], [6n, 0x1bn, 0x23n]);
    const regs = await scopeRegisters(s.dc);
    assert.deepStrictEqual([regs.get(A.pc), regs.get(A.sp), regs.get('cs'), regs.get('ss')], [ip, sp, 0x1bn, 0x23n]);
  });

  const cases: { scenario: string; filter: string; marker: string; text: string; vector: number; sentence: (line: number, isr: string) => RegExp; after: RegExp }[] = [
    { scenario: 'gp', filter: 'cpu-general-protection', marker: 'FAULT-GP', text: 'CPU: general protection (#GP)', vector: 13, after: /unhandled exception 0x0*d error 0x0*1234 /,
      sentence: (l, isr) => new RegExp(`^general protection fault: segment selector 0x1234 \\(LDT entry 582\\), at ${src}:${l} \\(bad_selector\\); stopped at the entry of its handler \\(${isr} at 0x[0-9a-f]+, ${re(A.boot)}:\\d+\\)$`) },
    { scenario: 'ud', filter: 'cpu-invalid-opcode', marker: 'FAULT-UD', text: 'CPU: invalid opcode (#UD)', vector: 6, after: unhandled(6),
      sentence: (l, isr) => new RegExp(`^invalid opcode at ${src}:${l} \\(invalid_opcode\\); the bytes there: 0f 0b [0-9a-f]{2} [0-9a-f]{2}; stopped at the entry of its handler \\(${isr} at 0x[0-9a-f]+, ${re(A.boot)}:\\d+\\)$`) },
    { scenario: 'de', filter: 'cpu-divide-error', marker: 'FAULT-DE', text: 'CPU: divide error (#DE)', vector: 0, after: unhandled(0),
      sentence: (l, isr) => new RegExp(`^divide error at ${src}:${l} \\(divide\\); stopped at the entry of its handler \\(${isr} at 0x[0-9a-f]+, ${re(A.boot)}:\\d+\\)$`) },
    { scenario: 'df', filter: 'cpu-double-fault', marker: 'FAULT-DE', text: 'CPU: double fault (#DF)', vector: 8, after: unhandled(8),
      sentence: (l, isr) => new RegExp(`^double fault at ${src}:${l} \\(divide\\); the exceptions before it: #DE → #NP \\(delivered as #DF\\); stopped at the entry of its handler \\(${isr} at 0x[0-9a-f]+, ${re(A.boot)}:\\d+\\)$`) },
    ...(x64 ? [
      { scenario: 'rpf', filter: 'cpu-page-fault', marker: 'FAULT-PF-READ', text: 'CPU: page fault (#PF)', vector: 14, after: /unhandled exception 0x0*e error 0x0*0 /,
        sentence: (l: number, isr: string) => new RegExp(`^page fault: read from 0xdead0000, not present, in kernel mode, at ${src}:${l} \\(peek\\); CR3 0x[0-9a-f]+ maps nothing at 0xdead0000: page-directory-pointer entry 3 \\(at physical 0x[0-9a-f]+\\) is 0x0, not present; stopped at the entry of its handler \\(${isr} at 0x[0-9a-f]+, ${re(A.boot)}:\\d+\\)$`) },
      // A trap: the pushed rip is past the int3 (the nop of the same statement); the sentence names the int3.
      { scenario: 'bp', filter: 'cpu-breakpoint', marker: 'FAULT-BP', text: 'CPU: breakpoint (#BP, int3)', vector: 3, after: /breakpoint trap\nscenario done\n/,
        sentence: (l: number, isr: string) => new RegExp(`^breakpoint at the int3 at ${src}:${l} \\(breakpoint\\); stopped at the entry of its handler \\(${isr} at 0x[0-9a-f]+, ${re(A.boot)}:\\d+\\)$`) },
    ] : []),
  ];
  const isrOf: Record<string, string> = { gp: 'isr13', ud: 'isr6', de: 'isr0', df: 'isr8', rpf: 'isr14', bp: 'isr3' };
  for (const [c, opt] of cases.flatMap((c) => ['-O0', '-O2'].map((o) => [c, o] as const))) {
    it(`IDT with handlers (${opt}): ${c.text} stops at the handler entry with the faulting statement on top; continue runs the kernel's handler`, async () => {
      const elf = build(opt);
      s = await start(c.scenario, [c.filter, 'cpu-triple-fault'], opt);
      const stop = await firstStop(s);
      const line = marker(c.marker);
      assert.strictEqual(stop.body.reason, 'exception');
      assert.strictEqual(stop.body.text, c.text);
      assert.match(stop.body.description ?? '', c.sentence(line, isrOf[c.scenario]));
      const top = await topFrame(s, elf);
      assert.deepStrictEqual([top.file, top.line], [A.source, line]);
      assert.deepStrictEqual(top.oracle, { file: A.source, line });
      // The faulting frame is the one the CPU pushed (QEMU's memory at the handler's stack pointer).
      const qemu = exactRegisters(await s.qmp.humanMonitorCommand('info registers'));
      const slots = await xpWords(s.qmp, qemu.get(A.sp) as bigint, 2, x64 ? 8 : 4, 'x');
      const pushedIp = c.vector === 8 || c.vector === 13 || c.vector === 14 ? slots[1] : slots[0];
      assert.strictEqual(BigInt.asUintN(x64 ? 64 : 32, BigInt(top.pc)), pushedIp);
      const info = await s.dc.customRequest('exceptionInfo', { threadId: 1 }) as DebugProtocol.ExceptionInfoResponse;
      assert.deepStrictEqual([info.body.exceptionId, info.body.description], [c.filter, stop.body.description]);
      await s.dc.continueRequest({ threadId: 1 });
      const cur = s;
      await waitFor('the kernel\'s handler output', () => (c.after.test(cur.serial()) ? true : undefined));
      assert.strictEqual(cur.stops.length, 1);
    });
  }

  it('a filter that is off does not stop: #DE with only the page-fault filter runs into the kernel\'s own handler', async () => {
    s = await start('de', ['cpu-page-fault', 'cpu-general-protection']);
    const cur = s;
    await waitFor('the kernel\'s handler output', () => (unhandled(0).test(cur.serial()) ? true : undefined));
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
    s = await start('key-pf', []);
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
    s = await start('key-pf', ['cpu-page-fault']);
    cur = s;
    await waitFor('the kernel waiting for a key', () => (/waiting for a key/.test(cur.serial()) ? true : undefined));
    await cur.dc.setExceptionBreakpointsRequest({ filters: [] });
    await key(cur, () => cur.stops.length > 0 || /unhandled exception/.test(cur.serial()));
    await waitFor('the kernel\'s handler output', () => (unhandled(14).test(cur.serial()) ? true : undefined));
    assert.strictEqual(cur.stops.length, 0);
  });

  it('a #PF handler that maps the page and returns: the stop happens, continue resumes and the kernel goes on', async () => {
    s = await start('fixpf', ['cpu-page-fault']);
    const stop = await firstStop(s);
    assert.strictEqual(stop.body.text, 'CPU: page fault (#PF)');
    assert.ok(!/after poke/.test(s.serial()));
    await s.dc.continueRequest({ threadId: 1 });
    const cur = s;
    await waitFor('the kernel\'s success line', () => (/scenario done/.test(cur.serial()) ? true : undefined));
    assert.match(cur.serial(), /after poke: 0x0*1234 fixes 0x0*1\n/);
    assert.strictEqual(cur.stops.length, 1);
  });

  it('the same handler with the filter off: no stop, the kernel fixes the fault and goes on', async () => {
    s = await start('fixpf', []);
    const cur = s;
    await waitFor('the kernel\'s success line', () => (/scenario done/.test(cur.serial()) ? true : undefined));
    assert.match(cur.serial(), /after poke: 0x0*1234 fixes 0x0*1\n/);
    assert.strictEqual(cur.stops.length, 0);
  });
});
}
