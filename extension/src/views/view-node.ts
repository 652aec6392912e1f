// What every mmscope view shows, independent of VS Code: a tree of nodes with labels, changed
// marks and reveal targets. The tree providers turn these into vscode.TreeItems; tests check
// the models on recorded snapshots without VS Code.

import type { JsonAddress } from '../../../contract/snapshot-document';
import { EntryFlag } from '../../../contract/translation';

export type RevealTarget =
  | { readonly kind: 'source'; readonly file: string; readonly line: number }
  | { readonly kind: 'chain'; readonly id: number }
  /** Translate a virtual address: in `space` (a SpaceJson id) or `pid`'s, else the current one. */
  | { readonly kind: 'address'; readonly virtual: JsonAddress; readonly pid?: number; readonly space?: string }
  /** Open an address space in the Address space view. */
  | { readonly kind: 'space'; readonly id: string }
  /** Point at a physical frame in the Physical memory map. */
  | { readonly kind: 'frame'; readonly physical: number };

export interface ViewNode {
  /** Stable across snapshots for the same thing (keeps expansion state). */
  readonly id: string;
  readonly label: string;
  readonly description?: string;
  readonly tooltip?: string;
  /** A codicon name. */
  readonly icon?: string;
  /** Changed since the previous stop. */
  readonly changed?: boolean;
  readonly warning?: boolean;
  readonly contextValue?: string;
  readonly reveal?: RevealTarget;
  /** Children, computed only when the node is expanded. */
  readonly children?: () => readonly ViewNode[];
}

export const hex = (n: number, width = 8): string => `0x${(n >>> 0).toString(16).padStart(width, '0')}`;

export function size(bytes: number): string {
  if (bytes >= 1 << 20 && bytes % (1 << 20) === 0) return `${bytes / (1 << 20)} MiB`;
  if (bytes >= 1024) return `${Math.round(bytes / 1024)} KiB`;
  return `${bytes} B`;
}

/** Bytes as text, exact for any 64-bit size (bigint or JsonAddress). */
export function bigSize(bytes: bigint): string {
  for (const [unit, shift] of [['TiB', 40n], ['GiB', 30n], ['MiB', 20n]] as const) {
    if (bytes >= 1n << shift && bytes % (1n << shift) === 0n) return `${bytes >> shift} ${unit}`;
  }
  return bytes <= BigInt(Number.MAX_SAFE_INTEGER) ? size(Number(bytes)) : `${bytes >> 30n} GiB`;
}

/** "rw u" style letters for a mapping entry's low 12 bits. */
export function entryLetters(flags: number): string {
  return `${flags & EntryFlag.writable ? 'rw' : 'r-'} ${flags & EntryFlag.user ? 'user' : 'kernel'}${flags & EntryFlag.global ? ' global' : ''}${flags & EntryFlag.dirty ? ' dirty' : ''}${flags & EntryFlag.pageSize ? ' 4M' : ''}`;
}
