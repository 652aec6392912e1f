// DAP tests of run control against a real QEMU running the guest's demo: stop on entry at the
// kernel's first instruction (a physical address, before paging), a breakpoint in pre-paging
// boot code, a conditional function breakpoint, a logpoint together with a hit count, a data
// breakpoint on a write, instruction stepping, pause and continue, memory and disassembly.
// Oracles: gdb for where line breakpoints go, QEMU's own monitor (a second QMP socket on the
// adapter's QEMU) for registers, memory and run state, binutils (nm, readelf, objdump) for
// symbols, load addresses and instructions.

import * as assert from 'assert';
import * as path from 'path';
import { DebugClient } from '@vscode/debugadapter-testsupport';
import { DebugProtocol } from '@vscode/debugprotocol';
import {
  MAP_C, evaluateTop, gdbBreakpoints, loadAddress, nmAddress, objdumpInstructions, QemuMonitor, requireGuest, killQemu, launchAndStop,
  qemuMarker, resumeAndStop, ROOT, shownStack, startClient, waitNoQemu, stopClient,
} from './dap-fixture';
import { markerLine } from './source-markers';

const BOOT_S = path.join(ROOT, 'guest', 'boot', 'boot.S');

describe('DAP: run control (real QEMU)', function () {
  this.timeout(180000);
  let dc: DebugClient;
  const marker = qemuMarker();
  let entry: DebugProtocol.StoppedEvent;
  let qemu: QemuMonitor;
  const pc = async (): Promise<number> => Number((await shownStack(dc)).raw[0].instructionPointerReference);
  /** timer_ticks as QEMU reads it at the address nm gives (not through the adapter). */
  const ticksInQemu = async (): Promise<number> => (await qemu.readVirtual(nmAddress('timer_ticks'), 4)).readUInt32LE(0);

  /**
   * mm_map_pages's arguments at its first instruction, by the i386 cdecl ABI ([esp+4], [esp+8], ...)
   * read through QEMU: no DWARF, no adapter. Asserts the guest is stopped at that instruction.
   */
  const mapPagesArguments = async (): Promise<Record<string, number>> => {
    const registers = await qemu.registers();
    assert.strictEqual(registers.get('eip'), nmAddress('mm_map_pages'), 'stopped at the first instruction of mm_map_pages');
    const words = await qemu.readVirtual((registers.get('esp') as number) + 4, 24);
    const names = ['flags', 'id', 'va', 'page_offset', 'pages', 'upd']; // int mm_map_pages(flags, id, va, page_offset, pages, upd)
    return Object.fromEntries(names.map((n, i) => [n, words.readUInt32LE(4 * i)]));
  };

  before(async function () {
    requireGuest();
    dc = await startClient();
    entry = await launchAndStop(dc, { marker, stopOnEntry: true, monitor: true }, async () => undefined);
    qemu = await QemuMonitor.connect(marker);
  });

  afterEach(async () => {
    // A failed test must not leave its breakpoints to the next one.
    await dc.setFunctionBreakpointsRequest({ breakpoints: [] }).catch(() => undefined);
    await dc.setBreakpointsRequest({ source: { path: MAP_C }, breakpoints: [] }).catch(() => undefined);
    await dc.setDataBreakpointsRequest({ breakpoints: [] }).catch(() => undefined);
  });

  after(async () => {
    qemu?.close();
    await stopClient(dc);
    killQemu(marker);
  });

  it('stops on entry at the first instruction of _start, at its load address', async () => {
    assert.strictEqual(entry.body.reason, 'entry');
    const { raw, frames } = await shownStack(dc);
    assert.strictEqual(frames[0].name, '_start');
    assert.strictEqual(frames[0].file, 'boot.S');
    assert.ok(Number(raw[0].instructionPointerReference) < 0xc0000000, `pc ${raw[0].instructionPointerReference} is not physical`);
    // QEMU agrees: the CPU is stopped at the ELF's entry point, the first instruction of _start.
    assert.strictEqual(await qemu.running(), false);
    assert.strictEqual((await qemu.registers()).get('eip'), Number(raw[0].instructionPointerReference));
    assert.strictEqual(Number(raw[0].instructionPointerReference), loadAddress(nmAddress('_start')));
  });

  it('hits a breakpoint in boot code that runs before paging is on', async () => {
    // The line that loads CR3 (marker @dap:load-cr3): code linked at 0xC01..., running at 0x001....
    const line = markerLine(BOOT_S, 'load-cr3');
    const [gdb] = await gdbBreakpoints([`boot/boot.S:${line}`]);
    assert.ok(gdb && gdb.line === line, `gdb places boot.S:${line} on its own line (${JSON.stringify(gdb)})`);
    const r = await dc.setBreakpointsRequest({ source: { path: BOOT_S }, breakpoints: [{ line }] });
    assert.strictEqual(r.body.breakpoints[0].verified, true);
    assert.strictEqual(r.body.breakpoints[0].line, line);
    const stop = await resumeAndStop(dc, dc.continueRequest({ threadId: 1 }));
    assert.strictEqual(stop.body.reason, 'breakpoint');
    const { raw, frames } = await shownStack(dc);
    assert.strictEqual(frames[0].file, 'boot.S');
    assert.strictEqual(frames[0].line, line);
    // Stopped at gdb's address for that line, at its load address (paging is off), as QEMU says.
    const at = Number(raw[0].instructionPointerReference);
    assert.strictEqual(at, loadAddress(gdb.address), `pc 0x${at.toString(16)}, gdb's address 0x${gdb.address.toString(16)}`);
    assert.strictEqual((await qemu.registers()).get('eip'), at);
    assert.strictEqual(((await qemu.registers()).get('cr0') ?? 0) & 0x80000000, 0, 'paging is still off');
    await dc.setBreakpointsRequest({ source: { path: BOOT_S }, breakpoints: [] });
  });

  it('steps one instruction with granularity instruction: to the next instruction objdump decodes, where QEMU stopped', async () => {
    const before = await pc();
    const stop = await resumeAndStop(dc, dc.nextRequest({ threadId: 1, granularity: 'instruction' }));
    assert.strictEqual(stop.body.reason, 'step');
    const after = await pc();
    // Boot code: linked at virtual addresses, running at its load address.
    const offset = loadAddress(nmAddress('_start')) - nmAddress('_start');
    const [, next] = objdumpInstructions(before - offset, 2);
    assert.strictEqual(after, next.address + offset, `pc went from 0x${before.toString(16)} to 0x${after.toString(16)}`);
    assert.strictEqual((await qemu.registers()).get('eip'), after);
  });

  it('stops at a conditional function breakpoint only when the condition holds (on the arguments QEMU holds)', async () => {
    const r = await dc.setFunctionBreakpointsRequest({ breakpoints: [{ name: 'mm_map_pages', condition: 'flags != 1 && id != 0' }] });
    assert.strictEqual(r.body.breakpoints[0].verified, true);
    const [gdb] = await gdbBreakpoints(['mm_map_pages']);
    assert.ok(gdb);
    assert.strictEqual(Number(r.body.breakpoints[0].instructionReference), gdb.address, 'the function breakpoint is where gdb puts it');
    const stop = await resumeAndStop(dc, dc.continueRequest({ threadId: 1 }));
    assert.strictEqual(stop.body.reason, 'breakpoint');
    const { frames } = await shownStack(dc);
    assert.strictEqual(frames[0].name, 'mm_map_pages');
    // Boot maps the kernel heap with flags 1 first: those hits must not stop. The condition holds
    // on the arguments as QEMU holds them, and the Locals scope shows exactly those.
    const args = await mapPagesArguments();
    assert.ok(args.flags !== 1 && args.id !== 0, `stopped with ${JSON.stringify(args)}`);
    const st = await dc.stackTraceRequest({ threadId: 1 });
    const scopes = await dc.scopesRequest({ frameId: st.body.stackFrames[0].id });
    const locals = scopes.body.scopes.find((s) => s.name === 'Locals');
    assert.ok(locals);
    const vars = await dc.variablesRequest({ variablesReference: locals.variablesReference });
    const shown = Object.fromEntries(vars.body.variables.filter((v) => v.name in args).map((v) => [v.name, Number(/(?:0x[0-9a-f]+|\d+)$/.exec(v.value)?.[0])]));
    assert.deepStrictEqual(shown, args, `Locals: ${vars.body.variables.map((v) => `${v.name} = ${v.value}`).join(', ')}`);
    await dc.setFunctionBreakpointsRequest({ breakpoints: [] });
  });

  it('logs a logpoint on every hit without stopping, and honours a hit count', async () => {
    const logged: string[] = [];
    let stopped = false;
    const onOutput = (e: DebugProtocol.Event): void => {
      const body = (e as DebugProtocol.OutputEvent).body;
      if (!stopped && body.category === 'console' && body.output.startsWith('map ')) logged.push(body.output.trim());
    };
    dc.on('output', onOutput);
    const fb = await dc.setFunctionBreakpointsRequest({ breakpoints: [{ name: 'mm_map_pages', hitCondition: '3' }] });
    const address = fb.body.breakpoints[0].instructionReference as string;
    const line = fb.body.breakpoints[0].line as number;
    const lp = await dc.setBreakpointsRequest({ source: { path: MAP_C }, breakpoints: [{ line, logMessage: 'map {pages} pages of chain {id}' }] });
    assert.strictEqual(lp.body.breakpoints[0].verified, true);
    assert.strictEqual(lp.body.breakpoints[0].instructionReference, address);
    const stop = await resumeAndStop(dc, dc.continueRequest({ threadId: 1 }));
    stopped = true;
    dc.removeListener('output', onOutput);
    assert.strictEqual(stop.body.reason, 'breakpoint');
    assert.deepStrictEqual(stop.body.hitBreakpointIds?.includes(fb.body.breakpoints[0].id as number), true);
    assert.strictEqual(logged.length, 3, `logged: ${JSON.stringify(logged)}`);
    for (const l of logged) assert.match(l, /^map \d+ pages of chain \d+$/);
    // The last message was for this very stop: the arguments QEMU holds.
    const args = await mapPagesArguments();
    assert.strictEqual(logged[2], `map ${args.pages} pages of chain ${args.id}`);
    await dc.setFunctionBreakpointsRequest({ breakpoints: [] });
  });

  it('fires a data breakpoint when the guest writes the watched variable', async () => {
    const before = await ticksInQemu();
    const info = await dc.dataBreakpointInfoRequest({ name: 'timer_ticks' });
    assert.ok(info.body.dataId, info.body.description);
    assert.strictEqual(info.body.dataId, `0x${nmAddress('timer_ticks').toString(16).padStart(8, '0')}/4`, 'the watched address is the one nm gives');
    const set = await dc.setDataBreakpointsRequest({ breakpoints: [{ dataId: info.body.dataId, accessType: 'write' }] });
    assert.strictEqual(set.body.breakpoints[0].verified, true);
    const stop = await resumeAndStop(dc, dc.continueRequest({ threadId: 1 }));
    assert.strictEqual(stop.body.reason, 'data breakpoint');
    const { frames } = await shownStack(dc);
    assert.strictEqual(frames[0].name, 'timer_irq');
    const after = await ticksInQemu();
    assert.ok(after > before, `timer_ticks went from ${before} to ${after}`);
    assert.strictEqual(Number(await evaluateTop(dc, 'timer_ticks')), after, 'the adapter shows what QEMU holds');
    await dc.setDataBreakpointsRequest({ breakpoints: [] });
  });

  it('pauses a running guest and continues it', async () => {
    await dc.continueRequest({ threadId: 1 });
    await new Promise((r) => setTimeout(r, 300));
    const paused = dc.waitForEvent('stopped') as Promise<DebugProtocol.StoppedEvent>;
    await dc.pauseRequest({ threadId: 1 });
    assert.strictEqual((await paused).body.reason, 'pause');
    assert.strictEqual(await qemu.running(), false, 'QEMU stopped the guest');
    assert.strictEqual((await qemu.registers()).get('eip'), await pc(), 'the adapter shows where QEMU stopped');
    const first = await ticksInQemu();
    await dc.continueRequest({ threadId: 1 });
    await new Promise((r) => setTimeout(r, 300));
    assert.strictEqual(await qemu.running(), true, 'QEMU runs the guest after continue');
    const again = dc.waitForEvent('stopped') as Promise<DebugProtocol.StoppedEvent>;
    await dc.pauseRequest({ threadId: 1 });
    assert.strictEqual((await again).body.reason, 'pause');
    assert.ok((await ticksInQemu()) > first, 'the guest did not run between the pauses');
  });

  it('reads and writes memory as QEMU sees it, and disassembles at the pc as objdump does', async () => {
    const readMemory = async (address: number, count: number): Promise<Buffer> => {
      const read = await dc.customRequest('readMemory', { memoryReference: `0x${address.toString(16)}`, count }) as DebugProtocol.ReadMemoryResponse;
      return Buffer.from(read.body?.data ?? '', 'base64');
    };
    const ticks = nmAddress('timer_ticks');
    assert.deepStrictEqual(await readMemory(ticks, 4), await qemu.readVirtual(ticks, 4));
    // A whole range around it, across page boundaries: every byte as QEMU reads it.
    const from = ticks - (ticks % 0x1000) - 0x200;
    const range = await readMemory(from, 0x1400);
    assert.strictEqual(range.length, 0x1400);
    assert.ok(range.equals(await qemu.readVirtual(from, 0x1400)), `readMemory 0x${from.toString(16)}+0x1400 differs from QEMU's x`);
    const value = Buffer.alloc(4);
    value.writeUInt32LE(12345678);
    await dc.customRequest('writeMemory', { memoryReference: `0x${ticks.toString(16)}`, data: value.toString('base64') });
    assert.deepStrictEqual(await qemu.readVirtual(ticks, 4), value, 'QEMU holds the written bytes');
    assert.strictEqual(Number(await evaluateTop(dc, 'timer_ticks')), 12345678, 'the adapter shows the write (no stale cache)');
    const at = await pc();
    const dis = await dc.customRequest('disassemble', { memoryReference: `0x${at.toString(16)}`, instructionCount: 4 }) as DebugProtocol.DisassembleResponse;
    const shown = (dis.body?.instructions ?? []).map((i) => ({ address: Number(i.address), bytes: i.instructionBytes }));
    assert.deepStrictEqual(shown, objdumpInstructions(at, 4));
  });

  it('disconnects, shutting down the QEMU it launched', async () => {
    await dc.disconnectRequest({});
    assert.deepStrictEqual(await waitNoQemu(marker), []);
  });
});
