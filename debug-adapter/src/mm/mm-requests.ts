// The memory manager's part of the debug protocol, as plain data so the DAP session only
// forwards: custom requests (mmscope/snapshot, mmscope/translate, mmscope/chain), the
// "Memory manager" scope's variables, and the body of the event sent when a snapshot is ready.

import { MmService } from './mm-service';
import { MmSnapshot } from './snapshot';
import { SnapshotJson, snapshotToJson } from './snapshot-json';
import { Translation } from './translate';

export const MM_REQUESTS = ['mmscope/snapshot', 'mmscope/translate', 'mmscope/chain', 'mmscope/console'] as const;
export type MmRequest = (typeof MM_REQUESTS)[number];
export const SNAPSHOT_EVENT = 'mmscope/snapshotReady';

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

/** Answers one custom request at the given stop. Throws MmRequestError for bad arguments. */
export async function handleMmRequest(service: MmService, stop: number, command: MmRequest, args: Record<string, unknown> | undefined): Promise<unknown> {
  switch (command) {
    case 'mmscope/snapshot': {
      const snap = await service.snapshot(stop);
      const body: { snapshot: SnapshotJson; previous?: SnapshotJson; diff?: MmService['diff'] } = { snapshot: snapshotToJson(snap) };
      if (args?.withPrevious && service.previousSnapshot) body.previous = snapshotToJson(service.previousSnapshot);
      if (service.diff) body.diff = service.diff;
      return body;
    }
    case 'mmscope/translate': {
      const address = addressArgument(args?.address);
      const pid = args?.pid === undefined ? undefined : num(args.pid, 'pid');
      const t: Translation = await service.translate(stop, address, pid);
      return t;
    }
    case 'mmscope/chain': {
      const id = num(args?.id, 'id');
      const snap = snapshotToJson(await service.snapshot(stop));
      const chain = snap.chains.find((c) => c.id === id);
      if (!chain) throw new MmRequestError(`there is no chain ${id}`);
      return { chain };
    }
    case 'mmscope/console': {
      const text = await service.console(stop, String(args?.line ?? ''));
      return { output: text ?? null };
    }
  }
}

/** The body of the snapshotReady event: a summary small enough to send at every stop. */
export function snapshotEventBody(s: MmSnapshot): Record<string, number | boolean> {
  return {
    stop: s.stop,
    chains: s.chains.length,
    freeBlocks: s.blocks.free,
    usedBlocks: s.blocks.used,
    fragmentationPercent: s.blocks.fragmentationPercent,
    findings: s.findings.length,
    live: false,
  };
}

/** Variables of the "Memory manager" scope: the summary, one line each. */
export function mmScopeVariables(s: MmSnapshot): { name: string; value: string }[] {
  const cur = s.processes.find((p) => p.current);
  const b = s.blocks;
  return [
    { name: 'current process', value: cur ? `pid ${cur.pid} ${cur.name}${cur.updMatchesKpd === false ? ' (KPD slice stale)' : ''}` : 'none' },
    { name: 'cr3', value: `0x${s.registers.cr3.toString(16).padStart(8, '0')}` },
    { name: 'blocks', value: `${s.geometry.blockCount} × 16 KiB: ${b.used} used, ${b.free} free, ${b.reserved} reserved` },
    { name: 'fragmentation', value: `${b.fragmentationPercent}% (largest free run ${b.largestFreeRun} blocks)` },
    { name: 'chains', value: String(s.chains.length) },
    { name: 'processes', value: s.processes.map((p) => `${p.pid}:${p.name}`).join(', ') },
    { name: 'XMS handles', value: String(s.xms.length) },
    { name: 'DPMI blocks', value: String(s.dpmi.length) },
    { name: 'defragmentations', value: `${s.counters.defragRuns} (${s.counters.defragMoved} blocks moved)` },
    { name: 'findings', value: s.findings.length ? s.findings.map((f) => f.kind).join(', ') : 'none' },
  ];
}
