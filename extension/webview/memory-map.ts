// PhysicalMemoryMap: every block of guest RAM as one cell on a canvas, coloured by chain and
// state; blocks changed since the last snapshot are outlined; hovering shows the block's chain,
// clicking selects the chain (its blocks outlined, the rest dimmed). Plain DOM and canvas, no VS
// Code API: the dashboard and the VS Code "Physical memory" webview both use this class.

import { blockColour, describeBlock, indexSnapshot, MapIndex } from './memory-map-model.js';
import type { SnapshotView } from './snapshot-view.js';

export interface MemoryMapOptions {
  /** Called when the user clicks a block: its chain, or undefined for a block in no chain. */
  onSelect?(chainId: number | undefined): void;
  /** Largest cell size in CSS pixels. Default 12. */
  maxCellSize?: number;
  /** Height the map may take, in CSS pixels. Default 520. */
  maxHeight?: number;
}

export class PhysicalMemoryMap {
  readonly canvas: HTMLCanvasElement;
  readonly tooltip: HTMLDivElement;
  private snapshot: SnapshotView | undefined;
  private index: MapIndex | undefined;
  private changed: ReadonlySet<number> = new Set();
  private selectedChain: number | undefined;
  private cell = 8;
  private columns = 1;

  constructor(private readonly host: HTMLElement, private readonly options: MemoryMapOptions = {}) {
    host.classList.add('memory-map');
    host.style.position = 'relative';
    this.canvas = document.createElement('canvas');
    this.canvas.setAttribute('role', 'img');
    this.canvas.setAttribute('aria-label', 'physical memory map: one cell per 16 KiB block');
    this.tooltip = document.createElement('div');
    this.tooltip.className = 'memory-map-tooltip';
    this.tooltip.hidden = true;
    host.append(this.canvas, this.tooltip);
    this.canvas.addEventListener('mousemove', (e) => this.hover(e));
    this.canvas.addEventListener('mouseleave', () => (this.tooltip.hidden = true));
    this.canvas.addEventListener('click', (e) => {
      const b = this.blockAt(e.offsetX, e.offsetY);
      if (b === undefined || !this.index) return;
      const chain = this.index.chainOf[b];
      this.select(chain >= 0 ? chain : undefined);
      this.options.onSelect?.(chain >= 0 ? chain : undefined);
    });
    if (typeof ResizeObserver !== 'undefined') new ResizeObserver(() => this.draw()).observe(host);
  }

  /** Shows a snapshot; `changedBlocks` are outlined as changed since the previous one. */
  update(snapshot: SnapshotView, changedBlocks: ReadonlySet<number> = new Set()): void {
    this.snapshot = snapshot;
    this.index = indexSnapshot(snapshot);
    this.changed = changedBlocks;
    if (this.selectedChain !== undefined && !this.index.chains.has(this.selectedChain)) this.selectedChain = undefined;
    this.draw();
  }

  /** Selects a chain (outlines its blocks), or clears the selection. */
  select(chainId: number | undefined): void {
    this.selectedChain = chainId;
    this.draw();
  }

  get selected(): number | undefined {
    return this.selectedChain;
  }

  /** The block under a point of the canvas (CSS pixels), if any. */
  blockAt(x: number, y: number): number | undefined {
    if (!this.snapshot) return undefined;
    const col = Math.floor(x / this.cell);
    const row = Math.floor(y / this.cell);
    if (col < 0 || col >= this.columns || row < 0) return undefined;
    const i = row * this.columns + col;
    return i < this.snapshot.blocks.map.length ? i : undefined;
  }

  /** Where block `i` is drawn (CSS pixels): for tests and for "reveal". */
  cellOf(i: number): { x: number; y: number; size: number } {
    return { x: (i % this.columns) * this.cell, y: Math.floor(i / this.columns) * this.cell, size: this.cell };
  }

  private layout(count: number): void {
    const width = Math.max(120, this.host.clientWidth || 800);
    const maxCell = this.options.maxCellSize ?? 12;
    const maxHeight = this.options.maxHeight ?? 520;
    let cell = maxCell;
    while (cell > 2 && Math.ceil(count / Math.floor(width / cell)) * cell > maxHeight) cell--;
    this.cell = cell;
    this.columns = Math.max(1, Math.floor(width / cell));
  }

  draw(): void {
    const s = this.snapshot;
    const index = this.index;
    if (!s || !index) return;
    const count = s.blocks.map.length;
    this.layout(count);
    const rows = Math.ceil(count / this.columns);
    const ratio = window.devicePixelRatio || 1;
    const w = this.columns * this.cell;
    const h = rows * this.cell;
    // Geometry for tests and tools that point at a block: block i is at column i % columns.
    this.canvas.dataset.cell = String(this.cell);
    this.canvas.dataset.columns = String(this.columns);
    this.canvas.style.width = `${w}px`;
    this.canvas.style.height = `${h}px`;
    this.canvas.width = Math.ceil(w * ratio);
    this.canvas.height = Math.ceil(h * ratio);
    const g = this.canvas.getContext('2d');
    if (!g) return;
    g.setTransform(ratio, 0, 0, ratio, 0, 0);
    g.fillStyle = '#08090b';
    g.fillRect(0, 0, w, h);
    const gap = this.cell >= 5 ? 1 : 0;
    const inner = this.cell - gap;
    const sel = this.selectedChain;
    for (let i = 0; i < count; i++) {
      const x = (i % this.columns) * this.cell;
      const y = Math.floor(i / this.columns) * this.cell;
      g.globalAlpha = sel !== undefined && index.chainOf[i] !== sel ? 0.35 : 1;
      g.fillStyle = blockColour(s, index, i);
      g.fillRect(x, y, inner, inner);
      const ch = s.blocks.map.charCodeAt(i);
      if (ch === 67 /* C: head */ && inner >= 6) {
        g.fillStyle = 'rgba(0,0,0,0.45)';
        g.fillRect(x, y, Math.max(2, inner >> 2), inner);
      }
    }
    g.globalAlpha = 1;
    const outline = (i: number, colour: string): void => {
      const x = (i % this.columns) * this.cell;
      const y = Math.floor(i / this.columns) * this.cell;
      g.strokeStyle = colour;
      g.lineWidth = 1.5;
      g.strokeRect(x + 0.75, y + 0.75, Math.max(1, inner - 1.5), Math.max(1, inner - 1.5));
    };
    for (const i of this.changed) if (i < count) outline(i, '#ffffff');
    if (sel !== undefined) for (const b of index.chains.get(sel)?.blocks ?? []) outline(b, '#ffd400');
  }

  private hover(e: MouseEvent): void {
    const b = this.blockAt(e.offsetX, e.offsetY);
    if (b === undefined || !this.snapshot || !this.index) {
      this.tooltip.hidden = true;
      return;
    }
    this.tooltip.textContent = '';
    for (const line of describeBlock(this.snapshot, this.index, b)) {
      const div = document.createElement('div');
      div.textContent = line;
      this.tooltip.append(div);
    }
    this.tooltip.hidden = false;
    const left = Math.min(e.offsetX + 14, Math.max(0, this.host.clientWidth - 320));
    this.tooltip.style.left = `${left}px`;
    this.tooltip.style.top = `${e.offsetY + 14}px`;
  }
}
