// The physical memory map's model (extension/webview/memory-map-model.ts, pure): our guest's
// block map on a recorded document, and the frame map of any kernel folded into cells, on the
// hand-built level-0 (3 GiB of RAM) and level-1 (an allocation layer) documents.

import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { SnapshotJson } from '../../debug-adapter/src/mm/model/snapshot-json';
import {
  FRAME_ALLOC_STATES, FRAME_MAP_STATES, NO_ALLOCATOR, describeBlock, describeFrameCell, frameCaption, frameCells, frameExtent, frameLegend, framesPerCellFor, indexSnapshot,
} from '../webview/memory-map-model';
import { isGuestView } from '../../contract/guest-document';
import type { SnapshotView } from '../../contract/guest-document';
import { LEVEL0_FRAMES, levelOneDocument, levelZeroDocument } from './documents';

const FIXTURES = path.resolve(__dirname, '../../../extension/test/fixtures');
const load = (name: string): SnapshotJson => JSON.parse(fs.readFileSync(path.join(FIXTURES, name), 'utf8')) as SnapshotJson;
// The adapter's document is what the webview reads: it must stay assignable to the webview's type.
const conforms = (j: SnapshotJson): SnapshotView => j;

/** Frames per state over every cell, from the folded counts. */
function totals(counts: Uint32Array, states: number): number[] {
  const out = new Array<number>(states).fill(0);
  for (let i = 0; i < counts.length; i++) out[i % states] += counts[i];
  return out;
}

describe('physical memory map model', function () {
  it("draws our guest's block map from its document, as before", () => {
    const snap = conforms(load('demo-snapshot.json'));
    assert.ok(isGuestView(snap));
    const index = indexSnapshot(snap);
    const chain = snap.chains[0];
    const lines = describeBlock(snap, index, chain.blocks[0]);
    assert.match(lines[0], new RegExp(`^block ${chain.blocks[0]} · physical 0x`));
    assert.match(lines[1], new RegExp(`^chain ${chain.id}: `));
    assert.strictEqual(isGuestView(levelZeroDocument()), false);
  });

  it('folds 3 GiB of frames into cells of a power of two of frames, counting every frame exactly', () => {
    const doc = levelZeroDocument();
    assert.strictEqual(framesPerCellFor(LEVEL0_FRAMES, 20000), 64);
    const c = frameCells(doc.frames, 20000);
    assert.deepStrictEqual([c.framesPerCell, c.cells, c.frames], [64, LEVEL0_FRAMES / 64, LEVEL0_FRAMES]);
    const sums = totals(c.mappingCounts, FRAME_MAP_STATES.length);
    assert.deepStrictEqual(Object.fromEntries(FRAME_MAP_STATES.map((s, i) => [s, sums[i]])), { ...doc.frames.counts });
    assert.strictEqual(c.allocation, undefined, 'no allocator at level 0');
    // Cell 2 holds frames 128..191: 32 mapped, then the 32 frames of VGA's window (not RAM).
    assert.deepStrictEqual(describeFrameCell(doc.frames, c, 2), [
      'frames 128–191 (64, 256 KiB) · physical 0x00080000–0x000bffff',
      'mapped: 32, not RAM: 32',
      'QEMU: pc.ram (ram), vga-lowmem (device)',
    ]);
    // Cell 64 (frames 4096..4159) holds the three page-table pages among mapped frames.
    assert.match(describeFrameCell(doc.frames, c, 64)[1], /^mapped: 61, page-table page: 3$/);
    assert.strictEqual(FRAME_MAP_STATES[c.mapping[64]], 'mapped', 'the state most frames of the cell are in');
    assert.strictEqual(FRAME_MAP_STATES[c.accent[64]], 'table', 'the page tables among them are marked');
    assert.strictEqual(FRAME_MAP_STATES[c.accent[2]], 'not-ram');
    assert.strictEqual(c.accent[65], NO_ALLOCATOR, 'nothing to mark in a cell of mapped frames only');
    assert.strictEqual(frameCaption(doc.frames, c), '3 GiB of frames · one cell = 64 frames (256 KiB)');
  });

  it('draws one frame per cell when they fit, with the allocation layer and a legend with the counts', () => {
    const doc = levelOneDocument();
    const c = frameCells(doc.frames, 10000);
    assert.deepStrictEqual([c.framesPerCell, c.cells], [1, 8192]);
    assert.ok(c.allocation);
    const state = (i: number): string => (c.allocation![i] === NO_ALLOCATOR ? 'none' : FRAME_ALLOC_STATES[c.allocation![i]]);
    assert.deepStrictEqual([state(0), state(0x100), state(0x4ff), state(0x500)], ['reserved', 'used', 'used', 'free']);
    assert.deepStrictEqual([FRAME_MAP_STATES[c.mapping[0x10]], FRAME_MAP_STATES[c.mapping[0x100]], FRAME_MAP_STATES[c.mapping[0x500]]], ['table', 'mapped', 'unmapped']);
    assert.deepStrictEqual(describeFrameCell(doc.frames, c, 0x500), ['frame 1280 · physical 0x00500000–0x00500fff', 'RAM, not mapped', 'allocator: free in the allocator', 'QEMU: pc.ram (ram)']);
    assert.deepStrictEqual(frameLegend(doc.frames).map((e) => `${e.layer}:${e.state}=${e.count}`), [
      'mapping:mapped=1024', 'mapping:multi=0', 'mapping:table=4', 'mapping:unmapped=7164', 'mapping:not-ram=0',
      'allocation:free=6912', 'allocation:used=1024', 'allocation:reserved=256',
    ]);
    assert.ok(!frameLegend(levelZeroDocument().frames).some((e) => e.layer === 'allocation'));
  });

  it("draws every frame a layer covers, also past frames.count (our guest's chain table covers all its RAM)", () => {
    const snap = load('demo-snapshot.json');
    const extent = frameExtent(snap.frames);
    const covered = snap.frames.allocation?.reduce((n, r) => Math.max(n, r[0] + r[1]), 0) ?? 0;
    assert.strictEqual(extent, Math.max(snap.frames.count, covered));
    const c = frameCells(snap.frames, 4096);
    assert.ok(c.cells <= 4096 && c.cells * c.framesPerCell >= extent);
    const sums = totals(c.allocationCounts!, FRAME_ALLOC_STATES.length);
    assert.deepStrictEqual(Object.fromEntries(FRAME_ALLOC_STATES.map((s, i) => [s, sums[i]])), { ...snap.frames.allocationCounts });
  });

  it('stays within its cells for any RAM size (64 GiB: 16 Mi frames in one run)', () => {
    const frames = { ...levelZeroDocument().frames, count: 2 ** 24, mapping: [[0, 2 ** 24, 'unmapped']] as const, counts: { mapped: 0, multi: 0, table: 0, unmapped: 2 ** 24, 'not-ram': 0 } };
    const c = frameCells(frames, 30000);
    assert.deepStrictEqual([c.framesPerCell, c.cells], [1024, 16384]);
    assert.strictEqual(c.mappingCounts[FRAME_MAP_STATES.indexOf('unmapped')], 1024);
  });
});
