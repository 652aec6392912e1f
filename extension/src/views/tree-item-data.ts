// How a ViewNode looks as a tree item, without VS Code: the label, the changed mark, the
// collapsible state and the command a click runs. The tree provider copies this into a
// vscode.TreeItem; tests check it on recorded snapshots.

import { RevealTarget, ViewNode } from './view-node';

/** The mark put in front of the description of an item that changed since the previous stop. */
export const CHANGED_MARK = '●';

export interface TreeItemData {
  readonly id: string;
  readonly label: string;
  /** Character ranges of the label to highlight (the whole label when changed). */
  readonly highlights: readonly [number, number][];
  readonly description?: string;
  readonly tooltip?: string;
  readonly icon?: string;
  /** The theme colour of the icon: warnings and changes stand out. */
  readonly iconColour?: 'list.warningForeground' | 'charts.yellow';
  readonly collapsible: 'none' | 'collapsed';
  readonly contextValue?: string;
  /** Clicking the item reveals this. */
  readonly reveal?: RevealTarget;
}

export function treeItemData(node: ViewNode): TreeItemData {
  const changed = node.changed === true;
  const description = changed ? `${CHANGED_MARK} ${node.description ?? 'changed'}` : node.description;
  const tooltip = [node.tooltip ?? [node.label, node.description].filter(Boolean).join('\n'), changed ? 'Changed since the previous stop.' : undefined]
    .filter(Boolean)
    .join('\n');
  return {
    id: node.id,
    label: node.label,
    highlights: changed ? [[0, node.label.length]] : [],
    description,
    tooltip,
    icon: node.icon,
    iconColour: node.warning ? 'list.warningForeground' : changed ? 'charts.yellow' : undefined,
    collapsible: node.children ? 'collapsed' : 'none',
    contextValue: [node.contextValue, node.reveal ? 'revealable' : undefined].filter(Boolean).join(' ') || undefined,
    reveal: node.reveal,
  };
}

/** Finds the top-level node of a chain (for "reveal chain"). */
export function findChainNode(nodes: readonly ViewNode[], chainId: number): ViewNode | undefined {
  return nodes.find((n) => n.id.startsWith(`chain:${chainId}:`));
}
