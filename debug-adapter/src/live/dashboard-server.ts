// The dashboard's HTTP server on 127.0.0.1: the page (token required), its scripts and style
// (the browser build of extension/webview, the same code the VS Code webview runs), the latest
// snapshot as JSON for scripts, and the live feed's WebSocket endpoint on the same port.

import * as fs from 'fs';
import * as http from 'http';
import * as path from 'path';
import { LiveFeed, LiveFeedOptions } from './live-feed';
import { FEED_PATH } from '../../../contract/live-protocol';
import { dashboardPage } from './dashboard-page';

/** The repository (or package) root, from out/debug-adapter/src/live. */
const PACKAGE_ROOT = path.resolve(__dirname, '..', '..', '..', '..');
/** Where `tsc -p extension/webview` writes the browser build. */
export const WEBVIEW_BUILD_DIR = path.join(PACKAGE_ROOT, 'out', 'webview');
const STYLE_FILE = path.join(PACKAGE_ROOT, 'extension', 'webview', 'dashboard.css');
export const DASHBOARD_SCRIPT = 'extension/webview/dashboard.js';

/** The browser build is missing: `npm run build:ts` makes it. */
export class DashboardBuildMissingError extends Error {
  constructor(file: string) {
    super(`The dashboard's browser code ${file} is missing; build it with "npm run build:ts" (it runs tsc -p extension/webview).`);
    this.name = 'DashboardBuildMissingError';
  }
}

export interface DashboardServer {
  readonly feed: LiveFeed;
  readonly port: number;
  /** The page, with the token. */
  readonly url: string;
  /** The feed's WebSocket URL, with the token. */
  readonly wsUrl: string;
  close(): Promise<void>;
}

export interface DashboardOptions extends LiveFeedOptions {
  /** Port on 127.0.0.1; default 0 (the kernel picks a free one). */
  readonly port?: number;
}

const TYPES: Record<string, string> = { '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8', '.map': 'application/json' };

function securityHeaders(port: number): Record<string, string> {
  return {
    'Content-Security-Policy':
      `default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; ` +
      `connect-src ws://127.0.0.1:${port} ws://localhost:${port}; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`,
    'X-Content-Type-Options': 'nosniff',
    // The token is in the URL: never send it to anyone in a Referer.
    'Referrer-Policy': 'no-referrer',
    'Cache-Control': 'no-store',
  };
}

/** Starts the dashboard server on 127.0.0.1. Throws DashboardBuildMissingError when the browser build is absent. */
export async function startDashboardServer(options: DashboardOptions = {}): Promise<DashboardServer> {
  const script = path.join(WEBVIEW_BUILD_DIR, DASHBOARD_SCRIPT);
  if (!fs.existsSync(script)) throw new DashboardBuildMissingError(script);
  const feed = new LiveFeed(options);
  let port = 0;
  const server = http.createServer((req, res) => {
    const send = (status: number, type: string, body: string | Buffer): void => {
      res.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body), ...securityHeaders(port) });
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, 'text/plain; charset=utf-8', 'The dashboard is read-only: only GET is served.\n');
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (url.pathname === '/' || url.pathname === '/snapshot.json') {
      const refusal = feed.checkRequest(req, { origin: false });
      if (refusal) return send(refusal.status, 'text/plain; charset=utf-8', refusal.message + '\n');
      if (url.pathname === '/') return send(200, 'text/html; charset=utf-8', dashboardPage(`/assets/${DASHBOARD_SCRIPT}`, '/assets/dashboard.css'));
      const latest = feed.latest;
      if (!latest) return send(503, 'text/plain; charset=utf-8', 'No snapshot yet: the guest is still starting; try again in a moment.\n');
      return send(200, 'application/json', JSON.stringify({ seq: latest.seq, live: latest.live, snapshot: latest.json }));
    }
    if (url.pathname.startsWith('/assets/')) {
      const refusal = feed.checkRequest(req, { origin: false });
      // Assets are public code, but still only for loopback Host headers.
      if (refusal && refusal.status === 421) return send(refusal.status, 'text/plain; charset=utf-8', refusal.message + '\n');
      const rel = decodeURIComponent(url.pathname.slice('/assets/'.length));
      const file = rel === 'dashboard.css' ? STYLE_FILE : path.resolve(WEBVIEW_BUILD_DIR, rel);
      const type = TYPES[path.extname(file)];
      if (type && (file === STYLE_FILE || file.startsWith(WEBVIEW_BUILD_DIR + path.sep)) && fs.existsSync(file) && fs.statSync(file).isFile()) {
        return send(200, type, fs.readFileSync(file));
      }
    }
    if (url.pathname === '/favicon.ico') return send(204, 'text/plain', '');
    send(404, 'text/plain; charset=utf-8', `Nothing at ${url.pathname}; the dashboard is at /?token=...\n`);
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  feed.attach(server);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: options.port ?? 0 }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  port = (server.address() as { port: number }).port;
  return {
    feed,
    port,
    url: `http://127.0.0.1:${port}/?token=${feed.token}`,
    wsUrl: `ws://127.0.0.1:${port}${FEED_PATH}?token=${feed.token}`,
    close: () =>
      new Promise<void>((resolve) => {
        feed.close();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
