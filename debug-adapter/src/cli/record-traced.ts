// `mmscope record --model FILE` on a kernel that is not ours (no mm_debug_info, no event ring):
// boots it in QEMU under the debug runtime (session/target.ts) with the allocation tracer of
// level 2 (mm/plugin/trace-extension.ts) on the description's alloc/free functions, lets it run,
// and writes the traced calls' flight-recorder events (model/traced-events.ts) as the same
// Chrome/Perfetto trace as for our guest (model/trace-export.ts). There are no guest counters to
// check against: the summary's allocations and frees are the tracer's own counts of completed
// calls over the recording (allocations include failed ones, status 1 in the trace).

import * as fs from 'fs';
import * as path from 'path';
import { addressFromBigInt } from '../../../qemu-bridge/src/address';
import type { DebugSymbols } from '../symbols';
import { loadMemoryModel } from '../mm/model/memory-model-load';
import { makeSiteResolver } from '../mm/model/site-resolver';
import { exportTrace } from '../mm/model/trace-export';
import { tracedEventCaller } from '../mm/model/traced-events';
import { TraceSessionExtension, traceConfiguration } from '../mm/plugin/trace-extension';
import { ConfigurationError } from '../session/errors';
import { validateLaunch } from '../session/launch-arguments';
import { Target } from '../session/target';
import { DemoSetupError } from './demo-command';
import type { CommandIo } from './command-line';
import { untilSignal } from './serve-command';

export interface TracedRecording {
  readonly kernel: string;
  readonly symbols: DebugSymbols;
  /** The memory-model description: a JSON file, or builtin:NAME. */
  readonly model: string;
  readonly seconds: number;
  readonly out: string;
  readonly memoryMiB: number;
  readonly cpu?: string;
}

/** Records a foreign kernel's traced allocation calls; returns the exit code (throws DemoSetupError with one sentence). */
export async function recordTracedCalls(r: TracedRecording, io: CommandIo): Promise<number> {
  const loaded = loadMemoryModel(r.model, process.cwd());
  if (loaded.errors.length) {
    const e = loaded.errors[0];
    throw new DemoSetupError(`The memory model ${loaded.source ?? r.model} has a mistake${e.path ? ` at ${e.path}` : ''}: ${e.message}`);
  }
  const tracing = loaded.description?.tracing;
  if (!tracing) {
    throw new DemoSetupError(`The memory model ${loaded.source ?? r.model} names no allocation and free functions ("tracing": {"alloc": {"function": …}, "free": {"function": …}}, docs/tracing.md), so there is nothing to record on ${path.basename(r.kernel)}, which keeps no mmscope event ring.`);
  }
  let config;
  try {
    config = validateLaunch({ kernel: r.kernel, memory: r.memoryMiB, stopOnEntry: false, ...(r.cpu ? { cpu: r.cpu } : {}) });
  } catch (e) {
    if (e instanceof ConfigurationError) throw new DemoSetupError(e.message);
    throw e;
  }
  io.stderr.write(`record: booting ${path.relative(process.cwd(), r.kernel) || r.kernel} in QEMU (${r.memoryMiB} MiB) and tracing ${tracing.alloc.function}/${tracing.free.function}\n`);
  const target = await Target.launch(config, r.symbols);
  let exited = false;
  try {
    target.on('console', (line) => io.stderr.write(`record: ${line}\n`));
    target.on('output', (text) => io.stderr.write(text));
    const exitedPromise = new Promise<'exited'>((resolve) => target.once('exited', () => {
      exited = true;
      resolve('exited');
    }));
    const ext = new TraceSessionExtension(target, traceConfiguration({}, tracing));
    const store = ext.events;
    if (!ext.allocations || !store) throw new DemoSetupError(`Allocation tracing could not start on ${path.basename(r.kernel)} (the record: lines above say why).`);
    target.addInternalHitDecider((pc) => ext.decideInternalHit(pc));
    await ext.start();
    target.start(false);
    io.stderr.write(`record: recording for ${r.seconds} s (the guest stops briefly at every traced call); Ctrl-C stops early\n`);
    const signal = untilSignal();
    const timer = new Promise<'time'>((resolve) => setTimeout(() => resolve('time'), r.seconds * 1000).unref());
    await Promise.race([timer, signal.promise, exitedPromise]);
    signal.cancel();
    if (!exited && target.isRunning) {
      const stopped = new Promise<void>((resolve) => target.once('stopped', () => resolve()));
      target.pause();
      await Promise.race([stopped, exitedPromise]);
    }
    const resolve = makeSiteResolver(r.symbols);
    const width = r.symbols.elf.addressWidth;
    const stream = fs.createWriteStream(r.out);
    const counts = exportTrace(store, (chunk) => stream.write(chunk), {
      resolveSite: resolve,
      callerOf: (e) => {
        const full = tracedEventCaller(e);
        return { address: addressFromBigInt(full, width), text: `0x${full.toString(16)}` };
      },
      metadata: { kernel: path.basename(r.kernel), seconds: r.seconds, traced: `${tracing.alloc.function}/${tracing.free.function}` },
    });
    await new Promise<void>((ok, fail) => stream.end((e?: Error | null) => (e ? fail(e) : ok())));
    const summary = { events: counts.events, allocations: counts.allocations, frees: counts.frees, lost: counts.lost };
    const t = ext.allocations.trace.counts;
    io.stderr.write(`record: ${summary.events} traced calls (${t.allocReturns} ${tracing.alloc.function} returned, ${t.failed} of them 0; ${t.frees} ${tracing.free.function}; ${ext.allocations.trace.pendingCalls} still in flight); wrote ${r.out}\n`);
    io.stdout.write(JSON.stringify(summary) + '\n');
    return 0;
  } finally {
    await target.end({ terminateDebuggee: true }).catch(() => undefined);
  }
}
