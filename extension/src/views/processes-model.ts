// The Processes view: the kernel's processes as a description or our guest's descriptor names
// them (pid, name, the kernel's own state, the current marker), each with its address space
// (click: open it in the Address space view). Our guest adds its UPD and a warning when the KPD's
// copy of the UPD is stale. Without either (level 0) the view lists the address spaces seen.

import type { SpaceJson } from '../../../debug-adapter/src/mm/model/snapshot-document';
import { ViewProcess, ViewSnapshot, addressDigits, addressOf, hexAddress, possiblyStale, spaceSourcesText } from '../view-snapshot';
import { ViewNode, bigSize, entryLetters, hex } from './view-node';

const mappedBytes = (s: SpaceJson | undefined): bigint => (s?.mappings ?? []).reduce((n, r) => n + addressOf(r.size), 0n);

export function processesModel(doc: ViewSnapshot, previous?: ViewSnapshot): ViewNode[] {
  if (!doc.processes.length) return spacesAsProcesses(doc, previous);
  const before = new Map((previous?.processes ?? []).map((p) => [p.pid, p as ViewProcess]));
  const spaces = new Map(doc.spaces.map((s) => [s.id, s]));
  return doc.processes.map((p: ViewProcess) => {
    const old = before.get(p.pid);
    const changed = previous !== undefined && (!old || old.state !== p.state || old.current !== p.current || old.space !== p.space
      || (p.upd ?? []).some((e, i) => e !== old.upd?.[i]));
    return processNode(doc, p, p.space !== null ? spaces.get(p.space) : undefined, changed);
  });
}

function spaceChild(id: string, s: SpaceJson): ViewNode {
  return {
    id,
    label: `address space ${s.label}`,
    description: `${s.mappings.length} runs · ${bigSize(mappedBytes(s))} · top table ${hexAddress(s.topTable, 8)}`,
    tooltip: `${s.id}, known from ${spaceSourcesText(s)}`,
    icon: 'symbol-namespace',
    reveal: { kind: 'space', id: s.id },
  };
}

function processNode(doc: ViewSnapshot, p: ViewProcess, space: SpaceJson | undefined, changed: boolean): ViewNode {
  const stale = p.updMatchesKpd === false;
  const digits = addressDigits(space?.paging ?? doc.pagingMode);
  const where = space ? `${bigSize(mappedBytes(space))} mapped` : p.directory !== null ? `directory ${hexAddress(p.directory, 8)} not read` : 'no address space';
  const upd = p.upd;
  return {
    id: `process:${p.pid}`,
    label: `${p.current ? '▶ ' : ''}pid ${p.pid} ${p.name}`,
    description: `${p.state}${p.current ? ', current' : ''} · ${where}${stale ? ' · KPD slice STALE' : ''}`,
    tooltip: [
      `struct at ${hexAddress(p.address, digits)}`,
      p.directory !== null ? `page directory ${hexAddress(p.directory, 8)}` : 'no page directory',
      stale ? 'The KPD\'s user slice does not match this UPD: a context switch did not copy it.' : undefined,
    ].filter(Boolean).join('\n'),
    icon: stale ? 'warning' : p.current ? 'debug-stackframe-active' : 'symbol-event',
    warning: stale,
    changed,
    contextValue: 'process',
    reveal: space ? { kind: 'space', id: space.id } : undefined,
    children: () => [
      ...(space ? [spaceChild(`process:${p.pid}:space`, space)] : []),
      ...(upd ? [{
        id: `process:${p.pid}:upd`,
        label: 'UPD',
        description: `${upd.filter((e) => e & 1).length} of ${upd.length} entries present`,
        icon: 'list-tree',
        children: () => upd.flatMap((e, i): ViewNode[] => (e & 1 ? [{
          id: `process:${p.pid}:upd:${i}`,
          label: `[${i}] ${hex(i * 0x400000)}-${hex(i * 0x400000 + 0x3fffff)}`,
          description: `${hex(e)} → table ${hex(e & 0xfffff000)} ${entryLetters(e)}`,
          icon: 'table',
        }] : [])),
      }] : []),
    ],
  };
}

/** Level 0: no process is known, so the view lists the address spaces (a CR3 is a process to most kernels). */
function spacesAsProcesses(doc: ViewSnapshot, previous?: ViewSnapshot): ViewNode[] {
  const before = new Set((previous?.spaces ?? []).map((s) => s.id));
  return doc.spaces.map((s) => ({
    id: `space-process:${s.id}`,
    label: `${s.current ? '▶ ' : ''}${s.label}`,
    description: `${s.current ? 'current · ' : ''}${bigSize(mappedBytes(s))} mapped · ${spaceSourcesText(s)}`,
    tooltip: `No description names this kernel's processes: this is an address space (${s.id}) known from ${s.sources.join(', ')}.`,
    icon: s.current ? 'debug-stackframe-active' : possiblyStale(s) ? 'history' : 'symbol-namespace',
    changed: previous !== undefined && !before.has(s.id),
    contextValue: 'space',
    reveal: { kind: 'space', id: s.id },
  }));
}
