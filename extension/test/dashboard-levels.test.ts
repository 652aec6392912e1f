// The dashboard page (extension/webview/dashboard.ts) in a real headless Chromium, fed by the real
// dashboard server and live feed, on documents of kernels that are not ours: at level 0 (a 64-bit
// kernel, nothing described) its frame map with the legend, the address spaces seen in place of
// processes (a stale one marked), no allocators and the generic findings with their exact
// addresses; then, as the next snapshot (a delta), level 1: the allocators and heaps in the panel
// that shows chains on our guest, the processes with their spaces, and the allocators' strip.
// Last, our guest's document of a hand-built image with every process mode and two DOS tasks:
// the modes, the swapped-out pages, the DOS tasks' lines and swap in use in the summary.
// (Our guest's dashboard on the real demo is debug-adapter/test/dashboard.test.ts.) Saves
// .artifacts/dashboard-level0.png, -level1.png and -dos.png.

import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { chromium, BrowserContext, Page } from 'playwright-core';
import { DashboardServer, startDashboardServer } from '../../debug-adapter/src/live/dashboard-server';
import type { ViewSnapshot } from '../../debug-adapter/src/mm/model/snapshot-json';
import { levelOneDocument, levelZeroDocument } from './documents';
import { buildSnapshot } from '../../debug-adapter/src/mm/model/snapshot';
import { LAYOUT, REGISTERS } from '../../debug-adapter/test/fixtures/mm-image';
import { dosImage } from '../../debug-adapter/test/fixtures/dos-image';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = path.resolve(__dirname, '../../../.artifacts');

describe('dashboard in headless Chromium on hand-built documents', function () {
  this.timeout(120_000);
  let server: DashboardServer | undefined;
  let context: BrowserContext | undefined;
  let profile: string | undefined;
  let page: Page;

  before(async function () {
    if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: run "bash scripts/setup.sh" (it installs Debian's chromium).`);
    server = await startDashboardServer();
    profile = fs.mkdtempSync(path.join(os.tmpdir(), 'mmscope-dash-'));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM, headless: true, timeout: 60_000, viewport: { width: 1400, height: 900 },
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    page = await context.newPage();
  });

  after(async () => {
    await context?.close().catch(() => undefined);
    await server?.close();
    if (profile) fs.rmSync(profile, { recursive: true, force: true });
  });

  const text = (selector: string): Promise<string> => page.locator(selector).first().innerText();
  /** Waits for the page to show snapshot `seq` (polled from here: the page's CSP forbids evaluating strings). */
  const shows = async (seq: number): Promise<void> => {
    const end = Date.now() + 30_000;
    while (Number(await page.getAttribute('body', 'data-seq')) !== seq) {
      if (Date.now() > end) throw new Error(`the page does not show snapshot ${seq}`);
      await page.waitForTimeout(100);
    }
  };

  it('shows a level-0 kernel: frame map and legend, the spaces seen, no allocator, generic findings', async () => {
    assert.ok(server);
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    const seq = server.feed.publish({ document: levelZeroDocument() as ViewSnapshot }, { live: false });
    await page.goto(server.url, { timeout: 30_000 });
    await shows(seq);
    assert.strictEqual(await page.getAttribute('body', 'data-level'), '0');
    assert.strictEqual(await page.getAttribute('#memory-map canvas', 'data-mode'), 'frames');
    assert.match(await text('#map-caption'), /^3 GiB of frames · one cell = \d+ frames/);
    assert.match(await text('.memory-map-legend-item[data-state="table"]'), /page-table page 3/);
    assert.match(await text('#summary'), /level 0 · x86-64 · 786397 frames mapped, 3 page-table pages, 0 unmapped · 2 address spaces/);
    assert.match(await text('#chains-panel h2'), /^Allocators/);
    assert.match(await text('#chains tbody'), /no allocator described \(level 0\)/);
    const spaces = await page.locator('#processes .process').allInnerTexts();
    assert.strictEqual(spaces.length, 2);
    assert.match(spaces[0], /^▶ CR3 0x1000000 · x86-64 · current/);
    assert.match(spaces[0], /0xffffffff81000000–0xffffffff811fffff → 0x01000000/);
    assert.match(spaces[1], /seen · possibly stale/);
    const findings = await page.locator('#findings li').allInnerTexts();
    assert.match(findings[0], /^warning writable-executable: .*\(0xffffffff81000000 in CR3 0x1000000\)$/);
    assert.match(findings[1], /^error mapping-outside-ram: .*\(frame 0x000a0000\)$/);
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard-level0.png'), fullPage: true });
    assert.deepStrictEqual(errors, []);
  });

  it('then a level-1 snapshot: allocators and heaps, processes with their spaces, the allocators in the map', async () => {
    assert.ok(server);
    const seq = server.feed.publish({ document: levelOneDocument() as ViewSnapshot }, { live: true });
    await shows(seq);
    assert.strictEqual(await page.getAttribute('body', 'data-level'), '1');
    const rows = await page.locator('#chains tbody tr').allInnerTexts();
    assert.deepStrictEqual(rows.map((r) => r.split('\t')[0]), ['kmem', 'buddy', 'kheap']);
    assert.match(rows[0], /kmem\tbitmap\t6912\t1024\t256\t8192 × 4 KiB\tkmem\.nfree = 6900 \(disagrees\)/);
    assert.match(rows[1], /orders 4 2 0 4/);
    assert.match(rows[2], /3 blocks \(2 used\)/);
    assert.deepStrictEqual(await page.locator('#chains thead th').allInnerTexts(), ['name', 'shape', 'free', 'used', 'reserved', 'of', 'counter']);
    const procs = await page.locator('#processes .process').allInnerTexts();
    assert.deepStrictEqual(procs.map((p) => p.split('\n')[0].replace(/ · \d+ KiB.*| · no address.*/, '')), ['pid 1 init · SLEEPING', '▶ pid 2 sh · RUNNING', 'pid 3 zombie · ZOMBIE']);
    assert.match(procs[2], /no address space read/);
    assert.ok((await page.locator('#processes .process.changed').count()) > 0, 'what the delta changed is marked');
    assert.match(await text('.memory-map-legend-item[data-state="free"]'), /free in the allocator 6912/);
    assert.match(await text('#summary'), /\(live\) · level 1 · x86-32 · .* · allocators: 1024 used, 6912 free/);
    await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard-level1.png'), fullPage: true });
  });

  it('then our guest with DOS tasks: each process\'s mode, swapped-out pages, the DOS tasks, swap in use', async () => {
    assert.ok(server);
    const { img } = dosImage();
    const snap = await buildSnapshot({ read: img.read, descriptorPhys: LAYOUT.descriptor, registers: REGISTERS });
    const seq = server.feed.publish(snap, { live: false, full: true });
    await shows(seq);
    const procs = await page.locator('#processes .process').allInnerTexts();
    assert.deepStrictEqual(procs.map((p) => p.split('\n')[0].replace(/ · \d+ KiB.*/, '')),
      ['▶ pid 0 kernel · running · kernel thread', 'pid 1 worker · ready · ring 3', 'pid 2 dosprog · ready · V86 task', 'pid 3 dostwo · ready · DPMI client']);
    assert.match(procs[1].split('\n')[0], / · 1 page swapped out$/);
    assert.deepStrictEqual(await page.locator('#processes .process').evaluateAll((els) => els.map((e) => (e as unknown as { dataset: { mode?: string } }).dataset.mode)), ['kernel', 'user', 'v86', 'dpmi']);
    const dos = await page.locator('#processes .dos-task').allInnerTexts();
    assert.deepStrictEqual(dos, [
      'DOS task: PSP 0100h · passed · conventional 64 KiB private + 4 KiB in 2 MCB blocks · 1 XMS handle · 0 DPMI blocks',
      'DOS task: PSP 0100h · running · conventional 64 KiB private + 0 KiB in 0 MCB blocks · 0 XMS handles · 0 DPMI blocks',
    ]);
    assert.match(await text('#summary'), / · swap 3\/256 slots \(12 out, 9 in\)$/);
    await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard-dos.png'), fullPage: true });
  });
});
