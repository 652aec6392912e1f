// The Address space view: one process's page directory by ranges (its user slice 0-256 MiB
// from its UPD, and the kernel half from 0xC0000000), each present directory entry expanding
// into merged runs: virtual → physical, readable flags, owning chain.

import { MappingJson, SnapshotJson } from '../../../debug-adapter/src/mm/snapshot-json';
import { ViewNode, entryLetters, hex, size } from './view-node';

/** Which chain maps [va, va+len) in this space, from the chains' reverse-lookup mappings. */
function ownerIndex(snap: SnapshotJson, space: 'kernel' | number): (va: number) => number | undefined {
  const ranges: { start: number; end: number; chain: number }[] = [];
  for (const c of snap.chains) for (const m of c.mappedAt) if (m.space === space) ranges.push({ start: m.virtual, end: m.virtual + m.length, chain: c.id });
  ranges.sort((a, b) => a.start - b.start);
  return (va) => {
    let lo = 0;
    let hi = ranges.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (va < ranges[mid].start) hi = mid - 1;
      else if (va >= ranges[mid].end) lo = mid + 1;
      else return ranges[mid].chain;
    }
    return undefined;
  };
}

function runNodes(snap: SnapshotJson, space: 'kernel' | number, runs: readonly MappingJson[], idPrefix: string, changedKeys: Set<string>): ViewNode[] {
  const owner = ownerIndex(snap, space);
  return runs.map((m): ViewNode => {
    const chain = owner(m.va);
    return {
      id: `${idPrefix}:${m.va}`,
      label: `${hex(m.va)}-${hex(m.va + m.size - 1)}`,
      description: `→ ${hex(m.pa)} ${size(m.size)} ${entryLetters(m.flags)}${chain !== undefined ? ` · chain ${chain}` : ''}`,
      icon: 'arrow-right',
      changed: changedKeys.has(`${space}:${m.va}:${m.pa}:${m.size}`),
      reveal: chain !== undefined ? { kind: 'chain', id: chain } : { kind: 'address', virtual: m.va, pid: typeof space === 'number' ? space : undefined },
    };
  });
}

/** Groups runs under the directory entry (4 MiB region) they start in. */
function byDirectoryEntry(snap: SnapshotJson, space: 'kernel' | number, entries: readonly number[], firstIndex: number, runs: readonly MappingJson[], changedKeys: Set<string>): ViewNode[] {
  const nodes: ViewNode[] = [];
  entries.forEach((e, k) => {
    if (!(e & 1)) return;
    const i = firstIndex + k;
    const lo = i * 0x400000;
    const hi = lo + 0x400000;
    const inside = runs.filter((r) => r.va >= lo && r.va < hi);
    nodes.push({
      id: `${space}:pde:${i}`,
      label: `PDE ${i}: ${hex(lo)}-${hex(hi - 1)}`,
      description: `${hex(e)} ${e & 0x80 ? '4 MiB page' : `table ${hex(e & 0xfffff000)}`} · ${inside.length} run${inside.length === 1 ? '' : 's'}`,
      icon: 'table',
      changed: inside.some((r) => changedKeys.has(`${space}:${r.va}:${r.pa}:${r.size}`)),
      children: () => runNodes(snap, space, inside, `${space}:pde:${i}`, changedKeys),
    });
  });
  return nodes;
}

/** The address space of `pid` (default: the current process). */
export function addressSpaceModel(snap: SnapshotJson, pid?: number, previous?: SnapshotJson): ViewNode[] {
  const proc = pid === undefined ? snap.processes.find((p) => p.current) : snap.processes.find((p) => p.pid === pid);
  const prevProc = previous?.processes.find((p) => p.pid === proc?.pid);
  const changedKeys = new Set<string>();
  if (previous) {
    const key = (space: string | number, r: MappingJson): string => `${space}:${r.va}:${r.pa}:${r.size}`;
    const old = new Set([...(prevProc?.mappings ?? []).map((r) => key(proc?.pid ?? -1, r)), ...previous.kernelMappings.map((r) => key('kernel', r))]);
    for (const r of proc?.mappings ?? []) if (!old.has(key(proc?.pid ?? -1, r))) changedKeys.add(key(proc?.pid ?? -1, r));
    for (const r of snap.kernelMappings) if (!old.has(key('kernel', r))) changedKeys.add(key('kernel', r));
  }
  const nodes: ViewNode[] = [];
  if (proc) {
    const entries = byDirectoryEntry(snap, proc.pid, proc.upd, 0, proc.mappings, changedKeys);
    nodes.push({
      id: `space:${proc.pid}:user`,
      label: `User space 0x00000000-0x0fffffff (pid ${proc.pid} ${proc.name})`,
      description: `${entries.length} of 64 UPD entries · ${size(proc.mappings.reduce((n, m) => n + m.size, 0))}${proc.current ? ' · current' : ''}`,
      icon: 'person',
      changed: entries.some((n) => n.changed),
      children: () => entries,
    });
  }
  const kernelBase = snap.geometry.kernelBase;
  const first = kernelBase >>> 22;
  const kernelEntries = snap.processes.length ? byDirectoryEntry(snap, 'kernel', snap.kpd.slice(first), first, snap.kernelMappings, changedKeys) : [];
  nodes.push({
    id: 'space:kernel',
    label: `Kernel half ${hex(kernelBase)}-0xffffffff`,
    description: `${kernelEntries.length} KPD entries · ${size(snap.kernelMappings.reduce((n, m) => n + m.size, 0))}`,
    icon: 'server',
    changed: kernelEntries.some((n) => n.changed),
    children: () => kernelEntries,
  });
  return nodes;
}
