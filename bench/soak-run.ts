// The soak run behind `npm run bench:soak` (bench/soak.ts, 10 minutes) and the soak test
// (debug-adapter/test/soak.test.ts, shorter): `mmscope serve` as a user runs it (node
// bin/mmscope.js, its own process, launched with --inspect on loopback so that its heap can be
// read after a forced GC) keeps a guest live at 10 snapshots per second, the dashboard page is
// open in headless Chromium, and both are sampled now and then: the adapter's RSS (/proc) and V8
// heap (inspector: HeapProfiler.collectGarbage, Runtime.getHeapUsage), the page's JS heap and
// DOM nodes (CDP: HeapProfiler.collectGarbage, Performance.getMetrics) and the snapshots the page
// shows. After a warm-up, the last third's medians are compared with the first third's.

import { ChildProcess, spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import WebSocket from 'ws';
import { chromium, BrowserContext, CDPSession, Page } from 'playwright-core';

const ROOT = path.resolve(__dirname, '..', '..');
const BIN = path.join(ROOT, 'bin', 'mmscope.js');
export const CHROMIUM = '/usr/bin/chromium';
const MB = 1024 * 1024;

export interface SoakOptions {
  readonly seconds: number;
  readonly memoryMiB: number;
  readonly rate: number;
  /** Guest command line (default `demo`). */
  readonly cmdline?: string;
  /** Time between samples (default: seconds / 40, at least 2 s). */
  readonly sampleEveryMs?: number;
  /** Samples before this are not compared (default: the first 20 % of the run, at least 20 s). */
  readonly warmupSeconds?: number;
  readonly log?: (line: string) => void;
}

export interface SoakSample {
  /** Seconds since the page showed its first snapshot. */
  readonly t: number;
  readonly adapterRssMB: number;
  readonly adapterHeapMB: number;
  /** Memory of Buffers and ArrayBuffers outside the V8 heap (process.memoryUsage().external). */
  readonly adapterExternalMB: number;
  readonly pageHeapMB: number;
  readonly pageNodes: number;
  readonly pageListeners: number;
  /** The seq the page shows. */
  readonly pageSeq: number;
}

export interface GrowthCheck {
  readonly what: string;
  readonly first: number;
  readonly last: number;
  readonly limit: number;
  readonly ok: boolean;
}

export interface SoakResult {
  readonly samples: readonly SoakSample[];
  readonly compared: readonly SoakSample[];
  readonly checks: readonly GrowthCheck[];
  readonly maxAdapterRssMB: number;
  readonly maxAdapterHeapMB: number;
  /** Snapshots the page received per second over the run (its seq advances by one per published snapshot). */
  readonly deliveredPerSecond: number;
  readonly pageErrors: readonly string[];
  readonly seconds: number;
}

export function median(v: readonly number[]): number {
  const s = [...v].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A minimal client of the Node inspector protocol (one WebSocket, request ids). */
class Inspector {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private constructor(private readonly ws: WebSocket) {
    ws.on('message', (data) => {
      const m = JSON.parse(data.toString()) as { id?: number; result?: unknown; error?: { message: string } };
      const p = m.id === undefined ? undefined : this.pending.get(m.id);
      if (!p || m.id === undefined) return;
      this.pending.delete(m.id);
      if (m.error) p.reject(new Error(m.error.message));
      else p.resolve(m.result);
    });
  }

  static connect(url: string): Promise<Inspector> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url);
      ws.once('open', () => resolve(new Inspector(ws)));
      ws.once('error', reject);
    });
  }

  send<T>(method: string, params: object = {}): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.ws.send(JSON.stringify({ id, method, params }));
    });
  }

  close(): void {
    this.ws.terminate();
  }
}

/** Starts `mmscope serve` with the inspector on; resolves with its page URL and inspector URL. */
function startServe(args: string[]): Promise<{ child: ChildProcess; url: string; inspector: string; stderr: () => string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--inspect=127.0.0.1:0', BIN, 'serve', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let url: string | undefined;
    let inspector: string | undefined;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`mmscope serve printed no JSON line within 180 s; stderr: ${err}`));
    }, 180_000);
    const check = (): void => {
      if (url && inspector) {
        clearTimeout(timer);
        resolve({ child, url, inspector, stderr: () => err });
      }
    };
    child.stderr?.on('data', (c: Buffer) => {
      err += c.toString();
      inspector ??= /Debugger listening on (ws:\/\/\S+)/.exec(err)?.[1];
      check();
    });
    child.stdout?.on('data', (c: Buffer) => {
      out += c.toString();
      const nl = out.indexOf('\n');
      if (nl >= 0 && !url) url = (JSON.parse(out.slice(0, nl)) as { url: string }).url;
      check();
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`mmscope serve exited with ${code} before it served; stderr: ${err}`));
    });
  });
}

function rssMB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

async function sample(t: number, pid: number, node: Inspector, page: Page, cdp: CDPSession): Promise<SoakSample> {
  await node.send('HeapProfiler.collectGarbage');
  const heap = await node.send<{ usedSize: number }>('Runtime.getHeapUsage');
  const usage = await node.send<{ result: { value: string } }>('Runtime.evaluate', { expression: 'JSON.stringify(process.memoryUsage())', returnByValue: true });
  const external = (JSON.parse(usage.result.value) as { external: number }).external;
  await cdp.send('HeapProfiler.collectGarbage');
  const { metrics } = await cdp.send('Performance.getMetrics');
  const metric = (name: string): number => metrics.find((m) => m.name === name)?.value ?? NaN;
  const pageSeq = Number(await page.evaluate<string>('document.body.dataset.seq || "0"'));
  return {
    t,
    adapterRssMB: rssMB(pid),
    adapterHeapMB: heap.usedSize / MB,
    adapterExternalMB: external / MB,
    pageHeapMB: metric('JSHeapUsedSize') / MB,
    pageNodes: metric('Nodes'),
    pageListeners: metric('JSEventListeners'),
    pageSeq,
  };
}

/**
 * The growth checks, with their tolerances. After a forced GC the heaps hold the current
 * snapshot document (and the page its DOM), whose size follows how many chains the demo holds
 * at that moment. Allowed: 10 % over the first third's median plus a floor of 2 MB for the
 * heaps, 10 MB for RSS (it also carries pages the allocator gives back late), 500 DOM nodes and
 * 50 event listeners. A leak of one retained snapshot, DOM table or listener per refresh (10 per
 * second) goes over that within seconds.
 */
export function growthChecks(compared: readonly SoakSample[]): GrowthCheck[] {
  const third = Math.max(1, Math.floor(compared.length / 3));
  const first = compared.slice(0, third);
  const last = compared.slice(-third);
  const check = (what: string, pick: (s: SoakSample) => number, floor: number): GrowthCheck => {
    const f = median(first.map(pick));
    const l = median(last.map(pick));
    const limit = f * 1.1 + floor;
    return { what, first: f, last: l, limit, ok: l <= limit };
  };
  return [
    check('adapter RSS (MB)', (s) => s.adapterRssMB, 10),
    check('adapter heap after GC (MB)', (s) => s.adapterHeapMB, 2),
    check('page JS heap after GC (MB)', (s) => s.pageHeapMB, 2),
    check('page DOM nodes', (s) => s.pageNodes, 500),
    check('page event listeners', (s) => s.pageListeners, 50),
  ];
}

export async function runSoak(options: SoakOptions): Promise<SoakResult> {
  const log = options.log ?? (() => undefined);
  if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: run "bash scripts/setup.sh" (it installs Debian's chromium).`);
  const everyMs = options.sampleEveryMs ?? Math.max(2000, (options.seconds * 1000) / 40);
  const warmup = options.warmupSeconds ?? Math.max(20, options.seconds * 0.2);
  const serve = await startServe(['--memory', String(options.memoryMiB), '--cmdline', options.cmdline ?? 'demo', '--rate', String(options.rate)]);
  const pid = serve.child.pid as number;
  let node: Inspector | undefined;
  let context: BrowserContext | undefined;
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'mmscope-soak-chromium-'));
  try {
    node = await Inspector.connect(serve.inspector);
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      timeout: 60_000,
      viewport: { width: 1400, height: 900 },
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    const page = await context.newPage();
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));
    await page.goto(serve.url, { timeout: 60_000 });
    // Polled with evaluate (CDP, outside the page's CSP, which forbids waitForFunction's eval).
    const shown = Date.now() + 120_000;
    while (Number(await page.evaluate<string>('document.body.dataset.seq || "0"')) <= 0) {
      if (Date.now() > shown) throw new Error('the dashboard showed no snapshot within 120 s');
      await sleep(250);
    }
    const cdp = await context.newCDPSession(page);
    await cdp.send('Performance.enable');
    const started = Date.now();
    const samples: SoakSample[] = [];
    for (;;) {
      const t = (Date.now() - started) / 1000;
      if (serve.child.exitCode !== null) throw new Error(`mmscope serve exited during the soak; stderr: ${serve.stderr()}`);
      const s = await sample(t, pid, node, page, cdp);
      samples.push(s);
      log(`t=${t.toFixed(0)}s adapter rss ${s.adapterRssMB.toFixed(1)} MB heap ${s.adapterHeapMB.toFixed(1)} MB external ${s.adapterExternalMB.toFixed(1)} MB; page heap ${s.pageHeapMB.toFixed(1)} MB nodes ${s.pageNodes} seq ${s.pageSeq}`);
      if (t >= options.seconds) break;
      await sleep(Math.min(everyMs, Math.max(0, options.seconds * 1000 - (Date.now() - started))));
    }
    const compared = samples.filter((s) => s.t >= warmup);
    const lastS = samples[samples.length - 1];
    const firstS = samples[0];
    return {
      samples,
      compared,
      checks: growthChecks(compared),
      maxAdapterRssMB: Math.max(...samples.map((s) => s.adapterRssMB)),
      maxAdapterHeapMB: Math.max(...samples.map((s) => s.adapterHeapMB)),
      deliveredPerSecond: (lastS.pageSeq - firstS.pageSeq) / (lastS.t - firstS.t),
      pageErrors,
      seconds: lastS.t,
    };
  } finally {
    node?.close();
    await context?.close().catch(() => undefined);
    fs.rmSync(profile, { recursive: true, force: true });
    serve.child.kill('SIGTERM');
    await new Promise<void>((resolve) => {
      if (serve.child.exitCode !== null) return resolve();
      const timer = setTimeout(() => {
        serve.child.kill('SIGKILL');
        resolve();
      }, 30_000);
      serve.child.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}
