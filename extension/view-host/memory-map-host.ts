// The script of the "Physical memory" webview view: draws the snapshot with the shared
// PhysicalMemoryMap (extension/webview), outlines the blocks changed since the last stop, and
// reports clicks (reveal the chain in the Chains view) and what it drew back to the extension.

import { PhysicalMemoryMap } from '../webview/memory-map.js';
import type { SnapshotView } from '../webview/snapshot-view.js';

interface VsCodeApi {
  postMessage(message: unknown): void;
}
declare function acquireVsCodeApi(): VsCodeApi;

type HostMessage =
  | { type: 'snapshot'; snapshot: SnapshotView; changedBlocks: number[] }
  | { type: 'select'; chain: number | undefined }
  | { type: 'clear'; text: string };

const vscode = acquireVsCodeApi();
const status = document.getElementById('status') as HTMLDivElement;
const host = document.getElementById('map') as HTMLDivElement;
const map = new PhysicalMemoryMap(host, { onSelect: (chain) => vscode.postMessage({ type: 'select', chain }), maxCellSize: 10, maxHeight: 2000 });

window.addEventListener('message', (e: MessageEvent<HostMessage>) => {
  const m = e.data;
  if (m.type === 'snapshot') {
    map.update(m.snapshot, new Set(m.changedBlocks));
    const b = m.snapshot.blocks;
    status.textContent = `${m.snapshot.stop < 0 ? 'live, while running' : `stop ${m.snapshot.stop}`} · ${b.total} blocks: ${b.used} used, ${b.free} free · ${m.changedBlocks.length} changed`;
    document.body.dataset.cells = String(b.map.length);
    document.body.dataset.stop = String(m.snapshot.stop);
    vscode.postMessage({ type: 'rendered', cells: b.map.length, changed: m.changedBlocks.length, stop: m.snapshot.stop });
  } else if (m.type === 'select') {
    map.select(m.chain);
  } else if (m.type === 'clear') {
    status.textContent = m.text;
    document.body.dataset.cells = '0';
  }
});
vscode.postMessage({ type: 'ready' });
document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'visible') vscode.postMessage({ type: 'ready' });
});
