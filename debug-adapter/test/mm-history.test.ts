// The history (issue 16) on hand-built event streams and the hand-built image: reconstruction
// from keyframes + events equals the truth on every claimed field, lost events are reported,
// blame follows chains through renames, sites that only grow are flagged, and "when did it
// break?" finds the event that made a leaked chain or a freed handle's chain.

import * as assert from 'assert';
import { buildSnapshot, MmSnapshot } from '../src/mm/model/snapshot';
import { MmEventKind } from '../src/mm/model/mm-history-event';
import { MmHistoryState, stateFromSnapshot } from '../src/mm/model/history-state';
import { MmHistory } from '../src/mm/model/history-timeline';
import { diffStates } from '../src/mm/model/history-compare';
import { blame, siteGrowth } from '../src/mm/model/history-blame';
import { COVERED_FINDING_KINDS, whenDidItBreak } from '../src/mm/model/history-when';
import { CT_CONTIG, CT_FROZEN, CT_SWAPPABLE, CT_USER } from '../src/mm/model/chain-table';
import { ArrayEventSource, LEAKY_CALLER, StreamGenerator } from './fixtures/history-events';
import { LAYOUT, MmImage, REGISTERS } from './fixtures/mm-image';

const snap = (img: MmImage): Promise<MmSnapshot> => buildSnapshot({ read: img.read, descriptorPhys: LAYOUT.descriptor, registers: REGISTERS });
const PCB_OFF_UPD = 24; // the image's struct pcb layout
const show = (x: unknown): string => JSON.stringify(x, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v));

describe('mm history: reconstruction', () => {
  for (const interval of [16, 256, 4096]) {
    it(`equals the generator's exact model at every checked position (keyframes every ${interval} events)`, () => {
      const source = new ArrayEventSource();
      const gen = new StreamGenerator(source, 4096, 7);
      for (let i = 0; i < 500; i++) gen.step();
      const history = new MmHistory(source, interval);
      const start = source.length;
      history.addSnapshot(start, gen.truth());
      const truths = new Map<number, MmHistoryState>();
      while (source.length < start + 20000) {
        gen.step();
        if (gen.random() < 0.01) truths.set(source.length, gen.truth());
      }
      truths.set(source.length, gen.truth());
      assert.ok(truths.size > 50, `${truths.size} checkpoints`);
      let knownLists = 0, exactFree = 0;
      for (const [p, truth] of truths) {
        const view = history.stateAt(p);
        assert.ok(view, `a state at ${p}`);
        assert.strictEqual(view.lostSince, 0);
        assert.deepStrictEqual(diffStates(view.state, truth), [], `position ${p}`);
        assert.deepStrictEqual(view.state.anomalies, []);
        assert.ok(view.state.counters.freeBlocksExact);
        exactFree++;
        for (const c of view.state.chains.values()) if (c.blocks) knownLists++;
      }
      assert.ok(exactFree > 0, 'the free count is exact at some positions');
      assert.ok(knownLists > 0, 'some block lists stay known (keyframe chains that only moved)');
      assert.strictEqual(history.stateAt(start - 1), undefined, 'nothing before the first keyframe');
    });
  }

  it('a snapshot of the hand-built image, advanced by the events of what changed, equals the next snapshot', async () => {
    const img = new MmImage();
    const pid = img.addProcess('worker');
    const a = img.addChain([200, 201, 205], CT_FROZEN, 1, 0xc0101111);
    img.mapChain(a, 0xd0000000);
    const b = img.addChain([210, 211], 0, 1, 0xc0102222);
    img.mapChain(b, 0x00400000, { pid });
    img.u32(LAYOUT.vars + 12, img.seq);
    const first = await snap(img);
    const source = new ArrayEventSource();
    const history = new MmHistory(source, 2);
    history.addSnapshot(0, stateFromSnapshot(first, { pcbOffUpd: PCB_OFF_UPD }));
    // What the guest then did: free b (its mapping first), allocate c and map it in the worker.
    const upd = (img.pcbPhys(pid) + 0xc0000000 + PCB_OFF_UPD) >>> 0;
    img.freeChain(b);
    img.mem.fill(0, img.pcbPhys(pid) + PCB_OFF_UPD, img.pcbPhys(pid) + PCB_OFF_UPD + 256); // its UPD is empty again
    source.push({ kind: MmEventKind.unmapped, chain: b, arg: 0x00400000, blocks: 0, extra: upd, caller: 0xc0103333 });
    source.push({ kind: MmEventKind.freed, chain: b, blocks: 2, caller: 0xc0103333 });
    const c = img.addChain([300, 301], CT_USER, 1, 0xc0104444);
    img.mapChain(c, 0x00800000, { pid });
    img.u32(LAYOUT.vars + 12, img.seq);
    source.push({ kind: MmEventKind.allocated, chain: c, blocks: 2, flags: CT_USER, arg: 1, caller: 0xc0104444, pid });
    source.push({ kind: MmEventKind.mapped, chain: c, arg: 0x00800000, blocks: 8, flags: 2, extra: upd, caller: 0xc0104444, pid });
    const second = await snap(img);
    const view = history.stateAt(source.length);
    assert.ok(view);
    assert.deepStrictEqual(diffStates(view.state, stateFromSnapshot(second, { pcbOffUpd: PCB_OFF_UPD })), []);
    assert.strictEqual(view.state.chains.get(c)?.blocks, undefined, 'the new chain\'s blocks are not claimed');
    assert.deepStrictEqual(view.state.chains.get(a)?.blocks, [200, 201, 205]);
  });

  it('reports events lost after the keyframe instead of a state that may be wrong', () => {
    const source = new ArrayEventSource();
    const gen = new StreamGenerator(source, 1024, 3);
    for (let i = 0; i < 100; i++) gen.step();
    const history = new MmHistory(source, 16);
    history.addSnapshot(source.length, gen.truth());
    for (let i = 0; i < 50; i++) gen.step();
    const before = source.length;
    source.lose(5);
    for (let i = 0; i < 50; i++) gen.step();
    assert.strictEqual(history.stateAt(before)?.lostSince, 0);
    assert.strictEqual(history.stateAt(source.length)?.lostSince, 5);
  });
});

describe('mm history: blame and probable leaks', () => {
  it('follows a chain through a rename, and a site through its chains', () => {
    const source = new ArrayEventSource();
    const history = new MmHistory(source, 4);
    history.addSnapshot(0, new MmHistoryState());
    source.push({ kind: MmEventKind.allocated, chain: 300, blocks: 2, caller: 0xc0101000, pid: 3 });   // 0
    source.push({ kind: MmEventKind.allocated, chain: 400, blocks: 1, caller: 0xc0102000, pid: 3 });   // 1
    source.push({ kind: MmEventKind.mapped, chain: 300, arg: 0xd0000000, blocks: 8, caller: 0xc0103000 }); // 2
    source.push({ kind: MmEventKind.moved, chain: 300, blocks: 300, arg: 150 });                     // 3
    source.push({ kind: MmEventKind.renamed, chain: 300, arg: 150 });                                // 4
    source.push({ kind: MmEventKind.allocated, chain: 300, blocks: 1, caller: 0xc0104000 });         // 5: another chain gets ID 300
    source.push({ kind: MmEventKind.unmapped, chain: 150, arg: 0xd0000000, blocks: 0, caller: 0xc0105000 }); // 6
    source.push({ kind: MmEventKind.freed, chain: 150, blocks: 2, caller: 0xc0105000 });             // 7
    const resolve = (a: number): { address: number; function: string } => ({ address: a, function: `f${a.toString(16)}` });
    const atEnd = blame(history, { chain: 150, at: 7 }, resolve).map((e) => e.index);
    assert.deepStrictEqual(atEnd, [0, 2, 3, 4, 6, 7]);
    const atStart = blame(history, { chain: 300, at: 1 }).map((e) => e.index);
    assert.deepStrictEqual(atStart, [0, 2, 3, 4, 6, 7], 'forwards from its first ID too');
    assert.deepStrictEqual(blame(history, { chain: 300, at: 8 }).map((e) => e.index), [5], 'the later chain with ID 300 is another one');
    assert.deepStrictEqual(blame(history, { caller: 0xc0101000 }).map((e) => e.index), [0, 2, 3, 4, 6, 7]);
    assert.deepStrictEqual(blame(history, { space: 0, virtual: 0xd0001234 }).map((e) => e.index), [2, 3, 4, 6, 7]);
    assert.deepStrictEqual(blame(history, { block: 150, at: 5 }).map((e) => e.index), [3],
      'a block: the move naming it (the chain\'s block list is not known after its allocation)');
    assert.strictEqual(blame(history, { chain: 150, at: 7 }, resolve)[0].site?.function, 'fc0101000');
  });

  it('flags exactly the allocation site whose live blocks only grow', () => {
    const source = new ArrayEventSource();
    const gen = new StreamGenerator(source, 8192, 11);
    const history = new MmHistory(source, 1024);
    history.addSnapshot(0, gen.truth());
    for (let i = 0; i < 30000; i++) gen.step();
    const sites = siteGrowth(history, 0, source.length);
    const leaks = sites.filter((s) => s.probableLeak).map((s) => s.caller);
    assert.deepStrictEqual(leaks, [LEAKY_CALLER]);
    const leaky = sites.find((s) => s.caller === LEAKY_CALLER);
    assert.ok(leaky && leaky.decreases === 0 && leaky.liveAtEnd === leaky.increases);
  });
});

describe('mm history: when did it break?', () => {
  it('covers the finding kinds that arise through memory-manager calls, and those the reconstructed state can show', () => {
    assert.deepStrictEqual([...COVERED_FINDING_KINDS].sort(), ['contiguous-not-frozen', 'handle-to-freed-chain', 'leaked-chain', 'swapped-frozen-chain', 'user-mapping-above-limit']);
  });

  it('swapped-frozen-chain made by calls (a freeze that kept a block out): the freeze', () => {
    const source = new ArrayEventSource();
    const history = new MmHistory(source, 4);
    history.addSnapshot(0, new MmHistoryState());
    source.push({ kind: MmEventKind.allocated, chain: 900, blocks: 3, flags: CT_SWAPPABLE, caller: 0xc0101000 });
    source.push({ kind: MmEventKind.swappedOut, chain: 900, blocks: 901, arg: 7, extra: 1 });
    source.push({ kind: MmEventKind.allocated, chain: 950, blocks: 1 });
    source.push({ kind: MmEventKind.frozen, chain: 900, flags: CT_SWAPPABLE | CT_FROZEN, arg: CT_SWAPPABLE, caller: 0xc010d000, pid: 3 });
    for (let i = 0; i < 9; i++) source.push({ kind: MmEventKind.switch, arg: i % 3 });
    const r = whenDidItBreak(history, { kind: 'swapped-frozen-chain', severity: 'error', message: '', chain: 900 }, source.length);
    assert.ok(r.covered && r.position === 4 && r.event?.kind === MmEventKind.frozen && r.pid === 3, show(r));
    // Frozen first, swapped out after (a swap-out that ignored the flag): the swap-out.
    source.push({ kind: MmEventKind.allocated, chain: 960, blocks: 2, flags: CT_FROZEN });
    source.push({ kind: MmEventKind.swappedOut, chain: 960, blocks: 961, arg: 8, extra: 1, caller: 0xc010e000 });
    const s = whenDidItBreak(history, { kind: 'swapped-frozen-chain', severity: 'error', message: '', chain: 960 }, source.length);
    assert.ok(s.covered && s.position === source.length && s.event?.caller === 0xc010e000, show(s));
  });

  it('contiguous-not-frozen by an unfreeze: the unfreeze; by a table write (the state still frozen): not covered, with the allocation', () => {
    const source = new ArrayEventSource();
    const history = new MmHistory(source, 4);
    history.addSnapshot(0, new MmHistoryState());
    source.push({ kind: MmEventKind.allocated, chain: 300, blocks: 2, flags: CT_CONTIG | CT_FROZEN, caller: 0xc0102000 });
    source.push({ kind: MmEventKind.allocated, chain: 400, blocks: 2, flags: CT_CONTIG | CT_FROZEN, caller: 0xc0102100 });
    source.push({ kind: MmEventKind.unfrozen, chain: 300, flags: CT_CONTIG, arg: CT_CONTIG | CT_FROZEN, caller: 0xc010f000, pid: 5 });
    source.push({ kind: MmEventKind.mapped, chain: 300, arg: 0xd0000000, blocks: 8 });
    const r = whenDidItBreak(history, { kind: 'contiguous-not-frozen', severity: 'error', message: '', chain: 300 }, source.length);
    assert.ok(r.covered && r.position === 3 && r.event?.caller === 0xc010f000 && r.pid === 5, show(r));
    const n = whenDidItBreak(history, { kind: 'contiguous-not-frozen', severity: 'error', message: '', chain: 400 }, source.length);
    assert.ok(!n.covered && /written behind the memory manager's back/.test(n.reason) && n.chainAllocation?.position === 2, show(n));
  });

  it('user-mapping-above-limit by a kernel-space map below the kernel half: the map', () => {
    const source = new ArrayEventSource();
    const history = new MmHistory(source, 4);
    history.addSnapshot(0, new MmHistoryState());
    source.push({ kind: MmEventKind.allocated, chain: 120, blocks: 1 });
    source.push({ kind: MmEventKind.mapped, chain: 120, arg: 0xd0000000, blocks: 4, extra: 0 });
    source.push({ kind: MmEventKind.mapped, chain: 120, arg: 0x40000000, blocks: 2, flags: 2 << 8, extra: 0, caller: 0xc0110000, pid: 6 });
    source.push({ kind: MmEventKind.mapped, chain: 120, arg: 0x40000000, blocks: 2, extra: 0x12345000 });
    const r = whenDidItBreak(history, { kind: 'user-mapping-above-limit', severity: 'error', message: '', virtual: 0x40001000 }, source.length);
    assert.ok(r.covered && r.position === 3 && r.event?.caller === 0xc0110000 && r.pid === 6, show(r));
    const n = whenDidItBreak(history, { kind: 'user-mapping-above-limit', severity: 'error', message: '', virtual: 0x50000000 }, source.length);
    assert.ok(!n.covered, show(n));
  });

  it('leaked-chain: the unmapping after which the chain stayed unmapped, with its call site and process', () => {
    const source = new ArrayEventSource();
    const gen = new StreamGenerator(source, 4096, 5);
    for (let i = 0; i < 300; i++) gen.step();
    const history = new MmHistory(source, 64);
    history.addSnapshot(source.length, gen.truth());
    const c = gen.allocate(2, 0, 0xc0109000);
    assert.ok(c);
    gen.pinned.add(c.seq);
    gen.map(c, 0);
    for (let i = 0; i < 500; i++) gen.step();
    source.push({ kind: MmEventKind.unmapped, chain: c.id, arg: c.mappings[0].virtual, blocks: 0, caller: 0xc010a000, pid: 4 });
    const breaking = source.length;
    c.mappings = [];
    for (let i = 0; i < 500; i++) gen.step();
    // Moves may have renamed it: the finding names its ID at the stop.
    const idAtStop = [...gen.chains.values()].find((x) => x.seq === c.seq)?.id;
    if (idAtStop === undefined) return assert.fail('the generator freed the chain');
    const r = whenDidItBreak(history, { kind: 'leaked-chain', severity: 'warning', message: '', chain: idAtStop }, source.length, (a) => ({ address: a, function: 'unmapper' }));
    assert.ok(r.covered, show(r));
    assert.strictEqual(r.position, breaking);
    assert.strictEqual(r.event?.caller, 0xc010a000);
    assert.strictEqual(r.site?.function, 'unmapper');
    assert.strictEqual(r.pid, 4);
  });

  it('leaked-chain never mapped: its allocation', () => {
    const source = new ArrayEventSource();
    const history = new MmHistory(source, 8);
    history.addSnapshot(0, new MmHistoryState());
    source.push({ kind: MmEventKind.allocated, chain: 500, blocks: 1, caller: 0xc0101000 });
    source.push({ kind: MmEventKind.allocated, chain: 600, blocks: 3, caller: 0xc010b000, pid: 2 });
    source.push({ kind: MmEventKind.mapped, chain: 500, arg: 0xd0000000, blocks: 4 });
    const r = whenDidItBreak(history, { kind: 'leaked-chain', severity: 'warning', message: '', chain: 600 }, 3);
    assert.ok(r.covered && r.position === 2 && r.event?.caller === 0xc010b000 && r.pid === 2, show(r));
  });

  it('handle-to-freed-chain: the free after which the ID stayed dead; not covered: table corruption', () => {
    const source = new ArrayEventSource();
    const history = new MmHistory(source, 8);
    history.addSnapshot(0, new MmHistoryState());
    source.push({ kind: MmEventKind.allocated, chain: 700, blocks: 1, caller: 0xc0101000 });
    source.push({ kind: MmEventKind.freed, chain: 700, blocks: 1, caller: 0xc0101100 });
    source.push({ kind: MmEventKind.allocated, chain: 700, blocks: 4, caller: 0xc0101200 });
    source.push({ kind: MmEventKind.xms, arg: 0x0900 });
    source.push({ kind: MmEventKind.freed, chain: 700, blocks: 4, caller: 0xc010c000, pid: 9 });
    source.push({ kind: MmEventKind.allocated, chain: 800, blocks: 1 });
    const r = whenDidItBreak(history, { kind: 'handle-to-freed-chain', severity: 'error', message: '', chain: 700 }, source.length);
    assert.ok(r.covered && r.position === 5 && r.event?.caller === 0xc010c000 && r.pid === 9);
    const n = whenDidItBreak(history, { kind: 'chain-cycle', severity: 'error', message: '', chain: 800 }, source.length);
    assert.ok(!n.covered && n.chainAllocation?.position === 6);
  });
});
