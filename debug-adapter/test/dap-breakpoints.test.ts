// DAP tests of run control against a real QEMU running the guest's demo: stop on entry at the
// kernel's first instruction (a physical address, before paging), a breakpoint in pre-paging
// boot code, a conditional function breakpoint, a logpoint together with a hit count, a data
// breakpoint on a write, instruction stepping, pause and continue, memory and disassembly.

import * as assert from 'assert';
import * as path from 'path';
import { DebugClient } from '@vscode/debugadapter-testsupport';
import { DebugProtocol } from '@vscode/debugprotocol';
import {
  MAP_C, evaluateTop, haveGuest, killQemu, launchAndStop, qemuMarker, resumeAndStop, ROOT, shownStack, startClient, waitNoQemu,
  stopClient,
} from './dap-fixture';

const BOOT_S = path.join(ROOT, 'guest', 'boot', 'boot.S');

describe('DAP: run control (real QEMU)', function () {
  this.timeout(180000);
  let dc: DebugClient;
  const marker = qemuMarker();
  let entry: DebugProtocol.StoppedEvent;

  before(async function () {
    if (!haveGuest()) this.skip();
    dc = await startClient();
    entry = await launchAndStop(dc, { marker, stopOnEntry: true }, async () => undefined);
  });

  afterEach(async () => {
    // A failed test must not leave its breakpoints to the next one.
    await dc.setFunctionBreakpointsRequest({ breakpoints: [] }).catch(() => undefined);
    await dc.setBreakpointsRequest({ source: { path: MAP_C }, breakpoints: [] }).catch(() => undefined);
    await dc.setDataBreakpointsRequest({ breakpoints: [] }).catch(() => undefined);
  });

  after(async () => {
    await stopClient(dc);
    killQemu(marker);
  });

  it('stops on entry at the first instruction of _start, at its load address', async () => {
    assert.strictEqual(entry.body.reason, 'entry');
    const { raw, frames } = await shownStack(dc);
    assert.strictEqual(frames[0].name, '_start');
    assert.strictEqual(frames[0].file, 'boot.S');
    assert.ok(Number(raw[0].instructionPointerReference) < 0xc0000000, `pc ${raw[0].instructionPointerReference} is not physical`);
  });

  it('hits a breakpoint in boot code that runs before paging is on', async () => {
    // The line that loads CR3: code linked at 0xC01..., running at 0x001....
    const line = 41;
    const r = await dc.setBreakpointsRequest({ source: { path: BOOT_S }, breakpoints: [{ line }] });
    assert.strictEqual(r.body.breakpoints[0].verified, true);
    const stop = await resumeAndStop(dc, dc.continueRequest({ threadId: 1 }));
    assert.strictEqual(stop.body.reason, 'breakpoint');
    const { raw, frames } = await shownStack(dc);
    assert.strictEqual(frames[0].file, 'boot.S');
    assert.strictEqual(frames[0].line, r.body.breakpoints[0].line);
    assert.ok(Number(raw[0].instructionPointerReference) < 0xc0000000);
    await dc.setBreakpointsRequest({ source: { path: BOOT_S }, breakpoints: [] });
  });

  it('steps one instruction with granularity instruction', async () => {
    const before = Number((await shownStack(dc)).raw[0].instructionPointerReference);
    const stop = await resumeAndStop(dc, dc.nextRequest({ threadId: 1, granularity: 'instruction' }));
    assert.strictEqual(stop.body.reason, 'step');
    const after = Number((await shownStack(dc)).raw[0].instructionPointerReference);
    assert.ok(after > before && after - before <= 15, `pc went from ${before} to ${after}`);
  });

  it('stops at a conditional function breakpoint only when the condition holds', async () => {
    const r = await dc.setFunctionBreakpointsRequest({ breakpoints: [{ name: 'mm_map_pages', condition: 'flags != 1 && id != 0' }] });
    assert.strictEqual(r.body.breakpoints[0].verified, true);
    const stop = await resumeAndStop(dc, dc.continueRequest({ threadId: 1 }));
    assert.strictEqual(stop.body.reason, 'breakpoint');
    const { frames } = await shownStack(dc);
    assert.strictEqual(frames[0].name, 'mm_map_pages');
    // Boot maps the kernel heap with flags 1 first: those hits must not stop.
    const flags = Number(await evaluateTop(dc, 'flags'));
    assert.ok(flags !== 1, `stopped with flags = ${flags}`);
    // The Locals scope shows the parameters with the same values.
    const st = await dc.stackTraceRequest({ threadId: 1 });
    const scopes = await dc.scopesRequest({ frameId: st.body.stackFrames[0].id });
    const locals = scopes.body.scopes.find((s) => s.name === 'Locals');
    assert.ok(locals);
    const vars = await dc.variablesRequest({ variablesReference: locals.variablesReference });
    const shown = vars.body.variables.find((v) => v.name === 'flags');
    assert.ok(shown, `no "flags" in ${vars.body.variables.map((v) => v.name).join(', ')}`);
    assert.strictEqual(Number(shown.value), flags);
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
    // The last message was for this very stop.
    assert.strictEqual(logged[2], `map ${Number(await evaluateTop(dc, 'pages'))} pages of chain ${Number(await evaluateTop(dc, 'id'))}`);
    await dc.setFunctionBreakpointsRequest({ breakpoints: [] });
  });

  it('fires a data breakpoint when the guest writes the watched variable', async () => {
    const before = Number(await evaluateTop(dc, 'timer_ticks'));
    const info = await dc.dataBreakpointInfoRequest({ name: 'timer_ticks' });
    assert.ok(info.body.dataId, info.body.description);
    const set = await dc.setDataBreakpointsRequest({ breakpoints: [{ dataId: info.body.dataId, accessType: 'write' }] });
    assert.strictEqual(set.body.breakpoints[0].verified, true);
    const stop = await resumeAndStop(dc, dc.continueRequest({ threadId: 1 }));
    assert.strictEqual(stop.body.reason, 'data breakpoint');
    const { frames } = await shownStack(dc);
    assert.strictEqual(frames[0].name, 'timer_irq');
    const after = Number(await evaluateTop(dc, 'timer_ticks'));
    assert.ok(after > before, `timer_ticks went from ${before} to ${after}`);
    await dc.setDataBreakpointsRequest({ breakpoints: [] });
  });

  it('pauses a running guest and continues it', async () => {
    await dc.continueRequest({ threadId: 1 });
    await new Promise((r) => setTimeout(r, 300));
    const paused = dc.waitForEvent('stopped') as Promise<DebugProtocol.StoppedEvent>;
    await dc.pauseRequest({ threadId: 1 });
    assert.strictEqual((await paused).body.reason, 'pause');
    const first = Number(await evaluateTop(dc, 'timer_ticks'));
    await dc.continueRequest({ threadId: 1 });
    await new Promise((r) => setTimeout(r, 300));
    const again = dc.waitForEvent('stopped') as Promise<DebugProtocol.StoppedEvent>;
    await dc.pauseRequest({ threadId: 1 });
    assert.strictEqual((await again).body.reason, 'pause');
    assert.ok(Number(await evaluateTop(dc, 'timer_ticks')) > first, 'the guest did not run between the pauses');
  });

  it('reads and writes memory and disassembles at the pc', async () => {
    const info = await dc.dataBreakpointInfoRequest({ name: 'timer_ticks' });
    const address = (info.body.dataId as string).split('/')[0];
    const read = await dc.customRequest('readMemory', { memoryReference: address, count: 4 }) as DebugProtocol.ReadMemoryResponse;
    const ticks = Buffer.from(read.body?.data ?? '', 'base64').readUInt32LE(0);
    assert.strictEqual(ticks, Number(await evaluateTop(dc, 'timer_ticks')));
    const value = Buffer.alloc(4);
    value.writeUInt32LE(12345678);
    await dc.customRequest('writeMemory', { memoryReference: address, data: value.toString('base64') });
    assert.strictEqual(Number(await evaluateTop(dc, 'timer_ticks')), 12345678);
    const { raw } = await shownStack(dc);
    const dis = await dc.customRequest('disassemble', { memoryReference: raw[0].instructionPointerReference, instructionCount: 4 }) as DebugProtocol.DisassembleResponse;
    assert.strictEqual(dis.body?.instructions.length, 4);
    assert.strictEqual(Number(dis.body?.instructions[0].address), Number(raw[0].instructionPointerReference));
  });

  it('disconnects, shutting down the QEMU it launched', async () => {
    await dc.disconnectRequest({});
    assert.deepStrictEqual(await waitNoQemu(marker), []);
  });
});
