// `mmscope serve`: shows a guest live in a browser. Attached (`--gdb HOST:PORT [--qmp] [--ram]
// --kernel ELF`) or launching the guest itself (`--kernel ELF` alone, command line "demo"), it
// prints {"url","ws"} as one JSON line and serves the dashboard and the live feed on 127.0.0.1
// until SIGINT/SIGTERM, then shuts down (and kills the QEMU it launched).

import { parseHostPort } from '../../../qemu-bridge/src';
import { startLiveGuest } from '../live/live-guest';
import { DashboardBuildMissingError } from '../live/dashboard-server';
import { defaultKernelPath } from './boot-command';
import { Command, ParsedOptions, parseNumberOption, UsageError } from './command-line';
import { loadKernel } from './snapshot-command';

/** Refreshes per second from --rate (decimal allowed). */
export function parseRate(text: ParsedOptions[string]): number | undefined {
  if (text === undefined) return undefined;
  const n = typeof text === 'string' ? Number(text) : NaN;
  if (!Number.isFinite(n) || n <= 0 || n > 50) throw new UsageError(`--rate needs a number of refreshes per second between 0 and 50, got "${String(text)}".`);
  return n;
}

/** Resolves on the first SIGINT or SIGTERM (and stops listening). */
export function untilSignal(): { promise: Promise<NodeJS.Signals>; cancel(): void } {
  let cancel = (): void => undefined;
  const promise = new Promise<NodeJS.Signals>((resolve) => {
    const on = (s: NodeJS.Signals): void => {
      cancel();
      resolve(s);
    };
    process.on('SIGINT', on);
    process.on('SIGTERM', on);
    cancel = () => {
      process.off('SIGINT', on);
      process.off('SIGTERM', on);
    };
  });
  return { promise, cancel: () => cancel() };
}

export function allowedOrigins(options: ParsedOptions): string[] {
  return typeof options['allow-origin'] === 'string' ? options['allow-origin'].split(',').map((s) => s.trim()).filter(Boolean) : [];
}

export const serveCommand: Command = {
  name: 'serve',
  summary: 'Serve the live dashboard and feed on 127.0.0.1 for a guest (attached with --gdb, or launched from --kernel); print {"url","ws"}.',
  options: {
    gdb: { type: 'string', placeholder: 'HOST:PORT', description: "attach to this QEMU gdbstub (else launch the guest)" },
    qmp: { type: 'string', placeholder: 'HOST:PORT', description: "QEMU's QMP socket (optional, attached mode)" },
    ram: { type: 'string', placeholder: 'FILE', description: 'guest RAM file: refresh without stopping the guest (attached mode)' },
    kernel: { type: 'string', placeholder: 'ELF', description: 'the kernel ELF (default guest/build/kernel.elf when launching)' },
    rate: { type: 'string', placeholder: 'N', description: 'refreshes per second while running (default 2 with a RAM file, 0.5 without)' },
    port: { type: 'string', placeholder: 'PORT', description: 'port on 127.0.0.1 (default: a free one)' },
    memory: { type: 'string', placeholder: 'MIB', description: 'guest RAM in MiB when launching (default 128)' },
    cmdline: { type: 'string', placeholder: 'TEXT', description: 'kernel command line when launching (default "demo")' },
    console: { type: 'boolean', description: "copy a launched guest's console to stderr" },
    'allow-origin': { type: 'string', placeholder: 'ORIGINS', description: 'extra page origins allowed to connect (comma-separated)' },
  },
  async run(options, io) {
    const attached = typeof options.gdb === 'string';
    if (!attached && (options.qmp !== undefined || options.ram !== undefined)) throw new UsageError('--qmp and --ram need --gdb (attached mode); without --gdb, serve launches the guest itself.');
    if (attached && typeof options.kernel !== 'string') throw new UsageError('attached mode needs --kernel ELF (the kernel QEMU runs).');
    const kernel = typeof options.kernel === 'string' ? options.kernel : defaultKernelPath();
    const { symbols, descriptorPhys } = loadKernel(kernel);
    const signal = untilSignal();
    try {
      const guest = await startLiveGuest({
        kernel, symbols, descriptorPhys,
        gdb: attached ? parseHostPort(options.gdb as string) : undefined,
        qmp: typeof options.qmp === 'string' ? parseHostPort(options.qmp) : undefined,
        ramFile: typeof options.ram === 'string' ? options.ram : undefined,
        cmdline: typeof options.cmdline === 'string' ? options.cmdline : 'demo',
        memoryMiB: options.memory === undefined ? undefined : parseNumberOption('memory', options.memory),
        ratePerSecond: parseRate(options.rate),
        feed: { allowedOrigins: allowedOrigins(options), port: options.port === undefined ? undefined : parseNumberOption('port', options.port) },
        onConsole: options.console ? (chunk) => io.stderr.write(chunk) : undefined,
      });
      const server = guest.server as NonNullable<typeof guest.server>;
      io.stdout.write(JSON.stringify({ url: server.url, ws: server.wsUrl }) + '\n');
      const exited = guest.qemu ? guest.qemu.exited.then(() => 'exited' as const) : new Promise<never>(() => undefined);
      const how = await Promise.race([signal.promise, exited]);
      await guest.close();
      if (how === 'exited') {
        io.stderr.write('mmscope: QEMU exited, so serve stops.\n');
        return 1;
      }
      return 0;
    } catch (e) {
      if (!(e instanceof DashboardBuildMissingError)) throw e;
      io.stderr.write(`mmscope: ${e.message}\n`);
      return 1;
    } finally {
      signal.cancel();
    }
  },
};
