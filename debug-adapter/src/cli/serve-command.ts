// `mmscope serve`: shows a guest live in a browser. Attached to any kernel (`--gdb HOST:PORT
// [--qmp] [--ram] [--kernel ELF] [--cr3 HEX]...`: our guest's memory manager when the ELF has our
// descriptor, else level 0, the page tables) or launching our guest itself (`--kernel ELF` alone,
// command line "demo"), it
// prints {"url","ws"} as one JSON line and serves the dashboard and the live feed on 127.0.0.1
// until SIGINT/SIGTERM, then shuts down (and kills the QEMU it launched).

import { parseHostPort } from '../../../qemu-bridge/src';
import { startLiveGuest } from '../live/live-guest';
import { DashboardBuildMissingError } from '../live/dashboard-server';
import { defaultKernelPath } from './boot-command';
import { Command, ParsedOptions, parseNumberOption, UsageError } from './command-line';
import { cr3Options, loadKernel, loadSymbols } from './snapshot-command';
import type { SpaceRequest } from '../mm/model/system-snapshot';

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
    kernel: { type: 'string', placeholder: 'ELF', description: 'the kernel ELF (default guest/build/kernel.elf when launching; optional when attached: without it, or without our descriptor, level 0)' },
    cr3: { type: 'string', placeholder: 'HEX', multiple: true, description: 'attached: also show the address space this CR3 value names' },
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
    if (!attached && options.cr3 !== undefined) throw new UsageError('--cr3 needs --gdb (attached mode).');
    const kernel = typeof options.kernel === 'string' ? options.kernel : attached ? undefined : defaultKernelPath();
    // Launched: our guest (its descriptor is required). Attached: any kernel, our descriptor when the ELF has it.
    const symbols = kernel === undefined ? undefined : attached ? loadSymbols(kernel) : loadKernel(kernel).symbols;
    const d = symbols?.elf.symbolByName('mm_debug_info');
    const descriptorPhys = d && symbols ? symbols.virtualToLoad(d.value) : undefined;
    const spaces: SpaceRequest[] = cr3Options(options).map((cr3) => ({ cr3, source: 'named' }));
    if (attached && kernel !== undefined && descriptorPhys === undefined) io.stderr.write(`mmscope: ${kernel} has no mm_debug_info descriptor; serving the page tables only (level 0).\n`);
    const signal = untilSignal();
    try {
      const guest = await startLiveGuest({
        kernel, symbols, descriptorPhys, ...(spaces.length ? { spaces } : {}),
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
