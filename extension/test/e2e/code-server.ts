// The end-to-end harness: a real VS Code (code-server from npm, installed by scripts/e2e-setup.sh)
// with this repository open and the extension linked in, shown in Debian's chromium driven by
// playwright-core. Everything lives in a scratch folder; stop() ends code-server and every process
// it started (the debug adapter, QEMU), found through the process tree.

import { ChildProcess, spawn } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { BrowserContext, Page, chromium } from 'playwright-core';

export const CODE_SERVER_VERSION = '4.100.3';
export const CHROMIUM = '/usr/bin/chromium';

export function codeServerBinary(): string {
  const cache = process.env.MMSCOPE_E2E_CACHE ?? path.join(os.homedir(), '.cache', 'mmscope-e2e');
  return path.join(cache, `code-server-${CODE_SERVER_VERSION}`, 'node_modules', '.bin', 'code-server');
}

/** Why the e2e cannot run here, or undefined when it can. */
export function missingPrerequisite(): string | undefined {
  if (!fs.existsSync(codeServerBinary())) return `code-server is not installed at ${codeServerBinary()}; run "bash scripts/e2e-setup.sh"`;
  if (!fs.existsSync(CHROMIUM)) return `${CHROMIUM} is missing; run "bash scripts/e2e-setup.sh"`;
  return undefined;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** Every descendant of `pid` (children first found through /proc). */
function descendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const list = children.get(ppid) ?? [];
      list.push(Number(entry));
      children.set(ppid, list);
    } catch {
      // the process ended meanwhile
    }
  }
  const out: number[] = [];
  const walk = (p: number): void => {
    for (const c of children.get(p) ?? []) {
      out.push(c);
      walk(c);
    }
  };
  walk(pid);
  return out;
}

export interface WorkbenchOptions {
  /** The folder to open. */
  readonly folder: string;
  /** The extension's folder (linked into the extensions dir). */
  readonly extension: string;
  /** User settings merged over the defaults. */
  readonly settings?: Record<string, unknown>;
}

export class Workbench {
  readonly scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'mmscope-e2e-'));
  readonly stateFile = path.join(this.scratch, 'extension-state.json');
  private server: ChildProcess | undefined;
  private context: BrowserContext | undefined;
  page!: Page;
  port = 0;
  log = '';

  constructor(private readonly options: WorkbenchOptions) {}

  async start(): Promise<void> {
    const d = (n: string): string => {
      const p = path.join(this.scratch, n);
      fs.mkdirSync(p, { recursive: true });
      return p;
    };
    const userData = d('user-data');
    const extensions = d('extensions');
    fs.mkdirSync(path.join(userData, 'User'), { recursive: true });
    fs.writeFileSync(path.join(userData, 'User', 'settings.json'), JSON.stringify({
      'workbench.startupEditor': 'none',
      'telemetry.telemetryLevel': 'off',
      'update.mode': 'none',
      'extensions.autoCheckUpdates': false,
      'extensions.autoUpdate': false,
      'security.workspace.trust.enabled': false,
      'workbench.tips.enabled': false,
      'workbench.enableExperiments': false,
      'debug.openDebug': 'openOnDebugBreak',
      'editor.hover.delay': 200,
      'git.enabled': false,
      ...this.options.settings,
    }, null, 1));
    const pkg = JSON.parse(fs.readFileSync(path.join(this.options.extension, 'package.json'), 'utf8')) as { publisher: string; name: string; version: string };
    fs.symlinkSync(this.options.extension, path.join(extensions, `${pkg.publisher}.${pkg.name}-${pkg.version}`));
    this.port = await freePort();
    const config = path.join(this.scratch, 'code-server.yaml');
    fs.writeFileSync(config, `bind-addr: 127.0.0.1:${this.port}\nauth: none\ncert: false\n`);
    const env = {
      ...process.env,
      XDG_CONFIG_HOME: d('xdg-config'),
      XDG_DATA_HOME: d('xdg-data'),
      XDG_CACHE_HOME: d('xdg-cache'),
      TMPDIR: d('tmp'),
      MMSCOPE_E2E_STATE: this.stateFile,
    };
    this.server = spawn(codeServerBinary(), [
      '--config', config, '--user-data-dir', userData, '--extensions-dir', extensions,
      '--disable-telemetry', '--disable-update-check', '--disable-workspace-trust', '--disable-getting-started-override',
      this.options.folder,
    ], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.server.stdout?.on('data', (b: Buffer) => (this.log += b.toString()));
    this.server.stderr?.on('data', (b: Buffer) => (this.log += b.toString()));
    const deadline = Date.now() + 60000;
    for (;;) {
      if (this.server.exitCode !== null) throw new Error(`code-server exited with ${this.server.exitCode}: ${this.log.slice(-2000)}`);
      try {
        const r = await fetch(`http://127.0.0.1:${this.port}/healthz`);
        if (r.ok) break;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error(`code-server did not answer /healthz within 60 s: ${this.log.slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 300));
    }
    this.context = await chromium.launchPersistentContext(d('chromium-profile'), {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 1680, height: 1050 },
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    this.page = this.context.pages()[0] ?? (await this.context.newPage());
    await this.page.goto(`http://127.0.0.1:${this.port}/?folder=${encodeURIComponent(this.options.folder)}`);
    await this.page.waitForSelector('.part.statusbar', { timeout: 60000 });
  }

  /** What the extension reported last (MMSCOPE_E2E_STATE). */
  state<T>(): T | undefined {
    try {
      return JSON.parse(fs.readFileSync(this.stateFile, 'utf8')) as T;
    } catch {
      return undefined;
    }
  }

  async stop(): Promise<void> {
    await this.context?.close().catch(() => undefined);
    const server = this.server;
    if (server?.pid !== undefined && server.exitCode === null) {
      const all = descendants(server.pid);
      for (const pid of [server.pid, ...all]) {
        try {
          process.kill(pid, 'SIGTERM');
        } catch {
          // gone already
        }
      }
      await Promise.race([new Promise((r) => server.once('exit', r)), new Promise((r) => setTimeout(r, 5000))]);
      for (const pid of [server.pid, ...all]) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone
        }
      }
    }
    if (!process.env.MMSCOPE_E2E_KEEP) fs.rmSync(this.scratch, { recursive: true, force: true });
  }
}

/** Polls `f` every 250 ms until it gives a value (not undefined or false); throws after `ms` naming `what`. */
export async function until<T>(what: string, f: () => T | undefined | false | Promise<T | undefined | false>, ms: number): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms / 1000} s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Numbered screenshots (01-name.png, 02-...) of the page `page()` gives, into `dir`. */
export function screenshotter(page: () => Page, dir: string): (name: string) => Promise<void> {
  let shot = 0;
  return async (name) => {
    fs.mkdirSync(dir, { recursive: true });
    await page().screenshot({ path: path.join(dir, `${String(++shot).padStart(2, '0')}-${name}.png`) });
  };
}
