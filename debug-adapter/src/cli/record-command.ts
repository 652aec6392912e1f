// `mmscope record`: records the memory manager's events without VS Code and writes them as a
// Chrome/Perfetto trace (model/trace-export.ts). Boots the kernel in QEMU with a RAM file (or
// attaches with --gdb), drains the guest's event ring while it runs (mm/plugin/event-recorder.ts),
// and stops the guest briefly at the start and the end to read its own allocation and free
// counters next to the ring's head, so the summary's allocations and frees are exact: the last
// stdout line is {"events":N,"allocations":A,"frees":F,"lost":L}; when L is 0, A and F equal the
// trace's `allocate` and `free` events.
//
// A kernel that is not ours (no mm_debug_info) is recorded with --model FILE, a memory-model
// description whose `tracing` names its allocation and free functions: the traced calls of
// level 2 feed the same event store and trace (cli/record-traced.ts).

import * as fs from 'fs';
import * as path from 'path';
import { launchQemu, parseHostPort, QemuInstance, QemuSession } from '../../../qemu-bridge/src';
import { guestSwapDiskMiB } from '../session/guest-kernel';
import { MmDebugInfo } from '../mm/model/descriptor';
import { readDescriptor } from '../mm/model/snapshot';
import { makeSiteResolver } from '../mm/model/site-resolver';
import { exportTrace } from '../mm/model/trace-export';
import { EventRecorder } from '../mm/plugin/event-recorder';
import { waitForDescriptor } from '../live/live-guest';
import { defaultKernelPath } from './boot-command';
import { Command, parseNumberOption, UsageError } from './command-line';
import { requireQemu, DemoSetupError } from './demo-command';
import { loadKernel, loadSymbols } from './snapshot-command';
import { recordTracedCalls } from './record-traced';
import { untilSignal } from './serve-command';

/** The guest's counters and ring head at one stop. */
interface GuestCounters {
  readonly head: number;
  readonly allocSeq: number;
  readonly freeCount: number;
  readonly freeBlocks: number;
}

async function readCounters(session: QemuSession, info: MmDebugInfo, recorder: EventRecorder): Promise<GuestCounters> {
  const word = async (virt: number): Promise<number> => (await session.memory.readPhys(virt - info.kernelVbase, 4)).readUInt32LE(0);
  session.memory.invalidate();
  return {
    head: await recorder.readHead(),
    allocSeq: await word(info.allocSeqAddr),
    freeCount: await word(info.freeCountAddr),
    freeBlocks: await word(info.freeBlocksAddr),
  };
}

export const recordCommand: Command = {
  name: 'record',
  summary: "Record the memory manager's events (boots the guest, or --gdb to attach) into a Chrome/Perfetto trace file.",
  options: {
    kernel: { type: 'string', placeholder: 'ELF', description: 'the kernel to boot (default: guest/build/kernel.elf), or the one QEMU runs with --gdb' },
    seconds: { type: 'string', placeholder: 'N', description: 'seconds to record (default 10; Ctrl-C stops early)' },
    out: { type: 'string', placeholder: 'FILE', description: 'the trace file to write (Chrome/Perfetto trace-event JSON; required)' },
    gdb: { type: 'string', placeholder: 'HOST:PORT', description: "attach to a running QEMU's gdbstub instead of booting one" },
    ram: { type: 'string', placeholder: 'FILE', description: "with --gdb: the guest's RAM file (drains without stopping the guest; without it the guest is stopped briefly for each drain)" },
    memory: { type: 'string', placeholder: 'MIB', description: 'guest RAM in MiB when booting (default 128)' },
    cmdline: { type: 'string', placeholder: 'TEXT', description: 'the guest command line when booting (default "demo")' },
    period: { type: 'string', placeholder: 'MS', description: 'milliseconds between drains (default 20)' },
    model: { type: 'string', placeholder: 'FILE', description: "a kernel that is not ours: the memory-model description (JSON, or builtin:NAME) whose \"tracing\" names its alloc and free functions; their traced calls are recorded" },
    cpu: { type: 'string', placeholder: 'MODEL', description: 'with --model: the QEMU CPU model (e.g. max)' },
  },
  async run(options, io) {
    if (typeof options.out !== 'string') throw new UsageError('record needs --out FILE (the trace to write).');
    const seconds = options.seconds === undefined ? 10 : parseNumberOption('seconds', options.seconds);
    if (seconds < 1) throw new UsageError('--seconds needs at least 1.');
    const periodMs = options.period === undefined ? 20 : parseNumberOption('period', options.period);
    if (typeof options.ram === 'string' && typeof options.gdb !== 'string') throw new UsageError('--ram goes with --gdb (a booted guest gets its RAM file by itself).');
    const kernel = typeof options.kernel === 'string' ? options.kernel : typeof options.gdb === 'string' ? undefined : defaultKernelPath();
    if (!kernel) throw new UsageError('record --gdb needs --kernel ELF: the recorder finds the event ring through the kernel\'s mm_debug_info.');
    let qemu: QemuInstance | undefined;
    let session: QemuSession | undefined;
    try {
      if (!fs.existsSync(kernel)) throw new DemoSetupError(`The kernel ${kernel} does not exist; build it with "make -C guest" or pass --kernel.`);
      const symbolsOnly = loadSymbols(kernel);
      if (!symbolsOnly.elf.symbolByName('mm_debug_info')) {
        if (typeof options.model !== 'string') {
          throw new DemoSetupError(`${kernel} is not an mmscope guest (it has no mm_debug_info, so no event ring): give --model FILE, a memory-model description whose "tracing" names its allocation and free functions (docs/tracing.md), to record their calls.`);
        }
        if (typeof options.gdb === 'string') throw new DemoSetupError('record --model boots the kernel itself; attaching with --gdb to a kernel that is not ours is not supported (trace it in a debug session instead).');
        requireQemu();
        const memoryMiB = options.memory === undefined ? 128 : parseNumberOption('memory', options.memory);
        return await recordTracedCalls({ kernel, symbols: symbolsOnly, model: options.model, seconds, out: options.out, memoryMiB, ...(typeof options.cpu === 'string' ? { cpu: options.cpu } : {}) }, io);
      }
      if (typeof options.model === 'string') throw new DemoSetupError(`${kernel} is an mmscope guest: its own event ring is recorded; --model is for kernels that are not ours.`);
      const { symbols, descriptorPhys } = loadKernel(kernel);
      if (typeof options.gdb === 'string') {
        session = await QemuSession.attach({ gdb: parseHostPort(options.gdb), ramFile: typeof options.ram === 'string' ? options.ram : undefined });
      } else {
        requireQemu();
        const memoryMiB = options.memory === undefined ? 128 : parseNumberOption('memory', options.memory);
        const cmdline = typeof options.cmdline === 'string' ? options.cmdline : 'demo';
        io.stderr.write(`record: booting ${path.relative(process.cwd(), kernel) || kernel} in QEMU (${memoryMiB} MiB, command line "${cmdline}")\n`);
        qemu = await launchQemu({ kernel, cmdline, memoryMiB, swapDiskMiB: guestSwapDiskMiB(kernel) });
        session = await QemuSession.attachTo(qemu);
        await (session.rsp as NonNullable<QemuSession['rsp']>).continue();
      }
      const rsp = session.rsp;
      if (!rsp) throw new UsageError('record needs the gdbstub to stop the guest at the start and the end.');
      const info = await waitForDescriptor(session, descriptorPhys, qemu, 120_000);
      const ramFile = session.memory.tiers.some((t) => t.name === 'ram-file');
      if (!rsp.running) await rsp.continue();
      // Start: the guest stopped, its counters and the ring head read together.
      await rsp.interrupt(10_000);
      const recorder = EventRecorder.forGuest(session.memory, await readDescriptor((a, n) => session!.memory.readPhys(a, n), descriptorPhys), {});
      if (!recorder) {
        throw new DemoSetupError(
          `${kernel} keeps no event ring (mm_debug_info version ${info.version}, ring capacity 0; booted with ring=off?). ` +
            'Recording the traced allocation calls of a kernel without the ring (level 2) is not wired into "mmscope record" yet.',
        );
      }
      const start = await readCounters(session, info, recorder);
      recorder.next = start.head;
      await rsp.continue();
      io.stderr.write(`record: recording for ${seconds} s (drain every ${periodMs} ms${ramFile ? ' from the RAM file' : ', stopping the guest briefly for each'}); Ctrl-C stops early\n`);
      const signal = untilSignal();
      let drainError: Error | undefined;
      let stopLoop = false;
      let loop: Promise<void> = Promise.resolve();
      if (ramFile) {
        recorder.start(periodMs, (e) => (drainError = e));
      } else {
        loop = (async () => {
          while (!stopLoop) {
            await new Promise((r) => setTimeout(r, periodMs));
            if (stopLoop) break;
            await rsp.interrupt(10_000);
            await recorder.drain();
            await rsp.continue();
          }
        })();
      }
      const timer = new Promise<'time'>((r) => setTimeout(() => r('time'), seconds * 1000));
      const how = await Promise.race([timer, signal.promise, ...(qemu ? [qemu.exited.then(() => 'exited' as const)] : [])]);
      signal.cancel();
      stopLoop = true;
      await loop;
      await recorder.stop();
      if (how === 'exited') throw new DemoSetupError(`QEMU exited during the recording; its last console lines:\n${qemu?.serialText.split('\n').slice(-5).join('\n')}`);
      // End: stopped again, the last records drained, the counters read.
      await rsp.interrupt(10_000);
      session.memory.invalidate();
      await recorder.drain();
      const end = await readCounters(session, info, recorder);
      if (drainError) io.stderr.write(`record: a drain failed: ${drainError.message}\n`);
      const endInfo = await readDescriptor((a, n) => session!.memory.readPhys(a, n), descriptorPhys);
      recorder.store.tscKhz = endInfo.tscKhz;
      const stream = fs.createWriteStream(options.out);
      const counts = exportTrace(recorder.store, (chunk) => stream.write(chunk), {
        resolveSite: makeSiteResolver(symbols),
        freeBlocksAtStart: start.freeBlocks,
        blockCount: info.blockCount,
        metadata: {
          kernel: path.basename(kernel), seconds, firstSeq: start.head + 1, lastSeq: end.head,
          freeBlocksAtStart: start.freeBlocks, freeBlocksAtEnd: end.freeBlocks, blockCount: info.blockCount,
        },
      });
      await new Promise<void>((resolve, reject) => stream.end((e?: Error | null) => (e ? reject(e) : resolve())));
      if (!qemu) await rsp.continue().catch(() => undefined);
      const summary = {
        events: counts.events,
        allocations: end.allocSeq - start.allocSeq,
        frees: end.freeCount - start.freeCount,
        lost: recorder.store.lostCount,
      };
      io.stderr.write(
        `record: ${summary.events} events (seq ${start.head + 1}..${end.head}) in ${recorder.stats.drains} drains, ${summary.lost} lost, ` +
          `largest backlog ${recorder.stats.maxBacklog} of ${recorder.geometry.capacity}; wrote ${options.out}\n`,
      );
      io.stdout.write(JSON.stringify(summary) + '\n');
      return 0;
    } catch (e) {
      if (e instanceof DemoSetupError) {
        io.stderr.write(`mmscope: ${e.message}\n`);
        return 1;
      }
      throw e;
    } finally {
      if (qemu) {
        session?.rsp?.close();
        await qemu.shutdown();
        await session?.detach().catch(() => undefined);
      } else {
        await session?.detach({ restore: true }).catch(() => undefined);
      }
    }
  },
};

