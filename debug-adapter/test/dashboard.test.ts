// The dashboard in a real headless Chromium (Debian's /usr/bin/chromium through playwright-core)
// against the demo guest running in QEMU: the page loads, shows exactly the chains of the
// snapshot it says it shows, updates as the guest allocates and frees, marks what changed,
// shows a chain on hover and selects it on click. Saves .artifacts/dashboard.png.

import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { chromium, BrowserContext, Page } from 'playwright-core';
import { LiveGuest, startLiveGuest } from '../src/live/live-guest';
import { loadKernel } from '../src/cli/snapshot-command';
import { KERNEL } from './guest-snapshot';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = path.resolve(__dirname, '..', '..', '..', '.artifacts');

interface PageView {
  seq: number;
  ids: number[];
  changedRows: number;
}

// Page-side code is passed as text: this project compiles for Node, without the DOM's types.
const readView = (page: Page): Promise<PageView> =>
  page.evaluate<PageView>(`({
    seq: Number(document.body.dataset.seq),
    ids: Array.from(document.querySelectorAll('#chains tbody tr')).map((tr) => Number(tr.dataset.chainId)),
    changedRows: document.querySelectorAll('#chains tbody tr.changed').length,
  })`);

describe('dashboard in headless Chromium', function () {
  this.timeout(240_000);
  let guest: LiveGuest | undefined;
  let context: BrowserContext | undefined;
  let profile: string | undefined;
  /** Chain ids of every published snapshot, by seq. */
  const history = new Map<number, number[]>();

  before(async function () {
    if (!fs.existsSync(CHROMIUM)) {
      throw new Error(`${CHROMIUM} is missing: run "bash scripts/setup.sh" (it installs Debian's chromium).`);
    }
    const { symbols, descriptorPhys } = loadKernel(KERNEL);
    guest = await startLiveGuest({ kernel: KERNEL, symbols, descriptorPhys, memoryMiB: 64, ratePerSecond: 4 });
    const feed = guest.server?.feed;
    assert.ok(feed);
    const latest = feed.latest;
    if (latest?.snapshot.guest) history.set(latest.seq, latest.snapshot.guest.chains.map((c) => c.id));
    feed.onSnapshot((s) => history.set(feed.latestSeq, (s.guest?.chains ?? []).map((c) => c.id)));
    profile = fs.mkdtempSync(path.join(os.tmpdir(), 'mmscope-chromium-'));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      timeout: 60_000,
      viewport: { width: 1400, height: 900 },
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  });

  after(async () => {
    await context?.close().catch(() => undefined);
    await guest?.close();
    if (profile) fs.rmSync(profile, { recursive: true, force: true });
  });

  it("loads, shows the guest's chains, updates when the guest allocates, and reveals a chain on hover and click", async () => {
    assert.ok(guest?.server && context);
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(guest.server.url, { timeout: 30_000 });
    await page.waitForSelector('body[data-connection="connected"]', { timeout: 30_000 });
    await page.waitForFunction(`Number(document.body.dataset.seq) > 0 && document.querySelectorAll('#chains tbody tr').length > 0`, undefined, { timeout: 30_000 });

    // What the page shows is exactly the snapshot it claims to show.
    const first = await readView(page);
    assert.deepStrictEqual(first.ids, history.get(first.seq), `chains shown at snapshot ${first.seq}`);
    assert.ok(first.ids.length > 0);

    // The demo allocates and frees all the time: wait for a snapshot with another set of chains.
    let later = first;
    let sawChangedRows = false;
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      await page.waitForTimeout(250);
      const v = await readView(page);
      if (v.changedRows > 0) sawChangedRows = true;
      if (v.seq > first.seq && v.ids.join() !== first.ids.join()) {
        later = v;
        if (sawChangedRows) break;
      }
    }
    assert.ok(later.seq > first.seq, 'the page received newer snapshots');
    assert.notDeepStrictEqual(later.ids, first.ids, 'the chains changed as the guest allocated and freed');
    assert.deepStrictEqual(later.ids, history.get(later.seq), `chains shown at snapshot ${later.seq}`);
    assert.ok(sawChangedRows, 'changed chains were marked');

    // Hover a block of a long-lived chain (a frozen kernel one): the tooltip names it. Then click it.
    const latest = guest.server.feed.latest;
    assert.ok(latest);
    const chains = latest.snapshot.guest?.chains ?? [];
    const target = chains.find((c) => c.flags.frozen) ?? chains[0];
    const canvas = page.locator('#memory-map canvas');
    const box = await canvas.boundingBox();
    assert.ok(box);
    const geometry = { cell: Number(await canvas.getAttribute('data-cell')), columns: Number(await canvas.getAttribute('data-columns')) };
    assert.ok(geometry.cell > 0 && geometry.columns > 0);
    const b = target.blocks[0];
    const x = box.x + (b % geometry.columns) * geometry.cell + geometry.cell / 2;
    const y = box.y + Math.floor(b / geometry.columns) * geometry.cell + geometry.cell / 2;
    await page.mouse.move(x, y);
    const tooltip = page.locator('.memory-map-tooltip');
    await tooltip.waitFor({ state: 'visible', timeout: 10_000 });
    assert.match(await tooltip.innerText(), new RegExp(`block ${b}\\b[\\s\\S]*chain ${target.id}:`));
    await page.mouse.click(x, y);
    await page.waitForFunction(`document.body.dataset.selectedChain === '${target.id}'`, undefined, { timeout: 10_000 });
    assert.strictEqual(await page.locator(`#chains tr.selected[data-chain-id="${target.id}"]`).count(), 1);
    assert.match(await page.locator('#selection').innerText(), new RegExp(`chain ${target.id}:`));

    fs.mkdirSync(ARTIFACTS, { recursive: true });
    await page.mouse.move(x, y);
    await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard.png'), fullPage: true });
    assert.deepStrictEqual(errors, [], 'no script errors on the page');
    await page.close();
  });
});
