// PhysicalMemoryMap: physical memory on a canvas. Our guest: every 16 KiB block as one cell,
// coloured by chain and state; blocks changed since the last snapshot are outlined; hovering shows
// the block's chain, clicking selects the chain (its blocks outlined, the rest dimmed). Any other
// kernel: the document's frame map, cells of a power-of-two number of 4 KiB frames (one frame per
// cell when it fits), coloured by what the page tables make of them, with a strip for the
// allocators' state when a description gives it, a legend with the counts, and a tooltip that
// counts a cell's frames. Plain DOM and canvas, no VS Code API: the dashboard and the VS Code
// "Physical memory" webview both use this class.

import {
  FRAME_ALLOC_COLOURS, FRAME_ALLOC_STATES, FRAME_MAP_COLOURS, FRAME_MAP_STATES, FrameCells, MapIndex, NO_ALLOCATOR,
  blockColour, describeBlock, describeFrameCell, frameCaption, frameCells, frameExtent, frameLegend, framesPerCellFor, indexSnapshot,
} from './memory-map-model.js';
import { isGuestView } from '../../contract/guest-document.js';
import type { GuestSnapshotView, SnapshotView } from '../../contract/guest-document.js';

export interface MemoryMapOptions {
  /** Called when the user clicks a block: its chain, or undefined for a block in no chain. */
  onSelect?(chainId: number | undefined): void;
  /** Called when the user clicks a cell of the frame map: its first frame. */
  onSelectFrame?(frame: number): void;
  /** Largest cell size in CSS pixels. Default 12. */
  maxCellSize?: number;
  /** Height the map may take, in CSS pixels. Default 520. */
  maxHeight?: number;
}

/** Smallest cell of the frame map (CSS pixels): below this, cells hold more frames instead. */
const MIN_FRAME_CELL = 4;

export class PhysicalMemoryMap {
  readonly canvas: HTMLCanvasElement;
  readonly tooltip: HTMLDivElement;
  readonly legend: HTMLDivElement;
  private snapshot: SnapshotView | undefined;
  private guest: GuestSnapshotView | undefined;
  private index: MapIndex | undefined;
  private frames: FrameCells | undefined;
  private changed: ReadonlySet<number> = new Set();
  private selectedChain: number | undefined;
  private selectedCell: number | undefined;
  private cell = 8;
  private columns = 1;

  constructor(private readonly host: HTMLElement, private readonly options: MemoryMapOptions = {}) {
    host.classList.add('memory-map');
    host.style.position = 'relative';
    this.canvas = document.createElement('canvas');
    this.canvas.setAttribute('role', 'img');
    this.canvas.setAttribute('aria-label', 'physical memory map');
    this.tooltip = document.createElement('div');
    this.tooltip.className = 'memory-map-tooltip';
    this.tooltip.hidden = true;
    this.legend = document.createElement('div');
    this.legend.className = 'memory-map-legend';
    host.append(this.canvas, this.legend, this.tooltip);
    this.canvas.addEventListener('mousemove', (e) => this.hover(e));
    this.canvas.addEventListener('mouseleave', () => (this.tooltip.hidden = true));
    this.canvas.addEventListener('click', (e) => {
      const b = this.cellAt(e.offsetX, e.offsetY);
      if (b === undefined) return;
      if (this.index) {
        const chain = this.index.chainOf[b];
        this.select(chain >= 0 ? chain : undefined);
        this.options.onSelect?.(chain >= 0 ? chain : undefined);
      } else if (this.frames) {
        this.selectedCell = b;
        this.draw();
        this.options.onSelectFrame?.(b * this.frames.framesPerCell);
      }
    });
    if (typeof ResizeObserver !== 'undefined') new ResizeObserver(() => this.draw()).observe(host);
  }

  /** Shows a snapshot; `changedBlocks` (our guest's) are outlined as changed since the previous one. */
  update(snapshot: SnapshotView, changedBlocks: ReadonlySet<number> = new Set()): void {
    this.snapshot = snapshot;
    this.guest = isGuestView(snapshot) ? snapshot : undefined;
    this.index = this.guest ? indexSnapshot(this.guest) : undefined;
    this.frames = undefined;
    this.changed = changedBlocks;
    if (this.selectedChain !== undefined && !this.index?.chains.has(this.selectedChain)) this.selectedChain = undefined;
    this.draw();
  }

  /** Selects a chain (outlines its blocks), or clears the selection. */
  select(chainId: number | undefined): void {
    this.selectedChain = chainId;
    this.draw();
  }

  /** Outlines the cell holding `frame` (frame map), or clears it; returns that cell. */
  selectFrame(frame: number | undefined): number | undefined {
    this.selectedCell = frame === undefined || !this.frames ? undefined : Math.floor(frame / this.frames.framesPerCell);
    this.draw();
    return this.selectedCell;
  }

  get selected(): number | undefined {
    return this.selectedChain;
  }

  /** 'blocks' (our guest's block map), 'frames' (the frame map) or 'none'. */
  get mode(): 'blocks' | 'frames' | 'none' {
    return this.guest ? 'blocks' : this.snapshot ? 'frames' : 'none';
  }

  /** Cells drawn: blocks, or frame cells. */
  get cells(): number {
    return this.guest ? this.guest.blocks.map.length : this.frames?.cells ?? 0;
  }

  /** The frame map's cells (after a draw). */
  get frameCells(): FrameCells | undefined {
    return this.frames;
  }

  /** The block or frame cell under a point of the canvas (CSS pixels), if any. */
  cellAt(x: number, y: number): number | undefined {
    if (!this.snapshot) return undefined;
    const col = Math.floor(x / this.cell);
    const row = Math.floor(y / this.cell);
    if (col < 0 || col >= this.columns || row < 0) return undefined;
    const i = row * this.columns + col;
    return i < this.cells ? i : undefined;
  }

  /** The old name of cellAt (our guest's blocks). */
  blockAt(x: number, y: number): number | undefined {
    return this.cellAt(x, y);
  }

  /** Where cell `i` is drawn (CSS pixels): for tests and for "reveal". */
  cellOf(i: number): { x: number; y: number; size: number } {
    return { x: (i % this.columns) * this.cell, y: Math.floor(i / this.columns) * this.cell, size: this.cell };
  }

  private width(): number {
    return Math.max(120, this.host.clientWidth || 800);
  }

  private layout(count: number): void {
    const width = this.width();
    const maxCell = this.options.maxCellSize ?? 12;
    const maxHeight = this.options.maxHeight ?? 520;
    let cell = maxCell;
    while (cell > 2 && Math.ceil(count / Math.floor(width / cell)) * cell > maxHeight) cell--;
    this.cell = cell;
    this.columns = Math.max(1, Math.floor(width / cell));
  }

  /** Frame map: the largest cell size at which one frame per cell fits, else the smallest cell with more frames per cell. */
  private layoutFrames(frames: number): number {
    const width = this.width();
    const maxHeight = this.options.maxHeight ?? 520;
    let cell = this.options.maxCellSize ?? 12;
    for (; cell > MIN_FRAME_CELL; cell--) if (Math.floor(width / cell) * Math.floor(maxHeight / cell) >= frames) break;
    this.cell = cell;
    this.columns = Math.max(1, Math.floor(width / cell));
    return framesPerCellFor(frames, this.columns * Math.max(1, Math.floor(maxHeight / cell)));
  }

  private prepare(w: number, h: number): CanvasRenderingContext2D | null {
    const ratio = window.devicePixelRatio || 1;
    this.canvas.dataset.cell = String(this.cell);
    this.canvas.dataset.columns = String(this.columns);
    this.canvas.dataset.mode = this.mode;
    this.canvas.style.width = `${w}px`;
    this.canvas.style.height = `${h}px`;
    this.canvas.width = Math.ceil(w * ratio);
    this.canvas.height = Math.ceil(h * ratio);
    const g = this.canvas.getContext('2d');
    if (!g) return null;
    g.setTransform(ratio, 0, 0, ratio, 0, 0);
    g.fillStyle = '#08090b';
    g.fillRect(0, 0, w, h);
    return g;
  }

  draw(): void {
    if (this.guest && this.index) this.drawBlocks(this.guest, this.index);
    else if (this.snapshot) this.drawFrames(this.snapshot);
  }

  private drawBlocks(s: GuestSnapshotView, index: MapIndex): void {
    const count = s.blocks.map.length;
    this.layout(count);
    this.legend.replaceChildren();
    const rows = Math.ceil(count / this.columns);
    const w = this.columns * this.cell;
    const h = rows * this.cell;
    const g = this.prepare(w, h);
    if (!g) return;
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
    for (const i of this.changed) if (i < count) this.outline(g, i, inner, '#ffffff');
    if (sel !== undefined) for (const b of index.chains.get(sel)?.blocks ?? []) this.outline(g, b, inner, '#ffd400');
  }

  private outline(g: CanvasRenderingContext2D, i: number, inner: number, colour: string): void {
    const x = (i % this.columns) * this.cell;
    const y = Math.floor(i / this.columns) * this.cell;
    g.strokeStyle = colour;
    g.lineWidth = 1.5;
    g.strokeRect(x + 0.75, y + 0.75, Math.max(1, inner - 1.5), Math.max(1, inner - 1.5));
  }

  private drawFrames(s: SnapshotView): void {
    const extent = frameExtent(s.frames);
    const per = this.layoutFrames(extent);
    const c = (this.frames = frameCells(s.frames, Math.ceil(extent / per)));
    this.canvas.dataset.framesPerCell = String(c.framesPerCell);
    this.renderLegend(s, c);
    const rows = Math.ceil(c.cells / this.columns);
    const w = this.columns * this.cell;
    const h = Math.max(1, rows) * this.cell;
    const g = this.prepare(w, h);
    if (!g) return;
    const gap = this.cell >= 5 ? 1 : 0;
    const inner = this.cell - gap;
    const strip = c.allocation ? Math.max(1, Math.round(inner / 3)) : 0;
    const mapColours = FRAME_MAP_STATES.map((st) => FRAME_MAP_COLOURS[st]);
    const allocColours = FRAME_ALLOC_STATES.map((st) => FRAME_ALLOC_COLOURS[st]);
    for (let i = 0; i < c.cells; i++) {
      const x = (i % this.columns) * this.cell;
      const y = Math.floor(i / this.columns) * this.cell;
      g.fillStyle = mapColours[c.mapping[i]];
      g.fillRect(x, y, inner, inner - strip);
      if (c.accent[i] !== NO_ALLOCATOR) {
        g.fillStyle = mapColours[c.accent[i]];
        g.fillRect(x, y, Math.max(2, Math.ceil(inner / 2)), Math.max(2, Math.ceil((inner - strip) / 2)));
      }
      if (c.allocation) {
        const a = c.allocation[i];
        g.fillStyle = a === NO_ALLOCATOR ? mapColours[c.mapping[i]] : allocColours[a];
        g.fillRect(x, y + inner - strip, inner, strip);
      }
    }
    if (this.selectedCell !== undefined && this.selectedCell < c.cells) this.outline(g, this.selectedCell, inner, '#ffd400');
  }

  private renderLegend(s: SnapshotView, c: FrameCells): void {
    const caption = document.createElement('div');
    caption.className = 'memory-map-caption';
    caption.textContent = frameCaption(s.frames, c);
    const items = frameLegend(s.frames).map((e) => {
      const item = document.createElement('span');
      item.className = `memory-map-legend-item ${e.layer}`;
      item.dataset.state = e.state;
      item.dataset.count = String(e.count);
      const swatch = document.createElement('span');
      swatch.className = 'memory-map-swatch';
      swatch.style.background = e.colour;
      item.append(swatch, document.createTextNode(`${e.name} ${e.count}`));
      return item;
    });
    const notes = [
      ...(c.framesPerCell > 1 ? ['a corner mark: some frames of the cell are page tables (or shared, or not RAM)'] : []),
      ...(c.allocation ? ['lower strip: the allocator'] : []),
    ];
    for (const text of notes) {
      const note = document.createElement('span');
      note.className = 'memory-map-legend-item note';
      note.textContent = text;
      items.push(note);
    }
    this.legend.replaceChildren(caption, ...items);
  }

  private hover(e: MouseEvent): void {
    const b = this.cellAt(e.offsetX, e.offsetY);
    const lines = b === undefined ? undefined
      : this.guest && this.index ? describeBlock(this.guest, this.index, b)
      : this.frames && this.snapshot ? describeFrameCell(this.snapshot.frames, this.frames, b) : undefined;
    if (!lines) {
      this.tooltip.hidden = true;
      return;
    }
    this.tooltip.textContent = '';
    for (const line of lines) {
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
