// The Processes view's modes, swapped-out pages and DOS sections, and the status bar's swap in
// use, on the document of a hand-built guest image with every process mode and two DOS tasks
// (debug-adapter/test/fixtures/dos-image.ts), through the real decoders and document builder.

import * as assert from 'assert';
import { buildSnapshot } from '../../debug-adapter/src/mm/model/snapshot';
import { SnapshotJson, snapshotToJson } from '../../debug-adapter/src/mm/model/snapshot-json';
import { LAYOUT, REGISTERS } from '../../debug-adapter/test/fixtures/mm-image';
import { dosImage } from '../../debug-adapter/test/fixtures/dos-image';
import { processesModel } from '../src/views/processes-model';
import { statusText, swapStatusLine } from '../src/views/findings-model';
import { treeItemData } from '../src/views/tree-item-data';
import { ViewNode } from '../src/views/view-node';
import { diffDocuments } from '../../debug-adapter/src/mm/model/diff';

async function dosDocument(change?: (x: ReturnType<typeof dosImage>) => void): Promise<SnapshotJson> {
  const x = dosImage();
  change?.(x);
  const doc = snapshotToJson(await buildSnapshot({ read: x.img.read, descriptorPhys: LAYOUT.descriptor, registers: REGISTERS }));
  return JSON.parse(JSON.stringify(doc)) as SnapshotJson; // as the views receive it
}

const child = (n: ViewNode, label: string): ViewNode => {
  const c = (n.children?.() ?? []).find((x) => x.label === label || x.label.startsWith(label));
  assert.ok(c, `${n.label} has no child ${label}; it has ${JSON.stringify((n.children?.() ?? []).map((x) => x.label))}`);
  return c;
};

describe('view models: process modes, swapped-out pages and DOS tasks', function () {
  it('says each process\'s mode in its description', async () => {
    const doc = await dosDocument();
    const nodes = processesModel(doc);
    assert.deepStrictEqual(nodes.map((n) => n.description?.split(' · ')[1]), ['kernel thread', 'ring 3', 'V86 task', 'DPMI client']);
    assert.match(nodes[1].description ?? '', / · 1 swapped out$/);
  });

  it('lists a process\'s swapped-out pages with slot, page and raw entry, revealing the address', async () => {
    const doc = await dosDocument();
    const worker = processesModel(doc)[1];
    const swapped = child(worker, 'swapped out');
    assert.strictEqual(swapped.description, '1 page in 1 slot');
    const [page] = swapped.children?.() ?? [];
    assert.strictEqual(page.label, '0x00405000');
    assert.strictEqual(page.description, 'swapped out, slot 7 page 1 · entry 0x00007006');
    assert.deepStrictEqual(page.reveal, { kind: 'address', virtual: 0x405000, pid: 1 });
    assert.strictEqual(child(processesModel(doc)[0], 'swapped out').description, 'none');
    assert.strictEqual(child(processesModel(doc)[0], 'swapped out').children, undefined);
  });

  it('shows a DOS task\'s conventional memory, the MCB chain, its XMS handles and DPMI memory', async () => {
    const doc = await dosDocument();
    const nodes = processesModel(doc);
    assert.strictEqual(nodes[0].children?.().some((c) => c.label === 'DOS task'), false, 'a kernel thread has no DOS section');
    const dos = child(nodes[2], 'DOS task');
    assert.strictEqual(dos.description, 'PSP 0x0100 · passed · MCB owner 3');
    const conventional = child(dos, 'conventional memory');
    assert.strictEqual(conventional.description, '64 KiB private + 4 KiB in 2 MCB blocks');
    assert.deepStrictEqual(conventional.children?.().map((c) => [c.label, c.description]), [
      ['low chain 320', '0x00000-0x0ffff · 16 pages mapped · 64 KiB'],
      ['block at 0x1001', '4 KiB (256 paragraphs) · DOSPROG'],
      ['block at 0x1164', '256 B (16 paragraphs)'],
    ]);
    assert.deepStrictEqual(conventional.children?.()[0].reveal, { kind: 'chain', id: 320 });
    const mcbs = child(dos, 'MCB chain');
    assert.strictEqual(mcbs.warning, false);
    assert.deepStrictEqual(mcbs.children?.().map((c) => `${c.label} ${c.description}`).slice(0, 3), [
      '0x1000 M pid 2 dosprog (this task) · 4 KiB · DOSPROG', '0x1101 M system · 512 B · SC', '0x1122 M free · 1 KiB',
    ]);
    const xms = child(dos, 'XMS handles');
    assert.strictEqual(xms.description, '1 · 64 KiB');
    assert.deepStrictEqual(xms.children?.().map((c) => [c.label, c.description, c.reveal]), [['handle 0x0001', '64 KiB · chain 340', { kind: 'chain', id: 340 }]]);
    assert.strictEqual(child(dos, 'DPMI memory').description, 'none');
    // The other task owns no MCB block and no handle.
    const other = child(nodes[3], 'DOS task');
    assert.strictEqual(child(other, 'conventional memory').description, '64 KiB private + 0 B in 0 MCB blocks');
    assert.strictEqual(child(other, 'XMS handles').description, 'none');
  });

  it('marks a broken MCB chain in every DOS task\'s section', async () => {
    const doc = await dosDocument(({ img }) => img.writeMcbChain([{ type: 'M', owner: 3, paragraphs: 0x100 }, { type: 0x58, owner: 0, paragraphs: 5 }]));
    const mcbs = child(child(processesModel(doc)[2], 'DOS task'), 'MCB chain');
    assert.strictEqual(mcbs.warning, true);
    assert.match(mcbs.description ?? '', /BROKEN at 0x1101$/);
    const items = mcbs.children?.() ?? [];
    assert.match(items[items.length - 1].description ?? '', /type byte is 0x58/);
    assert.strictEqual(treeItemData(mcbs).iconColour, 'list.warningForeground');
  });

  it('marks a process whose mode or swapped-out pages changed', async () => {
    const before = await dosDocument();
    const after = await dosDocument(({ img }) => {
      img.setMode(1, 0);
      img.swapOutPte(0x400000 + 6 * 4096, 1, 8, 2);
    });
    const nodes = processesModel(after, diffDocuments(before, after));
    assert.ok(processesModel(after).every((n) => !n.changed), 'nothing marked without the adapter\'s changes');
    assert.deepStrictEqual(nodes.map((n) => n.changed), [false, true, false, false]);
    assert.strictEqual(child(nodes[1], 'swapped out').description, '2 pages in 2 slots');
  });

  it('shows swap in use in the status bar, and nothing of swap without a swap disk', async () => {
    const doc = await dosDocument();
    assert.match(statusText(doc), / · swap 3\/256$/);
    assert.strictEqual(swapStatusLine(doc), 'Swap in use: 3 of 256 slots (1%); 12 blocks swapped out and 9 in since boot.');
    const off = await dosDocument(({ img }) => img.setSwapCounters({ slotCount: 0, used: 0, outs: 0, ins: 0 }));
    assert.doesNotMatch(statusText(off), /swap/);
    assert.strictEqual(swapStatusLine(off), 'Swapping is off (no swap disk).');
  });
});
