// The flight recorder's figures (issue 16), printed as a Markdown section and, with --write FILE,
// written between <!-- recorder:start --> and <!-- recorder:end --> of that file:
//   1. recording cost: `ringbench` (guest/kernel/ring_bench.c) alternates the ring on and off in
//      short windows within one boot and prints median cycles per operation for each; and the
//      guest's own operation rate (opsbench_ops of the `opsbench` workload, 4 processes) with the
//      ring switched on and off from the host (mm_ring_on through the gdbstub) in alternating
//      1-second windows, as issue 15 measures the live refresh's slowdown;
//   2. decoder + store throughput on a synthetic ring (no QEMU): events/s drained and decoded
//      into the event store, and the store's bytes per event;
//   3. the real drain against the guest's bench (millions of events/s, far above what the ring of
//      16384 records can hold between drains): events/s drained from the RAM file and lost.
//   npm run bench:recorder   (= tsc -p . && make -C guest && node --expose-gc out/bench/recorder.js --write docs/benchmarks.md)

import * as os from 'os';
import { launchQemu, QemuSession } from '../qemu-bridge/src';
import { runGuest } from '../guest/test/qemu-run';
import { drainRing, encodeRecord, EVENT_RECORD_SIZE } from '../debug-adapter/src/mm/model/event-ring';
import { EventStore } from '../debug-adapter/src/mm/model/event-store';
import { readDescriptor } from '../debug-adapter/src/mm/model/snapshot';
import { EventRecorder } from '../debug-adapter/src/mm/plugin/event-recorder';
import { loadKernel } from '../debug-adapter/src/cli/snapshot-command';
import { defaultKernelPath } from '../debug-adapter/src/cli/boot-command';
import { guestSwapDiskMiB } from '../debug-adapter/src/session/guest-kernel';
import { writeBenchmarkSection } from './benchmarks-file';
import { processCpuMs, symbolPhys } from './live-refresh';

const START = '<!-- recorder:start -->';
const END = '<!-- recorder:end -->';
const PAIRS = Number(process.env.MMSCOPE_RECORDER_BOOTS ?? 3);
const WORKLOADS: ReadonlyArray<[string, string]> = [
  ['alloc_free', 'MmAllocateChain(1 block) + MmFreeChain: 2 events, nothing else (worst case)'],
  ['mixed', 'allocate 2 blocks, map, write every page, resize to 3, unmap, free: 5 events'],
  ['opsbench', "opsbench's own operation (kernel/opsbench.c): allocate 1-4 blocks, map in a user space, write + check every page, unmap, free"],
];
const OPS_PAIRS = Number(process.env.MMSCOPE_RECORDER_OPS_PAIRS ?? 10);
const OPS_WINDOW_MS = 2000;
const OPS_SETTLE_MS = 200;

const median = (v: number[]): number => {
  const s = [...v].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const fmt = (n: number): string => (n >= 1000 ? Math.round(n).toLocaleString('en-US') : String(Number(n.toPrecision(4))));

/** One `ringbench` boot: per workload, median cycles/op with the ring on and off (alternating windows). */
async function ringBenchBoot(): Promise<Map<string, number>> {
  const run = await runGuest({ cmdline: 'ringbench', memoryMiB: 64, timeLimitMs: 300_000, swapDisk: false, stopWhen: (l) => l.startsWith('FAULT:') });
  const values = new Map<string, number>();
  for (const l of run.lines) {
    const m = /^ringbench (\S+) (-?\d+) /.exec(l);
    if (m) values.set(m[1], Number(m[2]));
  }
  if (!run.lines.includes('ringbench: done')) throw new Error(`ringbench did not finish: ${run.lines.slice(-3).join(' / ')}`);
  return values;
}

/** 1. Recording cost: BOOTS boots of `ringbench`; each alternates the ring on and off in 61 windows. */
async function recordingCost(): Promise<{ rows: string[]; costs: Map<string, number> }> {
  const boots: Map<string, number>[] = [];
  for (let i = 0; i < PAIRS; i++) {
    boots.push(await ringBenchBoot());
    process.stderr.write(`ringbench ${i + 1}/${PAIRS}: ${[...boots[i]].map(([k, v]) => `${k}=${v}`).join(' ')}\n`);
  }
  const costs = new Map<string, number>();
  const rows = WORKLOADS.map(([w, what]) => {
    const on = boots.map((m) => m.get(`${w}_on`) ?? 0);
    const off = boots.map((m) => m.get(`${w}_off`) ?? 0);
    const cost = boots.map((m) => (m.get(`${w}_cost`) ?? 0) / 10);
    costs.set(w, median(cost));
    return `| ${w} | ${what} | ${fmt(median(on))} | ${fmt(median(off))} | ${median(cost).toFixed(1)} % | ${cost.map((c) => `${c.toFixed(1)} %`).join(', ')} |`;
  });
  return { rows, costs };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface OpsRateResult {
  /** ops per second of wall time, per window. */
  readonly on: readonly number[];
  readonly off: readonly number[];
  /** 1 - on / mean(neighbouring offs), one per on window. */
  readonly costs: readonly number[];
  /** The same per second of QEMU CPU time (what the loaded host gave the guest). */
  readonly onCpu: readonly number[];
  readonly offCpu: readonly number[];
  readonly cpuCosts: readonly number[];
}

/**
 * 1b. The guest's own operation rate with the ring on and off: one `opsbench` boot, the host
 * writes mm_ring_on (1 / 0) through the gdbstub (a stop of a few ms, then continue; outside the
 * windows) and counts opsbench_ops over 1-second windows:
 * off, on, off, ..., off (OPS_PAIRS on windows, each between two offs).
 */
async function opsRate(pairs: number): Promise<OpsRateResult> {
  const kernel = defaultKernelPath();
  const ringOnPhys = symbolPhys(kernel, 'mm_ring_on');
  const opsPhys = symbolPhys(kernel, 'opsbench_ops');
  const qemu = await launchQemu({ kernel, cmdline: 'opsbench', memoryMiB: 64, swapDiskMiB: guestSwapDiskMiB(kernel) });
  const session = await QemuSession.attachTo(qemu);
  try {
    await session.rsp?.continue();
    await qemu.waitForSerial(/heartbeat 2 /, 120_000);
    const rsp = session.rsp;
    if (!rsp) throw new Error('no gdbstub to switch the ring with');
    // The RAM file is read-only: stop the guest, write mm_ring_on through the gdbstub, continue.
    const setRing = async (on: boolean): Promise<void> => {
      await rsp.interrupt();
      await session.memory.writePhys(ringOnPhys, Uint8Array.of(on ? 1 : 0, 0, 0, 0));
      await rsp.continue();
    };
    const readOps = async (): Promise<{ ops: number; at: bigint; cpuMs: number }> => ({
      ops: (await session.memory.readPhys(opsPhys, 4)).readUInt32LE(0),
      at: process.hrtime.bigint(),
      cpuMs: processCpuMs(qemu.pid),
    });
    const window = async (on: boolean): Promise<[number, number]> => {
      await setRing(on);
      await sleep(OPS_SETTLE_MS);
      const a = await readOps();
      await sleep(OPS_WINDOW_MS);
      const b = await readOps();
      const ops = (b.ops - a.ops) >>> 0;
      return [ops / (Number(b.at - a.at) / 1e9), ops / Math.max(0.01, (b.cpuMs - a.cpuMs) / 1000)];
    };
    const on: number[] = [];
    const onCpu: number[] = [];
    const [off0, offCpu0] = await window(false);
    const off: number[] = [off0];
    const offCpu: number[] = [offCpu0];
    for (let i = 0; i < pairs; i++) {
      const [a, ac] = await window(true);
      const [b, bc] = await window(false);
      on.push(a);
      onCpu.push(ac);
      off.push(b);
      offCpu.push(bc);
      process.stderr.write(`opsbench window pair ${i + 1}/${pairs}: on ${a.toFixed(0)} off ${b.toFixed(0)} ops/s, per QEMU CPU s on ${ac.toFixed(0)} off ${bc.toFixed(0)}\n`);
    }
    await setRing(true);
    const slow = (v: number[], o: number[]): number[] => v.map((r, i) => 1 - r / ((o[i] + o[i + 1]) / 2));
    return { on, off, costs: slow(on, off), onCpu, offCpu, cpuCosts: slow(onCpu, offCpu) };
  } finally {
    session.rsp?.close();
    await qemu.shutdown();
    await session.detach().catch(() => undefined);
  }
}

/** 2. A writer fills a synthetic 16384-record ring in steps of `batch`; each step is drained into the store. */
function syntheticDrain(total: number, batch: number): { eventsPerSecond: number; bytesPerEvent: number; heapPerEvent: number } {
  const cap = 16384;
  const g = { capacity: cap, recordSize: EVENT_RECORD_SIZE };
  const ring = new Uint8Array(cap * EVENT_RECORD_SIZE);
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  const heap0 = process.memoryUsage();
  const store = new EventStore(3_000_000);
  let head = 0;
  let next = 0;
  let decodeMs = 0;
  while (head < total) {
    for (let k = 0; k < batch; k++, head++) {
      encodeRecord(ring, head % cap, { seq: head + 1, tscLo: head * 300, kind: 1 + (head % 17), chain: head & 0xfff, blocks: 1, pid: head % 7, caller: 0xc0100000 });
    }
    const t = process.hrtime.bigint();
    next = drainRing(g, { bytes: ring, headBefore: head, headAfter: head }, next, store).next;
    decodeMs += Number(process.hrtime.bigint() - t) / 1e6;
  }
  gc?.();
  const heap1 = process.memoryUsage();
  if (store.length !== head || store.lostCount !== 0) throw new Error(`synthetic drain kept ${store.length} of ${head}, lost ${store.lostCount}`);
  const used = heap1.heapUsed + heap1.arrayBuffers - heap0.heapUsed - heap0.arrayBuffers;
  return { eventsPerSecond: head / (decodeMs / 1000), bytesPerEvent: store.memoryBytes / head, heapPerEvent: used / head };
}

/** 3. The drain against the guest's bench (ring on), from the RAM file every `periodMs`. */
async function liveDrain(periodMs: number): Promise<{ seconds: number; drained: number; lost: number; written: number; drains: number }> {
  const kernel = defaultKernelPath();
  const { descriptorPhys } = loadKernel(kernel);
  const qemu = await launchQemu({ kernel, cmdline: 'bench', memoryMiB: 256, swapDiskMiB: guestSwapDiskMiB(kernel) });
  const session = await QemuSession.attachTo(qemu);
  try {
    await session.rsp?.continue();
    const read = (a: number, n: number): Promise<Buffer> => session.memory.readPhys(a, n);
    let info;
    for (;;) {
      try {
        info = await readDescriptor(read, descriptorPhys);
        break;
      } catch {
        await new Promise((r) => setTimeout(r, 20));
      }
    }
    const recorder = EventRecorder.forGuest(session.memory, info);
    if (!recorder) throw new Error('the guest keeps no ring');
    const t0 = Date.now();
    let lastHead = 0;
    // Drain until the guest's bench is done (QEMU exits: the RAM file goes with it).
    while (qemu.alive) {
      try {
        await recorder.drain();
        lastHead = recorder.next;
      } catch {
        break;
      }
      await new Promise((r) => setTimeout(r, periodMs));
    }
    const seconds = (Date.now() - t0) / 1000;
    return { seconds, drained: recorder.stats.records, lost: recorder.stats.lost, written: lastHead, drains: recorder.stats.drains };
  } finally {
    session.rsp?.close();
    await qemu.shutdown();
    await session.detach().catch(() => undefined);
  }
}

async function main(): Promise<void> {
  const cost = await recordingCost();
  const ops = await opsRate(OPS_PAIRS);
  const verdict = (name: string, pct: number): string => `${name} ${pct.toFixed(1)} % (${pct < 3 ? 'within' : 'over'})`;
  const verdicts = [
    ...WORKLOADS.map(([w]) => verdict(`ringbench ${w}`, cost.costs.get(w) ?? NaN)),
    verdict("the opsbench guest's rate per QEMU CPU second", median([...ops.cpuCosts]) * 100),
    verdict('per wall second', median([...ops.costs]) * 100),
  ];
  const synth = syntheticDrain(2_000_000, 4096);
  const live = await liveDrain(5);
  const section = [
    START,
    '## Flight recorder (event ring, drain, store)',
    '',
    `Command: \`npm run bench:recorder\` (bench/recorder.ts). Measured ${new Date().toISOString().slice(0, 10)} on ${os.cpus().length} cores`,
    `(${os.cpus()[0]?.model.trim() ?? 'unknown CPU'}), Node ${process.version}, TCG, **measured under load** (six agents share these cores;`,
    `load average ${os.loadavg()[0].toFixed(1)} at the end): the integrator re-runs this on a quiet machine.`,
    '',
    `Recording cost, 1: \`ringbench\` (guest/kernel/ring_bench.c) runs each workload in 101 pairs of adjacent`,
    `windows, ring on then off, within one boot (a pair shares the machine's load; the first pair is a warm-up),`,
    `times each window with the TSC and prints the median cycles/op and the median over pairs of on / off - 1;`,
    `${PAIRS} boots, the median of their costs. Target: under 3 %.`,
    '',
    '| workload | what | ring on (cycles/op) | ring off (cycles/op) | cost (median) | cost per boot |',
    '| --- | --- | ---: | ---: | ---: | --- |',
    ...cost.rows,
    '',
    `Recording cost, 2: the guest's own operation rate. One \`opsbench\` boot (4 processes allocating, mapping,`,
    `writing, unmapping and freeing back to back; context switches are recorded too); the host switches the ring`,
    `on and off by writing \`mm_ring_on\` through the gdbstub (stop, write, continue; then ${OPS_SETTLE_MS} ms settle) and counts \`opsbench_ops\` over ${OPS_WINDOW_MS / 1000}-second`,
    `windows, off / on / off / ... (${OPS_PAIRS} on windows, each compared with the mean of its two neighbouring off windows).`,
    'Nothing drains the ring here: this is the cost the guest pays for writing it.',
    '',
    '| figure | value |',
    '| --- | ---: |',
    `| ring on, median | ${fmt(median([...ops.on]))} ops/s |`,
    `| ring off, median | ${fmt(median([...ops.off]))} ops/s |`,
    `| slowdown, median of the ${ops.costs.length} on windows | ${(median([...ops.costs]) * 100).toFixed(1)} % |`,
    `| slowdowns per on window | ${ops.costs.map((c) => `${(c * 100).toFixed(1)}`).join(', ')} % |`,
    `| per QEMU CPU second: ring on, median | ${fmt(median([...ops.onCpu]))} ops/s |`,
    `| per QEMU CPU second: ring off, median | ${fmt(median([...ops.offCpu]))} ops/s |`,
    `| per QEMU CPU second: slowdown, median | ${(median([...ops.cpuCosts]) * 100).toFixed(1)} % |`,
    `| per QEMU CPU second: slowdowns per on window | ${ops.cpuCosts.map((c) => `${(c * 100).toFixed(1)}`).join(', ')} % |`,
    '',
    'A ring record is one rdtsc (a helper call under TCG, about half of the cost), eleven field stores, the',
    "seq and the head; inside the memory manager's write section (where every event is recorded) the",
    'writer saves and restores no interrupt state, and it no longer clears seq first (the reader never',
    'keeps the slot being written: docs/chain-table.md, "Event ring"). Against the 3 % target, in this run',
    `(under load): ${verdicts.join('; ')}. An operation that does nothing but allocate and free one block`,
    '(two events) cannot get under 3 % under TCG: its whole pair costs ~1,700 cycles, and the two records',
    "alone (two rdtsc helper calls, 24 stores through the soft TLB) cost more than 3 % of that.",
    'Not measured: a KVM guest (no KVM on this machine), where rdtsc and stores run natively.',
    '',
    'Drain + store, synthetic: a writer fills a 16384-record ring 4096 records at a time and the decoder',
    '(model/event-ring.ts) drains each step into the event store (model/event-store.ts); 2,000,000 events.',
    '',
    '| figure | value |',
    '| --- | ---: |',
    `| decoder + store throughput | ${fmt(synth.eventsPerSecond)} events/s |`,
    `| store: typed arrays per event | ${fmt(synth.bytesPerEvent)} bytes |`,
    `| store: heap + array buffers grown per event (incl. chunk slack) | ${fmt(synth.heapPerEvent)} bytes |`,
    `| 10-minute demo at ~600 events/s (measured by \`mmscope record\`), store size | ${fmt((600 * 600 * synth.bytesPerEvent) / (1 << 20))} MiB |`,
    '',
    `Live drain (mm/plugin/event-recorder.ts) from the RAM file every 5 ms while the guest runs its \`bench\``,
    `(${fmt(live.seconds)} s, ${fmt(live.written / live.seconds)} events/s written by the guest on average, in bursts of millions/s):`,
    '',
    '| figure | value |',
    '| --- | ---: |',
    `| events drained | ${fmt(live.drained)} (${fmt(live.drained / live.seconds)} events/s) |`,
    `| events lost (the ring lapped the drain; counted, never hidden) | ${fmt(live.lost)} |`,
    `| drains | ${fmt(live.drains)} |`,
    '',
    'The bench allocates and frees at up to millions of events per second, so the 16384-record ring',
    'wraps in a few milliseconds and the drain loses most of its bursts; the lost count says so. The',
    "demo's workload (~600 events/s) loses nothing at the default 20 ms period (test cli-record).",
    END,
  ].join('\n');
  process.stdout.write(section + '\n');
  writeBenchmarkSection(process.argv, START, END, section);
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).stack ?? e}\n`);
  process.exitCode = 1;
});
