// The mmscope view container's views (Address space, Processes, Allocators/Chains, Findings,
// Physical memory, Screen) and the status bar item, kept up to date from the snapshot store: one
// listener redraws them all when the store changes. Opening a view fetches nothing: the store
// holds what the adapter pushed with the stop.

import * as vscode from 'vscode';
import { SnapshotStore, StoreChange } from '../snapshot-store';
import { addressSpaceModel, shownSpace } from '../views/address-space-model';
import { allocatorsModel, allocatorsViewTitle } from '../views/allocators-model';
import { findingsModel, statusText, swapStatusLine } from '../views/findings-model';
import { MemoryMapView } from '../views/memory-map-view';
import { processesModel } from '../views/processes-model';
import { ScreenView } from '../views/screen-view';
import { findChainNode } from '../views/tree-item-data';
import { MmTreeProvider } from '../views/tree-provider';

export class MmViews implements vscode.Disposable {
  readonly addressSpace: MmTreeProvider;
  readonly processes: MmTreeProvider;
  readonly chains: MmTreeProvider;
  readonly findings: MmTreeProvider;
  readonly trees: readonly MmTreeProvider[];
  readonly memoryMap: MemoryMapView;
  readonly screen: ScreenView;
  readonly status: vscode.StatusBarItem;
  /** The SpaceJson id the Address space view shows (undefined: the current space). */
  private addressSpaceId: string | undefined;
  private readonly renderedEmitter = new vscode.EventEmitter<void>();
  private readonly updatedEmitter = new vscode.EventEmitter<{ readonly change: StoreChange; readonly viewsMs: number }>();
  /** A webview (the map, the screen) reported what it drew, or the shown space changed. */
  readonly onDidRender = this.renderedEmitter.event;
  /** Every view has taken the store's change (fired after the redraw, with the time it took). */
  readonly onDidUpdate = this.updatedEmitter.event;
  private readonly disposables: vscode.Disposable[] = [];

  constructor(context: vscode.ExtensionContext, private readonly store: SnapshotStore, private readonly output: vscode.OutputChannel) {
    this.addressSpace = new MmTreeProvider('mmscope.addressSpace', store, (s, changes) => addressSpaceModel(s, this.addressSpaceId, changes));
    this.processes = new MmTreeProvider('mmscope.processes', store, processesModel);
    this.chains = new MmTreeProvider('mmscope.chains', store, allocatorsModel);
    this.findings = new MmTreeProvider('mmscope.findings', store, findingsModel);
    this.trees = [this.addressSpace, this.processes, this.chains, this.findings];
    for (const v of this.trees) {
      const view = vscode.window.createTreeView(v.viewId, { treeDataProvider: v, showCollapseAll: true });
      v.view = view;
      this.disposables.push(view, v);
    }
    this.memoryMap = new MemoryMapView(context.extensionUri, store, (id) => void this.revealChain(id), () => this.renderedEmitter.fire());
    this.screen = new ScreenView(context.extensionUri, () => this.renderedEmitter.fire());
    this.disposables.push(
      vscode.window.registerWebviewViewProvider(MemoryMapView.viewId, this.memoryMap, { webviewOptions: { retainContextWhenHidden: false } }),
      vscode.window.registerWebviewViewProvider(ScreenView.viewId, this.screen, { webviewOptions: { retainContextWhenHidden: false } }),
    );
    this.status = vscode.window.createStatusBarItem('mmscope.status', vscode.StatusBarAlignment.Left, 50);
    this.status.name = 'mmscope memory';
    this.status.command = 'mmscope.physicalMemory.focus';
    this.disposables.push(this.status, this.renderedEmitter, this.updatedEmitter, store.onDidChange((c) => this.update(c)));
  }

  /** The space the Address space view shows (undefined: the current one). */
  get shownSpaceId(): string | undefined {
    return this.addressSpaceId;
  }

  /** Redraws every view for the store's change. */
  private update(c: StoreChange): void {
    const t0 = Date.now();
    for (const v of this.trees) v.refresh();
    if (this.chains.view && c.snapshot) this.chains.view.title = allocatorsViewTitle(c.snapshot);
    this.updateAddressSpaceTitle();
    this.memoryMap.update();
    const status = this.status;
    if (c.snapshot && c.state !== 'none') {
      status.text = statusText(c.snapshot);
      status.tooltip = `mmscope: ${c.state === 'running' ? 'live snapshot while running' : `stop ${c.stop ?? c.snapshot.stop}`}${c.fetchMs ? `, snapshot fetched in ${c.fetchMs} ms` : ''}. Click for the physical memory map.${swapStatusLine(c.snapshot) ? `\n${swapStatusLine(c.snapshot)}` : ''}`;
      status.show();
    } else if (c.state === 'running') {
      status.text = '$(database) mmscope: running';
      status.show();
    } else {
      status.hide();
    }
    if (c.error) this.output.appendLine(`snapshot: ${c.error}`);
    // A stop without a snapshot (the memory manager not initialised yet, a corrupt structure):
    // every view says why instead of showing the last stop's data or "no findings".
    const unavailable = this.store.unavailable;
    for (const v of this.trees) if (v.view) v.view.message = unavailable;
    // A kernel with nothing described has no allocator to show: say how to describe one.
    if (this.chains.view && !unavailable && c.snapshot && c.state !== 'none' && allocatorsViewTitle(c.snapshot) === 'Allocators' && !this.chains.topLevel().length) {
      this.chains.view.message = 'No allocator is described: a "memoryModel" in the launch configuration names the kernel\'s allocators, processes and heaps.';
    }
    void vscode.commands.executeCommand('setContext', 'mmscope.snapshotError', unavailable !== undefined);
    void vscode.commands.executeCommand('setContext', 'mmscope.stopped', c.state === 'stopped');
    this.updatedEmitter.fire({ change: c, viewsMs: Date.now() - t0 });
  }

  /** The Address space view's description says which space it shows. */
  private updateAddressSpaceTitle(): void {
    const snap = this.store.snapshot;
    if (!this.addressSpace.view) return;
    const shown = snap ? shownSpace(snap, this.addressSpaceId) : undefined;
    this.addressSpace.view.description = shown ? `${shown.label}${shown.current ? '' : ' (not current)'}` : undefined;
  }

  /** Shows space `id` (undefined: the current one) in the Address space view. */
  openSpace(id: string | undefined): void {
    this.addressSpaceId = id;
    this.addressSpace.setModel((s, changes) => addressSpaceModel(s, this.addressSpaceId, changes));
    this.updateAddressSpaceTitle();
    void vscode.commands.executeCommand('mmscope.addressSpace.focus');
    this.renderedEmitter.fire();
  }

  /** Selects chain `id` in the map and reveals it in the Chains view. */
  async revealChain(id: number): Promise<void> {
    const node = findChainNode(this.chains.topLevel(), id);
    this.memoryMap.select(id);
    if (!node) {
      void vscode.window.showWarningMessage(`mmscope: there is no chain ${id} at this stop.`);
      return;
    }
    await vscode.commands.executeCommand('mmscope.chains.focus');
    await this.chains.view?.reveal(node, { select: true, focus: true, expand: true });
  }

  dispose(): void {
    for (const d of this.disposables) d.dispose();
  }
}
