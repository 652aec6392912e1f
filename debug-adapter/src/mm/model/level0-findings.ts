// Level-0 findings: what the page tables alone show to be wrong or dangerous, for any kernel
// (docs/snapshot-schema.md, "Findings" gives each kind's exact rule). Only counted spaces are
// looked at (their tables are live now), so a finding is never about tables that may have been
// freed. Aggregated: one finding per virtually contiguous range or per physical span, at most
// MAX_PER_KIND per kind, then one summary finding of the same kind with the number left out.

import { jsonAddress } from '../../../../qemu-bridge/src/paging/translation-steps';
import type { FindingDocJson, FindingSeverity, PagingMode, PhysicalRegionJson } from './snapshot-document';
import type { SpaceModel, SpaceRun } from './space-model';
import { FRAME, FrameSpan, intersectSpans, mergeSpans, regionSpans, runFrames, subtractSpans } from './frame-map';

export const MAX_PER_KIND = 32;

export const LEVEL0_SEVERITY: Readonly<Record<string, FindingSeverity>> = {
  'writable-executable': 'warning',
  'user-writable-kernel': 'error',
  'writable-code-alias': 'warning',
  'user-maps-page-table': 'error',
  'mapping-outside-ram': 'warning',
  'null-page-mapped': 'warning',
  'reserved-bits': 'error',
  'unreadable-page-table': 'error',
  'walk-limit': 'info',
};

const hex = (n: number | bigint): string => `0x${n.toString(16)}`;

/** Findings capped per kind; `finish` adds the summaries. */
export class FindingCollector {
  private readonly list: FindingDocJson[] = [];
  private readonly perKind = new Map<string, { kept: number; dropped: number; severity: FindingSeverity }>();

  constructor(private readonly max = MAX_PER_KIND) {}

  add(f: FindingDocJson): void {
    this.addLazy(f.kind, f.severity, () => f);
  }

  /** Counts the finding and builds it only while its kind is under the cap (building may cost a search). */
  addLazy(kind: string, severity: FindingSeverity, make: () => FindingDocJson | undefined): void {
    const k = this.perKind.get(kind) ?? { kept: 0, dropped: 0, severity };
    this.perKind.set(kind, k);
    if (k.kept >= this.max) {
      k.dropped++;
      return;
    }
    const f = make();
    if (!f) return;
    k.kept++;
    this.list.push(f);
  }

  finish(): FindingDocJson[] {
    const out = [...this.list];
    for (const [kind, k] of this.perKind) {
      if (k.dropped) out.push({ kind, severity: k.severity, message: `${k.dropped} more ${kind} findings like the ${k.kept} above are not listed.` });
    }
    return out;
  }
}

/** What the registers say about the CPU's protections. */
export interface ProtectionContext {
  readonly paging: PagingMode;
  /** EFER.NXE on in PAE or long mode: the kernel can forbid execution, so W+X is its choice. */
  readonly nx: boolean;
}

const rangeText = (va: bigint, bytes: number): string => `${hex(va)}..${hex(va + BigInt(bytes) - 1n)}`;
const sizeText = (bytes: number): string => (bytes >= 1 << 20 && bytes % (1 << 20) === 0 ? `${bytes / (1 << 20)} MiB` : `${bytes / 1024} KiB`);

/** Virtually contiguous runs of one space that satisfy `pred`, merged. */
function contiguous(runs: readonly SpaceRun[], pred: (r: SpaceRun) => boolean): { va: bigint; bytes: number; pa: number }[] {
  const out: { va: bigint; bytes: number; pa: number }[] = [];
  for (const r of runs) {
    if (!pred(r)) continue;
    const last = out[out.length - 1];
    if (last && last.va + BigInt(last.bytes) === r.va) last.bytes += r.bytes;
    else out.push({ va: r.va, bytes: r.bytes, pa: r.pa });
  }
  return out;
}

/** Per-range findings over every counted space, each range reported once (kernel halves are shared). */
function perRange(spaces: readonly SpaceModel[], pred: (r: SpaceRun) => boolean, emit: (range: { va: bigint; bytes: number; pa: number }, space: SpaceModel, others: number) => FindingDocJson, out: FindingCollector): void {
  const seen = new Map<string, { range: { va: bigint; bytes: number; pa: number }; space: SpaceModel; n: number }>();
  for (const s of spaces) {
    for (const range of contiguous(s.runs, pred)) {
      const key = `${range.va}:${range.bytes}:${range.pa}`;
      const had = seen.get(key);
      if (had) had.n++;
      else seen.set(key, { range, space: s, n: 1 });
    }
  }
  for (const { range, space, n } of seen.values()) out.add(emit(range, space, n - 1));
}

const inOthers = (n: number): string => (n ? ` (and the same in ${n} other address space${n > 1 ? 's' : ''})` : '');

/** A run of `runs` over the frame `frame`, with its space. */
function runOver(spaces: readonly SpaceModel[], frame: number, pred: (r: SpaceRun) => boolean): { run: SpaceRun; space: SpaceModel } | undefined {
  for (const space of spaces) {
    for (const run of space.runs) {
      if (!pred(run)) continue;
      const f = runFrames(run);
      if (f.start <= frame && frame < f.end) return { run, space };
    }
  }
  return undefined;
}

function spansOf(spaces: readonly SpaceModel[], pred: (r: SpaceRun) => boolean): FrameSpan[] {
  const spans: FrameSpan[] = [];
  for (const s of spaces) for (const r of s.runs) if (pred(r)) spans.push(runFrames(r));
  return mergeSpans(spans.sort((a, b) => a.start - b.start));
}

const vaOf = (run: SpaceRun, frame: number): bigint => run.va + BigInt(frame * FRAME - run.pa);

/** Frames where a mapping of kind `a` and one of kind `b` meet: one finding per physical span. */
function aliases(kind: string, spaces: readonly SpaceModel[], a: (r: SpaceRun) => boolean, b: (r: SpaceRun) => boolean,
  emit: (span: FrameSpan, first: { run: SpaceRun; space: SpaceModel }, second: { run: SpaceRun; space: SpaceModel }) => FindingDocJson, out: FindingCollector): void {
  for (const span of intersectSpans(spansOf(spaces, a), spansOf(spaces, b))) {
    out.addLazy(kind, LEVEL0_SEVERITY[kind], () => {
      const first = runOver(spaces, span.start, a);
      const second = runOver(spaces, span.start, b);
      return first && second ? emit(span, first, second) : undefined;
    });
  }
}

const frameRange = (span: FrameSpan): string => `${hex(span.start * FRAME)}..${hex(span.end * FRAME - 1)}`;
const frameWord = (span: FrameSpan): string => (span.end - span.start === 1 ? 'frame' : `${span.end - span.start} frames`);

/**
 * The level-0 findings of the counted spaces. `tables`: the frames of their paging-structure
 * pages; `regions`: QEMU's memory map, when known (else no mapping-outside-ram finding).
 */
export function level0Findings(spaces: readonly SpaceModel[], ctx: ProtectionContext, tables: readonly FrameSpan[], regions: readonly PhysicalRegionJson[] | undefined): FindingDocJson[] {
  const out = new FindingCollector();
  const wide = ctx.paging === 'x86-64' || ctx.paging === 'x86-64-la57';
  const where = (s: SpaceModel): string => s.label;
  const common = (kind: string, space: SpaceModel, virtual?: bigint, physical?: number): FindingDocJson => ({
    kind, severity: LEVEL0_SEVERITY[kind], message: '', space: space.id, ...(space.pid !== undefined ? { pid: space.pid } : {}),
    ...(virtual !== undefined ? { virtual: jsonAddress(virtual) } : {}), ...(physical !== undefined ? { physical } : {}),
  });

  // The walker's own findings, once per entry (shared tables are met from every space).
  const walkSeen = new Set<string>();
  for (const s of spaces) {
    for (const f of s.walkFindings) {
      const kind = f.kind === 'unreadable-table' ? 'unreadable-page-table' : f.kind === 'limit' ? 'walk-limit' : 'reserved-bits';
      const key = `${kind}:${f.entryAddress ?? f.virtual}:${f.kind === 'limit' ? s.id : ''}`;
      if (walkSeen.has(key)) continue;
      walkSeen.add(key);
      out.add({ ...common(kind, s, f.virtual, f.entryAddress !== undefined ? Number(f.entryAddress) : undefined), message: `${f.text.replace(/\.$/, '')} (${where(s)}).` });
    }
  }

  // Virtual page 0 present.
  perRange(spaces, (r) => r.va === 0n, (range, s, n) => ({
    ...common('null-page-mapped', s, 0n, range.pa),
    message: `Virtual page 0 is mapped (to physical ${hex(range.pa)}) in ${where(s)}${inOthers(n)}: a NULL pointer dereference reads memory instead of faulting.`,
  }), out);

  if (ctx.nx) {
    perRange(spaces, (r) => r.writable && !r.nx, (range, s, n) => ({
      ...common('writable-executable', s, range.va, range.pa),
      message: `${rangeText(range.va, range.bytes)} (${sizeText(range.bytes)}, physical ${hex(range.pa)}) is writable and executable in ${where(s)}${inOthers(n)}, though NX is on.`,
    }), out);
  }

  if (wide) {
    perRange(spaces, (r) => r.user && r.writable && r.va >= 0x8000000000000000n, (range, s, n) => ({
      ...common('user-writable-kernel', s, range.va, range.pa),
      message: `${rangeText(range.va, range.bytes)} in the kernel half (upper canonical half) is writable from user mode in ${where(s)}${inOthers(n)}.`,
    }), out);
  }
  // Kernel code or read-only kernel data (supervisor-only, and read-only or executable under NX) also writable from user mode.
  const protectedKernel = (r: SpaceRun): boolean => !r.user && (!r.writable || (ctx.nx && !r.nx));
  aliases('user-writable-kernel', spaces, protectedKernel, (r) => r.user && r.writable, (span, k, u) => ({
    ...common('user-writable-kernel', u.space, vaOf(u.run, span.start), span.start * FRAME),
    message: `Physical ${frameRange(span)} (${frameWord(span)}) is mapped kernel-only and ${k.run.writable ? 'executable' : 'read-only'} at ${hex(vaOf(k.run, span.start))} (${where(k.space)}) but writable from user mode at ${hex(vaOf(u.run, span.start))} (${where(u.space)}).`,
  }), out);

  if (ctx.nx) {
    // Code (read-only, executable) with a writable mapping elsewhere; a user page's writable kernel alias (a direct map) does not count.
    const kernelCode = (r: SpaceRun): boolean => !r.user && !r.writable && !r.nx;
    const userCode = (r: SpaceRun): boolean => r.user && !r.writable && !r.nx;
    const emit = (span: FrameSpan, c: { run: SpaceRun; space: SpaceModel }, w: { run: SpaceRun; space: SpaceModel }): FindingDocJson => ({
      ...common('writable-code-alias', c.space, vaOf(c.run, span.start), span.start * FRAME),
      message: `Physical ${frameRange(span)} (${frameWord(span)}) is ${c.run.user ? 'user' : 'kernel'} code (read-only, executable) at ${hex(vaOf(c.run, span.start))} (${where(c.space)}) and writable at ${hex(vaOf(w.run, span.start))} (${where(w.space)}).`,
    });
    aliases('writable-code-alias', spaces, kernelCode, (r) => r.writable, emit, out);
    aliases('writable-code-alias', spaces, userCode, (r) => r.writable && r.user, emit, out);
  }

  // User-accessible mappings of paging-structure pages.
  if (tables.length) {
    for (const span of intersectSpans(spansOf(spaces, (r) => r.user), tables)) {
      out.addLazy('user-maps-page-table', LEVEL0_SEVERITY['user-maps-page-table'], () => {
      const u = runOver(spaces, span.start, (r) => r.user);
      if (!u) return undefined;
      return {
        ...common('user-maps-page-table', u.space, vaOf(u.run, span.start), span.start * FRAME),
        message: `Page-table page${span.end - span.start > 1 ? 's' : ''} at physical ${frameRange(span)} ${span.end - span.start > 1 ? 'are' : 'is'} mapped user-accessible${u.run.writable ? ' and writable' : ''} at ${hex(vaOf(u.run, span.start))} (${where(u.space)}).`,
      };
      });
    }
  }

  // Leaves whose frames lie in no region of QEMU's memory map.
  if (regions && regions.length) {
    const known = regionSpans(regions, ['ram', 'rom', 'device']);
    const seen = new Set<string>();
    for (const s of spaces) {
      for (const r of s.runs) {
        for (const gap of subtractSpans([runFrames(r)], known)) {
          const key = `${gap.start}:${r.va + BigInt(gap.start * FRAME - r.pa)}`;
          if (seen.has(key)) continue;
          seen.add(key);
          const va = vaOf(r, gap.start);
          out.add({
            ...common('mapping-outside-ram', s, va, gap.start * FRAME),
            message: `${hex(va)} (${where(s)}) maps physical ${frameRange(gap)}, which is neither RAM, ROM nor a device in QEMU's memory map.`,
          });
        }
      }
    }
  }
  return out.finish();
}
