// The views' models on snapshots recorded from the demo guest (extension/test/fixtures, made by
// `mmscope snapshot --json` against `demo` and against `demo inject=free-block-mapped`).

import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { SnapshotJson } from '../../debug-adapter/src/mm/snapshot-json';
import { chainsModel } from '../src/views/chains-model';
import { processesModel } from '../src/views/processes-model';
import { addressSpaceModel } from '../src/views/address-space-model';
import { findingsModel, statusText } from '../src/views/findings-model';
import { ViewNode } from '../src/views/view-node';

const FIXTURES = path.resolve(__dirname, '../../../extension/test/fixtures');
const load = (name: string): SnapshotJson => JSON.parse(fs.readFileSync(path.join(FIXTURES, name), 'utf8')) as SnapshotJson;

function expandAll(nodes: readonly ViewNode[]): ViewNode[] {
  return nodes.flatMap((n) => [n, ...expandAll(n.children ? n.children() : [])]);
}

describe('view models on recorded snapshots', function () {
  const snap = load('demo-snapshot.json');
  const later = load('demo-snapshot-later.json');
  const injected = load('injected-snapshot.json');

  it('lists every chain with size, flags, runs, mappings and its allocation site', () => {
    const nodes = chainsModel(snap);
    assert.strictEqual(nodes.length, snap.chains.length);
    const userChain = snap.chains.find((c) => c.flagNames.includes('user'));
    assert.ok(userChain);
    const node = nodes.find((n) => n.label.startsWith(`chain ${userChain.id} `));
    assert.ok(node);
    assert.match(node.description ?? '', new RegExp(`^${userChain.blocks.length} blocks? · .*user`));
    assert.deepStrictEqual(node.reveal, { kind: 'source', file: userChain.site?.file, line: userChain.site?.line });
    const children = node.children?.() ?? [];
    assert.strictEqual(children.filter((c) => c.label.startsWith('block')).length, userChain.runs.length);
    assert.ok(children.some((c) => c.label.startsWith(`pid ${userChain.mappedAt[0].space} 0x`)));
    assert.ok(children.some((c) => /^allocated by worker_main at demo\.c:\d+$/.test(c.label)));
    assert.ok(nodes.every((n) => !n.changed), 'nothing is marked changed without a previous snapshot');
  });

  it('marks the chains that changed since the previous stop', () => {
    const nodes = chainsModel(later, snap);
    const same = (a: SnapshotJson['chains'][number], b: SnapshotJson['chains'][number]): boolean =>
      a.owner.seq === b.owner.seq && a.blocks.join() === b.blocks.join();
    const expected = later.chains.filter((c) => !snap.chains.some((o) => same(o, c))).map((c) => c.id).sort();
    const marked = nodes.filter((n) => n.changed).map((n) => Number(/chain (\d+)/.exec(n.label)?.[1])).sort();
    assert.deepStrictEqual(marked, expected);
    assert.ok(expected.length > 0, 'the demo changed something between the two recordings');
  });

  it('shows processes with the current marker, their UPD and mappings', () => {
    const nodes = processesModel(snap);
    assert.deepStrictEqual(nodes.map((n) => n.label.replace('▶ ', '')), snap.processes.map((p) => `pid ${p.pid} ${p.name}`));
    assert.strictEqual(nodes.filter((n) => n.label.startsWith('▶')).length, 1);
    const worker = snap.processes.find((p) => p.mappings.length > 0);
    assert.ok(worker);
    const upd = nodes.find((n) => n.id === `process:${worker.pid}`)?.children?.()[0];
    assert.ok(upd);
    assert.strictEqual(upd.children?.().length, worker.upd.filter((e) => e & 1).length);
    assert.ok(nodes.every((n) => !n.warning));
  });

  it('shows an address space by directory entries with runs that cover exactly the mappings', () => {
    const worker = snap.processes.find((p) => p.mappings.length > 0 && !p.current) ?? snap.processes[0];
    const [user, kernel] = addressSpaceModel(snap, worker.pid);
    assert.match(user.label, new RegExp(`pid ${worker.pid}`));
    const userRuns = expandAll([user]).filter((n) => n.id.includes(':pde:') && n.label.startsWith('0x'));
    assert.strictEqual(userRuns.length, worker.mappings.length);
    const kernelRuns = expandAll([kernel]).filter((n) => n.label.startsWith('0x'));
    assert.strictEqual(kernelRuns.length, snap.kernelMappings.length);
    const heapRun = kernelRuns.find((n) => n.label.startsWith('0xd0000000'));
    assert.ok(heapRun && / · chain \d+$/.test(heapRun.description ?? ''), 'the heap run names its chain');
  });

  it('is empty for findings on a clean run and reveals the place on an injected one', () => {
    assert.deepStrictEqual(findingsModel(snap), []);
    const nodes = findingsModel(injected);
    assert.strictEqual(nodes.length, 1);
    assert.match(nodes[0].label, /maps 0xe4000000\.\.0xe4003fff to free block \d+/);
    assert.deepStrictEqual(nodes[0].reveal, { kind: 'address', virtual: 0xe4000000, pid: undefined });
    assert.match(statusText(injected), /free .* used blocks · frag \d+% · \$\(warning\) 1$/);
  });
});
