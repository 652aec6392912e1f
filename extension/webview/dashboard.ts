// The dashboard page's client: connects to the live feed (the token comes from the page's own
// URL), keeps the snapshot with FeedState, and renders the physical memory map (the shared
// PhysicalMemoryMap: our guest's blocks, any kernel's frames), the chains (our guest) or the
// allocators and heaps (a described kernel), the processes with their address spaces (or, with
// nothing described, the address spaces seen), and the findings, marking what changed since the
// previous snapshot. Text from the guest only ever goes through textContent.

import { EntryFlag } from '../../contract/translation.js';
import { FEED_PATH, liveSubprotocol, LIVE_PROTOCOL_VERSION } from '../../contract/live-protocol.js';
import type { ServerMessage } from '../../contract/live-protocol.js';
import { FeedState, FeedUpdate } from './feed-state.js';
import { PhysicalMemoryMap } from './memory-map.js';
import { frameCaption, siteText } from './memory-map-model.js';
import { isGuestView } from '../../contract/guest-document.js';
import { isCountedSpace } from '../../contract/snapshot-document.js';
import type { ChangesView, ChainView, GuestProcessView, GuestSnapshotView, JsonAddress, SnapshotView, SpaceJson } from '../../contract/guest-document.js';

/** How each process mode of our guest reads (the Processes view says the same). */
const MODE_TEXT: Readonly<Record<string, string>> = { kernel: 'kernel thread', user: 'ring 3', v86: 'V86 task', dpmi: 'DPMI client' };
const kib = (bytes: number): string => `${Math.round(bytes / 1024)} KiB`;

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;
/** Exact hex of an address of the document (64-bit ones arrive as hex strings). */
const hex = (n: JsonAddress, digits = 8): string => `0x${BigInt(n).toString(16).padStart(digits, "0")}`;
const digitsOf = (s: SpaceJson | undefined): number => (s?.paging === 'x86-64' || s?.paging === 'x86-64-la57' ? 16 : 8);
const bytesOf = (s: SpaceJson): number => s.mappings.reduce((n, r) => n + Number(r.size), 0);

function el<K extends keyof HTMLElementTagNameMap>(tag: K, text?: string, className?: string): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  if (className) e.className = className;
  return e;
}

/** Page-table entry flags as letters: P W U (present, writable, user), A D (accessed, dirty), S (4 MiB), G (global). */
function flagLetters(f: number): string {
  const letters: readonly (readonly [number, string])[] = [[EntryFlag.present, 'P'], [EntryFlag.writable, 'W'], [EntryFlag.user, 'U'], [EntryFlag.accessed, 'A'], [EntryFlag.dirty, 'D'], [EntryFlag.pageSize, 'S'], [EntryFlag.global, 'G']];
  return letters.map(([mask, l]) => (f & mask ? l : '-')).join('');
}

class Dashboard {
  private readonly state = new FeedState();
  private readonly map: PhysicalMemoryMap;
  private socket: WebSocket | undefined;
  private retryMs = 500;

  constructor() {
    this.map = new PhysicalMemoryMap($('memory-map'), { onSelect: (id) => this.selectChain(id, true) });
    this.connect();
  }

  private setConnection(text: string): void {
    $('connection').textContent = text;
    document.body.dataset.connection = text;
  }

  private connect(): void {
    const token = new URL(location.href).searchParams.get('token') ?? '';
    const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}${FEED_PATH}?token=${encodeURIComponent(token)}`;
    const ws = new WebSocket(url, [liveSubprotocol(LIVE_PROTOCOL_VERSION)]);
    this.socket = ws;
    this.setConnection('connecting');
    ws.onopen = () => {
      this.retryMs = 500;
      this.setConnection('connected');
    };
    ws.onmessage = (e: MessageEvent) => {
      if (typeof e.data !== 'string') return;
      this.onMessage(JSON.parse(e.data) as ServerMessage<SnapshotView, ChangesView>);
    };
    ws.onclose = (e: CloseEvent) => {
      this.setConnection(`disconnected${e.reason ? `: ${e.reason}` : ''}`);
      // 1001: the server stopped. Keep trying quietly: `mmscope serve` may be restarted... but with a new token.
      setTimeout(() => this.connect(), this.retryMs);
      this.retryMs = Math.min(10_000, this.retryMs * 2);
    };
  }

  private onMessage(m: ServerMessage<SnapshotView, ChangesView>): void {
    const u = this.state.handle(m);
    if (u.kind === 'out-of-step') {
      this.socket?.send(JSON.stringify({ type: 'resync' }));
      return;
    }
    if (u.kind === 'hello') this.renderHello();
    if (u.message) $('status').textContent = u.message;
    this.renderRunState();
    if (u.kind === 'snapshot' || u.kind === 'delta') this.render(u);
  }

  private renderHello(): void {
    const h = this.state.hello;
    if (!h) return;
    const g = h.guest;
    $('guest').textContent = g ? `${g.kernel} · ${g.blockCount} blocks of ${g.blockSize / 1024} KiB · refresh: ${h.refresh.kind} ${h.refresh.ratePerSecond}/s` : 'no guest yet';
  }

  private renderRunState(): void {
    const s = this.state;
    const text = `${s.state}${s.state === 'running' && s.live ? ' · live' : ''}`;
    $('run-state').textContent = text;
    document.body.dataset.state = s.state;
  }

  private render(u: FeedUpdate): void {
    const s = this.state.snapshot;
    if (!s) return;
    document.body.dataset.seq = String(this.state.seq);
    document.body.dataset.level = String(s.level);
    const live = `#${this.state.seq}${this.state.live ? ' (live)' : ''}`;
    this.map.update(s, u.changedBlocks);
    if (isGuestView(s)) {
      const b = s.blocks;
      $('summary').textContent =
        `${live} · ${b.used} used, ${b.free} free, ${b.reserved} reserved · largest free run ${b.largestFreeRun} · fragmentation ${b.fragmentationPercent}% · ${s.chains.length} chains · ${s.counters.allocations} allocations${
          s.swap && s.swap.slotCount > 0 ? ` · swap ${s.swap.used}/${s.swap.slotCount} slots (${s.swap.outs} out, ${s.swap.ins} in)` : ''}`;
      $('map-caption').textContent = `${b.total} blocks; outlined: changed since the previous snapshot (${u.changedBlocks.size})`;
      this.renderChains(s, u.changedChains);
    } else {
      const c = s.frames.counts;
      const a = s.frames.allocationCounts;
      $('summary').textContent =
        `${live} · level ${s.level} · ${s.pagingMode} · ${c.mapped + c.multi} frames mapped, ${c.table} page-table pages, ${c.unmapped} unmapped${a ? ` · allocators: ${a.used} used, ${a.free} free` : ''} · ${s.spaces.length} address space${s.spaces.length === 1 ? '' : 's'}`;
      const cells = this.map.frameCells;
      $('map-caption').textContent = cells ? frameCaption(s.frames, cells) : `${s.frames.count} frames`;
      this.renderAllocators(s);
    }
    this.renderProcesses(s);
    this.renderFindings(s);
    if (this.map.selected !== undefined) this.selectChain(this.map.selected, false);
  }

  /** The panel that shows chains on our guest shows the allocators and heaps of any other kernel. */
  private setAllocatorPanel(title: string, columns: readonly string[]): void {
    const h2 = document.querySelector('#chains-panel h2');
    if (h2?.firstChild && h2.firstChild.nodeType === Node.TEXT_NODE) h2.firstChild.textContent = `${title} `;
    const head = ($('chains') as HTMLTableElement).tHead;
    if (head && head.dataset.columns !== columns.join()) {
      const tr = el('tr');
      for (const c of columns) tr.append(el('th', c));
      head.replaceChildren(tr);
      head.dataset.columns = columns.join();
    }
  }

  private renderAllocators(s: SnapshotView): void {
    this.setAllocatorPanel('Allocators', ['name', 'shape', 'free', 'used', 'reserved', 'of', 'counter']);
    $('chain-count').textContent = `(${s.allocators.length}${s.heaps.length ? ` + ${s.heaps.length} heap${s.heaps.length === 1 ? '' : 's'}` : ''})`;
    const rows: HTMLTableRowElement[] = s.allocators.map((a) => {
      const tr = el('tr');
      tr.dataset.allocator = a.name;
      tr.append(
        el('td', a.name), el('td', a.shape), el('td', String(a.free)), el('td', String(a.used)), el('td', String(a.reserved)),
        el('td', `${a.total} × ${a.unitBytes / 1024} KiB`),
        el('td', a.counter ? `${a.counter.expression} = ${a.counter.value}${a.counter.agrees ? '' : ' (disagrees)'}` : a.freeByOrder ? `orders ${a.freeByOrder.join(' ')}` : '-'),
      );
      if (a.counter && !a.counter.agrees) tr.classList.add('warning');
      return tr;
    });
    for (const h of s.heaps) {
      const tr = el('tr');
      tr.dataset.heap = h.name;
      const used = h.blocks.filter((b) => b.used).length;
      tr.append(el('td', h.name), el('td', 'heap'), el('td', `${h.freeBytes} B`), el('td', `${h.usedBytes} B`), el('td', '-'),
        el('td', `${h.blocks.length} blocks (${used} used)`), el('td', h.truncated ? 'walk stopped at its bound' : '-'));
      rows.push(tr);
    }
    if (!rows.length) {
      const tr = el('tr');
      const td = el('td', 'no allocator described (level 0): the map shows what the page tables make of each frame', 'muted');
      td.colSpan = 7;
      tr.append(td);
      rows.push(tr);
    }
    ($('chains') as HTMLTableElement).tBodies[0].replaceChildren(...rows);
  }

  private renderChains(s: GuestSnapshotView, changed: ReadonlySet<number>): void {
    this.setAllocatorPanel('Chains', ['id', 'blocks', 'flags', 'owner', 'mapped at', 'allocated by']);
    $('chain-count').textContent = `(${s.chains.length})`;
    const body = ($('chains') as HTMLTableElement).tBodies[0];
    const rows: HTMLTableRowElement[] = [];
    for (const c of s.chains) {
      const tr = el('tr');
      tr.dataset.chainId = String(c.id);
      if (changed.has(c.id)) tr.classList.add('changed');
      if (c.id === this.map.selected) tr.classList.add('selected');
      tr.append(
        el('td', String(c.id)),
        el('td', String(c.blocks.length)),
        el('td', c.flagNames.join(', ') || '-'),
        el('td', `${c.owner.kind} #${c.owner.seq}${c.handles.length ? ' ' + c.handles.map((h) => `${h.type}:${h.handle}`).join(' ') : ''}`),
        el('td', c.mappedAt.map((m) => `${m.space === 'kernel' ? 'kernel' : `pid ${m.space}`} ${hex(m.virtual)}`).join(', ') || 'unmapped'),
        el('td', siteText(c.site)),
      );
      tr.addEventListener('click', () => this.selectChain(c.id, false));
      rows.push(tr);
    }
    body.replaceChildren(...rows);
  }

  /** The runs of a space, the first 40 (our guest: with the chain each maps). */
  private runList(space: SpaceJson | undefined, chainAt: ReadonlyMap<string, ChainView>, pid: number | undefined): HTMLUListElement {
    const list = el('ul', undefined, 'runs');
    const runs = space?.mappings ?? [];
    const d = digitsOf(space);
    for (const r of runs.slice(0, 40)) {
      const c = typeof r.va === 'number' ? chainAt.get(`${pid}:${r.va}`) ?? chainAt.get(`kernel:${r.va}`) : undefined;
      const end = BigInt(r.va) + BigInt(r.size) - 1n;
      list.append(el('li', `${hex(r.va, d)}–${hex(`0x${end.toString(16)}`, d)} → ${hex(r.pa)}  ${flagLetters(r.flags)}${r.nx ? ' NX' : ''}${c ? `  chain ${c.id}` : ''}`));
    }
    if (runs.length > 40) list.append(el('li', `… ${runs.length - 40} more runs`, 'muted'));
    return list;
  }

  private renderProcesses(s: SnapshotView): void {
    const parts: HTMLElement[] = [];
    const chainAt = new Map<string, ChainView>();
    for (const c of s.chains ?? []) for (const m of c.mappedAt) chainAt.set(`${m.space}:${m.virtual}`, c);
    const spaces = new Map(s.spaces.map((x) => [x.id, x]));
    const changes = this.state.changes;
    const changedSpaces = new Set((changes?.spaces ?? []).filter((c) => c.kind !== 'removed').map((c) => c.id));
    const newPids = new Set((changes?.processes ?? []).filter((c) => c.kind !== 'removed').map((c) => c.pid)); // added or changed, as the Processes view marks them
    for (const p of s.processes) {
      const space = p.space !== null ? spaces.get(p.space) : undefined;
      const box = el('div', undefined, 'process');
      box.dataset.pid = String(p.pid);
      if (newPids.has(p.pid) || (p.space !== null && changedSpaces.has(p.space))) box.classList.add('changed');
      const g = p as GuestProcessView;
      const mode = g.mode !== undefined ? ` · ${MODE_TEXT[g.mode] ?? `mode ${g.mode}`}` : '';
      if (g.mode !== undefined) box.dataset.mode = g.mode;
      const title = el('div', `${p.current ? '▶ ' : ''}pid ${p.pid} ${p.name} · ${p.state}${mode}${p.state === 'zombie' && g.exitCode !== undefined ? ` · exit ${g.exitCode}` : ''}`, 'process-title');
      if ((p as { updMatchesKpd?: boolean | null }).updMatchesKpd === false) title.append(el('span', ' KPD slice stale', 'warning'));
      title.append(el('span', space ? ` · ${Math.round(bytesOf(space) / 1024)} KiB mapped in ${space.mappings.length} runs` : ' · no address space read', 'muted'));
      if (g.swappedPages?.length) title.append(el('span', ` · ${g.swappedPages.length} page${g.swappedPages.length === 1 ? '' : 's'} swapped out`, 'muted swapped'));
      box.append(title);
      if (g.v86) {
        const t = g.v86;
        box.append(el('div', `DOS task: PSP ${t.pspSeg.toString(16).padStart(4, '0')}h · ${t.status} · conventional ${kib(t.lowChainBytes)} private + ${kib(t.mcbParagraphs * 16)} in ${t.mcbBlocks.length} MCB block${t.mcbBlocks.length === 1 ? '' : 's'} · ${t.xmsHandles.length} XMS handle${t.xmsHandles.length === 1 ? '' : 's'} · ${t.dpmiHandles.length} DPMI block${t.dpmiHandles.length === 1 ? '' : 's'}`, 'dos-task'));
      }
      box.append(this.runList(space, chainAt, p.pid));
      parts.push(box);
    }
    if (!s.processes.length) {
      // Level 0: no process is known; every address space seen is one.
      for (const space of s.spaces) {
        const box = el('div', undefined, 'process');
        box.dataset.space = space.id;
        if (changedSpaces.has(space.id)) box.classList.add('changed');
        const stale = !space.current && !isCountedSpace(space);
        const title = el('div', `${space.current ? '▶ ' : ''}${space.label} · ${space.paging}`, 'process-title');
        title.append(el('span', ` · ${space.sources.join(', ')}${stale ? ' · possibly stale' : ''} · ${Math.round(bytesOf(space) / 1024)} KiB mapped in ${space.mappings.length} runs`, 'muted'));
        box.append(title, this.runList(space, chainAt, undefined));
        parts.push(box);
      }
    }
    $('processes').replaceChildren(...parts);
  }

  private renderFindings(s: SnapshotView): void {
    $('finding-count').textContent = `(${s.findings.length})`;
    const fresh = new Set((this.state.changes?.newFindings ?? []).map((f) => `${f.kind}:${f.message}`));
    const spaces = new Map(s.spaces.map((x) => [x.id, x]));
    const items = s.findings.map((f) => {
      const li = el('li', undefined, `finding ${f.severity}`);
      if (fresh.has(`${f.kind}:${f.message}`)) li.classList.add('changed');
      li.append(el('strong', `${f.severity} ${f.kind}: `), document.createTextNode(f.message));
      const where = [
        f.virtual !== undefined ? `${hex(f.virtual, digitsOf(f.space !== undefined ? spaces.get(f.space) : undefined))}${f.space !== undefined ? ` in ${spaces.get(f.space)?.label ?? f.space}` : ''}` : undefined,
        f.physical !== undefined ? `frame ${hex(f.physical)}` : undefined,
        f.site ? siteText(f.site) : undefined,
      ].filter(Boolean).join(', ');
      if (where) li.append(el('span', ` (${where})`, 'muted'));
      if (f.chain !== undefined) {
        const id = f.chain;
        li.addEventListener('click', () => this.selectChain(id, false));
      }
      return li;
    });
    if (!items.length) items.push(el('li', s.level === 0 ? 'none: the page tables look sane' : 'none: the memory manager is consistent', 'muted'));
    $('findings').replaceChildren(...items);
  }

  /** Selects a chain in the map and the chains table; shows its details. */
  private selectChain(id: number | undefined, fromMap: boolean): void {
    if (!fromMap) this.map.select(id);
    for (const tr of Array.from(document.querySelectorAll('#chains tr.selected'))) tr.classList.remove('selected');
    const detail = $('selection');
    if (id === undefined) {
      detail.textContent = '';
      document.body.dataset.selectedChain = '';
      return;
    }
    document.body.dataset.selectedChain = String(id);
    const row = document.querySelector(`#chains tr[data-chain-id="${id}"]`);
    if (row) {
      row.classList.add('selected');
      if (fromMap) row.scrollIntoView({ block: 'nearest' });
    }
    const c = this.state.snapshot?.chains?.find((x) => x.id === id);
    detail.textContent = c
      ? `chain ${c.id}: ${c.blocks.length} blocks (${Math.round(c.sizeBytes / 1024)} KiB) in ${c.runs.length} run${c.runs.length === 1 ? '' : 's'} ` +
        `[${c.runs.map((r) => (r.count > 1 ? `${r.first}–${r.first + r.count - 1}` : String(r.first))).join(', ')}] · ${c.owner.kind} #${c.owner.seq} · allocated by ${siteText(c.site)}`
      : `chain ${id} is gone`;
  }
}

if (typeof document !== 'undefined') {
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', () => new Dashboard());
  else new Dashboard();
}
