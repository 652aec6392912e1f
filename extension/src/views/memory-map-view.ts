// The "Physical memory" webview view: hosts extension/webview's PhysicalMemoryMap (bundled into
// dist/webview/memory-map-host.js) and feeds it the store's snapshot: our guest's block map, or any
// kernel's frame map. Clicking a block reveals its chain in the Chains view.

import * as vscode from 'vscode';
import { SnapshotStore } from '../snapshot-store';

export class MemoryMapView implements vscode.WebviewViewProvider {
  static readonly viewId = 'mmscope.physicalMemory';
  private view: vscode.WebviewView | undefined;
  private ready = false;
  private sentFor: unknown;
  /** What the webview last reported drawing (for the e2e state file). */
  rendered: { cells: number; changed: number; stop: number; mode?: string; framesPerCell?: number } | undefined;

  constructor(private readonly extensionUri: vscode.Uri, private readonly store: SnapshotStore, private readonly onSelectChain: (chain: number) => void, private readonly onRendered: () => void) {}

  get visible(): boolean {
    return this.view?.visible ?? false;
  }

  resolveWebviewView(view: vscode.WebviewView): void {
    this.view = view;
    this.ready = false;
    this.sentFor = undefined;
    const dist = vscode.Uri.joinPath(this.extensionUri, 'dist', 'webview');
    view.webview.options = { enableScripts: true, localResourceRoots: [dist] };
    const script = view.webview.asWebviewUri(vscode.Uri.joinPath(dist, 'memory-map-host.js'));
    const css = view.webview.asWebviewUri(vscode.Uri.joinPath(dist, 'memory-map-host.css'));
    const nonce = Array.from({ length: 16 }, () => Math.floor(Math.random() * 36).toString(36)).join('');
    view.webview.html = `<!DOCTYPE html><html><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src ${view.webview.cspSource} 'unsafe-inline'; script-src 'nonce-${nonce}';">
<link rel="stylesheet" href="${css}">
<style>body{padding:4px 6px;background:transparent;color:var(--vscode-foreground);font:12px var(--vscode-font-family)} #status{margin:2px 0 6px;color:var(--vscode-descriptionForeground)}</style>
</head><body data-cells="0"><div id="status">No mmscope session is stopped.</div><div id="map"></div>
<script nonce="${nonce}" src="${script}"></script></body></html>`;
    view.webview.onDidReceiveMessage((m: { type: string; chain?: number; frame?: number; cells?: number; changed?: number; stop?: number; mode?: string; framesPerCell?: number }) => {
      if (m.type === 'ready') {
        // Sent when the script starts and whenever the webview is shown again: send it all.
        this.ready = true;
        this.sentFor = undefined;
        this.update(true);
      } else if (m.type === 'select' && typeof m.chain === 'number') {
        this.onSelectChain(m.chain);
      } else if (m.type === 'rendered') {
        this.rendered = { cells: m.cells ?? 0, changed: m.changed ?? 0, stop: m.stop ?? -1, mode: m.mode, framesPerCell: m.framesPerCell };
        this.onRendered();
      }
    });
    view.onDidChangeVisibility(() => {
      if (view.visible) this.update(true);
    });
    view.onDidDispose(() => (this.view = undefined));
  }

  /** Sends the store's snapshot to the webview when it is visible and has not seen it. */
  update(force = false): void {
    const view = this.view;
    if (!view || !this.ready || (!view.visible && !force)) return;
    const snap = this.store.snapshot;
    if (!snap || this.store.state === 'none') {
      this.sentFor = undefined;
      const text = this.store.state === 'running'
        ? 'The guest is running; the map shows the next stop.'
        : this.store.unavailable ?? 'No mmscope session is stopped.';
      void view.webview.postMessage({ type: 'clear', text });
      return;
    }
    if (this.sentFor === snap) return;
    this.sentFor = snap;
    // The blocks to outline are the adapter's (the same changes the dashboard's delta carries).
    void view.webview.postMessage({ type: 'snapshot', snapshot: snap, changedBlocks: this.store.changes?.changedBlocks ?? [] });
  }

  select(chain: number | undefined): void {
    void this.view?.webview.postMessage({ type: 'select', chain });
  }

  /** Outlines the cell of the frame map that holds `frame` (a frame number). */
  selectFrame(frame: number): void {
    void this.view?.webview.postMessage({ type: 'selectFrame', frame });
  }
}
