// The tree providers' items (label, changed mark, collapsible state, click target) and the
// snapshot store's fetch-when-visible rule, on snapshots recorded from the demo guest.

import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { SnapshotJson } from '../../debug-adapter/src/mm/model/snapshot-json';
import type { Translation } from '../../contract/translation';
import { MmDataSource, SnapshotPair, pointerOf } from '../src/mm-data-source';
import { SnapshotStore, StoreChange } from '../src/snapshot-store';
import { chainsModel } from '../src/views/chains-model';
import { findingsModel } from '../src/views/findings-model';
import { CHANGED_MARK, findChainNode, treeItemData } from '../src/views/tree-item-data';
import { parseAddressInput } from '../src/address-input';
import { addressSpaceModel } from '../src/views/address-space-model';
import { levelZeroDocument } from './documents';

const FIXTURES = path.resolve(__dirname, '../../../extension/test/fixtures');
const load = (name: string): SnapshotJson => JSON.parse(fs.readFileSync(path.join(FIXTURES, name), 'utf8')) as SnapshotJson;

/** A data source that serves recorded snapshots in order and counts the fetches. */
class RecordedSource implements MmDataSource {
  fetches = 0;
  constructor(private readonly snaps: SnapshotJson[]) {}
  async snapshot(): Promise<SnapshotPair> {
    const s = this.snaps[Math.min(this.fetches, this.snaps.length - 1)];
    this.fetches++;
    return { snapshot: s };
  }
  async translate(): Promise<Translation> {
    throw new Error('not recorded');
  }
  async evaluate(): Promise<undefined> {
    return undefined;
  }
}

describe('tree items of the mmscope views', function () {
  const snap = load('demo-snapshot.json');
  const later = load('demo-snapshot-later.json');

  it('marks changed chains with the mark and a highlighted label, and clicks reveal the allocation site', () => {
    const nodes = chainsModel(later, { chains: later.chains.slice(0, 2).map((c) => ({ id: c.id, kind: 'added' })) });
    const changed = nodes.filter((n) => n.changed);
    assert.ok(changed.length > 0);
    for (const n of nodes) {
      const item = treeItemData(n);
      assert.strictEqual(item.description?.startsWith(CHANGED_MARK), n.changed === true, n.label);
      assert.deepStrictEqual(item.highlights, n.changed ? [[0, n.label.length]] : []);
      assert.strictEqual(item.collapsible, 'collapsed');
    }
    const user = later.chains.find((c) => c.site?.function === 'worker_main');
    assert.ok(user);
    const item = treeItemData(nodes.find((n) => n.label.startsWith(`chain ${user.id} `))!);
    assert.deepStrictEqual(item.reveal, { kind: 'source', file: user.site?.file, line: user.site?.line });
    assert.match(item.contextValue ?? '', /\bchain\b.*\brevealable\b/);
  });

  it('finds a chain node to reveal by id, and nothing for a chain that does not exist', () => {
    const nodes = chainsModel(snap);
    const c = snap.chains[snap.chains.length - 1];
    assert.strictEqual(findChainNode(nodes, c.id)?.label.startsWith(`chain ${c.id} `), true);
    const missing = Math.max(...snap.chains.map((x) => x.id)) + 1;
    assert.strictEqual(findChainNode(nodes, missing), undefined);
  });

  it('shows a finding as a warning item that reveals its allocation site', () => {
    const leaked = load('leaked-snapshot.json');
    const [node] = findingsModel(leaked);
    const item = treeItemData(node);
    assert.strictEqual(item.iconColour, 'list.warningForeground');
    assert.strictEqual(item.collapsible, 'none');
    const f = leaked.findings[0];
    assert.deepStrictEqual(item.reveal, { kind: 'source', file: f.site?.file, line: f.site?.line });
  });

});

describe('tree items of a kernel that is not ours (level 0)', function () {
  const doc = levelZeroDocument();

  it('makes every finding revealable, by address in its space or by frame', () => {
    const items = findingsModel(doc).map(treeItemData);
    assert.deepStrictEqual(items.map((i) => i.reveal?.kind), ['address', 'frame']);
    assert.ok(items.every((i) => /\bfinding\b.*\brevealable\b/.test(i.contextValue ?? '')));
  });

  it('keeps the ids of the address space\'s nodes from one stop to the next (expansion survives a stop)', () => {
    const ids = (d: typeof doc): string[] => {
      const all = (ns: readonly ReturnType<typeof addressSpaceModel>[number][]): string[] => ns.flatMap((n) => [n.id, ...all(n.children?.() ?? [])]);
      return all(addressSpaceModel(d));
    };
    const next = { ...levelZeroDocument(), stop: 4 };
    assert.deepStrictEqual(ids(next), ids(doc));
    assert.strictEqual(new Set(ids(doc)).size, ids(doc).length, 'unique');
  });

  it('serves a level-0 document through the store like the guest\'s', async () => {
    const store = new SnapshotStore();
    const source: MmDataSource = { snapshot: async () => ({ snapshot: doc }), translate: () => Promise.reject(new Error('x')), evaluate: async () => undefined };
    store.attach(source);
    await store.stopped({ stop: 3, snapshot: doc });
    assert.strictEqual(store.snapshot, doc);
  });
});

describe('snapshot store', function () {
  const snap = load('demo-snapshot.json');
  const later = load('demo-snapshot-later.json');
  const changes = { chains: [], mappings: [], newFindings: [], changedBlocks: [3, 4, 9] };

  it('takes the snapshot and the changes pushed with the stop event, fetching nothing', async () => {
    const store = new SnapshotStore();
    const source = new RecordedSource([]);
    const seen: StoreChange[] = [];
    store.onDidChange((c) => seen.push(c));
    store.attach(source);
    await store.stopped({ stop: 1, snapshot: snap, stoppedAt: Date.now() });
    await store.stopped({ stop: 2, snapshot: later, changesFrom: 1, changes, stoppedAt: Date.now() });
    assert.strictEqual(source.fetches, 0, 'nothing fetched');
    assert.strictEqual(store.snapshot, later);
    assert.strictEqual(store.stop, 2);
    assert.strictEqual(store.stale, false);
    assert.deepStrictEqual(store.changes, changes, 'the adapter\'s changes, not the store\'s own');
    assert.deepStrictEqual(seen[seen.length - 1].changes, changes);
  });

  it('fetches on an explicit refresh and takes the adapter\'s diff with it; forgets everything when the session ends', async () => {
    const store = new SnapshotStore();
    const source = new RecordedSource([snap, later]);
    store.attach(source);
    await store.stopped({ stop: 1, snapshot: snap });
    store.running();
    assert.strictEqual(store.state, 'running');
    await store.stopped({ stop: 2, snapshot: later, changes });
    await store.refresh();
    assert.strictEqual(source.fetches, 1);
    store.detach();
    assert.strictEqual(store.state, 'none');
    assert.strictEqual(store.snapshot, undefined);
    assert.strictEqual(store.changes, undefined);
    await store.refresh();
    assert.strictEqual(source.fetches, 1, 'no session: nothing fetched');
  });

  it('reports a failed refresh as an error and keeps going', async () => {
    const store = new SnapshotStore();
    const failing: MmDataSource = { ...new RecordedSource([]), snapshot: () => Promise.reject(new Error('the guest is running')), translate: () => Promise.reject(new Error('x')), evaluate: async () => undefined };
    const errors: string[] = [];
    store.onDidChange((c) => c.error && errors.push(c.error));
    store.attach(failing);
    await store.stopped({ stop: 3, snapshot: snap });
    await store.refresh();
    assert.deepStrictEqual(errors, ['the guest is running']);
  });

  it('shows live snapshots while the guest runs (live refresh) and stays in the running state', async () => {
    const store = new SnapshotStore();
    store.attach(new RecordedSource([]));
    store.running();
    await store.stopped({ stop: -1, live: true, snapshot: snap });
    assert.strictEqual(store.state, 'running');
    assert.strictEqual(store.snapshot, snap);
    await store.stopped({ stop: -2, live: true, snapshot: later, changes });
    assert.strictEqual(store.state, 'running');
    assert.strictEqual(store.snapshot, later);
    assert.strictEqual(store.changes, changes);
  });

  it('shows no stale snapshot at a stop whose snapshot failed', async () => {
    const store = new SnapshotStore();
    store.attach(new RecordedSource([]));
    await store.stopped({ stop: 1, snapshot: snap });
    await store.stopped({ stop: 2, error: 'mm_debug_info has magic 0x0' });
    assert.strictEqual(store.state, 'stopped');
    assert.strictEqual(store.snapshot, undefined, 'the first stop\'s snapshot is not shown as the second\'s');
    assert.strictEqual(store.changes, undefined);
    assert.match(store.unavailable ?? '', /magic 0x0/);
    await store.stopped({ stop: 3, snapshot: later, changes });
    assert.strictEqual(store.snapshot, later);
    assert.strictEqual(store.changes, changes);
    assert.strictEqual(store.lastError, undefined);
  });
});

describe('address input and pointer values', function () {
  it('parses hex, decimal and pid:address, 64-bit addresses exactly, and refuses the rest', () => {
    assert.deepStrictEqual(parseAddressInput('0xc0100000'), { address: 0xc0100000 });
    assert.deepStrictEqual(parseAddressInput(' 4096 '), { address: 4096 });
    assert.deepStrictEqual(parseAddressInput('2:0x400000'), { address: 0x400000, pid: 2 });
    assert.deepStrictEqual(parseAddressInput('0x1ffffffff'), { address: 0x1ffffffff });
    // Above 2^53 a JavaScript number would round: kept as hex.
    assert.deepStrictEqual(parseAddressInput('0xffffffff81000001'), { address: '0xffffffff81000001' });
    assert.deepStrictEqual(parseAddressInput('0xffff_8880_0000_0000'), { address: '0xffff888000000000' });
    assert.deepStrictEqual(parseAddressInput('0xffffffff`81000000'), { address: '0xffffffff81000000' });
    assert.deepStrictEqual(parseAddressInput('18446744073709551615'), { address: '0xffffffffffffffff' });
    assert.strictEqual(parseAddressInput('0x10000000000000000'), undefined, 'above 2^64');
    assert.strictEqual(parseAddressInput('18446744073709551616'), undefined);
    assert.strictEqual(parseAddressInput('0x'), undefined);
    assert.strictEqual(parseAddressInput('main'), undefined);
  });

  it('reads the address out of debugger values of pointers and leaves plain numbers alone', () => {
    assert.strictEqual(pointerOf('(struct slot *) 0xd0001234', 'struct slot *'), 0xd0001234);
    assert.strictEqual(pointerOf('0x400000 <buf>', 'char [16]'), 0x400000);
    assert.strictEqual(pointerOf('0xc0100000', undefined), 0xc0100000);
    assert.strictEqual(pointerOf('42', 'int'), undefined);
    assert.strictEqual(pointerOf('{a = 1}', 'struct x', '0xc0200000'), 0xc0200000);
    assert.strictEqual(pointerOf('(struct task_struct *) 0xffff888003a1c001', 'struct task_struct *'), '0xffff888003a1c001');
    assert.strictEqual(pointerOf('(char *) 0x7ffc12345678 "hi"', 'char *'), 0x7ffc12345678);
    assert.strictEqual(pointerOf('0x1ffffffffffffffff', 'char *'), undefined, 'wider than 64 bits');
  });
});
