// The memory manager's part of the debug protocol, as plain data so the DAP session only
// forwards: custom requests (mmscope/snapshot, translate, spaces, openSpace, chain, console), the
// "Memory manager" scope's variables, and the body of the event sent when a snapshot is ready.
// Every answer is built from the stop's schema-3 document, at any level.

import { MmService, TranslateWhere } from './mm-service';
import { ViewSnapshot } from '../model/snapshot-json';
import type { Translation } from '../../../../contract/translation';
import type { SpaceJson } from '../model/snapshot-document';
import type { StopSnapshot } from './stop-snapshot';
import type { StopChanges } from '../../live/stop-changes';
import { DapEvent, DapRequest } from '../../../../contract/dap';

export const MM_REQUESTS = [DapRequest.snapshot, DapRequest.translate, DapRequest.spaces, DapRequest.openSpace, DapRequest.chain, DapRequest.console] as const;
export type MmRequest = (typeof MM_REQUESTS)[number];
export const SNAPSHOT_EVENT = DapEvent.snapshotReady;

export class MmRequestError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MmRequestError';
  }
}

const num = (v: unknown, what: string): number => {
  const n = typeof v === 'string' && /^(0[xX][0-9a-fA-F]+|\d+)$/.test(v.trim()) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) throw new MmRequestError(`${what} must be a non-negative integer (decimal or 0x-hex)`);
  return n;
};

/** The address argument of mmscope/translate and vtop: a number, or a decimal or 0x-hex string (64-bit addresses). */
export function addressArgument(v: unknown, what = 'address'): bigint {
  if (typeof v === 'string' && /^(0[xX][0-9a-fA-F]+|\d+)$/.test(v.trim())) {
    const b = BigInt(v.trim());
    if (b < 1n << 64n) return b;
  }
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return BigInt(v);
  throw new MmRequestError(`${what} must be a non-negative integer below 2^64 (a number, or a decimal or 0x-hex string)`);
}

export function isMmRequest(command: string): command is MmRequest {
  return (MM_REQUESTS as readonly string[]).includes(command);
}

/** A space without its mappings: what mmscope/spaces lists. */
export type SpaceSummaryJson = Omit<SpaceJson, 'mappings' | 'shared' | 'tables'> & { readonly runs: number };

export function spaceSummary(s: SpaceJson): SpaceSummaryJson {
  const { mappings, shared: _shared, tables: _tables, ...rest } = s;
  return { ...rest, runs: mappings.length };
}

/** Answers one custom request at the given stop. Throws MmRequestError for bad arguments. */
export async function handleMmRequest(service: MmService, stop: number, command: MmRequest, args: Record<string, unknown> | undefined): Promise<unknown> {
  switch (command) {
    case DapRequest.snapshot: {
      const snap = await service.snapshot(stop);
      // The one diff of this snapshot (the one its snapshotReady event carried), and the snapshot it is against.
      const changes = service.changesOf(snap);
      const body: { snapshot: ViewSnapshot; previous?: ViewSnapshot; diff?: StopChanges; changesFrom?: number } = { snapshot: snap.document };
      if (changes) {
        body.diff = changes.changes;
        body.changesFrom = changes.from.document.stop;
        if (args?.withPrevious) body.previous = changes.from.document;
      }
      return body;
    }
    case DapRequest.translate: {
      const address = addressArgument(args?.address);
      const where: TranslateWhere = {
        ...(args?.pid !== undefined ? { pid: num(args.pid, 'pid') } : {}),
        ...(args?.cr3 !== undefined ? { cr3: addressArgument(args.cr3, 'cr3') } : {}),
      };
      const t: Translation = await service.translate(stop, address, where);
      return t;
    }
    case DapRequest.spaces: {
      const doc = (await service.snapshot(stop)).document;
      return { currentSpace: doc.currentSpace, spaces: doc.spaces.map(spaceSummary) };
    }
    case DapRequest.openSpace: {
      const space = await service.openSpace(stop, addressArgument(args?.cr3, 'cr3'));
      return { space };
    }
    case DapRequest.chain: {
      const id = num(args?.id, 'id');
      const doc = (await service.snapshot(stop)).document;
      if (!doc.chains) throw new MmRequestError("chains are our guest's (its mm_debug_info descriptor); this kernel has none");
      const chain = doc.chains.find((c) => c.id === id);
      if (!chain) throw new MmRequestError(`there is no chain ${id}`);
      return { chain };
    }
    case DapRequest.console: {
      const text = await service.console(stop, String(args?.line ?? ''));
      return { output: text ?? null };
    }
  }
}

/** The body of the snapshotReady event: a summary small enough to send at every stop, at any level. */
export function snapshotEventBody(s: StopSnapshot): Record<string, unknown> {
  const d = s.document;
  const severity = { error: 0, warning: 0, info: 0 };
  for (const f of d.findings) severity[f.severity]++;
  const body: Record<string, unknown> = {
    stop: d.stop,
    level: d.level,
    pagingMode: d.pagingMode,
    currentSpace: d.currentSpace,
    spaces: d.spaces.length,
    processes: d.processes.length,
    findings: d.findings.length,
    findingsBySeverity: severity,
    frames: d.frames.counts,
    ...(d.frames.allocationCounts ? { frameAllocation: d.frames.allocationCounts } : {}),
    live: false,
  };
  if (s.guest) {
    const g = s.guest;
    Object.assign(body, { chains: g.chains.length, freeBlocks: g.blocks.free, usedBlocks: g.blocks.used, fragmentationPercent: g.blocks.fragmentationPercent });
  }
  return body;
}

const LEVEL_TEXT: Record<string, string> = { '0': '0 (nothing described)', '1': '1 (memory-model description)', descriptor: "our descriptor (mm_debug_info)" };

/** Variables of the "Memory manager" scope: the summary, one line each, for the level the document has. */
export function mmScopeVariables(s: StopSnapshot): { name: string; value: string }[] {
  const d = s.document;
  const current = d.spaces.find((x) => x.id === d.currentSpace);
  const counts = d.frames.counts;
  const vars: { name: string; value: string }[] = [
    { name: 'level', value: LEVEL_TEXT[String(d.level)] ?? String(d.level) },
    { name: 'paging', value: d.pagingMode },
    { name: 'cr3', value: typeof d.registers.cr3 === 'number' ? `0x${d.registers.cr3.toString(16).padStart(8, '0')}` : d.registers.cr3 },
    { name: 'current space', value: current ? `${current.label}: ${current.pages} pages in ${current.mappings.length} runs` : 'none (paging off)' },
    { name: 'address spaces', value: `${d.spaces.length} (${d.spaces.map((x) => x.id).join(', ')})` },
    { name: 'frames', value: `${counts.mapped} mapped, ${counts.multi} multi, ${counts.table} tables, ${counts.unmapped} unmapped RAM, ${counts['not-ram']} not RAM` },
  ];
  const g = s.guest;
  if (g) {
    const cur = g.processes.find((p) => p.current);
    const b = g.blocks;
    vars.push(
      { name: 'current process', value: cur ? `pid ${cur.pid} ${cur.name}${cur.updMatchesKpd === false ? ' (KPD slice stale)' : ''}` : 'none' },
      { name: 'blocks', value: `${g.geometry.blockCount} × 16 KiB: ${b.used} used, ${b.free} free, ${b.reserved} reserved` },
      { name: 'fragmentation', value: `${b.fragmentationPercent}% (largest free run ${b.largestFreeRun} blocks)` },
      { name: 'chains', value: String(g.chains.length) },
      { name: 'processes', value: g.processes.map((p) => `${p.pid}:${p.name}`).join(', ') },
      { name: 'XMS handles', value: String(g.xms.length) },
      { name: 'DPMI blocks', value: String(g.dpmi.length) },
      { name: 'defragmentations', value: `${g.counters.defragRuns} (${g.counters.defragMoved} blocks moved)` },
    );
  } else {
    if (d.level === 1) {
      const cur = d.processes.find((p) => p.current);
      vars.push({ name: 'current process', value: cur ? `pid ${cur.pid} ${cur.name}` : 'none' });
      vars.push({ name: 'processes', value: d.processes.length ? d.processes.map((p) => `${p.pid}:${p.name}`).join(', ') : 'none described' });
      for (const a of d.allocators) vars.push({ name: `allocator ${a.name}`, value: `${a.shape}: ${a.used} used, ${a.free} free, ${a.reserved} reserved of ${a.total}` });
      for (const h of d.heaps) vars.push({ name: `heap ${h.name}`, value: `${h.blocks.length} blocks, ${h.usedBytes} B used, ${h.freeBytes} B free` });
      if (d.description?.errors.length) vars.push({ name: 'description mistakes', value: d.description.errors.map((e) => `${e.path}: ${e.message}`).join('; ') });
    }
  }
  vars.push({ name: 'findings', value: d.findings.length ? [...new Set(d.findings.map((f) => f.kind))].join(', ') : 'none' });
  if (d.tracing) vars.push({ name: 'tracing', value: `${d.tracing.enabled ? 'on' : 'off'}: ${d.tracing.tracedCalls} calls, ${d.tracing.callsPerSecond}/s, ${d.tracing.live.length} live` });
  return vars;
}
