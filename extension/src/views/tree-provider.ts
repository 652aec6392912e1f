// One tree view over a view model: builds the top level from the store's snapshot when the view
// is visible, expands children lazily, and turns ViewNodes into vscode.TreeItems.

import * as vscode from 'vscode';
import { ViewSnapshot } from '../view-snapshot';
import type { ChangesView } from '../../../contract/guest-document';
import { SnapshotStore } from '../snapshot-store';
import { treeItemData } from './tree-item-data';
import { ViewNode } from './view-node';

/** A view's nodes for a snapshot, marking what the adapter's changes of that stop name. */
export type ViewModel = (snap: ViewSnapshot, changes?: ChangesView) => ViewNode[];

export class MmTreeProvider implements vscode.TreeDataProvider<ViewNode>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<ViewNode | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private roots: ViewNode[] = [];
  private rootsFor: ViewSnapshot | undefined;
  private parents = new Map<string, ViewNode>();
  view: vscode.TreeView<ViewNode> | undefined;
  /** When the top level was last built (for the refresh benchmark and the e2e state file). */
  lastBuiltMs = 0;

  constructor(readonly viewId: string, private readonly store: SnapshotStore, private model: ViewModel) {}

  setModel(model: ViewModel): void {
    this.model = model;
    this.rootsFor = undefined;
    this.changed.fire(undefined);
  }

  /** The store changed: redraw (the top level is rebuilt on the next getChildren). */
  refresh(): void {
    this.changed.fire(undefined);
  }

  get visible(): boolean {
    return this.view?.visible ?? false;
  }

  /** The top-level nodes for the current snapshot (built once per snapshot). */
  topLevel(): ViewNode[] {
    const snap = this.store.snapshot;
    if (!snap || this.store.state === 'none') return [];
    if (this.rootsFor !== snap) {
      const t0 = Date.now();
      this.roots = this.model(snap, this.store.changes);
      this.rootsFor = snap;
      this.parents.clear();
      this.lastBuiltMs = Date.now() - t0;
    }
    return this.roots;
  }

  getChildren(node?: ViewNode): ViewNode[] {
    if (!node) return this.topLevel();
    const kids = node.children ? [...node.children()] : [];
    for (const k of kids) this.parents.set(k.id, node);
    return kids;
  }

  getParent(node: ViewNode): ViewNode | undefined {
    return this.parents.get(node.id);
  }

  getTreeItem(node: ViewNode): vscode.TreeItem {
    const d = treeItemData(node);
    const item = new vscode.TreeItem(
      d.highlights.length ? { label: d.label, highlights: [...d.highlights] } : d.label,
      d.collapsible === 'collapsed' ? vscode.TreeItemCollapsibleState.Collapsed : vscode.TreeItemCollapsibleState.None,
    );
    item.id = d.id;
    item.description = d.description;
    item.tooltip = d.tooltip;
    if (d.icon) item.iconPath = new vscode.ThemeIcon(d.icon, d.iconColour ? new vscode.ThemeColor(d.iconColour) : undefined);
    item.contextValue = d.contextValue;
    if (d.reveal) item.command = { command: 'mmscope.reveal', title: 'Reveal', arguments: [d.reveal] };
    return item;
  }

  dispose(): void {
    this.changed.dispose();
  }
}
