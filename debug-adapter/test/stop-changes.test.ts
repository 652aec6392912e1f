// The one diff of a stop (stop-changes.ts over model/diff.ts): on two documents recorded from the
// demo guest (extension/test/fixtures) and an injected run, and on our guest's decoded snapshots
// built from a memory image (the chain-table part joins the document part). Each expectation is
// computed here independently from the two documents.

import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { stopChanges } from '../src/live/stop-changes';
import { diffDocuments } from '../src/mm/model/diff';
import { SnapshotJson, snapshotToJson } from '../src/mm/model/snapshot-json';
import { buildSnapshot } from '../src/mm/model/snapshot';
import type { ChangesView } from '../../contract/guest-document';
import { dosImage } from './fixtures/dos-image';
import { LAYOUT, REGISTERS } from './fixtures/mm-image';

const FIXTURES = path.resolve(__dirname, '../../../extension/test/fixtures');
const load = (name: string): SnapshotJson => JSON.parse(fs.readFileSync(path.join(FIXTURES, name), 'utf8')) as SnapshotJson;
const runKey = (r: { va: unknown; pa: unknown; size: unknown; flags: unknown }): string => `${r.va}:${r.pa}:${r.size}:${r.flags}`;

describe('the one diff of a stop (stopChanges)', function () {
  const snap = load('demo-snapshot.json');
  const later = load('demo-snapshot-later.json');
  const injected = load('injected-snapshot.json');

  it('names nothing between a document and itself', () => {
    const d = stopChanges({ document: later }, { document: later });
    assert.deepStrictEqual(d, { spaces: [], processes: [], newFindings: [], goneFindings: [], allocators: [], heaps: [], tracingChanged: false, framesChanged: false });
  });

  it('names every space whose runs changed, with exactly its new runs, and the processes whose entry changed', () => {
    const d = stopChanges({ document: snap }, { document: later });
    const changing = later.spaces.filter((s) => {
      const old = snap.spaces.find((o) => o.id === s.id);
      return !old || JSON.stringify(old.mappings.map(runKey)) !== JSON.stringify(s.mappings.map(runKey));
    });
    assert.ok(changing.length > 0, 'the demo remapped something between the two recordings');
    for (const s of changing) {
      const entry = d.spaces.find((c) => c.id === s.id);
      assert.ok(entry && entry.kind !== 'removed', s.id);
      const before = new Set((snap.spaces.find((o) => o.id === s.id)?.mappings ?? []).map(runKey));
      assert.deepStrictEqual(entry.newRuns.map(runKey), s.mappings.filter((r) => !before.has(runKey(r))).map(runKey), s.id);
    }
    const expectedPids = later.processes.filter((p) => JSON.stringify(snap.processes.find((o) => o.pid === p.pid)) !== JSON.stringify(p)).map((p) => p.pid);
    assert.ok(expectedPids.length > 0, 'processes changed between the recordings');
    assert.deepStrictEqual(d.processes.filter((p) => p.kind !== 'removed').map((p) => p.pid), expectedPids);
    const typed: ChangesView = d; // the contract's shape, as every consumer reads it
    assert.ok(typed.spaces);
  });

  it('names the findings that appeared, and those that went', () => {
    const on = diffDocuments(snap, injected);
    const off = diffDocuments(injected, snap);
    const key = (f: { kind: string; message: string }): string => `${f.kind}:${f.message}`;
    const fresh = injected.findings.filter((f) => !snap.findings.some((o) => key(o) === key(f)));
    assert.ok(fresh.length > 0, 'the injected run has a finding the clean one has not');
    assert.deepStrictEqual(on.newFindings.map(key), fresh.map(key));
    assert.deepStrictEqual(off.goneFindings.map(key), fresh.map(key));
    assert.deepStrictEqual(off.newFindings.map(key), snap.findings.filter((f) => !injected.findings.some((o) => key(o) === key(f))).map(key));
  });

  it('on our guest joins the chain-table diff (chains, mappings, changed blocks) to the document diff', async () => {
    const take = async (change?: (x: ReturnType<typeof dosImage>) => void) => {
      const x = dosImage();
      change?.(x);
      const guest = await buildSnapshot({ read: x.img.read, descriptorPhys: LAYOUT.descriptor, registers: REGISTERS });
      return { guest, document: snapshotToJson(guest) };
    };
    const before = await take();
    const after = await take(({ img }) => img.setMode(1, 0));
    const same = stopChanges(before, await take());
    assert.deepStrictEqual([same.chains, same.mappings, same.changedBlocks, same.processes], [[], [], [], []], 'the same image: nothing');
    const d = stopChanges(before, after);
    assert.ok(Array.isArray(d.chains) && Array.isArray(d.changedBlocks), 'our guest\'s part is there');
    assert.deepStrictEqual(d.processes, [{ pid: 1, kind: 'changed' }], 'the process whose mode changed');
  });
});
