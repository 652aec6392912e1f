// The Processes view: the kernel's processes as a description or our guest's descriptor names
// them (pid, name, the kernel's own state, the current marker), each with its address space
// (click: open it in the Address space view). Our guest adds its UPD and a warning when the KPD's
// copy of the UPD is stale, each process's mode (kernel thread, ring 3, V86 task, DPMI client),
// its swapped-out pages, and for a DOS task its DOS section (dos-task-model.ts). Without either
// (level 0) the view lists the address spaces seen.

import type { SpaceJson } from '../../../contract/snapshot-document';
import { ViewProcess, ViewSnapshot, addressDigits, addressOf, hexAddress, possiblyStale, spaceSourcesText } from '../view-snapshot';
import { ViewNode, bigSize, entryLetters, hex } from './view-node';
import { dosTaskNode } from './dos-task-model';
import type { ChangesView } from '../../../contract/guest-document';
import { ENTRY_FRAME_MASK_32, EntryFlag } from '../../../contract/translation';
import { ChangeMarks, changeMarks } from './change-marks';

/** How each mode reads in the views. */
export const MODE_TEXT: Readonly<Record<string, string>> = { kernel: 'kernel thread', user: 'ring 3', v86: 'V86 task', dpmi: 'DPMI client' };

export const modeText = (mode: string | undefined): string | undefined => (mode === undefined ? undefined : MODE_TEXT[mode] ?? `mode ${mode}`);

const mappedBytes = (s: SpaceJson | undefined): bigint => (s?.mappings ?? []).reduce((n, r) => n + addressOf(r.size), 0n);

/** `changes`: the adapter's diff of this stop; the processes it names added or changed are marked (level 0: the spaces). */
export function processesModel(doc: ViewSnapshot, changes?: ChangesView): ViewNode[] {
  const marks = changeMarks(changes);
  if (!doc.processes.length) return spacesAsProcesses(doc, marks);
  const spaces = new Map(doc.spaces.map((s) => [s.id, s]));
  return doc.processes.map((p: ViewProcess) => processNode(doc, p, p.space !== null ? spaces.get(p.space) : undefined, marks.processes.has(p.pid)));
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
  const mode = modeText(p.mode);
  const swapped = p.swappedPages ?? [];
  const ended = p.state === 'zombie' && p.exitCode !== undefined ? ` · exit ${p.exitCode}` : '';
  return {
    id: `process:${p.pid}`,
    label: `${p.current ? '▶ ' : ''}pid ${p.pid} ${p.name}`,
    description: `${p.state}${p.current ? ', current' : ''}${mode ? ` · ${mode}` : ''}${ended} · ${where}${swapped.length ? ` · ${swapped.length} swapped out` : ''}${stale ? ' · KPD slice STALE' : ''}`,
    tooltip: [
      mode ? `${mode}${p.exitCode ? `, exit code ${p.exitCode}` : ''}` : undefined,
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
        description: `${upd.filter((e) => e & EntryFlag.present).length} of ${upd.length} entries present`,
        icon: 'list-tree',
        children: () => upd.flatMap((e, i): ViewNode[] => (e & EntryFlag.present ? [{
          id: `process:${p.pid}:upd:${i}`,
          label: `[${i}] ${hex(i * 0x400000)}-${hex(i * 0x400000 + 0x3fffff)}`,
          description: `${hex(e)} → table ${hex((e & ENTRY_FRAME_MASK_32) >>> 0)} ${entryLetters(e)}`,
          icon: 'table',
        }] : [])),
      }] : []),
      ...(p.swappedPages ? [swappedNode(p.pid, p.swappedPages)] : []),
      ...(p.v86 !== undefined ? [dosTaskNode(doc, p)] : []),
    ],
  };
}

/** The pages its UPD holds swapped out: address, slot, page in the slot's block, the raw PTE. */
function swappedNode(pid: number, pages: NonNullable<ViewProcess['swappedPages']>): ViewNode {
  const slots = new Set(pages.map((s) => s.slot));
  return {
    id: `process:${pid}:swapped`,
    label: 'swapped out',
    description: pages.length ? `${pages.length} page${pages.length === 1 ? '' : 's'} in ${slots.size} slot${slots.size === 1 ? '' : 's'}` : 'none',
    icon: 'archive',
    ...(pages.length ? {
      children: () => pages.map((s): ViewNode => ({
        id: `process:${pid}:swapped:${s.virtual}`,
        label: hex(s.virtual),
        description: `swapped out, slot ${s.slot} page ${s.page} · entry ${hex(s.entry)}`,
        tooltip: `Not present: the PTE holds swap slot ${s.slot} (page ${s.page} of the slot's block); a fault brings it back.`,
        icon: 'cloud-download',
        reveal: { kind: 'address', virtual: s.virtual, pid },
      })),
    } : {}),
  };
}

/** Level 0: no process is known, so the view lists the address spaces (a CR3 is a process to most kernels). */
function spacesAsProcesses(doc: ViewSnapshot, marks: ChangeMarks): ViewNode[] {
  return doc.spaces.map((s) => ({
    id: `space-process:${s.id}`,
    label: `${s.current ? '▶ ' : ''}${s.label}`,
    description: `${s.current ? 'current · ' : ''}${bigSize(mappedBytes(s))} mapped · ${spaceSourcesText(s)}`,
    tooltip: `No description names this kernel's processes: this is an address space (${s.id}) known from ${s.sources.join(', ')}.`,
    icon: s.current ? 'debug-stackframe-active' : possiblyStale(s) ? 'history' : 'symbol-namespace',
    changed: marks.spaces.has(s.id),
    contextValue: 'space',
    reveal: { kind: 'space', id: s.id },
  }));
}
