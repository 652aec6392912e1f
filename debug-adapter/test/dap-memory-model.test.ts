// Level 1 through the real adapter: the bitmap test kernel (not ours: no mm_debug_info) launched
// with `memoryModel` naming its description file relative to the launch's cwd; stopped at its
// first checkpoint, mmscope/snapshot is a level-1 document whose processes and frame states equal
// the kernel's own serial dump, and a description with a mistake says so in the document and
// once on the debug console.

import * as assert from 'assert';
import * as path from 'path';
import { DebugClient } from '@vscode/debugadapter-testsupport';
import { DebugProtocol } from '@vscode/debugprotocol';
import type { SnapshotDocument } from '../src/mm/model/snapshot-document';
import { buildMmKernel, MM_DIR, mmMachine } from './fixtures-mm/build';
import { parseMmDump } from './fixtures-mm/mm-kernels';
import { endSessionLeavingNoQemu, launchArgs, qemuMarker, startClient } from './dap-fixture';

/** Runs merged: adjacent runs of one state become one. */
function merged(runs: readonly (readonly [number, number, string])[]): [number, number, string][] {
  const out: [number, number, string][] = [];
  for (const [first, count, state] of runs) {
    const last = out[out.length - 1];
    if (last && last[0] + last[1] === first && last[2] === state) last[1] += count;
    else out.push([first, count, state]);
  }
  return out;
}

async function launchBitmap(memoryModel: unknown): Promise<{ dc: DebugClient; marker: string; output: () => string; important: () => string }> {
  const kernel = buildMmKernel({ kernel: 'bitmap' });
  const machine = mmMachine('bitmap');
  const marker = qemuMarker();
  const dc = await startClient();
  let output = '';
  let important = '';
  dc.on('output', (e: DebugProtocol.OutputEvent) => {
    if (e.body.category === 'important') important += e.body.output;
    else output += e.body.output;
  });
  const stopped = dc.waitForEvent('stopped', 180_000);
  await Promise.all([
    dc.initializeRequest(),
    dc.waitForEvent('initialized').then(async () => {
      await dc.setFunctionBreakpointsRequest({ breakpoints: [{ name: 'mm_checkpoint' }] });
      await dc.configurationDoneRequest();
    }),
    dc.launch({
      ...launchArgs({ marker, kernel, qemuArgs: ['-accel', 'tcg,thread=single'], qemuPath: machine.qemuBinary }),
      memory: machine.memoryMiB, cmdline: '', cwd: MM_DIR, memoryModel,
    } as never),
  ]);
  await stopped;
  return { dc, marker, output: () => output, important: () => important };
}

describe('DAP level 1: a memory-model description in launch.json (bitmap test kernel)', function () {
  this.timeout(240_000);

  it('the snapshot document at the first checkpoint is level 1 and equals the kernel\'s dump', async () => {
    const s = await launchBitmap('bitmap.model.json');
    try {
      const doc = ((await s.dc.customRequest('mmscope/snapshot', {})).body as { snapshot: SnapshotDocument }).snapshot;
      const dump = parseMmDump(s.output(), 1);
      assert.strictEqual(doc.level, 1);
      assert.deepStrictEqual(doc.description, { source: path.join(MM_DIR, 'bitmap.model.json'), errors: [] });
      assert.strictEqual(s.important(), '');
      assert.deepStrictEqual(doc.processes.map((p) => [p.pid, p.name, p.state, p.current, BigInt(p.directory ?? 0)]).sort(),
        dump.processes.map((p) => [p.pid, p.name, p.state, p.pid === dump.currentPid, p.directory]).sort());
      const a = dump.allocators[0];
      const ours = (doc.frames.allocation ?? []).filter(([f]) => f >= a.first && f < a.first + a.count);
      assert.deepStrictEqual(merged(ours), merged(a.frames), 'every frame of the allocator in the state the kernel says');
      assert.deepStrictEqual(doc.allocators.map((x) => [x.name, x.shape, x.counter?.agrees]), [['frames', 'bitmap', true]]);
      // Each process's own directory is an address space the document lists.
      for (const p of doc.processes) assert.ok(p.space && doc.spaces.some((sp) => sp.id === p.space), `pid ${p.pid}'s space`);
    } finally {
      await endSessionLeavingNoQemu(s.dc, s.marker);
    }
  });

  it('a description with a mistake: one sentence in the document and once on the console, the rest still described', async () => {
    const s = await launchBitmap({
      processes: { array: 'proc', filter: 'state != UNUSED', pid: 'pid', name: 'name', state: 'state', directory: 'pgdir' },
      allocators: [{ name: 'frames', shape: 'bitmap', bitmap: 'frame_bitmap', base: 'bitmap_base * 4096', units: 'bitmap_frames', color: 'red' }],
    });
    try {
      const doc = ((await s.dc.customRequest('mmscope/snapshot', {})).body as { snapshot: SnapshotDocument }).snapshot;
      assert.strictEqual(doc.level, 1);
      assert.strictEqual(doc.description?.source, 'launch configuration');
      assert.deepStrictEqual(doc.description?.errors.map((e) => e.path), ['allocators[0]']);
      assert.match(doc.description?.errors[0].message ?? '', /unknown key "color"/);
      assert.strictEqual(s.important(), `mmscope: memory model (launch configuration): ${doc.description?.errors[0].message}\n`);
      assert.ok(doc.processes.length >= 3);
      assert.strictEqual(doc.allocators.length, 1);
    } finally {
      await endSessionLeavingNoQemu(s.dc, s.marker);
    }
  });
});
