// The Findings view: every finding of the document (level 0's generic page-table findings, level
// 1's cross-checks with the allocators, level 2's double frees, our guest's chain-table ones),
// each revealing its allocation site, chain, virtual address (in the space it is about) or frame.

import * as path from 'path';
import type { FindingDocJson, SiteJson } from '../../../contract/snapshot-document';
import { ViewSnapshot, addressDigits, hexAddress, isGuestDocument } from '../view-snapshot';
import { RevealTarget, ViewNode } from './view-node';
import type { ChangesView } from '../../../contract/guest-document';
import { changeMarks } from './change-marks';

/** "kalloc at vm.c:42", or the call address when nothing resolves it. */
export function siteLabel(s: SiteJson): string {
  const at = s.file ? ` at ${path.basename(s.file)}${s.line ? `:${s.line}` : ''}` : '';
  return `${s.function ?? hexAddress(s.address, 8)}${at}`;
}

export function siteReveal(s: SiteJson): RevealTarget | undefined {
  return s.file && s.line ? { kind: 'source', file: s.file, line: s.line } : undefined;
}

export function findingTarget(f: FindingDocJson): RevealTarget | undefined {
  if (f.site) {
    const r = siteReveal(f.site);
    if (r) return r;
  }
  if (f.chain !== undefined) return { kind: 'chain', id: f.chain };
  if (f.virtual !== undefined) return { kind: 'address', virtual: f.virtual, ...(f.space !== undefined ? { space: f.space } : {}), ...(f.pid !== undefined ? { pid: f.pid } : {}) };
  if (f.physical !== undefined) return { kind: 'frame', physical: f.physical };
  return undefined;
}

/** `changes`: the adapter's diff of this stop; its new findings are marked. */
export function findingsModel(doc: ViewSnapshot, changes?: ChangesView): ViewNode[] {
  const marks = changeMarks(changes);
  const spaces = new Map(doc.spaces.map((s) => [s.id, s]));
  return doc.findings.map((f, i) => {
    const space = f.space !== undefined ? spaces.get(f.space) : undefined;
    const where = [
      f.virtual !== undefined ? `${hexAddress(f.virtual, addressDigits(space?.paging ?? doc.pagingMode))}${space ? ` in ${space.label}` : ''}` : undefined,
      f.physical !== undefined ? `frame ${hexAddress(f.physical, 8)}` : undefined,
      f.allocator !== undefined ? `allocator ${f.allocator}` : undefined,
      f.site ? `by ${siteLabel(f.site)}` : undefined,
    ].filter(Boolean).join(', ');
    return {
      id: `finding:${i}:${f.kind}`,
      label: f.message,
      description: f.kind,
      tooltip: `${f.severity}: ${f.message}${where ? `\n${where}` : ''}`,
      icon: f.severity === 'error' ? 'error' : f.severity === 'warning' ? 'warning' : 'info',
      warning: f.severity !== 'info',
      changed: marks.newFinding(f),
      contextValue: 'finding',
      reveal: findingTarget(f),
    };
  });
}

/** The status bar text: our guest's blocks (and swap in use), an allocator's frames (level 1), or the page tables' frames (level 0). */
export function statusText(doc: ViewSnapshot): string {
  const warn = doc.findings.length ? ` · $(warning) ${doc.findings.length}` : '';
  if (isGuestDocument(doc)) {
    const b = doc.blocks;
    const swap = doc.swap && doc.swap.slotCount > 0 ? ` · swap ${doc.swap.used}/${doc.swap.slotCount}` : '';
    return `$(database) ${b.free} free / ${b.used} used blocks · frag ${b.fragmentationPercent}%${swap}${warn}`;
  }
  const a = doc.frames.allocationCounts;
  if (a) return `$(database) ${a.free} free / ${a.used} used frames${warn}`;
  const c = doc.frames.counts;
  return `$(database) ${c.mapped + c.multi} mapped / ${c.unmapped} unmapped frames · ${doc.spaces.length} space${doc.spaces.length === 1 ? '' : 's'}${warn}`;
}

/** The status bar tooltip's swap line (our guest with a swap device), or undefined. */
export function swapStatusLine(doc: ViewSnapshot): string | undefined {
  const u = doc.swap;
  if (!u) return undefined;
  if (u.slotCount === 0) return 'Swapping is off (no swap disk).';
  return `Swap in use: ${u.used} of ${u.slotCount} slots (${Math.round((u.used * 100) / u.slotCount)}%); ${u.outs} blocks swapped out and ${u.ins} in since boot.`;
}
