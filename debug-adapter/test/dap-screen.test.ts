// The Screen through DAP on a real QEMU (with "qemuArgs": ["-vga", "std"] until the launcher's
// defaults have a display): a tiny test kernel of ours that writes known text to the VGA buffer
// and echoes keyboard scancodes on COM1, and our guest. QEMU is the oracle: a second QMP monitor
// of the same QEMU (the test's own) reads 0xB8000 with `xp` and takes its own screendump.

import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { DebugClient } from '@vscode/debugadapter-testsupport';
import { DebugProtocol } from '@vscode/debugprotocol';
import { QmpClient, findFreePort } from '../../qemu-bridge/src';
import { endSessionLeavingNoQemu, KERNEL, qemuMarker, requireGuest, startClient } from './dap-fixture';
import { buildScreenKernel } from './fixtures-screen/build';
import { pngInfo } from '../src/screen/png-info';
import { decodeVgaText } from '../src/screen/vga-text';

interface ScreenBody { png: string; width: number; height: number; mode: string; text?: string; columns?: number; rows?: number }

/** The serial output (DAP output events, category stdout) collected so far. */
function collectOutput(dc: DebugClient): { text: () => string; wait: (pattern: RegExp, ms: number) => Promise<string> } {
  let text = '';
  const waiters: (() => void)[] = [];
  dc.on('output', (e: DebugProtocol.OutputEvent) => {
    if (e.body.category === 'stdout') text += e.body.output;
    for (const w of [...waiters]) w();
  });
  return {
    text: () => text,
    wait: (pattern, ms) => new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${pattern} in the serial output: ${JSON.stringify(text.slice(-400))}`)), ms);
      const check = (): void => {
        if (pattern.test(text)) {
          clearTimeout(timer);
          waiters.splice(waiters.indexOf(check), 1);
          resolve(text);
        }
      };
      waiters.push(check);
      check();
    }),
  };
}

/** The oracle: 80x25 text from QEMU's own `xp` of the VGA buffer. */
async function oracleText(qmp: QmpClient): Promise<string[]> {
  const out = await qmp.humanMonitorCommand('xp /2000hx 0xb8000');
  const cells: number[] = [];
  for (const line of out.split('\n')) {
    const m = /^[0-9a-f]+:\s+(.*)$/.exec(line.trim());
    if (m) for (const w of m[1].trim().split(/\s+/)) cells.push(parseInt(w, 16));
  }
  assert.strictEqual(cells.length, 2000, 'xp printed 2000 cells');
  const bytes = Buffer.alloc(4000);
  cells.forEach((c, i) => bytes.writeUInt16LE(c, i * 2));
  return decodeVgaText(bytes, { columns: 80, rows: 25 });
}

async function connectOracle(port: number): Promise<QmpClient> {
  for (let i = 0; ; i++) {
    try {
      return await QmpClient.connect({ host: '127.0.0.1', port });
    } catch (e) {
      if (i > 50) throw e;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

async function launch(dc: DebugClient, kernel: string, qemuArgs: string[], cmdline = ''): Promise<void> {
  await Promise.all([
    dc.initializeRequest(),
    dc.waitForEvent('initialized').then(() => dc.configurationDoneRequest()),
    dc.launch({ kernel, cmdline, memory: 64, stopOnEntry: false, qemuArgs } as DebugProtocol.LaunchRequestArguments),
  ]);
}

/** Set-1 make and break codes of the keys sent (IBM PC/AT, scancode set 1 as QEMU's i8042 translates it). */
const SET1: Record<string, number> = { KeyA: 0x1e, KeyB: 0x30, Digit1: 0x02, Enter: 0x1c, Space: 0x39, Escape: 0x01, ShiftLeft: 0x2a };

describe('DAP: the Screen (mmscope/screen, mmscope/sendKey) on a real QEMU', function () {
  this.timeout(180000);
  let dc: DebugClient | undefined;
  let marker: string | undefined;
  let oracle: QmpClient | undefined;
  let scratch: string;

  before(() => (scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'mmscope-dap-screen-'))));
  after(() => fs.rmSync(scratch, { recursive: true, force: true }));
  afterEach(async () => {
    oracle?.close();
    oracle = undefined;
    await endSessionLeavingNoQemu(dc, marker);
    dc = undefined;
  });

  it('shows the test kernel\'s screen as PNG and text (running and stopped), equal to QEMU\'s, and types keys the guest reads', async () => {
    const kernel = buildScreenKernel('multiboot1');
    marker = qemuMarker();
    const port = await findFreePort();
    dc = await startClient();
    const serial = collectOutput(dc);
    await launch(dc, kernel, ['-name', marker, '-vga', 'std', '-qmp', `tcp:127.0.0.1:${port},server=on,wait=off`]);
    await serial.wait(/screen kernel ready/, 60000);
    oracle = await connectOracle(port);

    // While running.
    const running = (await dc.customRequest('mmscope/screen')).body as ScreenBody;
    const png = Buffer.from(running.png, 'base64');
    assert.deepStrictEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'a PNG signature');
    assert.deepStrictEqual({ w: pngInfo(png).width, h: pngInfo(png).height }, { w: 720, h: 400 });
    assert.deepStrictEqual([running.width, running.height, running.mode, running.columns, running.rows], [720, 400, 'text', 80, 25]);
    const lines = (running.text ?? '').split('\n');
    assert.strictEqual(lines.length, 25);
    assert.strictEqual(lines[0], 'MMSCOPE SCREEN TEST');
    assert.strictEqual(lines[1], 'line two: 0123456789 <>&');
    assert.strictEqual(lines[24], `${' '.repeat(60)}bottom right corner`);
    assert.deepStrictEqual(lines, await oracleText(oracle), 'the text equals QEMU\'s xp of 0xB8000');
    // QEMU's own screendump of the same screen has the same size.
    const own = path.join(scratch, 'oracle.png');
    await oracle.execute('screendump', { filename: own, format: 'png' });
    assert.deepStrictEqual(pngInfo(fs.readFileSync(own)), pngInfo(png));

    // Keys: each one's make and break codes arrive at the guest's keyboard controller.
    const sent: number[] = [];
    for (const code of ['KeyA', 'Digit1', 'Enter', 'Space', 'Escape']) {
      const r = await dc.customRequest('mmscope/sendKey', { code });
      assert.strictEqual(r.body.qcodes.length, 1);
      sent.push(SET1[code], SET1[code] | 0x80);
    }
    const shifted = await dc.customRequest('mmscope/sendKey', { code: 'KeyB', shift: true });
    assert.deepStrictEqual(shifted.body.qcodes, ['shift', 'b']);
    sent.push(SET1.ShiftLeft, SET1.KeyB, SET1.KeyB | 0x80, SET1.ShiftLeft | 0x80);
    const expected = sent.map((s) => `key ${s.toString(16).padStart(2, '0')}\n`).join('');
    await serial.wait(new RegExp(expected.replace(/\n/g, '\\n')), 30000);
    const echoed = [...serial.text().matchAll(/key ([0-9a-f]{2})/g)].map((m) => parseInt(m[1], 16));
    assert.deepStrictEqual(echoed, sent, 'the guest read exactly these scancodes, in this order');

    // Stopped: the text read through the gdbstub's physical mode shows the echoed keys too.
    const stopped = dc.waitForEvent('stopped');
    await dc.pauseRequest({ threadId: 1 });
    await stopped;
    const atStop = (await dc.customRequest('mmscope/screen')).body as ScreenBody;
    const stopLines = (atStop.text ?? '').split('\n');
    assert.strictEqual(stopLines[3], sent.slice(0, 13).map((s) => `key ${s.toString(16).padStart(2, '0')}`).join(''));
    assert.deepStrictEqual(stopLines, await oracleText(oracle));
    assert.strictEqual(pngInfo(Buffer.from(atStop.png, 'base64')).width, 720);
    // Bad input: one sentence.
    await assert.rejects(dc.customRequest('mmscope/sendKey', { code: 'MediaPlayPause' }), /"MediaPlayPause" has no QEMU key code/);
    await assert.rejects(dc.customRequest('mmscope/sendKey', {}), /needs "code"/);
  });

  it('shows our guest\'s text console, equal to QEMU\'s', async () => {
    requireGuest();
    marker = qemuMarker();
    const port = await findFreePort();
    dc = await startClient();
    const serial = collectOutput(dc);
    await launch(dc, KERNEL, ['-name', marker, '-vga', 'std', '-qmp', `tcp:127.0.0.1:${port},server=on,wait=off`], 'demo');
    await serial.wait(/\S/, 60000);
    oracle = await connectOracle(port);
    const stopped = dc.waitForEvent('stopped');
    await dc.pauseRequest({ threadId: 1 });
    await stopped;
    const s = (await dc.customRequest('mmscope/screen')).body as ScreenBody;
    assert.strictEqual(s.mode, 'text');
    const lines = (s.text ?? '').split('\n');
    assert.deepStrictEqual(lines, await oracleText(oracle));
    assert.ok(lines.some((l) => l.trim().length > 0), `the guest's screen has text: ${JSON.stringify(lines.slice(0, 5))}`);
  });

  it('says in one sentence what to add when QEMU has no display adapter', async () => {
    marker = qemuMarker();
    dc = await startClient();
    const serial = collectOutput(dc);
    // The launcher gives QEMU a standard VGA unless the user removes it, as here.
    await launch(dc, buildScreenKernel('multiboot1'), ['-name', marker, '-vga', 'none']);
    await serial.wait(/screen kernel ready/, 60000);
    await assert.rejects(dc.customRequest('mmscope/screen'), /QEMU has no display to capture .*"qemuArgs": \["-vga", "std"\]/);
    // The session stays usable.
    const stopped = dc.waitForEvent('stopped');
    await dc.pauseRequest({ threadId: 1 });
    await stopped;
  });
});
