// The Chains view: every chain with its size, flags, physical runs, mappings, handles and the
// source line that allocated it.

import * as path from 'path';
import { ChainJson } from '../../../debug-adapter/src/mm/model/snapshot-json';
import type { ChangesView } from '../../../contract/guest-document';
import { ViewSnapshot } from '../view-snapshot';
import { changeMarks } from './change-marks';
import { ViewNode, hex, size } from './view-node';

export function chainLabel(c: ChainJson): string {
  return `chain ${c.id} (${hex(c.id, 1)})`;
}

/** `changes`: the adapter's diff of this stop; the chains it names (added, resized, moved, renamed) are marked. */
export function chainsModel(snap: ViewSnapshot, changes?: ChangesView): ViewNode[] {
  const marked = changeMarks(changes).chains;
  return (snap.chains ?? []).map((c) => chainNode(c, marked.has(c.id)));
}

export function chainNode(c: ChainJson, changed: boolean): ViewNode {
  const handles = c.handles.map((h) => `${h.type.toUpperCase()} ${hex(h.handle, 1)}`);
  const owner = handles.length ? handles.join(', ') : c.owner.kind;
  const site = c.site?.file ? `${c.site.function ?? '?'} at ${path.basename(c.site.file)}:${c.site.line}` : undefined;
  return {
    id: `chain:${c.id}:${c.owner.seq}`,
    label: chainLabel(c),
    description: `${c.blocks.length} block${c.blocks.length === 1 ? '' : 's'} · ${c.flagNames.join(',') || 'movable'} · ${owner}`,
    tooltip: `${size(c.sizeBytes)}, allocation #${c.owner.seq}${site ? `, by ${site}` : ''}`,
    icon: c.flagNames.includes('contiguous') ? 'symbol-array' : c.flagNames.includes('frozen') ? 'lock' : 'link',
    changed,
    contextValue: 'chain',
    reveal: c.site?.file && c.site.line ? { kind: 'source', file: c.site.file, line: c.site.line } : undefined,
    children: () => [
      ...c.runs.map((r, i): ViewNode => ({
        id: `chain:${c.id}:run:${i}`,
        label: r.count > 1 ? `blocks ${r.first}-${r.first + r.count - 1}` : `block ${r.first}`,
        description: `${hex(r.first * 16384)}-${hex((r.first + r.count) * 16384 - 1)}`,
        icon: 'circuit-board',
      })),
      ...c.mappedAt.map((m, i): ViewNode => ({
        id: `chain:${c.id}:map:${i}`,
        label: `${m.space === 'kernel' ? 'kernel' : `pid ${m.space}`} ${hex(m.virtual)}`,
        description: `${size(m.length)} from page ${m.firstPage}`,
        icon: 'arrow-right',
        reveal: { kind: 'address', virtual: m.virtual, pid: typeof m.space === 'number' ? m.space : undefined },
      })),
      ...(c.mappedAt.length ? [] : [{ id: `chain:${c.id}:unmapped`, label: 'not mapped', icon: 'circle-slash' }]),
      ...(site ? [{ id: `chain:${c.id}:site`, label: `allocated by ${site}`, icon: 'go-to-file', reveal: c.site?.file && c.site.line ? { kind: 'source' as const, file: c.site.file, line: c.site.line } : undefined }] : []),
    ],
  };
}
