// A guest shown live: launches QEMU with the kernel (or attaches to a running one, any kernel,
// even with no ELF), attaches with every memory tier it has, starts the dashboard server and the
// live refresher, and takes it all down again. `mmscope serve` and `mmscope demo` are thin layers
// over this.

import { guestSwapDiskMiB } from '../session/guest-kernel';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { HostPort, QemuInstance, QemuSession, launchQemu } from '../../../qemu-bridge/src';
import { DebugSymbols } from '../symbols';
import { makeSiteResolver } from '../mm/model/site-resolver';
import { readDescriptor } from '../mm/model/snapshot';
import { DescriptorError, MmDebugInfo } from '../mm/model/descriptor';
import type { SpaceRequest } from '../mm/model/system-snapshot';
import type { KernelKnowledge } from '../mm/plugin/stop-snapshot';
import { DashboardOptions, DashboardServer, startDashboardServer } from './dashboard-server';
import { LiveRefresher } from './live-refresher';
import { GuestIdentity } from './protocol';
import { LiveFeed } from './live-feed';

export interface LiveGuestOptions {
  /** The kernel ELF: what a launched QEMU boots, and the guest's identity; optional when attached. */
  readonly kernel?: string;
  readonly symbols?: DebugSymbols;
  /** Physical address of our guest's mm_debug_info (absent: any other kernel, level 0 or a description). */
  readonly descriptorPhys?: number;
  /** Level 1 and 2 (a memory-model description, tracing), for a kernel that is not ours. */
  readonly knowledge?: Omit<KernelKnowledge, 'descriptor'>;
  /** Address spaces to show besides the current one (`--cr3`). */
  readonly spaces?: readonly SpaceRequest[];
  /** Attach to a running QEMU at these endpoints; without `gdb`, launch one. */
  readonly gdb?: HostPort;
  readonly qmp?: HostPort;
  readonly ramFile?: string;
  /** For a launched guest. */
  readonly cmdline?: string;
  readonly memoryMiB?: number;
  readonly ratePerSecond?: number;
  /** Start the dashboard server (default true). */
  readonly serve?: boolean;
  /** Feed and server options (token, allowed origins, port, limits). */
  readonly feed?: DashboardOptions;
  /** Called with the guest console (launched guests only). */
  readonly onConsole?: (chunk: Buffer) => void;
  /** Time allowed for the guest to boot to its memory manager. Default 120 s. */
  readonly bootTimeoutMs?: number;
}

export interface LiveGuest {
  readonly session: QemuSession;
  readonly qemu: QemuInstance | undefined;
  readonly server: DashboardServer | undefined;
  readonly refresher: LiveRefresher;
  close(): Promise<void>;
}

/** The package's version, for the hello message. */
export function packageVersion(): string {
  try {
    const pkg = JSON.parse(fs.readFileSync(path.resolve(__dirname, '..', '..', '..', '..', 'package.json'), 'utf8')) as { version?: string };
    return pkg.version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

/** The guest's descriptor, polled until the kernel has filled it in (early boot leaves it zero). */
export async function waitForDescriptor(session: QemuSession, descriptorPhys: number, qemu: QemuInstance | undefined, timeoutMs: number): Promise<MmDebugInfo> {
  const deadline = Date.now() + timeoutMs;
  const read = (a: number, n: number): Promise<Buffer> => session.memory.readPhys(a, n);
  const canWait = (): boolean => session.memory.tiers.some((t) => t.name === 'ram-file') || !!qemu;
  for (;;) {
    try {
      return await readDescriptor(read, descriptorPhys);
    } catch (e) {
      if (!(e instanceof DescriptorError) || !canWait() || (session.rsp && !session.rsp.running)) throw e;
      if (qemu && !qemu.alive) throw new DescriptorError(`QEMU exited before the guest set up its memory manager; its console ended with: ${qemu.serialText.split('\n').slice(-3).join(' / ')}`);
      if (Date.now() > deadline) throw new DescriptorError(`the guest did not fill in mm_debug_info within ${timeoutMs} ms; is it an mmscope guest, and does it boot?`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

export async function startLiveGuest(options: LiveGuestOptions): Promise<LiveGuest> {
  let qemu: QemuInstance | undefined;
  let session: QemuSession | undefined;
  let server: DashboardServer | undefined;
  try {
    if (!options.gdb) {
      if (!options.kernel) throw new Error('launching a guest needs its kernel');
      qemu = await launchQemu({ kernel: options.kernel, cmdline: options.cmdline ?? 'demo', memoryMiB: options.memoryMiB ?? 128, swapDiskMiB: guestSwapDiskMiB(options.kernel) });
      if (options.onConsole) qemu.serial.on('data', options.onConsole);
      session = await QemuSession.attachTo(qemu);
      await (session.rsp as NonNullable<QemuSession['rsp']>).continue();
    } else {
      session = await QemuSession.attach({ gdb: options.gdb, qmp: options.qmp, ramFile: options.ramFile });
    }
    const descriptor = options.descriptorPhys === undefined ? undefined : await waitForDescriptor(session, options.descriptorPhys, qemu, options.bootTimeoutMs ?? 120_000);
    const identity: GuestIdentity = {
      level: descriptor ? 'descriptor' : options.knowledge?.describe ? 1 : 0,
      kernel: options.kernel ? path.basename(options.kernel) : '',
      kernelSha256: options.kernel ? crypto.createHash('sha256').update(fs.readFileSync(options.kernel)).digest('hex') : '',
      descriptorVersion: descriptor?.version ?? 0,
      blockSize: descriptor?.blockSize ?? 0,
      blockCount: descriptor?.blockCount ?? 0,
      ...(qemu?.memoryBytes !== undefined ? { memoryBytes: qemu.memoryBytes } : {}),
    };
    if (options.serve !== false) {
      server = await startDashboardServer({ serverVersion: packageVersion(), ...options.feed });
      server.feed.setGuest(identity);
    }
    const feed = server?.feed ?? new LiveFeed({ serverVersion: packageVersion(), ...options.feed });
    feed.setGuest(identity);
    const refresher = new LiveRefresher({
      session,
      feed,
      knowledge: {
        ...options.knowledge,
        ...(options.descriptorPhys !== undefined ? { descriptor: { descriptorPhys: options.descriptorPhys, ...(options.symbols ? { resolveSite: makeSiteResolver(options.symbols) } : {}) } } : {}),
      },
      ...(options.spaces ? { spaces: options.spaces } : {}),
      ratePerSecond: options.ratePerSecond,
    });
    const rsp = session.rsp;
    // Attaching through the gdbstub stopped a running guest: take the first snapshot now, consistent, then resume.
    feed.setState(rsp && !rsp.running ? 'stopped' : 'running');
    await refresher.refreshNow();
    if (rsp && !rsp.running && (qemu || session.wasRunningAtAttach)) {
      await rsp.continue();
      feed.setState('running');
    }
    refresher.start();
    const s = session;
    const q = qemu;
    const srv = server;
    let closing: Promise<void> | undefined;
    return {
      session: s,
      qemu: q,
      server: srv,
      refresher,
      close: () =>
        (closing ??= (async () => {
          await refresher.stop();
          await srv?.close();
          if (q) {
            s.rsp?.close();
            s.qmp?.close();
            await q.shutdown();
            await s.detach().catch(() => undefined);
          } else {
            await s.detach({ restore: true }).catch(() => undefined);
          }
        })()),
    };
  } catch (e) {
    await server?.close();
    if (qemu) await qemu.shutdown();
    else await session?.detach({ restore: true }).catch(() => undefined);
    throw e;
  }
}
