// The physical memory map (extension/webview/memory-map.ts, the class the VS Code webview and the
// dashboard both draw with) in a real headless Chromium (Debian's /usr/bin/chromium through
// playwright-core), on documents of kernels that are not ours: the frame map of 3 GiB of RAM in
// power-of-two cells, each cell painted in the colour of its frames' state, the legend with the
// document's counts, a tooltip that counts a cell's frames, the allocators' strip at level 1, and
// a frame selected from outside. Saves .artifacts/memory-map-level0.png and -level1.png.

import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { buildSync } from 'esbuild';
import { chromium, BrowserContext, Page } from 'playwright-core';
import { FRAME_ALLOC_COLOURS, FRAME_MAP_COLOURS } from '../webview/memory-map-model';
import type { SnapshotDocument } from '../../contract/snapshot-document';
import { LEVEL0_FRAMES, levelOneDocument, levelZeroDocument } from './documents';

const CHROMIUM = '/usr/bin/chromium';
const ROOT = path.resolve(__dirname, '../../..');
const ARTIFACTS = path.join(ROOT, '.artifacts');

interface Drawn {
  mode: string;
  cell: number;
  columns: number;
  framesPerCell: number;
  legend: { state: string; count: number; text: string }[];
  caption: string;
}

/** The map's code as one script that defines `window.mmscopeMap` (the same source the webview bundles). */
function mapScript(): string {
  const out = buildSync({
    entryPoints: [path.join(ROOT, 'extension/webview/memory-map.ts')], bundle: true, format: 'iife', globalName: 'mmscopeMap', write: false, target: 'es2020',
  });
  return out.outputFiles[0].text;
}

describe('physical memory map in headless Chromium', function () {
  this.timeout(120_000);
  let context: BrowserContext | undefined;
  let profile: string | undefined;
  let page: Page;

  before(async function () {
    if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: run "bash scripts/setup.sh" (it installs Debian's chromium).`);
    profile = fs.mkdtempSync(path.join(os.tmpdir(), 'mmscope-map-'));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM, headless: true, timeout: 60_000, viewport: { width: 900, height: 700 },
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    page = await context.newPage();
    await page.setContent(`<!doctype html><html><head><style>${fs.readFileSync(path.join(ROOT, 'extension/webview/dashboard.css'), 'utf8')}</style></head>
<body><div id="map" style="width:640px"></div></body></html>`);
    await page.addScriptTag({ content: mapScript() });
    await page.evaluate(`window.map = new mmscopeMap.PhysicalMemoryMap(document.getElementById('map'), { maxCellSize: 10, maxHeight: 400, onSelectFrame: (f) => (window.clicked = f) })`);
  });

  after(async () => {
    await context?.close().catch(() => undefined);
    if (profile) fs.rmSync(profile, { recursive: true, force: true });
  });

  const draw = async (doc: SnapshotDocument): Promise<Drawn> => {
    await page.evaluate(`window.map.update(${JSON.stringify(doc)})`);
    return page.evaluate<Drawn>(`(() => {
      const c = document.querySelector('#map canvas');
      return {
        mode: c.dataset.mode, cell: Number(c.dataset.cell), columns: Number(c.dataset.columns), framesPerCell: Number(c.dataset.framesPerCell),
        legend: Array.from(document.querySelectorAll('.memory-map-legend-item[data-state]')).map((e) => ({ state: e.dataset.state, count: Number(e.dataset.count), text: e.textContent })),
        caption: document.querySelector('.memory-map-caption').textContent,
      };
    })()`);
  };
  /** The colour painted in cell `i` at (dx, dy) from its corner (default: its centre), as #rrggbb. */
  const colourAt = (d: Drawn, i: number, dy?: number, dx?: number): Promise<string> => page.evaluate<string>(`(() => {
    const c = document.querySelector('#map canvas');
    const r = window.devicePixelRatio || 1;
    const x = (${i} % ${d.columns}) * ${d.cell} + ${dx ?? d.cell / 2}, y = Math.floor(${i} / ${d.columns}) * ${d.cell} + ${dy ?? d.cell / 2};
    const p = c.getContext('2d').getImageData(Math.floor(x * r), Math.floor(y * r), 1, 1).data;
    return '#' + [p[0], p[1], p[2]].map((v) => v.toString(16).padStart(2, '0')).join('');
  })()`);
  const hover = async (d: Drawn, i: number): Promise<string> => {
    const box = await page.locator('#map canvas').boundingBox();
    assert.ok(box);
    await page.mouse.move(box.x + (i % d.columns) * d.cell + d.cell / 2, box.y + Math.floor(i / d.columns) * d.cell + d.cell / 2);
    const tip = page.locator('.memory-map-tooltip');
    await tip.waitFor({ state: 'visible', timeout: 10_000 });
    return tip.innerText();
  };

  it('draws 3 GiB of frames as a few thousand cells, coloured by state, with the legend and a counting tooltip', async () => {
    const doc = levelZeroDocument();
    const d = await draw(doc);
    assert.strictEqual(d.mode, 'frames');
    const cells = Math.ceil(LEVEL0_FRAMES / d.framesPerCell);
    assert.ok(Number.isInteger(Math.log2(d.framesPerCell)) && d.framesPerCell > 1, `frames per cell ${d.framesPerCell}`);
    assert.ok(Math.ceil(cells / d.columns) * d.cell <= 400, 'the map fits the height it was given');
    assert.match(d.caption, new RegExp(`^3 GiB of frames · one cell = ${d.framesPerCell} frames`));
    assert.deepStrictEqual(d.legend.map((e) => [e.state, e.count]), [['mapped', doc.frames.counts.mapped], ['multi', 0], ['table', 3], ['unmapped', 0], ['not-ram', 0x20]]);
    // The last cell is all mapped frames; the page-table pages sit in frames 4096..4098.
    assert.strictEqual(await colourAt(d, cells - 1), FRAME_MAP_COLOURS.mapped);
    // Its cell is mostly mapped frames: painted as such, with the page tables' corner mark.
    assert.strictEqual(await colourAt(d, Math.floor(4096 / d.framesPerCell), 0.5, 0.5), FRAME_MAP_COLOURS.table);
    assert.strictEqual(await colourAt(d, Math.floor(4096 / d.framesPerCell), d.cell - 1, d.cell - 1), FRAME_MAP_COLOURS.mapped);
    const tip = await hover(d, Math.floor(4096 / d.framesPerCell));
    assert.match(tip, /page-table page: 3/);
    assert.match(tip, /QEMU: pc\.ram \(ram\)/);
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    await page.locator('#map').screenshot({ path: path.join(ARTIFACTS, 'memory-map-level0.png') });
  });

  it("draws one frame per cell when they fit, the allocators' strip under the page tables' colour, and selects a frame", async () => {
    const doc = levelOneDocument();
    const d = await draw(doc);
    assert.strictEqual(d.framesPerCell, 1);
    assert.deepStrictEqual(d.legend.filter((e) => ['free', 'used', 'reserved'].includes(e.state)).map((e) => [e.state, e.count]), [['free', 6912], ['used', 1024], ['reserved', 256]]);
    // Frame 0x10 is a page-table page in a reserved region; frame 0x100 mapped and allocated; 0x500 free and unmapped.
    assert.strictEqual(await colourAt(d, 0x10, 1), FRAME_MAP_COLOURS.table);
    assert.strictEqual(await colourAt(d, 0x10, d.cell - 2), FRAME_ALLOC_COLOURS.reserved);
    assert.strictEqual(await colourAt(d, 0x100, d.cell - 2), FRAME_ALLOC_COLOURS.used);
    assert.strictEqual(await colourAt(d, 0x500, 1), FRAME_MAP_COLOURS.unmapped);
    assert.strictEqual(await colourAt(d, 0x500, d.cell - 2), FRAME_ALLOC_COLOURS.free);
    const tip = await hover(d, 0x500);
    assert.match(tip, /frame 1280 · physical 0x00500000–0x00500fff/);
    assert.match(tip, /allocator: free in the allocator/);
    await page.mouse.click(...(await (async () => {
      const box = (await page.locator('#map canvas').boundingBox())!;
      return [box.x + (0x500 % d.columns) * d.cell + d.cell / 2, box.y + Math.floor(0x500 / d.columns) * d.cell + d.cell / 2] as [number, number];
    })()));
    assert.strictEqual(await page.evaluate('window.clicked'), 0x500, 'a click reports the frame');
    assert.strictEqual(await page.evaluate('window.map.selectFrame(0x123)'), 0x123);
    await page.locator('#map').screenshot({ path: path.join(ARTIFACTS, 'memory-map-level1.png') });
  });
});
