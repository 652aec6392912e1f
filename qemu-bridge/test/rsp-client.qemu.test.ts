// The RSP client against a real qemu-system-i386 running the test image, with QMP/HMP and the
// RAM file as oracles: registers, memory (plain and pipelined), physical mode, breakpoints,
// watchpoints, stepping, interrupt, and the events QMP reports meanwhile.

import * as assert from 'assert';
import * as fs from 'fs';
import { parseInfoRegisters, parseInfoTlb, parseXpBytes, QemuInstance, QmpClient, QmpEvent, RspClient } from '../src';
import { buildTestImage, expectedFill, IMAGE } from './fixtures/test-image';
import { connectGdb, startReadyImage } from './fixtures/qemu-fixture';

describe('RSP client against QEMU (test image)', function () {
  this.timeout(60000);
  let qemu: QemuInstance;
  let qmp: QmpClient;
  let rsp: RspClient;
  const image = buildTestImage();
  const events: QmpEvent[] = [];

  before(async () => {
    ({ qemu, qmp } = await startReadyImage());
    qmp.onEvent((e) => events.push(e));
    rsp = await connectGdb(qemu);
  });
  after(async () => {
    rsp?.close();
    qmp?.close();
    await qemu?.shutdown();
  });

  it('saw the guest running when it connected, and the stop came with signal 2', () => {
    assert.strictEqual(rsp.wasRunningAtConnect, true);
    const stop = rsp.connection.lastStop;
    assert.ok(stop && stop.kind === 'signal');
    assert.strictEqual(stop.signal, 2);
  });

  it('reads the target description with cr0, cr2, cr3, cr4 and efer', async () => {
    const layout = await rsp.registerLayout();
    assert.strictEqual(layout.registers.length, 50);
    assert.deepStrictEqual(['cr0', 'cr2', 'cr3', 'cr4', 'cr8', 'efer'].map((n) => layout.get(n)?.number), [19, 20, 21, 22, 23, 24]);
  });

  it('g and p agree with HMP info registers', async () => {
    const regs = await rsp.readRegisters();
    const hmp = parseInfoRegisters(await qmp.humanMonitorCommand('info registers'));
    for (const name of ['eax', 'ebx', 'ecx', 'edx', 'esi', 'edi', 'ebp', 'esp', 'eip', 'eflags', 'cr0', 'cr2', 'cr3', 'cr4', 'efer', 'cs', 'ds']) {
      assert.strictEqual(regs.value(name), hmp.get(name), name);
    }
    assert.strictEqual(regs.value('ebx'), 0x12345678);
    assert.strictEqual(regs.value('cr3'), IMAGE.directoryA);
    assert.strictEqual(Number(await rsp.readRegister('cr4')), hmp.get('cr4'));
    assert.strictEqual(Number(await rsp.readRegister('esi')), 0xcafebabe);
  });

  it('P writes a register that HMP then reports', async () => {
    const old = await rsp.readRegister('edx');
    await rsp.writeRegister('edx', 0x5a5a1234);
    assert.strictEqual(parseInfoRegisters(await qmp.humanMonitorCommand('info registers')).get('edx'), 0x5a5a1234);
    await rsp.writeRegister('edx', old);
  });

  it('physical reads match pmemsave and xp, plain and pipelined, across the 2048-byte limit', async () => {
    await rsp.setPhysicalMemoryMode(true);
    assert.strictEqual(await rsp.queryPhysicalMemoryMode(), true);
    const address = 0x00400ff8;
    const length = 3 * 2048 + 100;
    const file = `${qemu.ramPath}.oracle`;
    await qmp.pmemsave(address, length, file);
    const oracle = fs.readFileSync(file);
    fs.rmSync(file);
    assert.deepStrictEqual(await rsp.readMemory(address, length), oracle);
    assert.deepStrictEqual(await rsp.readMemory(address, length, true), oracle);
    assert.deepStrictEqual(oracle, expectedFill(address, length));
    const xp = parseXpBytes(await qmp.humanMonitorCommand(`xp /16xb ${IMAGE.fillStart}`));
    assert.deepStrictEqual(await rsp.readMemory(IMAGE.fillStart, 16), xp);
  });

  it('pipelined replies come back in order: 1 MiB of distinct words in 512 reads, 16 in flight', async () => {
    await rsp.setPhysicalMemoryMode(true);
    const address = 0x00900000;
    const data = await rsp.readMemory(address, 1 << 20, true);
    assert.ok(data.equals(expectedFill(address, 1 << 20)));
  });

  it('virtual-mode reads follow the current page tables (as info tlb says)', async () => {
    await rsp.setPhysicalMemoryMode(false);
    const tlb = parseInfoTlb(await qmp.humanMonitorCommand('info tlb'));
    const entry = tlb.find((e) => e.virtual === 0xc0401000);
    assert.ok(entry);
    assert.deepStrictEqual(await rsp.readMemory(0xc0401000, 64), expectedFill(entry.physical, 64));
    await rsp.setPhysicalMemoryMode(true);
  });

  it('M writes memory that the RAM file and pmemsave see', async () => {
    await rsp.setPhysicalMemoryMode(true);
    const data = Buffer.from('written through the gdbstub M packet, longer than one chunk? '.repeat(60));
    const address = 0x00600000;
    await rsp.writeMemory(address, data);
    const fd = fs.openSync(qemu.ramPath as string, 'r');
    const back = Buffer.alloc(data.length);
    fs.readSync(fd, back, 0, back.length, address);
    fs.closeSync(fd);
    assert.ok(back.equals(data));
    await rsp.writeMemory(address, expectedFill(address, data.length));
  });

  it('a software breakpoint stops at its address (Z0), and z0 removes it', async () => {
    const target = image.symbol('after_inc');
    await rsp.insertBreakpoint('software', target);
    await rsp.continue();
    const stop = await rsp.waitForStop(10000);
    assert.ok(stop.kind === 'signal' && stop.signal === 5);
    assert.strictEqual(Number(await rsp.readRegister('eip')), target);
    await rsp.removeBreakpoint('software', target);
  });

  it('a hardware breakpoint (Z1) stops at its address', async () => {
    const target = image.symbol('spin');
    await rsp.insertBreakpoint('hardware', target);
    await rsp.continue();
    await rsp.waitForStop(10000);
    assert.strictEqual(Number(await rsp.readRegister('eip')), target);
    await rsp.removeBreakpoint('hardware', target);
  });

  it('a write watchpoint (Z2) reports the watched address, after the incrementing instruction', async () => {
    const counter = image.symbol('counter');
    await rsp.setPhysicalMemoryMode(true);
    const before = (await rsp.readMemory(counter, 4)).readUInt32LE(0);
    await rsp.insertBreakpoint('write-watch', counter, 4);
    await rsp.continue();
    const stop = await rsp.waitForStop(10000);
    await rsp.removeBreakpoint('write-watch', counter, 4);
    assert.ok(stop.kind === 'signal');
    assert.deepStrictEqual(stop.watch, { kind: 'write', address: counter });
    const after = (await rsp.readMemory(counter, 4)).readUInt32LE(0);
    assert.strictEqual(after, (before + 1) >>> 0);
  });

  it('read (Z3) and access (Z4) watchpoints report their kind', async () => {
    const mirror = image.symbol('mirror');
    const counter = image.symbol('counter');
    await rsp.insertBreakpoint('read-watch', counter, 4);
    await rsp.continue();
    const r = await rsp.waitForStop(10000);
    await rsp.removeBreakpoint('read-watch', counter, 4);
    assert.ok(r.kind === 'signal' && r.watch && (r.watch.kind === 'read' || r.watch.kind === 'access'));
    assert.strictEqual(r.watch.address, counter);
    await rsp.insertBreakpoint('access-watch', mirror, 4);
    await rsp.continue();
    const a = await rsp.waitForStop(10000);
    await rsp.removeBreakpoint('access-watch', mirror, 4);
    assert.ok(a.kind === 'signal' && a.watch && a.watch.address === mirror);
  });

  it('single steps advance eip through the loop', async () => {
    const spin = image.symbol('spin');
    const afterInc = image.symbol('after_inc');
    await rsp.insertBreakpoint('software', spin);
    await rsp.continue();
    await rsp.waitForStop(10000);
    await rsp.removeBreakpoint('software', spin);
    assert.strictEqual(Number(await rsp.readRegister('eip')), spin);
    const stop = await rsp.step(10000);
    assert.ok(stop.kind === 'signal' && stop.signal === 5);
    assert.strictEqual(Number(await rsp.readRegister('eip')), afterInc);
    await rsp.step(10000);
    assert.ok(Number(await rsp.readRegister('eip')) > afterInc);
  });

  it('interrupt stops a running guest (T02), and QMP reports RESUME and STOP', async () => {
    events.length = 0;
    const resumed = qmp.waitForEvent('RESUME', 10000);
    await rsp.continue();
    await resumed;
    assert.strictEqual((await qmp.queryStatus()).running, true);
    const stopped = qmp.waitForEvent('STOP', 10000);
    const stop = await rsp.interrupt(10000);
    await stopped;
    assert.ok(stop.kind === 'signal' && stop.signal === 2);
    assert.strictEqual((await qmp.queryStatus()).running, false);
    assert.deepStrictEqual(events.map((e) => e.event), ['RESUME', 'STOP']);
  });

  it('a QMP stop while gdb runs the guest arrives as a stop reply', async () => {
    // Wait until QEMU has really resumed (its RESUME event): a stop sent before QEMU handled
    // the "c" packet would be undone by it, and no stop reply would come.
    const resumed = qmp.waitForEvent('RESUME', 10000);
    await rsp.continue();
    await resumed;
    const stop = rsp.waitForStop(10000);
    await qmp.stop();
    const s = await stop;
    assert.ok(s.kind === 'signal');
    assert.strictEqual(rsp.running, false);
    await rsp.readRegisters();
  });

  it('monitor commands run through qRcmd', async () => {
    const text = await rsp.monitorCommand('info mem');
    assert.match(text, /00000000c0000000-00000000c0410000 0000000000410000 -rw/);
  });
});
