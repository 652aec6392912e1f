// The views' models on snapshot documents (schema 3): recorded from the demo guest
// (extension/test/fixtures, made by fixtures/record.sh: `mmscope snapshot --json` against `demo`
// and against `demo inject=free-block-mapped`), and hand-built documents of kernels that are not
// ours at level 0 (a 64-bit kernel, nothing described) and level 1 (a description, tracing).

import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { SnapshotJson } from '../../debug-adapter/src/mm/model/snapshot-json';
import { chainsModel } from '../src/views/chains-model';
import { processesModel } from '../src/views/processes-model';
import { addressSpaceModel, spacePickItems } from '../src/views/address-space-model';
import { allocatorsModel, allocatorsViewTitle } from '../src/views/allocators-model';
import { findingsModel, statusText } from '../src/views/findings-model';
import { ViewNode } from '../src/views/view-node';
import { levelOneDocument, levelZeroDocument } from './documents';
import { diffDocuments } from '../../debug-adapter/src/mm/model/diff';
import type { ChangesView } from '../../contract/guest-document';

const FIXTURES = path.resolve(__dirname, '../../../extension/test/fixtures');
const load = (name: string): SnapshotJson => JSON.parse(fs.readFileSync(path.join(FIXTURES, name), 'utf8')) as SnapshotJson;

function expandAll(nodes: readonly ViewNode[]): ViewNode[] {
  return nodes.flatMap((n) => [n, ...expandAll(n.children ? n.children() : [])]);
}
const leaves = (nodes: readonly ViewNode[]): ViewNode[] => expandAll(nodes).filter((n) => !n.children);

describe('view models on recorded guest documents', function () {
  const snap = load('demo-snapshot.json');
  const later = load('demo-snapshot-later.json');
  const injected = load('injected-snapshot.json');

  it('lists every chain with size, flags, runs, mappings and its allocation site (the view keeps the name Chains)', () => {
    assert.strictEqual(snap.schema, 3);
    const nodes = allocatorsModel(snap);
    assert.strictEqual(allocatorsViewTitle(snap), 'Chains');
    assert.deepStrictEqual(nodes.map((n) => n.id), chainsModel(snap).map((n) => n.id), 'the chain-table allocator shows as its chains');
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
    assert.ok(nodes.every((n) => !n.changed), 'nothing is marked changed without the adapter\'s changes');
  });

  it('marks the chains the adapter\'s changes name (added, resized, moved, renamed; not freed), and only those', () => {
    const [a, b, c] = later.chains;
    const changes: ChangesView = { chains: [{ id: a.id, kind: 'added' }, { id: b.id, kind: 'moved' }, { id: c.id, kind: 'freed' }, { id: 0x7ffff, kind: 'renamed', previous: 3 }] };
    const marked = chainsModel(later, changes).filter((n) => n.changed).map((n) => Number(/chain (\d+)/.exec(n.label)?.[1])).sort();
    assert.deepStrictEqual(marked, [a.id, b.id].sort());
    assert.ok(chainsModel(later, {}).every((n) => !n.changed), 'changes naming no chain mark none');
  });

  it('shows processes with the current marker, their address space and their UPD', () => {
    const nodes = processesModel(snap);
    assert.deepStrictEqual(nodes.map((n) => n.label.replace('▶ ', '')), snap.processes.map((p) => `pid ${p.pid} ${p.name}`));
    assert.strictEqual(nodes.filter((n) => n.label.startsWith('▶')).length, 1);
    const worker = snap.processes.find((p) => p.upd.some((e) => e & 1));
    assert.ok(worker);
    const node = nodes.find((n) => n.id === `process:${worker.pid}`);
    assert.deepStrictEqual(node?.reveal, { kind: 'space', id: worker.space });
    const kids = node?.children?.() ?? [];
    assert.deepStrictEqual(kids[0].reveal, { kind: 'space', id: worker.space });
    const upd = kids.find((k) => k.label === 'UPD');
    assert.ok(upd);
    assert.strictEqual(upd.children?.().length, worker.upd.filter((e) => e & 1).length);
    assert.ok(nodes.every((n) => !n.warning));
  });

  it('shows the current space by default, any other by id, by directory entries with runs that cover exactly its mappings', () => {
    const current = snap.spaces.find((s) => s.id === snap.currentSpace);
    assert.ok(current);
    const [user0] = addressSpaceModel(snap);
    const currentPid = snap.processes.find((p) => p.current)?.pid;
    assert.match(user0.label, new RegExp(`^User space 0x00000000-0x0fffffff \\(pid ${currentPid} `));
    const worker = snap.processes.find((p) => !p.current && p.mappings.length > 0);
    assert.ok(worker);
    const [user, kernel] = addressSpaceModel(snap, worker.space);
    assert.match(user.label, new RegExp(`pid ${worker.pid}`));
    const space = snap.spaces.find((s) => s.id === worker.space);
    assert.ok(space);
    const userRuns = leaves([user]);
    assert.strictEqual(userRuns.length, space.mappings.filter((r) => Number(r.va) < snap.geometry.userSpaceEnd).length);
    assert.strictEqual(userRuns.length, worker.mappings.length);
    assert.ok(expandAll([user]).some((n) => /^PDE \d+: 0x00[0-9a-f]{6}-0x00[0-9a-f]{6}$/.test(n.label)), 'grouped by PDE');
    const kernelRuns = leaves([kernel]);
    assert.strictEqual(kernelRuns.length, snap.kernelMappings.length);
    const heapRun = kernelRuns.find((n) => n.label.startsWith('0xd0000000'));
    assert.ok(heapRun && / · chain \d+$/.test(heapRun.description ?? ''), 'the heap run names its chain');
    const mapped = userRuns.find((n) => / · chain \d+$/.test(n.description ?? ''));
    assert.ok(mapped, 'a user run names its chain');
    assert.strictEqual(mapped.reveal?.kind, 'chain');
  });

  it('marks the runs of the space that the adapter\'s document diff names new', () => {
    const id = later.currentSpace ?? '';
    const before = new Set((snap.spaces.find((s) => s.id === id)?.mappings ?? []).map((r) => `${r.va}:${r.pa}:${r.size}:${r.flags}`));
    const expected = (later.spaces.find((s) => s.id === id)?.mappings ?? []).filter((r) => !before.has(`${r.va}:${r.pa}:${r.size}:${r.flags}`)).length;
    const marked = leaves(addressSpaceModel(later, id, diffDocuments(snap, later))).filter((n) => n.changed).length;
    assert.ok(leaves(addressSpaceModel(later, id)).every((n) => !n.changed), 'nothing marked without changes');
    assert.ok(expected > 0, 'the demo remapped something between the two recordings');
    assert.strictEqual(marked, expected);
  });

  it('is empty for findings on a clean run and reveals the place on an injected one', () => {
    assert.deepStrictEqual(findingsModel(snap), []);
    const nodes = findingsModel(injected);
    assert.strictEqual(nodes.length, 1);
    assert.match(nodes[0].label, /maps 0xe4000000\.\.0xe4003fff to free block \d+/);
    assert.deepStrictEqual(nodes[0].reveal, { kind: 'address', virtual: 0xe4000000 });
    assert.match(statusText(injected), /free .* used blocks · frag \d+% · \$\(warning\) 1$/);
  });
});

describe('view models on a level-0 document (a 64-bit kernel, nothing described)', function () {
  const doc = levelZeroDocument();
  const pml4 = (va: bigint): bigint => (va >> 39n) & 511n;

  it('shows the current space by canonical halves and PML4 entries, every address exact', () => {
    const [lower, higher] = addressSpaceModel(doc);
    assert.strictEqual(lower.label, 'Lower half 0x0000000000000000-0x00007fffffffffff');
    assert.strictEqual(higher.label, 'Higher half 0xffff800000000000-0xffffffffffffffff');
    assert.match(higher.description ?? '', /^2 PML4Es · .* · x86-64 · current$/);
    const entries = higher.children?.() ?? [];
    assert.deepStrictEqual(entries.map((e) => e.label), [
      `PML4E ${pml4(0xffff888000000000n)}: 0xffff888000000000-0xffff88ffffffffff`,
      'PML4E 511: 0xffffff8000000000-0xffffffffffffffff',
    ]);
    const [text] = entries[1].children?.() ?? [];
    assert.strictEqual(text.label, '0xffffffff81000000-0xffffffff811fffff');
    assert.match(text.description ?? '', /^→ 0x01000000 2 MiB rwx kernel dirty 2 MiB pages$/);
    assert.deepStrictEqual(text.reveal, { kind: 'address', virtual: '0xffffffff81000000', space: 'pt:0x1000000' });
    const [direct] = entries[0].children?.() ?? [];
    assert.match(direct.description ?? '', /^→ 0x00000000 3 GiB rw- kernel/);
    assert.strictEqual(leaves([lower]).length, 2);
  });

  it('opens another space the user picks, and marks spaces only seen earlier as possibly stale', () => {
    const items = spacePickItems(doc);
    assert.deepStrictEqual(items.map((i) => i.id), ['pt:0x1000000', 'pt:0x1234000']);
    assert.match(items[0].label, /CR3 0x1000000$/);
    assert.doesNotMatch(items[0].description, /stale/);
    assert.match(items[1].description, /^seen \(last seen at stop 2\) · possibly stale$/);
    assert.match(items[1].detail, /^pt:0x1234000 · x86-64 · 1 pages in 1 runs · CR3 0x0000000001234000$/);
    const [lower] = addressSpaceModel(doc, 'pt:0x1234000');
    assert.match(lower.tooltip ?? '', /possibly stale/);
    assert.deepStrictEqual(leaves([lower]).map((n) => n.description), ['→ 0x03000000 4 KiB rw- user dirty']);
    assert.strictEqual(addressSpaceModel(doc, 'pt:0xdead000')[0].label, 'Lower half 0x0000000000000000-0x00007fffffffffff', 'an unknown id falls back to the current space');
  });

  it('groups a crowded top-level entry again by the next level', () => {
    // 600 pages at 128 MiB strides from 0xffffc90000000000: several PDPTEs of one PML4E.
    const spaced = Array.from({ length: 600 }, (_, i) => ({
      va: `0x${(0xffffc90000000000n + BigInt(i) * 0x8000000n).toString(16)}`, pa: i * 4096, size: 4096, flags: 3, nx: true, pageSize: 4096, writable: true, user: false,
    }));
    const crowded = { ...doc, spaces: [{ ...doc.spaces[0], mappings: spaced }] };
    const [, higher] = addressSpaceModel(crowded);
    const [entry] = higher.children?.() ?? [];
    assert.match(entry.label, /^PML4E 402: /);
    const sub = entry.children?.() ?? [];
    assert.ok(sub.length > 1 && sub.every((n) => /^PDPTE \d+: 0xffffc9[0-9a-f]{10}-/.test(n.label)), sub.map((n) => n.label).join());
    assert.strictEqual(leaves([entry]).length, 600);
  });

  it('lists the address spaces in the Processes view when no process is described, and no allocator', () => {
    const nodes = processesModel(doc);
    assert.deepStrictEqual(nodes.map((n) => n.label), ['▶ CR3 0x1000000', 'CR3 0x1234000']);
    assert.match(nodes[1].description ?? '', /possibly stale/);
    assert.deepStrictEqual(nodes[1].reveal, { kind: 'space', id: 'pt:0x1234000' });
    assert.deepStrictEqual(allocatorsModel(doc), []);
    assert.strictEqual(allocatorsViewTitle(doc), 'Allocators');
  });

  it('reveals generic findings by virtual address in their space and by frame; the status bar counts frames', () => {
    const nodes = findingsModel(doc);
    assert.deepStrictEqual(nodes.map((n) => n.description), ['writable-executable', 'mapping-outside-ram']);
    assert.deepStrictEqual(nodes[0].reveal, { kind: 'address', virtual: '0xffffffff81000000', space: 'pt:0x1000000' });
    assert.match(nodes[0].tooltip ?? '', /0xffffffff81000000 in CR3 0x1000000/);
    assert.deepStrictEqual(nodes[1].reveal, { kind: 'frame', physical: 0xa0000 });
    assert.strictEqual(statusText(doc), `$(database) ${doc.frames.counts.mapped} mapped / 0 unmapped frames · 2 spaces · $(warning) 2`);
  });
});

describe('view models on a level-1 document (a described kernel with tracing)', function () {
  const doc = levelOneDocument();

  it('shows the described processes with their address spaces (and one without)', () => {
    const nodes = processesModel(doc);
    assert.deepStrictEqual(nodes.map((n) => n.label), ['pid 1 init', '▶ pid 2 sh', 'pid 3 zombie']);
    assert.match(nodes[1].description ?? '', /^RUNNING, current · 4104 KiB mapped$/);
    assert.deepStrictEqual(nodes[1].reveal, { kind: 'space', id: 'pt:0x20000' });
    assert.match(nodes[2].description ?? '', /^ZOMBIE · no address space$/);
    assert.deepStrictEqual(nodes[2].children?.(), []);
    assert.match(nodes[0].tooltip ?? '', /struct at 0x80123000\npage directory 0x00010000/);
  });

  it('shows each allocator with its counts, a disagreeing counter as a warning, buddy orders, heaps and tracing sites', () => {
    const nodes = allocatorsModel(doc);
    assert.deepStrictEqual(nodes.map((n) => n.label), ['kmem (bitmap)', 'buddy (buddy)', 'heap kheap', 'allocation tracing on (kalloc / kfree)']);
    const [kmem, buddy, heap, tracing] = nodes;
    assert.strictEqual(kmem.description, '6912 free / 1024 used / 256 reserved of 8192 frames · counter disagrees');
    assert.strictEqual(kmem.warning, true);
    const counter = kmem.children?.().find((c) => c.label.startsWith('kmem.nfree'));
    assert.deepStrictEqual([counter?.label, counter?.warning], ['kmem.nfree = 6900', true]);
    assert.strictEqual(buddy.warning, false);
    const orders = buddy.children?.().find((c) => c.label === 'free blocks by order');
    assert.deepStrictEqual(orders?.children?.().map((o) => o.label), ['order 0: 4 free blocks', 'order 1: 2 free blocks', 'order 2: 0 free blocks', 'order 3: 4 free blocks']);
    assert.strictEqual(orders?.children?.()[3].description, '32 KiB each · 128 KiB');
    const blocks = heap.children?.() ?? [];
    assert.deepStrictEqual(blocks.map((b) => `${b.label} ${b.description}`), ['0x80200000 64 B used · fork at proc.c:88', '0x80200040 160 B free', '0x802000e0 32 B used']);
    assert.deepStrictEqual(blocks[0].reveal, { kind: 'source', file: '/src/myos/kernel/proc.c', line: 88 });
    assert.deepStrictEqual(blocks[1].reveal, { kind: 'address', virtual: 0x80200040 });
    assert.strictEqual(tracing.description, '420 calls · 35/s · guest 12% slower · 1 live allocation');
    assert.deepStrictEqual(tracing.children?.().map((s) => `${s.label}: ${s.description}`), ['fork at proc.c:88: 3 live allocations · 12 KiB', 'exec at exec.c:40: 1 live allocation · 4 KiB', 'gone at proc.c:12: 0 live allocations · 0 B']);
    assert.strictEqual(allocatorsViewTitle(doc), 'Allocators');
  });

  it('marks an allocator whose counts the adapter\'s document diff names changed', () => {
    const before = levelOneDocument();
    const after = { ...doc, allocators: [{ ...doc.allocators[0], free: doc.allocators[0].free - 1, used: doc.allocators[0].used + 1 }, doc.allocators[1]] };
    assert.deepStrictEqual(allocatorsModel(after, diffDocuments(before, after)).map((n) => n.changed), [true, false, false, false]);
    const traced = { ...doc, tracing: { ...doc.tracing!, live: [] } };
    assert.strictEqual(allocatorsModel(traced, diffDocuments(before, traced))[3].changed, true, 'the live allocations changed');
    assert.ok(allocatorsModel(after).every((n) => !n.changed), 'nothing marked without changes');
  });

  it('reveals level-1 and level-2 findings: the mapping in its space, the allocation site', () => {
    const nodes = findingsModel(doc);
    assert.deepStrictEqual(nodes[0].reveal, { kind: 'address', virtual: 0x1000, space: 'pt:0x20000', pid: 2 });
    assert.match(nodes[0].tooltip ?? '', /0x00001000 in pid 2 \(sh\), frame 0x00500000, allocator kmem/);
    assert.strictEqual(nodes[1].reveal, undefined);
    assert.deepStrictEqual(nodes[2].reveal, { kind: 'source', file: '/src/myos/kernel/proc.c', line: 131 });
    assert.strictEqual(statusText(doc), '$(database) 6912 free / 1024 used frames · $(warning) 3');
  });

  it('groups a 32-bit space by PDE, 4 MiB pages included', () => {
    const [all] = addressSpaceModel(doc);
    assert.strictEqual(all.label, 'pid 2 (sh) 0x00000000-0xffffffff');
    assert.deepStrictEqual((all.children?.() ?? []).map((n) => n.label), ['PDE 0: 0x00000000-0x003fffff', 'PDE 512: 0x80000000-0x803fffff']);
    assert.match(leaves([all])[1].description ?? '', /^→ 0x00100000 4 MiB rwx kernel 4 MiB pages$/);
  });
});
