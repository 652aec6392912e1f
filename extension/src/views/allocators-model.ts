// The Allocators view (titled "Chains" on our guest): every frame allocator of the document with
// its counts, the kernel's own counter (and whether it agrees), a buddy allocator's free blocks per
// order; every heap with its blocks (who allocated each, at level 2); allocation tracing's figures
// and sites. On our guest the chains stay at the top level, as before (its chain-table allocator's
// summary is the status bar's), followed by any other allocator or heap its description adds.

import type { AllocatorJson, HeapJson, TracingJson } from '../../../contract/snapshot-document';
import { ViewSnapshot, addressDigits, hexAddress, isGuestDocument } from '../view-snapshot';
import { chainsModel } from './chains-model';
import { ViewNode, size } from './view-node';
import { siteLabel, siteReveal } from './findings-model';
import type { ChangesView } from '../../../contract/guest-document';
import { changeMarks } from './change-marks';

/** What the view is called for this document. */
export function allocatorsViewTitle(doc: ViewSnapshot | undefined): 'Chains' | 'Allocators' {
  return doc && isGuestDocument(doc) ? 'Chains' : 'Allocators';
}

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;

function allocatorNode(a: AllocatorJson, changed: boolean): ViewNode {
  const unit = a.unitBytes === 4096 ? 'frame' : `${size(a.unitBytes)} unit`;
  const bad = a.counter !== undefined && !a.counter.agrees;
  const children: ViewNode[] = [
    { id: `allocator:${a.name}:free`, label: `${a.free} free`, description: size(a.free * a.unitBytes), icon: 'circle-outline' },
    { id: `allocator:${a.name}:used`, label: `${a.used} used`, description: size(a.used * a.unitBytes), icon: 'circle-filled' },
    ...(a.reserved ? [{ id: `allocator:${a.name}:reserved`, label: `${a.reserved} reserved`, description: size(a.reserved * a.unitBytes), icon: 'lock' }] : []),
  ];
  if (a.counter) {
    children.push({
      id: `allocator:${a.name}:counter`,
      label: `${a.counter.expression} = ${a.counter.value}`,
      description: a.counter.agrees ? 'agrees with the free count' : `DISAGREES: ${a.free} free ${unit}s counted`,
      icon: a.counter.agrees ? 'check' : 'warning',
      warning: !a.counter.agrees,
    });
  }
  if (a.freeByOrder) {
    children.push({
      id: `allocator:${a.name}:orders`,
      label: 'free blocks by order',
      description: a.freeByOrder.map((n, k) => `${k}:${n}`).join(' '),
      icon: 'list-ordered',
      children: () => (a.freeByOrder ?? []).map((n, k): ViewNode => ({
        id: `allocator:${a.name}:order:${k}`,
        label: `order ${k}: ${plural(n, 'free block')}`,
        description: `${size(a.unitBytes * 2 ** k)} each · ${size(n * a.unitBytes * 2 ** k)}`,
        icon: 'symbol-array',
      })),
    });
  }
  return {
    id: `allocator:${a.name}`,
    label: `${a.name} (${a.shape})`,
    description: `${a.free} free / ${a.used} used${a.reserved ? ` / ${a.reserved} reserved` : ''} of ${plural(a.total, unit)}${bad ? ' · counter disagrees' : ''}`,
    tooltip: `${a.shape} allocator "${a.name}": ${plural(a.total, unit)} of ${size(a.unitBytes)}, ${size(a.free * a.unitBytes)} free.`,
    icon: 'database',
    warning: bad,
    changed,
    contextValue: 'allocator',
    children: () => children,
  };
}

function heapNode(doc: ViewSnapshot, h: HeapJson, changed: boolean): ViewNode {
  const digits = addressDigits(doc.pagingMode);
  return {
    id: `heap:${h.name}`,
    label: `heap ${h.name}`,
    description: `${plural(h.blocks.length, 'block')} · ${size(h.usedBytes)} used, ${size(h.freeBytes)} free${h.truncated ? ' · walk stopped at its bound' : ''}`,
    icon: 'layers',
    warning: h.truncated,
    changed,
    contextValue: 'heap',
    children: () => h.blocks.map((b, i): ViewNode => ({
      id: `heap:${h.name}:${i}:${b.address}`,
      label: `${hexAddress(b.address, digits)} ${size(b.size)}`,
      description: `${b.used ? 'used' : 'free'}${b.site ? ` · ${siteLabel(b.site)}` : ''}`,
      icon: b.used ? 'circle-filled' : 'circle-outline',
      reveal: b.site ? siteReveal(b.site) ?? { kind: 'address', virtual: b.address } : { kind: 'address', virtual: b.address },
    })),
  };
}

function tracingNode(t: TracingJson, changed: boolean): ViewNode {
  const fns = [t.allocFunction, t.freeFunction].filter(Boolean).join(' / ');
  return {
    id: 'tracing',
    label: `allocation tracing ${t.enabled ? 'on' : 'off'}${fns ? ` (${fns})` : ''}`,
    description: `${t.tracedCalls} calls · ${Math.round(t.callsPerSecond)}/s${t.slowdown !== undefined ? ` · guest ${Math.round(t.slowdown * 100)}% slower` : ''} · ${plural(t.live.length, 'live allocation')}`,
    icon: 'pulse',
    changed,
    contextValue: 'tracing',
    children: () => [...t.sites].sort((a, b) => b.live - a.live).map((s, i): ViewNode => ({
      id: `tracing:site:${i}:${s.site.address}`,
      label: siteLabel(s.site),
      description: `${plural(s.live, 'live allocation')} · ${size(s.bytes)}`,
      icon: 'go-to-file',
      reveal: siteReveal(s.site),
    })),
  };
}

/** `changes`: the adapter's diff of this stop; the chains, allocators, heaps and tracing it names are marked. */
export function allocatorsModel(doc: ViewSnapshot, changes?: ChangesView): ViewNode[] {
  const guest = isGuestDocument(doc);
  const marks = changeMarks(changes);
  const allocators = doc.allocators.filter((a) => !(guest && a.shape === 'chain-table')).map((a) => allocatorNode(a, marks.allocators.has(a.name)));
  const heaps = doc.heaps.map((h) => heapNode(doc, h, marks.heaps.has(h.name)));
  return [...(guest ? chainsModel(doc, changes) : []), ...allocators, ...heaps, ...(doc.tracing ? [tracingNode(doc.tracing, marks.tracing)] : [])];
}
