// The script of the "Physical memory" webview view: draws the snapshot with the shared
// PhysicalMemoryMap (extension/webview): our guest's block map with the blocks changed since the
// last stop outlined, or any kernel's frame map with its legend; reports clicks (reveal the chain
// in the Chains view, or the frame) and what it drew back to the extension.

import { PhysicalMemoryMap } from '../webview/memory-map.js';
import { isGuestView } from '../../contract/guest-document.js';
import type { SnapshotView } from '../../contract/guest-document.js';

interface VsCodeApi {
  postMessage(message: unknown): void;
}
declare function acquireVsCodeApi(): VsCodeApi;

type HostMessage =
  | { type: 'snapshot'; snapshot: SnapshotView; changedBlocks: number[] }
  | { type: 'select'; chain: number | undefined }
  | { type: 'selectFrame'; frame: number }
  | { type: 'clear'; text: string };

const vscode = acquireVsCodeApi();
const status = document.getElementById('status') as HTMLDivElement;
const host = document.getElementById('map') as HTMLDivElement;
const map = new PhysicalMemoryMap(host, {
  onSelect: (chain) => vscode.postMessage({ type: 'select', chain }),
  onSelectFrame: (frame) => vscode.postMessage({ type: 'selectFrame', frame }),
  maxCellSize: 10,
  maxHeight: 2000,
});

const stopText = (s: SnapshotView): string => (s.stop < 0 || s.live ? 'live, while running' : `stop ${s.stop}`);

window.addEventListener('message', (e: MessageEvent<HostMessage>) => {
  const m = e.data;
  if (m.type === 'snapshot') {
    map.update(m.snapshot, new Set(m.changedBlocks));
    const s = m.snapshot;
    if (isGuestView(s)) {
      const b = s.blocks;
      status.textContent = `${stopText(s)} · ${b.total} blocks: ${b.used} used, ${b.free} free · ${m.changedBlocks.length} changed`;
    } else {
      const c = s.frames.counts;
      const a = s.frames.allocationCounts;
      status.textContent = `${stopText(s)} · ${s.frames.count} frames: ${c.mapped + c.multi} mapped, ${c.table} page tables, ${c.unmapped} unmapped${a ? ` · allocator: ${a.used} used, ${a.free} free` : ''}`;
    }
    document.body.dataset.cells = String(map.cells);
    document.body.dataset.mode = map.mode;
    document.body.dataset.stop = String(s.stop);
    vscode.postMessage({ type: 'rendered', cells: map.cells, changed: m.changedBlocks.length, stop: s.stop, mode: map.mode, framesPerCell: map.frameCells?.framesPerCell });
  } else if (m.type === 'select') {
    map.select(m.chain);
  } else if (m.type === 'selectFrame') {
    map.selectFrame(m.frame);
  } else if (m.type === 'clear') {
    status.textContent = m.text;
    document.body.dataset.cells = '0';
  }
});
vscode.postMessage({ type: 'ready' });
document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'visible') vscode.postMessage({ type: 'ready' });
});
