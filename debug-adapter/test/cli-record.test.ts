// `mmscope record` as a user runs it (node bin/mmscope.js) on the demo guest, booted by the
// command and attached with --gdb: the last stdout line's counts agree with the trace (the
// guest's own allocation and free counters against the `allocate` and `free` instants) and the
// file is a Chrome/Perfetto trace (traceEvents with the fields each phase needs).

import * as assert from 'assert';
import { execFile } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { QemuInstance, QmpClient, launchQemu } from '../../qemu-bridge/src';
import { guestSwapDiskMiB } from '../src/session/guest-kernel';
import { KERNEL } from './guest-snapshot';

const BIN = path.resolve(__dirname, '..', '..', '..', 'bin', 'mmscope.js');

function mmscope(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { timeout: 180000, maxBuffer: 64 << 20 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

interface TraceEvent { ph: string; name: string; pid: number; tid: number; ts?: number; s?: string; id?: string; cat?: string; args?: Record<string, unknown> }

/** Parses the summary and the trace and checks them against each other. */
function checkRecording(r: { code: number; stdout: string; stderr: string }, file: string): { events: number; allocations: number } {
  assert.strictEqual(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  const summary = JSON.parse(lines[lines.length - 1]) as { events: number; allocations: number; frees: number; lost: number };
  assert.deepStrictEqual(Object.keys(summary), ['events', 'allocations', 'frees', 'lost']);
  const trace = JSON.parse(fs.readFileSync(file, 'utf8')) as { traceEvents: TraceEvent[] };
  assert.ok(Array.isArray(trace.traceEvents));
  for (const e of trace.traceEvents) {
    assert.ok(typeof e.ph === 'string' && typeof e.name === 'string' && typeof e.pid === 'number' && typeof e.tid === 'number', JSON.stringify(e));
    if (e.ph !== 'M') assert.ok(typeof e.ts === 'number' && e.ts >= 0, JSON.stringify(e));
    if (e.ph === 'i') assert.ok(e.s && e.args, JSON.stringify(e));
    if (e.ph === 'b' || e.ph === 'e') assert.ok(e.id && e.cat, JSON.stringify(e));
    if (e.ph === 'C') assert.ok(e.args && typeof e.args.free === 'number' && typeof e.args.used === 'number');
  }
  const instants = trace.traceEvents.filter((e) => e.ph === 'i' && e.cat === 'mm');
  const count = (name: string): number => instants.filter((e) => e.name === name).length;
  assert.strictEqual(instants.length, summary.events);
  assert.strictEqual(summary.lost, 0, `the drain lost ${summary.lost} events at a few hundred a second: ${r.stderr}`);
  assert.strictEqual(count('allocate'), summary.allocations, 'allocate instants against the guest\'s mm_alloc_seq');
  assert.strictEqual(count('free'), summary.frees, 'free instants against the guest\'s mm_free_count');
  assert.ok(summary.allocations > 0 && summary.frees > 0, 'the demo allocates and frees');
  const seqs = instants.map((e) => e.args?.seq as number);
  for (let i = 1; i < seqs.length; i++) assert.strictEqual(seqs[i], seqs[i - 1] + 1, 'consecutive seq (nothing lost)');
  assert.ok(trace.traceEvents.some((e) => e.ph === 'b' && e.cat === 'chain'));
  assert.ok(trace.traceEvents.some((e) => e.ph === 'C' && e.name === 'blocks'));
  assert.ok(instants.some((e) => e.name === 'allocate' && typeof e.args?.site === 'string' && /\.c:\d+/.test(e.args.site as string)), 'call sites resolved');
  return summary;
}

describe('mmscope record (CLI)', function () {
  this.timeout(240000);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mmscope-record-'));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('boots the demo and writes a trace whose allocate/free events match the guest\'s counters', async () => {
    const out = path.join(dir, 'boot.json');
    const r = await mmscope(['record', '--kernel', KERNEL, '--seconds', '4', '--memory', '64', '--out', out]);
    checkRecording(r, out);
  });

  it('attaches with --gdb and --ram and leaves the guest running', async () => {
    const qemu: QemuInstance = await launchQemu({ kernel: KERNEL, cmdline: 'demo', memoryMiB: 64, swapDiskMiB: guestSwapDiskMiB(KERNEL) });
    try {
      const qmp = await QmpClient.connect(qemu.qmp);
      await qmp.cont();
      await qemu.waitForSerial(/heartbeat 1 /, 90000);
      qmp.close();
      const out = path.join(dir, 'attach.json');
      const r = await mmscope(['record', '--gdb', `${qemu.gdb.host}:${qemu.gdb.port}`, '--ram', qemu.ramPath as string, '--kernel', KERNEL, '--seconds', '3', '--out', out]);
      checkRecording(r, out);
      const qmp2 = await QmpClient.connect(qemu.qmp);
      assert.strictEqual((await qmp2.queryStatus()).running, true);
      qmp2.close();
    } finally {
      qemu.kill('SIGKILL');
      await qemu.exited;
    }
  });

  it('says what is missing on a wrong command line', async () => {
    const r = await mmscope(['record', '--seconds', '2']);
    assert.strictEqual(r.code, 2);
    assert.match(r.stderr, /--out FILE/);
  });
});
