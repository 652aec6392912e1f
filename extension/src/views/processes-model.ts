// The Processes view: each PCB with pid, name, state, its UPD, the current-process marker and a
// warning when the KPD's copy of its UPD is stale.

import { ProcessJson, SnapshotJson } from '../../../debug-adapter/src/mm/snapshot-json';
import { ViewNode, entryLetters, hex, size } from './view-node';

export function processesModel(snap: SnapshotJson, previous?: SnapshotJson): ViewNode[] {
  const before = new Map((previous?.processes ?? []).map((p) => [p.pid, p]));
  return snap.processes.map((p) => {
    const old = before.get(p.pid);
    const changed = previous !== undefined && (!old || old.state !== p.state || old.current !== p.current || old.upd.some((e, i) => e !== p.upd[i]));
    return processNode(p, changed);
  });
}

function processNode(p: ProcessJson, changed: boolean): ViewNode {
  const stale = p.updMatchesKpd === false;
  const user = p.mappings.reduce((n, m) => n + m.size, 0);
  return {
    id: `process:${p.pid}`,
    label: `${p.current ? '▶ ' : ''}pid ${p.pid} ${p.name}`,
    description: `${p.state}${p.current ? ', current' : ''} · ${size(user)} mapped${stale ? ' · KPD slice STALE' : ''}`,
    tooltip: `PCB at ${hex(p.pcb)}${stale ? '\nThe KPD\'s user slice does not match this UPD: a context switch did not copy it.' : ''}`,
    icon: stale ? 'warning' : p.current ? 'debug-stackframe-active' : 'symbol-event',
    warning: stale,
    changed,
    contextValue: 'process',
    children: () => [
      {
        id: `process:${p.pid}:upd`,
        label: 'UPD',
        description: `${p.upd.filter((e) => e & 1).length} of 64 entries present`,
        icon: 'list-tree',
        children: () => p.upd.flatMap((e, i): ViewNode[] => (e & 1 ? [{
          id: `process:${p.pid}:upd:${i}`,
          label: `[${i}] ${hex(i * 0x400000)}-${hex(i * 0x400000 + 0x3fffff)}`,
          description: `${hex(e)} → table ${hex(e & 0xfffff000)} ${entryLetters(e)}`,
          icon: 'table',
        }] : [])),
      },
      ...p.mappings.map((m, i): ViewNode => ({
        id: `process:${p.pid}:map:${i}`,
        label: `${hex(m.va)}-${hex(m.va + m.size - 1)}`,
        description: `→ ${hex(m.pa)} ${size(m.size)} ${entryLetters(m.flags)}`,
        icon: 'arrow-right',
        reveal: { kind: 'address', virtual: m.va, pid: p.pid },
      })),
    ],
  };
}
