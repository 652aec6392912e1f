// What the views, translate and the hover show of a swapped-out page of our guest: the demo (with
// its swapper and the launcher's swap disk) is stopped with pages on the disk; the Address space
// view lists such a page as "swapped out, slot N (PTE 0x…)", translate and the hover say the same
// with its chain, and a level-0 walk of the same address (any kernel) says only "not present".

import * as assert from 'assert';
import { snapshotToJson } from '../../debug-adapter/src/mm/model/snapshot-json';
import { MmSnapshot } from '../../debug-adapter/src/mm/model/snapshot';
import { translateAddress, translateCurrent } from '../../debug-adapter/src/mm/model/translate';
import { formatTranslation, formatTranslationNote } from '../../debug-adapter/src/mm/model/snapshot-text';
import { StoppedGuest, bootAndStop } from '../../debug-adapter/test/guest-snapshot';
import { addressSpaceModel } from '../src/views/address-space-model';
import { ViewNode } from '../src/views/view-node';

function expandAll(nodes: readonly ViewNode[]): ViewNode[] {
  return nodes.flatMap((n) => [n, ...expandAll(n.children ? n.children() : [])]);
}

describe('swapped-out pages in the views, translate and the hover', function () {
  this.timeout(120_000);
  let guest: StoppedGuest | undefined;
  let snap: MmSnapshot;

  before(async function () {
    guest = await bootAndStop('demo', /heartbeat 4 /, 32);
    snap = await guest.snapshot();
  });

  after(async function () {
    await guest?.close();
  });

  it('lists a swapped page in its process\'s Address space view with slot and raw entry', function () {
    const page = snap.swap?.pages.find((p) => typeof p.space === 'number');
    assert.ok(page, 'a process has a swapped-out page');
    const doc = snapshotToJson(snap);
    const nodes = expandAll(addressSpaceModel(doc, `pid:${page.space}`));
    const hexVa = `0x${page.virtual.toString(16).padStart(8, '0')}`;
    const node = nodes.find((n) => n.label.startsWith(`${hexVa}-`) && n.description?.startsWith('swapped out'));
    assert.ok(node, `no swapped node at ${hexVa}`);
    assert.strictEqual(node.description, `swapped out, slot ${page.slot} (PTE 0x${page.entry.toString(16).padStart(8, '0')}) · chain ${page.chain} page ${page.chainPage}`);
    assert.deepStrictEqual(node.reveal, { kind: 'chain', id: page.chain });
    assert.ok(nodes.some((n) => / swapped out$/.test(n.description ?? '')), 'the PDE group counts its swapped pages');
  });

  it('translates a swapped page to its slot, raw entry and chain (console and hover text)', async function () {
    const page = snap.swap!.pages.find((p) => typeof p.space === 'number')!;
    const t = await translateAddress(snap, guest!.read, page.virtual, page.space as number);
    assert.deepStrictEqual(t.swapped, { slot: page.slot, page: page.page, entry: page.entry });
    assert.strictEqual(t.physical, undefined);
    assert.strictEqual(t.chain, page.chain);
    assert.strictEqual(t.chainPage, page.chainPage);
    const text = formatTranslation(t);
    assert.match(text, new RegExp(`swapped out, slot ${page.slot} \\(PTE 0x${page.entry.toString(16).padStart(8, '0')}\\)`));
    assert.match(text, new RegExp(`chain ${page.chain}, page ${page.chainPage}, allocated by `));
    assert.match(formatTranslationNote(t), new RegExp(`^swapped out, slot ${page.slot} .* · chain ${page.chain} page ${page.chainPage}`));
  });

  it('a walk that does not know our guest (level 0) reports the same entry as not present only', async function () {
    // The swapper keeps a chain in the kernel half: stop again until one of its pages is out.
    let s = snap;
    let page = s.swap!.pages.find((p) => p.space === 'kernel');
    for (let i = 0; !page && i < 20; i++) {
      await guest!.qmp.cont();
      await new Promise((r) => setTimeout(r, 300));
      await guest!.qmp.stop();
      s = await guest!.snapshot();
      page = s.swap!.pages.find((p) => p.space === 'kernel');
    }
    assert.ok(page, 'a kernel-half page was swapped out at one of the stops');
    const r = guest!.registers;
    const t = await translateCurrent({ cr0: BigInt(r.cr0), cr3: BigInt(r.cr3), cr4: BigInt(r.cr4), efer: 0n }, guest!.read, BigInt(page.virtual));
    assert.strictEqual(t.swapped, undefined);
    assert.ok(t.notMapped && !/swap/.test(t.notMapped), t.notMapped);
  });
});
