// The "Screen" webview view: the guest's display, fetched from the adapter with `mmscope/screen`
// (a PNG, plus the VGA text console as copyable text in text modes) at every stop and a few times
// a second while the guest runs, only while the view is visible. Keys pressed while the view has
// focus go to the guest with `mmscope/sendKey` (KeyboardEvent.code; the adapter maps it to QEMU).

import * as vscode from 'vscode';
import { DapRequest } from '../../../contract/dap';

/** Screens per second while the guest runs. */
export const RUNNING_REFRESH_PER_SECOND = 4;

export interface ScreenBody {
  png: string;
  width: number;
  height: number;
  mode: 'text' | 'graphics';
  text?: string;
}

export class ScreenView implements vscode.WebviewViewProvider {
  static readonly viewId = 'mmscope.screen';
  private view: vscode.WebviewView | undefined;
  private ready = false;
  private session: vscode.DebugSession | undefined;
  private running = false;
  private inFlight = false;
  private again = false;
  private timer: NodeJS.Timeout | undefined;
  /** The last screen shown and how many were fetched (for the e2e state file). */
  rendered: { width: number; height: number; mode: string; text?: string; count: number; keys: number; error?: string } | undefined;
  private fetched = 0;
  private keys = 0;

  constructor(private readonly extensionUri: vscode.Uri, private readonly onRendered: () => void) {}

  get visible(): boolean {
    return this.view?.visible ?? false;
  }

  /** The session whose screen to show (undefined when it ended). */
  setSession(session: vscode.DebugSession | undefined): void {
    this.session = session;
    this.running = session !== undefined;
    if (!session) {
      this.clearTimer();
      void this.view?.webview.postMessage({ type: 'message', text: 'No mmscope session is running.' });
    }
    this.refresh();
  }

  stopped(): void {
    this.running = false;
    this.refresh();
  }

  continued(): void {
    this.running = true;
    this.refresh();
  }

  resolveWebviewView(view: vscode.WebviewView): void {
    this.view = view;
    this.ready = false;
    const dist = vscode.Uri.joinPath(this.extensionUri, 'dist', 'webview');
    view.webview.options = { enableScripts: true, localResourceRoots: [dist] };
    const script = view.webview.asWebviewUri(vscode.Uri.joinPath(dist, 'screen-host.js'));
    const nonce = Array.from({ length: 16 }, () => Math.floor(Math.random() * 36).toString(36)).join('');
    view.webview.html = `<!DOCTYPE html><html><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'nonce-${nonce}';">
<style>
body{padding:4px 6px;color:var(--vscode-foreground);font:12px var(--vscode-font-family)}
#status{margin:2px 0 6px;color:var(--vscode-descriptionForeground)}
#screen{outline:none;display:inline-block;border:1px solid var(--vscode-panel-border,#444);max-width:100%}
#screen:focus{border-color:var(--vscode-focusBorder)}
#screen img{display:block;max-width:100%;image-rendering:pixelated}
#text{font:12px var(--vscode-editor-font-family,monospace);white-space:pre;user-select:text;overflow-x:auto;margin-top:6px}
</style></head><body>
<div id="status">No mmscope session is running.</div>
<div id="screen" tabindex="0" title="Click here, then type: keys go to the guest"><img id="image" alt="the guest's screen"></div>
<pre id="text" hidden></pre>
<script nonce="${nonce}" src="${script}"></script></body></html>`;
    view.webview.onDidReceiveMessage((m: { type: string; code?: string; shift?: boolean; ctrl?: boolean; alt?: boolean; meta?: boolean; width?: number; height?: number }) => {
      if (m.type === 'ready') {
        this.ready = true;
        this.refresh();
      } else if (m.type === 'key' && typeof m.code === 'string') {
        void this.sendKey(m.code, m);
      } else if (m.type === 'rendered' && this.rendered) {
        this.rendered = { ...this.rendered, width: m.width ?? this.rendered.width, height: m.height ?? this.rendered.height };
        this.onRendered();
      }
    });
    view.onDidChangeVisibility(() => this.refresh());
    view.onDidDispose(() => {
      this.view = undefined;
      this.clearTimer();
    });
  }

  private async sendKey(code: string, m: { shift?: boolean; ctrl?: boolean; alt?: boolean; meta?: boolean }): Promise<void> {
    const session = this.session;
    if (!session) return;
    try {
      await session.customRequest(DapRequest.sendKey, { code, shift: m.shift, ctrl: m.ctrl, alt: m.alt, meta: m.meta });
      this.keys++;
    } catch (e) {
      void this.view?.webview.postMessage({ type: 'message', text: e instanceof Error ? e.message : String(e) });
    }
    this.refresh();
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Fetches the screen now (once; again after the fetch in flight), when the view shows. */
  refresh(): void {
    if (!this.view?.visible || !this.ready || !this.session) return;
    if (this.inFlight) {
      this.again = true;
      return;
    }
    this.clearTimer();
    void this.fetch(this.session);
  }

  private async fetch(session: vscode.DebugSession): Promise<void> {
    this.inFlight = true;
    let failed = false;
    try {
      const body = (await session.customRequest(DapRequest.screen)) as ScreenBody;
      if (session !== this.session) return;
      this.fetched++;
      this.rendered = { width: body.width, height: body.height, mode: body.mode, text: body.text, count: this.fetched, keys: this.keys };
      void this.view?.webview.postMessage({ type: 'screen', ...body, running: this.running, count: this.fetched });
    } catch (e) {
      failed = true;
      const text = e instanceof Error ? e.message : String(e);
      this.rendered = { width: 0, height: 0, mode: 'none', count: this.fetched, keys: this.keys, error: text };
      void this.view?.webview.postMessage({ type: 'message', text });
      this.onRendered();
    } finally {
      this.inFlight = false;
    }
    if (this.again) {
      this.again = false;
      this.refresh();
    } else if (this.running && this.session === session && this.view?.visible) {
      // After a failure (no display adapter, the session still starting) ask once a second only.
      this.timer = setTimeout(() => this.refresh(), failed ? 1000 : 1000 / RUNNING_REFRESH_PER_SECOND);
    }
  }

  /** The text console of the last screen, when in text mode. */
  get text(): string | undefined {
    return this.rendered?.mode === 'text' ? this.rendered.text : undefined;
  }
}
