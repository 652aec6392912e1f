// `mmscope record --model` on a kernel that is not ours (issue 16): the mm test kernel `bitmap`
// (i386, alloc_frame/free_frame, debug-adapter/test/fixtures-mm; no mm_debug_info, no event ring)
// is booted by the command, its allocation calls traced through the description's `tracing`, and
// the Chrome/Perfetto trace has an `allocate` per alloc_frame call and a `free` per free_frame call,
// as many as the kernel's own count (its `mm calls` dump line), with the
// kernel's call sites resolved to its source. Bad input gets one sentence.

import * as assert from 'assert';
import { execFile } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { buildMmKernel, MM_DIR } from './fixtures-mm/build';
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

interface TraceEvent { ph: string; name: string; cat?: string; ts?: number; args?: Record<string, unknown> }

describe('mmscope record --model (a kernel that is not ours)', function () {
  this.timeout(240000);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mmscope-record-traced-'));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('writes a trace whose allocate and free events are the kernel\'s own alloc_frame and free_frame calls', async () => {
    const elf = buildMmKernel({ kernel: 'bitmap' });
    const out = path.join(dir, 'bitmap.json');
    // The kernel does all its work in a few seconds, then halts (`mm done`).
    const r = await mmscope(['record', '--kernel', elf, '--model', path.join(MM_DIR, 'bitmap.model.json'), '--memory', '32', '--seconds', '12', '--out', out]);
    assert.strictEqual(r.code, 0, r.stderr);
    assert.ok(r.stderr.includes('mm done'), `the kernel finished within the recording:\n${r.stderr.slice(-2000)}`);
    const calls = [...r.stderr.matchAll(/^mm calls frames alloc_frame=(\d+) free_frame=(\d+)$/gm)].pop();
    assert.ok(calls, 'the kernel printed its own call counts');
    const [allocs, frees] = [Number(calls[1]), Number(calls[2])];
    const lines = r.stdout.trim().split('\n');
    const summary = JSON.parse(lines[lines.length - 1]) as { events: number; allocations: number; frees: number; lost: number };
    assert.deepStrictEqual(summary, { events: allocs + frees, allocations: allocs, frees, lost: 0 });
    const trace = JSON.parse(fs.readFileSync(out, 'utf8')) as { traceEvents: TraceEvent[] };
    const instants = trace.traceEvents.filter((e) => e.ph === 'i' && e.cat === 'mm');
    assert.strictEqual(instants.filter((e) => e.name === 'allocate').length, allocs);
    assert.strictEqual(instants.filter((e) => e.name === 'free').length, frees);
    assert.ok(allocs > 10 && frees > 5, `the kernel allocates and frees: ${allocs}, ${frees}`);
    for (let i = 1; i < instants.length; i++) assert.ok((instants[i].ts ?? 0) >= (instants[i - 1].ts ?? 0), 'ordered in time');
    // Every allocate resolves to a call site in the kernel's source, and frames freed end their slice.
    for (const e of instants.filter((x) => x.name === 'allocate')) assert.match(String(e.args?.site), /bitmap\.c:\d+/);
    assert.ok(trace.traceEvents.some((e) => e.ph === 'b' && e.cat === 'chain'));
    assert.ok(trace.traceEvents.some((e) => e.ph === 'e' && e.cat === 'chain'));
  });

  it('says in one sentence what a kernel without the ring needs, and that --model is not for ours', async () => {
    const elf = buildMmKernel({ kernel: 'bitmap' });
    const noModel = await mmscope(['record', '--kernel', elf, '--seconds', '1', '--out', path.join(dir, 'x.json')]);
    assert.strictEqual(noModel.code, 1);
    assert.match(noModel.stderr, /^mmscope: .*has no mm_debug_info.*--model FILE.*\n$/);
    const noTracing = path.join(dir, 'no-tracing.json');
    fs.writeFileSync(noTracing, JSON.stringify({}));
    const r2 = await mmscope(['record', '--kernel', elf, '--model', noTracing, '--seconds', '1', '--out', path.join(dir, 'y.json')]);
    assert.strictEqual(r2.code, 1);
    assert.match(r2.stderr, /^mmscope: The memory model .* names no allocation and free functions/m);
    const ours = await mmscope(['record', '--kernel', KERNEL, '--model', noTracing, '--seconds', '1', '--out', path.join(dir, 'z.json')]);
    assert.strictEqual(ours.code, 1);
    assert.match(ours.stderr, /is an mmscope guest: its own event ring is recorded/);
    assert.ok(!fs.existsSync(path.join(dir, 'x.json')) && !fs.existsSync(path.join(dir, 'y.json')));
  });
});
