// `mmscope demo`, the main job: builds the guest if needed, boots it in QEMU with the demo
// workload, attaches, and shows the memory manager live: a compact summary in the terminal every
// few seconds and the dashboard URL, until Ctrl-C. `--once` prints one snapshot and exits.

import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { resolveExecutable } from '../../../qemu-bridge/src';
import { MmSnapshot } from '../mm/model/snapshot';
import { StopChanges, stopChanges } from '../live/stop-changes';
import type { StopSnapshot } from '../mm/plugin/stop-snapshot';
import { formatSnapshot } from '../mm/model/snapshot-text';
import { startLiveGuest } from '../live/live-guest';
import { DashboardBuildMissingError } from '../live/dashboard-server';
import { defaultKernelPath } from './boot-command';
import { Command, CommandIo, parseNumberOption, UsageError } from './command-line';
import { loadKernel } from './snapshot-command';
import { parseRate, untilSignal } from './serve-command';

const ROOT = path.resolve(__dirname, '..', '..', '..', '..');

/** Something the demo needs is missing; the message says exactly what to run. Exit status 1. */
export class DemoSetupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DemoSetupError';
  }
}

const asRoot = (): boolean => typeof process.getuid === 'function' && process.getuid() === 0;
const aptInstall = (pkgs: string): string => `${asRoot() ? '' : 'sudo '}apt-get install -y --no-install-recommends ${pkgs}`;

/** Checks for QEMU; throws DemoSetupError naming the command that installs it. */
export function requireQemu(): string {
  const name = process.env.MMSCOPE_QEMU || 'qemu-system-i386';
  const found = resolveExecutable(name);
  if (found) return found;
  if (process.env.MMSCOPE_QEMU) throw new DemoSetupError(`MMSCOPE_QEMU names ${name}, which is not an executable file; fix the path or unset MMSCOPE_QEMU.`);
  throw new DemoSetupError(
    `QEMU (qemu-system-i386) is not installed. Install it with:\n    ${aptInstall('qemu-system-x86')}\n` +
      `(or run "npm run setup", which installs everything mmscope needs), then run "npx mmscope demo" again.`,
  );
}

/** Runs `make -C guest` (quiet when up to date); throws DemoSetupError when a tool is missing or the build fails. */
export function buildGuest(io: CommandIo): void {
  const missing = ['make', 'gcc', 'ld'].filter((t) => !resolveExecutable(t));
  if (missing.length) {
    throw new DemoSetupError(
      `Building the guest kernel needs ${missing.join(', ')}, which ${missing.length === 1 ? 'is' : 'are'} not installed. Install them with:\n` +
        `    ${aptInstall('make gcc binutils')}\n(or run "npm run setup"), then run "npx mmscope demo" again.`,
    );
  }
  const r = spawnSync('make', ['-C', path.join(ROOT, 'guest'), '--no-print-directory'], { encoding: 'utf8', maxBuffer: 16 << 20 });
  if (r.status !== 0) {
    const tail = `${r.stdout ?? ''}${r.stderr ?? ''}`.trim().split('\n').slice(-15).join('\n');
    throw new DemoSetupError(`Building the guest kernel failed ("make -C guest" exited with ${r.status ?? r.signal}):\n${tail}`);
  }
  if (/\bgcc\b|\bld\b|\bcc\b/.test(r.stdout)) io.stderr.write('demo: built guest/build/kernel.elf\n');
}

const time = (ms: number): string => new Date(ms).toTimeString().slice(0, 8);

/** The demo's header: what was taken when, and what changed since the previous snapshot. */
export function formatDemoHeader(snap: MmSnapshot, info: { seq: number; live: boolean; takenAt: number; diff?: StopChanges }): string {
  const b = snap.blocks;
  const lines = [
    `snapshot #${info.seq} at ${time(info.takenAt)}${info.live ? ' (live: taken while the guest ran)' : ''}: ${snap.processes.length} processes, ${snap.chains.length} chains, ` +
      `${b.used} used / ${b.free} free blocks, fragmentation ${b.fragmentationPercent}%, ${snap.findings.length} findings`,
  ];
  const d = info.diff;
  if (d) {
    const count = (k: string): number => (d.chains ?? []).filter((c) => c.kind === k).length;
    lines.push(
      `since the previous snapshot: ${count('added')} chains added, ${count('freed')} freed, ${count('resized') + count('moved') + count('renamed')} resized or moved, ` +
        `${d.changedBlocks?.length ?? 0} blocks changed, ${d.mappings?.length ?? 0} mapping changes, ${d.newFindings.length} new findings`,
    );
  }
  return lines.join('\n') + '\n';
}

export const demoCommand: Command = {
  name: 'demo',
  summary: 'The main job: build and boot the guest with its demo workload, show its memory manager live (terminal + dashboard).',
  options: {
    once: { type: 'boolean', description: 'print one snapshot and exit (for scripts and CI)' },
    json: { type: 'boolean', description: 'with --once: print the snapshot as JSON (docs/snapshot-schema.md)' },
    interval: { type: 'string', placeholder: 'SECONDS', description: 'seconds between terminal summaries (default 3)' },
    rate: { type: 'string', placeholder: 'N', description: 'snapshots per second for the dashboard (default 2)' },
    memory: { type: 'string', placeholder: 'MIB', description: 'guest RAM in MiB (default 128)' },
    chains: { type: 'string', placeholder: 'N', description: 'chains listed in the summary (default 12)' },
    kernel: { type: 'string', placeholder: 'ELF', description: 'another kernel (default: guest/build/kernel.elf, built with make)' },
    port: { type: 'string', placeholder: 'PORT', description: 'dashboard port on 127.0.0.1 (default: a free one)' },
  },
  async run(options, io) {
    if (options.json && !options.once) throw new UsageError('--json goes with --once (the live dashboard serves JSON at /snapshot.json).');
    const interval = options.interval === undefined ? 3 : parseNumberOption('interval', options.interval);
    if (interval < 1) throw new UsageError('--interval needs at least 1 second.');
    const maxChains = options.chains === undefined ? 12 : parseNumberOption('chains', options.chains);
    try {
      requireQemu();
      const explicit = typeof options.kernel === 'string' ? options.kernel : process.env.MMSCOPE_KERNEL;
      if (!explicit) buildGuest(io);
      const kernel = explicit ?? defaultKernelPath();
      if (!fs.existsSync(kernel)) throw new DemoSetupError(`The kernel ${kernel} does not exist; build it with "make -C guest" or pass --kernel.`);
      const { symbols, descriptorPhys } = loadKernel(kernel);
      const memoryMiB = options.memory === undefined ? 128 : parseNumberOption('memory', options.memory);
      io.stderr.write(`demo: booting ${path.relative(process.cwd(), kernel) || kernel} in QEMU (${memoryMiB} MiB, command line "demo")\n`);
      const signal = untilSignal();
      const guest = await startLiveGuest({
        kernel, symbols, descriptorPhys, cmdline: 'demo', memoryMiB,
        ratePerSecond: parseRate(options.rate),
        serve: !options.once,
        feed: { port: options.port === undefined ? undefined : parseNumberOption('port', options.port) },
      });
      try {
        const qemu = guest.qemu as NonNullable<typeof guest.qemu>;
        if (options.once) {
          // Let the workload get going (its processes start, allocate and map) before the snapshot.
          await Promise.race([qemu.waitForSerial(/heartbeat 2 /, 120_000), signal.promise]);
          // A consistent snapshot: the guest is stopped for it (a live one may be caught mid-update).
          const taken = await guest.refresher.refreshNow({ consistent: true });
          const snap = taken?.guest;
          if (!taken || !snap) throw new DemoSetupError(`No snapshot could be taken: ${guest.refresher.stats.lastError ?? 'unknown reason'}.`);
          if (options.json) io.stdout.write(JSON.stringify(taken.document) + '\n');
          else io.stdout.write(formatDemoHeader(snap, { seq: guest.refresher.stats.snapshots, live: false, takenAt: Date.now() }) + '\n' + formatSnapshot(snap, { maxChains }));
          return 0;
        }
        const server = guest.server as NonNullable<typeof guest.server>;
        const feed = server.feed;
        const tty = (io.stdout as NodeJS.WriteStream).isTTY === true;
        const banner = `mmscope demo: the guest's memory manager, live. Dashboard: ${server.url}\n` +
          `(refresh: ${guest.refresher.mode.kind === 'ram-file' ? 'read from guest RAM without stopping it' : 'brief gdbstub stops'}, ${guest.refresher.mode.ratePerSecond}/s; summary every ${interval} s; Ctrl-C stops)\n`;
        io.stderr.write(banner);
        let printedSeq = -1;
        let previousPrinted: StopSnapshot | undefined;
        const print = (): void => {
          const latest = feed.latest;
          const snap = latest?.snapshot.guest;
          if (!latest || !snap || latest.seq === printedSeq) return;
          printedSeq = latest.seq;
          // The one diff function (stop-changes.ts), over the snapshots printed (a summary every few seconds, not every snapshot's).
          const diff = previousPrinted ? stopChanges(previousPrinted, latest.snapshot) : undefined;
          previousPrinted = latest.snapshot;
          const text = formatDemoHeader(snap, { seq: latest.seq, live: latest.live, takenAt: Date.now(), diff }) + '\n' + formatSnapshot(snap, { maxChains });
          io.stdout.write(tty ? `\x1b[H\x1b[2J${banner}\n${text}` : `${text}\n`);
        };
        print();
        const timer = setInterval(print, interval * 1000);
        const how = await Promise.race([signal.promise, qemu.exited.then(() => 'exited' as const)]);
        clearInterval(timer);
        if (how === 'exited') {
          io.stderr.write(`demo: QEMU exited by itself; its last console lines:\n${qemu.serialText.split('\n').slice(-5).join('\n')}\n`);
          return 1;
        }
        io.stderr.write('demo: stopped.\n');
        return 0;
      } finally {
        signal.cancel();
        await guest.close();
      }
    } catch (e) {
      if (e instanceof DemoSetupError || e instanceof DashboardBuildMissingError) {
        io.stderr.write(`mmscope: ${e.message}\n`);
        return 1;
      }
      throw e;
    }
  },
};
