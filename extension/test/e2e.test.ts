// End-to-end: this repository opened in a real VS Code (code-server + chromium, see
// extension/test/e2e/code-server.ts). F5 on "Boot guest kernel", break on chain allocation (the
// "Chain allocated" exception filter in the Breakpoints view), then check what a person sees:
// the Chains view lists the new chain with its size, the Address space view shows its mapping,
// hovering a pointer shows its translation, the Physical memory webview draws cells, the Findings
// view is empty, and a step updates the views. A second session boots `demo inject=leaked-chain`:
// the Findings view and the Problems panel show the leak, and with live refresh on the views keep
// moving while the guest runs. Screenshots of each step, the DAP trace and each stop's refresh time
// go to .artifacts/e2e/.

import * as assert from 'assert';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import type { Locator, Page } from 'playwright-core';
import { Workbench, missingPrerequisite, screenshotter, until } from './e2e/code-server';

const ROOT = path.resolve(__dirname, '../../..');
const ARTIFACTS = path.join(ROOT, '.artifacts', 'e2e');
const INJECT_CONFIG = 'Boot guest kernel (inject leaked-chain)';

interface ViewRow { label: string; description?: string; changed?: boolean; children?: ViewRow[] }
interface ExtensionState {
  activated: boolean;
  state: 'none' | 'running' | 'stopped';
  stop?: number;
  error?: string;
  lastStop?: { reason?: string; description?: string; text?: string };
  views?: { chains: ViewRow[]; processes: ViewRow[]; findings: ViewRow[]; addressSpace: ViewRow[] };
  memoryMap?: { cells: number; changed: number; stop: number };
  status?: string;
  lastRefreshMs?: number;
  stopToViewsMs?: number;
  /** Every stop's stop-to-views time, tied to its session and stop number (extension/src/e2e-output.ts). */
  stopTimings?: { session: number; stop: number; stopToViewsMs: number; fetchAndViewsMs: number }[];
}


describe('end to end in VS Code (code-server + chromium)', function () {
  this.timeout(15 * 60 * 1000);
  let wb: Workbench;
  let page: Page;
  const screenshot = screenshotter(() => page, ARTIFACTS);
  const state = (): ExtensionState | undefined => wb.state<ExtensionState>();

  /** Takes the visible quick-input row whose label is exactly `label`. */
  const pickItem = async (label: string): Promise<void> => {
    // Hidden quick-input lists stay in the DOM: take the visible row whose label is exactly the
    // one wanted (fuzzy matching and recently used commands can put another row first).
    const exact = new RegExp(`^\\s*${label.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\s*$`);
    const row = page.locator('.quick-input-widget .monaco-list-row:visible').filter({ has: page.locator('.label-name', { hasText: exact }) }).first();
    await row.waitFor({ state: 'visible', timeout: 10000 });
    await page.waitForTimeout(200); // the list settles after filtering
    const focused = page.locator('.quick-input-widget .monaco-list-row.focused:visible .label-name').first();
    if (exact.test((await focused.textContent().catch(() => '')) ?? '')) await page.keyboard.press('Enter');
    else await row.click();
  };
  /** Runs a command from the palette by its exact title. */
  const command = async (title: string): Promise<void> => {
    // The workbench can take focus back right after a stop (it opens the stopped source), which
    // closes a palette that has just opened: open it again then.
    for (let attempt = 1; ; attempt++) {
      try {
        await page.keyboard.press('F1');
        const input = page.locator('.quick-input-widget input:visible');
        await input.waitFor({ state: 'visible', timeout: 5000 });
        await input.fill(`>${title}`, { timeout: 5000 });
        break;
      } catch (e) {
        if (attempt >= 4) throw e;
        await page.keyboard.press('Escape');
        await page.waitForTimeout(1000);
      }
    }
    await pickItem(title);
  };
  const pane = (title: string): Locator => page.locator('.pane', { has: page.locator('.pane-header', { hasText: new RegExp(`^\\s*${title}`, 'i') }) });
  const rows = (title: string): Locator => pane(title).locator('.monaco-list-row');
  const showMmscope = async (): Promise<void> => {
    await page.locator('.activitybar .action-item a[aria-label^="mmscope"]').click();
    await pane('Chains').waitFor({ timeout: 10000 });
  };
  const showDebug = async (): Promise<void> => {
    await command('View: Show Run and Debug');
    await page.locator('.debug-breakpoints, .pane-header:has-text("Breakpoints")').first().waitFor({ timeout: 10000 });
  };
  const stoppedAfter = (stop: number | undefined): Promise<ExtensionState> =>
    until(`a stop after ${stop ?? 'the start'} with its snapshot in the views (extension state: ${JSON.stringify(state())?.slice(0, 300)})`, () => {
      const s = state();
      return s?.state === 'stopped' && s.views && (stop === undefined || (s.stop ?? -1) > stop) ? s : undefined;
    }, 240000);
  /** The stop's sentence ("chain 0x1c0 allocated, 8 blocks, by step at demo.c:76" and the like). */
  const stopText = (s: ExtensionState): string => `${s.lastStop?.description ?? ''} ${s.lastStop?.text ?? ''}`;
  /**
   * Continues past stops the steps below do not look at (the demo's other processes: ring-3
   * ualloc, the DOS tasks' manager, the swapper; unmappings) until one whose sentence matches
   * `want`. Bounded.
   */
  const workerStop = async (s: ExtensionState, want: RegExp): Promise<ExtensionState> => {
    const wanted = (t: string): boolean => want.test(t);
    for (let i = 0; i < 40 && !wanted(stopText(s)); i++) {
      const before = s.stop;
      // VS Code enables "Continue" once its own UI has taken the stop: wait for the call stack.
      await page.locator('.debug-call-stack .monaco-list-row').first().waitFor({ timeout: 20000 });
      await page.waitForTimeout(500);
      await command('Debug: Continue');
      s = await stoppedAfter(before);
    }
    assert.ok(wanted(stopText(s)), `a stop matching ${want}: "${stopText(s)}"`);
    return s;
  };

  before(async function () {
    if (process.env.MMSCOPE_SKIP_E2E === '1') this.skip();
    fs.rmSync(ARTIFACTS, { recursive: true, force: true });
    const missing = missingPrerequisite();
    if (missing) throw new Error(`The end-to-end test cannot run: ${missing}.`);
    if (!fs.existsSync(path.join(ROOT, 'guest/build/kernel.elf'))) execFileSync('make', ['-C', path.join(ROOT, 'guest')], { stdio: 'inherit' });
    execFileSync(process.execPath, [path.join(ROOT, 'scripts/build-extension.js')], { stdio: 'inherit' });
    wb = new Workbench({
      folder: ROOT,
      extension: ROOT,
      settings: {
        launch: {
          version: '0.2.0',
          configurations: [{ type: 'mmscope', request: 'launch', name: INJECT_CONFIG, kernel: '${workspaceFolder}/guest/build/kernel.elf', cmdline: 'demo inject=leaked-chain' }],
        },
      },
    });
    await wb.start();
    page = wb.page;
  });

  after(async function () {
    if (page && this.currentTest?.state === 'failed') await screenshot('failure').catch(() => undefined);
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    // Each stop's time, tied to its session and stop number (scripts/e2e-refresh-figures.js reads it).
    const timings = wb ? state()?.stopTimings : undefined;
    if (timings?.length) fs.writeFileSync(path.join(ARTIFACTS, 'refresh-ms.json'), JSON.stringify({ format: 2, stops: timings }, null, 1));
    // The DAP traffic the extension saw, for reading a failure afterwards.
    if (wb && fs.existsSync(`${wb.stateFile}.dap.jsonl`)) fs.copyFileSync(`${wb.stateFile}.dap.jsonl`, path.join(ARTIFACTS, 'dap-trace.jsonl'));
    await wb?.stop();
  });

  // Each step builds on the one before: after a failure the rest are skipped, not failed again.
  let broken = false;
  beforeEach(function () {
    if (broken) this.skip();
  });

  afterEach(async function () {
    if (this.currentTest?.state === 'failed') broken = true;
    if (this.currentTest?.state === 'failed' && page) await screenshot(`failed-${this.currentTest.title.slice(0, 40).replace(/\W+/g, '-')}`).catch(() => undefined);
  });

  it('activates and shows welcome content in the mmscope views before a session', async () => {
    await showMmscope();
    await until('the extension to activate (it writes its state file)', () => state()?.activated, 60000);
    await pane('Chains').locator('.welcome-view-content', { hasText: 'Boot guest kernel' }).waitFor({ timeout: 15000 });
    await screenshot('welcome');
  });

  let allocated: { chain: number; blocks: number };
  let first: ExtensionState;

  it('boots the guest with F5 and breaks on a chain allocation', async () => {
    const launch = path.join(ROOT, '.vscode', 'launch.json');
    if (!fs.existsSync(launch) || !fs.readFileSync(launch, 'utf8').includes('"Boot guest kernel"')) {
      throw new Error('The end-to-end test needs .vscode/launch.json with the "Boot guest kernel" configuration (the debug session\'s part).');
    }
    await page.locator('.part.editor').click({ position: { x: 300, y: 200 } }).catch(() => undefined);
    await page.keyboard.press('F5');
    await until('the debug session to start', () => (state()?.state === 'running' || state()?.state === 'stopped' ? true : undefined), 180000);
    await showDebug();
    const filter = page.locator('.debug-breakpoints .monaco-list-row', { hasText: 'Chain allocated' });
    await filter.waitFor({ timeout: 60000 });
    const box = filter.locator('input[type=checkbox]');
    if (!(await box.isChecked())) await box.click();
    await screenshot('chain-allocated-filter');
    // An allocation by a kernel worker of demo.c (\b: not user_demo.c, dos_demo.c, swap_demo.c).
    first = await workerStop(await stoppedAfter(undefined), /allocated, .*\bdemo\.c:\d+/);
    const text = stopText(first);
    const m = /chain 0x([0-9a-f]+) allocated, (\d+) blocks?/.exec(text);
    assert.ok(m, `the stop says which chain was allocated: "${text}"`);
    allocated = { chain: parseInt(m[1], 16), blocks: Number(m[2]) };
    await screenshot('stopped-on-allocation');
  });

  it('lists the new chain with its size in the Chains view (revealed with "mmscope: Reveal a Chain")', async () => {
    await showMmscope();
    await command('mmscope: Reveal a Chain');
    // The command palette's own input stays in the DOM, hidden: take the visible one.
    const input = page.locator('.quick-input-widget input:visible');
    await input.waitFor({ state: 'visible', timeout: 10000 });
    await input.fill(`chain ${allocated.chain}`);
    await pickItem(`chain ${allocated.chain}`);
    const row = rows('Chains').filter({ hasText: new RegExp(`chain ${allocated.chain} \\(0x${allocated.chain.toString(16)}\\)`) });
    await row.first().waitFor({ timeout: 20000 });
    const text = (await row.first().textContent()) ?? '';
    assert.match(text, new RegExp(`${allocated.blocks} blocks? ·`), text);
    const model = state()?.views?.chains.find((c) => c.label.startsWith(`chain ${allocated.chain} `));
    assert.ok(model?.description?.includes(`${allocated.blocks} block`), JSON.stringify(model));
    await screenshot('chains-view');
  });

  it('draws the physical memory map in the webview', async () => {
    await pane('Physical memory').scrollIntoViewIfNeeded();
    const frame = page.frameLocator('iframe.webview').frameLocator('#active-frame');
    await frame.locator('canvas').waitFor({ timeout: 30000 });
    const cells = await until('cells in the map', async () => {
      const n = Number(await frame.locator('body').getAttribute('data-cells'));
      return n > 0 ? n : undefined;
    }, 30000);
    assert.strictEqual(cells, state()?.memoryMap?.cells);
    const status = (await frame.locator('#status').textContent()) ?? '';
    assert.match(status, new RegExp(`stop ${first.views ? '\\d+' : ''}`));
    await screenshot('physical-memory');
  });

  it('hovers a pointer variable: the debug hover says where it lands, Alt shows the full translation', async () => {
    await showDebug();
    const frameRow = page.locator('.debug-call-stack .monaco-list-row', { hasText: /^\s*step\s*demo\.c/ }).first();
    await frameRow.waitFor({ timeout: 20000 });
    await frameRow.click();
    // `current` (the global struct pcb *) in step()'s call that maps the new chain; the locals
    // of step() may be optimized out, the global never is.
    const line = page.locator('.part.editor .view-line', { hasText: 'MmMapChainToVirtualAddress(MAP_UPD, id' }).first();
    await line.waitFor({ timeout: 20000 });
    const token = line.locator('span span', { hasText: /^current$/ }).first();
    // The language server's code lens over the allocation call (line 76) moves the lines below
    // it when it arrives: wait for it before aiming at the token.
    const lens = page.locator('.part.editor .codelens-decoration', { hasText: /\d+ live chains?, \d+ blocks? allocated here/ }).first();
    await lens.waitFor({ timeout: 30000 });
    // The editor takes the keyboard (Alt goes to it), then the mouse comes to rest on the token
    // in one jump, so that no other token is hovered on the way (a hover stays up while the
    // mouse moves towards it).
    await token.click();
    await page.mouse.move(5, 5);
    await page.keyboard.press('Escape');
    await page.waitForTimeout(500);
    await token.hover();
    await page.waitForTimeout(100);
    const box = await token.boundingBox();
    assert.ok(box, 'the token `current` is on screen');
    await page.mouse.move(box.x + box.width / 2 + 2, box.y + box.height / 2);
    // VS Code's debug hover: the adapter's value with mmscope's note.
    const debugHover = page.locator('.debug-hover-widget', { hasText: '⇒ phys' });
    await debugHover.waitFor({ state: 'visible', timeout: 20000 });
    const note = (await debugHover.textContent()) ?? '';
    assert.match(note, /\(struct pcb \*\) 0x[0-9a-f]{8}\s+⇒ phys 0x[0-9a-f]{8} · block \d+ · chain \d+, \w+ at \w+\.c:\d+/);
    await screenshot('debug-hover');
    // Alt switches to the editor's language hovers, where mmscope's server shows every step.
    await page.keyboard.down('Alt');
    try {
      const hover = page.locator('.monaco-hover:not(.hidden)', { hasText: 'points to' }).first();
      await hover.waitFor({ state: 'visible', timeout: 20000 });
      const text = (await hover.textContent()) ?? '';
      assert.match(text, /current points tovirtual 0x[0-9a-f]{8}/);
      assert.match(text, /PDE KPD\[\d+\]/);
      assert.match(text, /→ physical 0x[0-9a-f]{8}/);
      assert.match(text, /→ chain \d+/);
      const physical = /→ physical 0x([0-9a-f]{8})/.exec(text)?.[1];
      assert.ok(physical && note.includes(`phys 0x${physical}`), `both hovers name the same physical address: "${note}" / "${text}"`);
      await screenshot('hover-translation');
    } finally {
      await page.keyboard.up('Alt');
    }
  });

  it('shows the mapping of the chain in the Address space view and no findings, and a step updates the views', async () => {
    await page.mouse.move(5, 5);
    await showDebug();
    const filters = page.locator('.debug-breakpoints .monaco-list-row');
    const mapped = filters.filter({ hasText: 'Chain mapped' }).locator('input[type=checkbox]');
    if (!(await mapped.isChecked())) await mapped.click();
    const alloc = filters.filter({ hasText: 'Chain allocated' }).locator('input[type=checkbox]');
    if (await alloc.isChecked()) await alloc.click();
    const before = state()?.stop;
    await command('Debug: Continue');
    // A mapping into user space (below 256 MiB) of the running process, not an unmapping: not a
    // DOS task's low chain at 0 nor a new ring-3 process's image (0x400000) or stack (0xffxxxxx),
    // which their creator maps into a space that is not the current one.
    const s = await workerStop(await stoppedAfter(before), /\bmapped at 0x(?!400000\b)(?!f[0-9a-f]{6}\b)[1-9a-e][0-9a-f]{5,6}\b/);
    const text = stopText(s);
    const m = /chain 0x([0-9a-f]+) mapped at 0x([0-9a-f]+)/.exec(text);
    assert.ok(m, `the stop says which chain was mapped: "${text}"`);
    const chain = parseInt(m[1], 16);
    const va = parseInt(m[2], 16);
    await showMmscope();
    const space = rows('Address space');
    await space.first().waitFor({ timeout: 20000 });
    const user = space.filter({ hasText: 'User space' }).first();
    if ((await user.getAttribute('aria-expanded')) !== 'true') await user.click();
    const pde = space.filter({ hasText: `PDE ${va >>> 22}:` }).first();
    await pde.waitFor({ timeout: 20000 });
    if ((await pde.getAttribute('aria-expanded')) !== 'true') await pde.click();
    const run = space.filter({ hasText: `chain ${chain}` }).first();
    await run.waitFor({ timeout: 20000 });
    assert.match((await run.textContent()) ?? '', /→ 0x[0-9a-f]{8} /);
    // The map's webview reloads when the container is shown again: let it draw this stop first.
    const map = page.frameLocator('iframe.webview').frameLocator('#active-frame');
    await until('the map to draw this stop after the container is shown again', async () => {
      const drawn = await map.locator('body').getAttribute('data-stop').catch(() => null);
      return drawn !== null && Number(drawn) === state()?.stop ? true : undefined;
    }, 30000);
    await screenshot('address-space-mapping');
    // A clean run has no findings once the new chain is mapped (at the allocation stop itself the
    // model reports the not-yet-mapped chain as a possible leak).
    assert.deepStrictEqual(state()?.views?.findings, []);
    assert.strictEqual(await rows('Findings').count(), 0);
    await pane('Findings').locator('.welcome-view-content', { hasText: 'No findings' }).waitFor({ timeout: 10000 });
    await screenshot('findings-empty');

    const stopBefore = state()?.stop;
    const frame = page.frameLocator('iframe.webview').frameLocator('#active-frame');
    const mapStopBefore = await frame.locator('body').getAttribute('data-stop');
    await command('Debug: Step Over');
    const after = await stoppedAfter(stopBefore);
    assert.ok((after.stop ?? 0) > (stopBefore ?? 0));
    await until('the status bar to show the new stop', async () => ((await page.locator('.part.statusbar').textContent()) ?? '').includes('free /') || undefined, 20000);
    await until('the map to draw the new stop', async () => ((await frame.locator('body').getAttribute('data-stop')) !== mapStopBefore ? true : undefined), 30000);
    assert.ok(after.views?.chains.length, 'the Chains view shows the chains of the new stop');
    await page.waitForTimeout(1000); // the trees redraw their rows
    await screenshot('after-step');
  });

  it('shows a finding on a fault-injection run (demo inject=leaked-chain)', async () => {
    await command('Debug: Stop');
    await until('the session to end', () => (state()?.state === 'none' ? true : undefined), 60000);
    // The injection happens two seconds into the demo: no allocation breakpoints this time; the
    // user waits for the console's "inject: leaked-chain done" and pauses.
    await showDebug();
    const filters = page.locator('.debug-breakpoints .monaco-list-row');
    for (const label of ['Chain allocated', 'Chain mapped']) {
      const box = filters.filter({ hasText: label }).locator('input[type=checkbox]');
      if (await box.isChecked()) await box.click();
    }
    await command('Debug: Select and Start Debugging');
    await pickItem(INJECT_CONFIG);
    await until('the second session to start', () => (state()?.state !== 'none' ? true : undefined), 120000);
    await page.locator('.repl .monaco-list-row', { hasText: 'inject: leaked-chain done' }).first().waitFor({ timeout: 240000 });
    await command('Debug: Pause');
    const s = await stoppedAfter(undefined);
    assert.ok(s.views && s.views.findings.length > 0, `findings: ${JSON.stringify(s.views?.findings)}`);
    await showMmscope();
    const row = rows('Findings').filter({ hasText: 'neither mapped nor held' }).first();
    await row.waitFor({ timeout: 20000 });
    await screenshot('findings-leaked-chain');
    // The language server puts the finding in the Problems panel, at the line that allocated the chain.
    await command('View: Focus Problems (Errors, Warnings, Infos)');
    const problem = page.locator('.markers-panel .monaco-list-row', { hasText: 'neither mapped nor held' }).first();
    await problem.waitFor({ timeout: 20000 });
    const inject = fs.readFileSync(path.join(ROOT, 'guest/kernel/inject.c'), 'utf8').split('\n');
    const line = inject.findIndex((l) => l.includes('MmAllocateChain(0, 3)')) + 1;
    assert.ok(line > 0, 'inject.c allocates the leaked chain');
    assert.match((await problem.textContent()) ?? '', new RegExp(`\\[Ln ${line}, Col \\d+\\]`));
    await screenshot('problems-leaked-chain');
  });

  it('keeps the views moving while the guest runs with live refresh on', async () => {
    await command('mmscope: Toggle Live Refresh While Running');
    await command('Debug: Continue');
    // Live snapshots (negative stop keys, state still "running") arrive without a stop.
    const live = await until('a live snapshot while the guest runs', () => {
      const s = state();
      return s?.state === 'running' && s.views && (s.stop ?? 0) < 0 ? s : undefined;
    }, 60000);
    assert.ok(live.views?.findings.length, 'the leak is still reported while running');
    const first = live.stop ?? 0;
    await until('a second live snapshot', () => ((state()?.stop ?? 0) < first ? true : undefined), 30000);
    await until('the status bar to show the live numbers', async () => ((await page.locator('.part.statusbar').textContent()) ?? '').includes('free /') || undefined, 20000);
    await screenshot('live-refresh');
    await command('mmscope: Toggle Live Refresh While Running');
    await command('Debug: Stop');
  });
});
