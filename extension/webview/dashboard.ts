// The dashboard page's client: connects to the live feed (the token comes from the page's own
// URL), keeps the snapshot with FeedState, and renders the physical memory map (the shared
// PhysicalMemoryMap), the chains, the processes with their address spaces, and the findings,
// marking what changed since the previous snapshot. Text from the guest only ever goes through
// textContent.

import { FEED_PATH, liveSubprotocol, LIVE_PROTOCOL_VERSION } from '../../debug-adapter/src/live/protocol.js';
import type { ServerMessage } from '../../debug-adapter/src/live/protocol.js';
import { FeedState, FeedUpdate } from './feed-state.js';
import { PhysicalMemoryMap } from './memory-map.js';
import { siteText } from './memory-map-model.js';
import type { ChangesView, ChainView, SnapshotView } from './snapshot-view.js';

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;
const hex = (n: number): string => `0x${(n >>> 0).toString(16).padStart(8, '0')}`;

function el<K extends keyof HTMLElementTagNameMap>(tag: K, text?: string, className?: string): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  if (className) e.className = className;
  return e;
}

/** Page-table entry flags as letters: P W U (present, writable, user), A D (accessed, dirty), S (4 MiB), G (global). */
function flagLetters(f: number): string {
  return [[1, 'P'], [2, 'W'], [4, 'U'], [0x20, 'A'], [0x40, 'D'], [0x80, 'S'], [0x100, 'G']].map(([bit, l]) => (f & (bit as number) ? l : '-')).join('');
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
    const b = s.blocks;
    $('summary').textContent =
      `#${this.state.seq}${this.state.live ? ' (live)' : ''} · ${b.used} used, ${b.free} free, ${b.reserved} reserved · largest free run ${b.largestFreeRun} · fragmentation ${b.fragmentationPercent}% · ${s.chains.length} chains · ${s.counters.allocations} allocations`;
    $('map-caption').textContent = `${b.total} blocks; outlined: changed since the previous snapshot (${u.changedBlocks.size})`;
    this.map.update(s, u.changedBlocks);
    this.renderChains(s, u.changedChains);
    this.renderProcesses(s);
    this.renderFindings(s);
    if (this.map.selected !== undefined) this.selectChain(this.map.selected, false);
  }

  private renderChains(s: SnapshotView, changed: ReadonlySet<number>): void {
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

  private renderProcesses(s: SnapshotView): void {
    const parts: HTMLElement[] = [];
    const chainAt = new Map<string, ChainView>();
    for (const c of s.chains) for (const m of c.mappedAt) chainAt.set(`${m.space}:${m.virtual}`, c);
    for (const p of s.processes) {
      const box = el('div', undefined, 'process');
      box.dataset.pid = String(p.pid);
      const title = el('div', `${p.current ? '▶ ' : ''}pid ${p.pid} ${p.name} · ${p.state}`, 'process-title');
      if (p.updMatchesKpd === false) title.append(el('span', ' KPD slice stale', 'warning'));
      const user = p.mappings.reduce((n, r) => n + r.size, 0);
      title.append(el('span', ` · ${Math.round(user / 1024)} KiB mapped in ${p.mappings.length} runs`, 'muted'));
      const list = el('ul', undefined, 'runs');
      for (const r of p.mappings.slice(0, 40)) {
        const c = chainAt.get(`${p.pid}:${r.va}`);
        list.append(el('li', `${hex(r.va)}–${hex(r.va + r.size - 1)} → ${hex(r.pa)}  ${flagLetters(r.flags)}${c ? `  chain ${c.id}` : ''}`));
      }
      if (p.mappings.length > 40) list.append(el('li', `… ${p.mappings.length - 40} more runs`, 'muted'));
      box.append(title, list);
      parts.push(box);
    }
    $('processes').replaceChildren(...parts);
  }

  private renderFindings(s: SnapshotView): void {
    $('finding-count').textContent = `(${s.findings.length})`;
    const fresh = new Set((this.state.changes?.newFindings ?? []).map((f) => `${f.kind}:${f.message}`));
    const items = s.findings.map((f) => {
      const li = el('li', undefined, `finding ${f.severity}`);
      if (fresh.has(`${f.kind}:${f.message}`)) li.classList.add('changed');
      li.append(el('strong', `${f.severity} ${f.kind}: `), document.createTextNode(f.message));
      if (f.site) li.append(el('span', ` (${siteText(f.site)})`, 'muted'));
      if (f.chain !== undefined) {
        const id = f.chain;
        li.addEventListener('click', () => this.selectChain(id, false));
      }
      return li;
    });
    if (!items.length) items.push(el('li', 'none: the memory manager is consistent', 'muted'));
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
    const c = this.state.snapshot?.chains.find((x) => x.id === id);
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
