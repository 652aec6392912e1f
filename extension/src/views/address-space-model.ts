// The Address space view: any address space of the snapshot document (the current one unless the
// user opened another), in any paging mode, by halves (user/kernel: the canonical halves of a
// 64-bit space, our guest's user slice and kernel half; one range otherwise), each grouped by
// top-level table entry (PDE, PDPTE, PML4E, PML5E; crowded entries again by the next level), down
// to the merged runs: virtual → physical, access, and, for our guest, the owning chain. Addresses
// are exact (64-bit ones are never a JavaScript number).

import type { PagingMode, RunJson, SharedJson, SpaceJson } from '../../../contract/snapshot-document';
import type { SwappedPage } from '../../../debug-adapter/src/mm/model/snapshot';
import { swappedText } from '../../../debug-adapter/src/mm/model/swap-entry';
import { ViewSnapshot, addressDigits, addressOf, currentSpace, hexAddress, spaceSourcesText } from '../view-snapshot';
import { ViewNode, bigSize } from './view-node';
import type { ChangesView } from '../../../contract/guest-document';
import { EntryFlag } from '../../../contract/translation';
import { changeMarks, runMarkKey } from './change-marks';

interface Level {
  readonly name: string;
  readonly shift: bigint;
  readonly entries: bigint;
}

/** The table levels under which runs are grouped, top level first (the leaf PT level is not a group). */
const LEVELS: Readonly<Record<PagingMode, readonly Level[]>> = {
  none: [],
  'x86-32': [{ name: 'PDE', shift: 22n, entries: 1024n }],
  pae: [{ name: 'PDPTE', shift: 30n, entries: 4n }, { name: 'PDE', shift: 21n, entries: 512n }],
  'x86-64': [{ name: 'PML4E', shift: 39n, entries: 512n }, { name: 'PDPTE', shift: 30n, entries: 512n }, { name: 'PDE', shift: 21n, entries: 512n }],
  'x86-64-la57': [
    { name: 'PML5E', shift: 48n, entries: 512n }, { name: 'PML4E', shift: 39n, entries: 512n },
    { name: 'PDPTE', shift: 30n, entries: 512n }, { name: 'PDE', shift: 21n, entries: 512n },
  ],
};

/** An entry holding more runs than this is split by the next level's entries. */
const RUNS_PER_GROUP = 256;

/** Letters for a run's effective access. */
export function runAccess(r: RunJson): string {
  return `${r.writable ? 'rw' : 'r-'}${r.nx ? '-' : 'x'} ${r.user ? 'user' : 'kernel'}${r.flags & EntryFlag.global ? ' global' : ''}${r.flags & EntryFlag.dirty ? ' dirty' : ''}${r.pageSize > 4096 ? ` ${bigSize(BigInt(r.pageSize))} pages` : ''}`;
}

/** The process a space belongs to, for our guest's chain mappings (`pid:<N>`) and described kernels. */
function spacePid(s: SpaceJson): number | undefined {
  if (s.pid !== undefined) return s.pid;
  const m = /^pid:(\d+)$/.exec(s.id);
  return m ? Number(m[1]) : undefined;
}

/** Our guest: which chain maps a virtual address of this space (the chains' reverse mappings). */
function chainOwner(doc: ViewSnapshot, space: SpaceJson): (va: bigint) => number | undefined {
  const pid = space.id === 'kernel' ? undefined : spacePid(space);
  const ranges: { start: bigint; end: bigint; chain: number }[] = [];
  for (const c of doc.chains ?? []) {
    for (const m of c.mappedAt) {
      if (m.space === 'kernel' || (pid !== undefined && m.space === pid)) ranges.push({ start: BigInt(m.virtual), end: BigInt(m.virtual + m.length), chain: c.id });
    }
  }
  ranges.sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
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

interface Region {
  readonly id: string;
  readonly label: string;
  readonly icon: string;
  readonly lo: bigint;
  /** Inclusive. */
  readonly hi: bigint;
}

/** How a space is cut in halves for the view. */
function regions(doc: ViewSnapshot, space: SpaceJson, digits: number): Region[] {
  const h = (v: bigint): string => hexAddress(v, digits);
  if (space.paging === 'x86-64' || space.paging === 'x86-64-la57') {
    const bits = space.paging === 'x86-64' ? 47n : 56n;
    const top = (1n << bits) - 1n;
    const high = ((1n << 64n) - 1n) ^ top;
    return [
      { id: 'lower', label: `Lower half ${h(0n)}-${h(top)}`, icon: 'person', lo: 0n, hi: top },
      { id: 'higher', label: `Higher half ${h(high)}-${h((1n << 64n) - 1n)}`, icon: 'server', lo: high, hi: (1n << 64n) - 1n },
    ];
  }
  const g = doc.geometry;
  if (g) {
    const proc = doc.processes.find((p) => p.pid === spacePid(space));
    const user: Region[] = proc || space.id !== 'kernel'
      ? [{ id: 'user', label: `User space ${h(0n)}-${h(BigInt(g.userSpaceEnd) - 1n)}${proc ? ` (pid ${proc.pid} ${proc.name})` : ''}`, icon: 'person', lo: 0n, hi: BigInt(g.userSpaceEnd) - 1n }]
      : [];
    return [...user, { id: 'kernel', label: `Kernel half ${h(BigInt(g.kernelBase))}-0xffffffff`, icon: 'server', lo: BigInt(g.kernelBase), hi: 0xffffffffn }];
  }
  return [{ id: 'all', label: `${space.label} ${h(0n)}-${h(0xffffffffn)}`, icon: 'server', lo: 0n, hi: 0xffffffffn }];
}

interface Context {
  readonly doc: ViewSnapshot;
  readonly space: SpaceJson;
  readonly digits: number;
  readonly changed: ReadonlySet<string>;
  readonly owner: (va: bigint) => number | undefined;
}

function runNode(c: Context, r: RunJson, idPrefix: string): ViewNode {
  const va = addressOf(r.va);
  const end = va + addressOf(r.size) - 1n;
  const chain = c.owner(va);
  const pid = spacePid(c.space);
  return {
    id: `${idPrefix}:${r.va}`,
    label: `${hexAddress(va, c.digits)}-${hexAddress(end, c.digits)}`,
    description: `→ ${hexAddress(r.pa, 8)} ${bigSize(addressOf(r.size))} ${runAccess(r)}${chain !== undefined ? ` · chain ${chain}` : ''}`,
    icon: 'arrow-right',
    changed: c.changed.has(runMarkKey(r)),
    reveal: chain !== undefined ? { kind: 'chain', id: chain } : { kind: 'address', virtual: r.va, space: c.space.id, ...(pid !== undefined ? { pid } : {}) },
  };
}

function sharedNode(c: Context, s: SharedJson, idPrefix: string): ViewNode {
  const va = addressOf(s.va);
  return {
    id: `${idPrefix}:shared:${s.va}`,
    label: `${hexAddress(va, c.digits)}-${hexAddress(va + addressOf(s.span) - 1n, c.digits)}`,
    description: `${s.level} table ${hexAddress(s.table, 8)} again: as at ${hexAddress(s.sameAs, c.digits)} · ${s.pages} page${s.pages === 1 ? '' : 's'}`,
    icon: 'references',
    reveal: { kind: 'address', virtual: s.va, space: c.space.id },
  };
}

interface Item {
  readonly va: bigint;
  readonly run?: RunJson;
  readonly shared?: SharedJson;
  /** Our guest: a page whose PTE holds a swap slot (not present). */
  readonly swapped?: SwappedPage;
}

/** Our guest: a swapped-out page, "swapped out, slot N" with the raw PTE and its chain. */
function swappedNode(c: Context, p: SwappedPage, idPrefix: string): ViewNode {
  const va = BigInt(p.virtual);
  return {
    id: `${idPrefix}:swapped:${p.virtual}`,
    label: `${hexAddress(va, c.digits)}-${hexAddress(va + 4095n, c.digits)}`,
    description: `${swappedText(p.slot, p.entry)}${p.chain !== undefined ? ` · chain ${p.chain} page ${p.chainPage}` : ''}`,
    tooltip: `Not present: the page is on the swap disk in slot ${p.slot} (page ${p.page} of its 16 KiB block). A touch faults it back in.`,
    icon: 'archive',
    reveal: p.chain !== undefined ? { kind: 'chain', id: p.chain } : { kind: 'address', virtual: p.virtual, space: c.space.id },
  };
}

function itemNode(c: Context, i: Item, idPrefix: string): ViewNode {
  if (i.run) return runNode(c, i.run, idPrefix);
  if (i.swapped) return swappedNode(c, i.swapped, idPrefix);
  return sharedNode(c, i.shared!, idPrefix);
}

/** The nodes of `items` (sorted by address) under table level `depth`: one per entry they start in. */
function groupNodes(c: Context, levels: readonly Level[], depth: number, items: readonly Item[], idPrefix: string): ViewNode[] {
  const level = levels[depth];
  const leaves = (): ViewNode[] => items.map((i) => itemNode(c, i, idPrefix));
  if (!level) return leaves();
  const groups = new Map<bigint, Item[]>();
  for (const i of items) {
    const index = (i.va >> level.shift) & (level.entries - 1n);
    const list = groups.get(index) ?? [];
    list.push(i);
    groups.set(index, list);
  }
  const span = 1n << level.shift;
  const nodes: ViewNode[] = [];
  for (const [index, inside] of groups) {
    const lo = inside[0].va & ~(span - 1n);
    const id = `${idPrefix}:${level.name}${index}`;
    const runs = inside.filter((i) => i.run);
    const swappedHere = inside.filter((i) => i.swapped).length;
    const shared = inside.length - runs.length - swappedHere;
    const bytes = runs.reduce((n, i) => n + addressOf(i.run!.size), 0n);
    const deeper = depth + 1 < levels.length && inside.length > RUNS_PER_GROUP;
    nodes.push({
      id,
      label: `${level.name} ${index}: ${hexAddress(lo, c.digits)}-${hexAddress(lo + span - 1n, c.digits)}`,
      description: `${runs.length} run${runs.length === 1 ? '' : 's'} · ${bigSize(bytes)}${shared ? ` · ${shared} shared table${shared === 1 ? '' : 's'}` : ''}${swappedHere ? ` · ${swappedHere} swapped out` : ''}`,
      icon: 'table',
      changed: runs.some((i) => c.changed.has(runMarkKey(i.run!))),
      children: () => (deeper ? groupNodes(c, levels, depth + 1, inside, id) : inside.map((i) => itemNode(c, i, id))),
    });
  }
  return nodes;
}

/**
 * Our guest's swapped-out pages in this space (doc.swap, descriptor level only): the kernel's in
 * the kernel space and in every process's (which includes the kernel half), a process's own in its space.
 */
function swappedPages(doc: ViewSnapshot, space: SpaceJson): readonly SwappedPage[] {
  const pid = space.id === 'kernel' ? undefined : spacePid(space);
  return (doc.swap?.pages ?? []).filter((p) => p.space === 'kernel' || (pid !== undefined && p.space === pid));
}

/** The space the view shows: `spaceId` when the document has it, else the current one. */
export function shownSpace(doc: ViewSnapshot, spaceId?: string): SpaceJson | undefined {
  return (spaceId !== undefined ? doc.spaces.find((s) => s.id === spaceId) : undefined) ?? currentSpace(doc);
}

/**
 * The Address space view of `spaceId` (default: the space CR3 names now). `changes`: the adapter's
 * diff of this stop; the space's new runs it names are marked (and the entries and halves holding them).
 */
export function addressSpaceModel(doc: ViewSnapshot, spaceId?: string, changes?: ChangesView): ViewNode[] {
  const space = shownSpace(doc, spaceId);
  if (!space) return [];
  const digits = addressDigits(space.paging);
  const changed = changeMarks(changes).newRuns(space.id);
  const c: Context = { doc, space, digits, changed, owner: chainOwner(doc, space) };
  const items: Item[] = [
    ...space.mappings.map((run) => ({ va: addressOf(run.va), run })),
    ...space.shared.map((shared) => ({ va: addressOf(shared.va), shared })),
    ...swappedPages(doc, space).map((swapped) => ({ va: BigInt(swapped.virtual), swapped })),
  ].sort((a, b) => (a.va < b.va ? -1 : a.va > b.va ? 1 : 0));
  const levels = LEVELS[space.paging] ?? [];
  const cut = regions(doc, space, digits);
  const nodes: ViewNode[] = [];
  for (const region of cut) {
    const inside = items.filter((i) => i.va >= region.lo && i.va <= region.hi);
    const id = `space:${space.id}:${region.id}`;
    const entries = groupNodes(c, levels, 0, inside, id);
    const bytes = inside.reduce((n, i) => n + (i.run ? addressOf(i.run.size) : 0n), 0n);
    nodes.push({
      id,
      label: region.label,
      description: `${levels.length ? `${entries.length} ${levels[0].name}${entries.length === 1 ? '' : 's'}` : `${entries.length} runs`} · ${bigSize(bytes)} · ${space.paging}${space.current ? ' · current' : ''}`,
      tooltip: `${space.label} (${space.id}): top table ${hexAddress(space.topTable, 8)}, CR3 ${hexAddress(space.cr3, digits)}, ${space.pages} pages, ${space.tablesRead} tables read.\nKnown from: ${spaceSourcesText(space)}`,
      icon: region.icon,
      changed: entries.some((n) => n.changed),
      children: () => entries,
    });
  }
  return nodes;
}

/** The text a quick pick shows for each space ("mmscope: Open address space…"). */
export function spacePickItems(doc: ViewSnapshot): { label: string; description: string; detail: string; id: string }[] {
  return doc.spaces.map((s) => ({
    label: `${s.current ? '$(debug-stackframe-active) ' : ''}${s.label}`,
    description: spaceSourcesText(s),
    detail: `${s.id} · ${s.paging} · ${s.pages} pages in ${s.mappings.length} runs · CR3 ${hexAddress(s.cr3, addressDigits(s.paging))}`,
    id: s.id,
  }));
}
