// The memory-manager side of a debug session, without DAP: builds a snapshot at each stop
// (once per stop), keeps the previous one for diffs, translates addresses, answers the debug
// console's commands (vtop, chain, chains, pd), and reads the guest's last memory-manager event
// for allocation breakpoints. The session calls it; it knows nothing of DAP or QEMU.

import { DebugSymbols } from '../symbols';
import { ControlRegisters, MmSnapshot, PhysicalReader, buildSnapshot } from './snapshot';
import { SnapshotDiff, diffSnapshots } from './diff';
import { makeSiteResolver, formatSite } from './site-resolver';
import { CurrentPaging, Translation, TranslateError, translateAddress, translateCurrent } from './translate';
import { formatSnapshot, formatTranslation } from './snapshot-text';
import { chainFlagNames } from './snapshot-json';
import { MmEvent, MM_EVENT_SIZE, decodeEvent } from './guest-structures';
import { SourceSite } from './findings';
import { decodeEntryFlags } from './paging-entry';

export interface MmTargetAccess {
  readPhys: PhysicalReader;
  readControlRegisters(): Promise<ControlRegisters>;
  /** The paging registers exactly (any kernel, any mode), for level-0 translations. */
  readPagingRegisters(): Promise<CurrentPaging>;
}

const hex = (n: number, w = 8): string => `0x${(n >>> 0).toString(16).padStart(w, '0')}`;

export class MmService {
  readonly descriptorPhys: number | undefined;
  /** Kernel-virtual address of mm_event_hook, for allocation breakpoints. */
  readonly eventHookAddress: number | undefined;
  private readonly eventPhys: number | undefined;
  readonly resolveSite: (address: number) => SourceSite | undefined;
  private current: { stop: number; snapshot: Promise<MmSnapshot> } | undefined;
  private previous: MmSnapshot | undefined;
  private lastDiff: SnapshotDiff | undefined;

  constructor(private readonly symbols: DebugSymbols, private readonly access: MmTargetAccess) {
    const elf = symbols.elf;
    const d = elf.symbolByName('mm_debug_info');
    this.descriptorPhys = d ? symbols.virtualToLoad(d.value) : undefined;
    this.eventHookAddress = elf.symbolByName('mm_event_hook')?.value;
    const ev = elf.symbolByName('mm_last_event');
    this.eventPhys = ev ? symbols.virtualToLoad(ev.value) : undefined;
    this.resolveSite = makeSiteResolver(symbols);
  }

  /** True when the kernel is an mmscope guest (it exports mm_debug_info). */
  get available(): boolean {
    return this.descriptorPhys !== undefined;
  }

  /** The snapshot at this stop (built once per stop number). Throws if the kernel is no mmscope guest. */
  snapshot(stop: number): Promise<MmSnapshot> {
    if (this.descriptorPhys === undefined) return Promise.reject(new Error('this kernel has no mm_debug_info, so mmscope cannot show its memory manager'));
    if (this.current?.stop === stop) return this.current.snapshot;
    const descriptorPhys = this.descriptorPhys;
    const done = this.current?.snapshot.catch(() => undefined);
    const snapshot = (async () => {
      const prev = await done;
      const registers = await this.access.readControlRegisters();
      const built = await buildSnapshot({ read: this.access.readPhys, descriptorPhys, registers, resolveSite: this.resolveSite, stop });
      const snap = await this.withoutChainInFlight(built);
      this.previous = prev;
      this.lastDiff = prev ? diffSnapshots(prev, snap) : undefined;
      return snap;
    })();
    this.current = { stop, snapshot };
    return snapshot;
  }

  /**
   * The chain of the last allocation event has been handed to its caller but not mapped yet (an
   * allocation breakpoint stops exactly there): it is not reported as a leak.
   */
  private async withoutChainInFlight(snap: MmSnapshot): Promise<MmSnapshot> {
    if (this.eventPhys === undefined || !snap.findings.some((f) => f.kind === 'leaked-chain')) return snap;
    const event = await this.readEvent().catch(() => undefined);
    if (!event || event.kind !== 'allocated') return snap;
    const findings = snap.findings.filter((f) => !(f.kind === 'leaked-chain' && f.chain === event.chain));
    return findings.length === snap.findings.length ? snap : { ...snap, findings };
  }

  /** What changed since the snapshot of the previous stop (undefined at the first). */
  get diff(): SnapshotDiff | undefined {
    return this.lastDiff;
  }

  get previousSnapshot(): MmSnapshot | undefined {
    return this.previous;
  }

  /**
   * Where `address` lands. With our descriptor: in process `pid`'s space (default: the current
   * one), with block, chain and site. Without (level 0, any kernel): in the current address space.
   */
  async translate(stop: number, address: number | bigint, pid?: number): Promise<Translation> {
    if (this.descriptorPhys === undefined) {
      if (pid !== undefined) throw new TranslateError('this kernel has no mm_debug_info, so only the current address space is known; translate without a pid');
      return translateCurrent(await this.access.readPagingRegisters(), this.access.readPhys, BigInt(address));
    }
    if (BigInt(address) > 0xffffffffn) throw new TranslateError(`0x${BigInt(address).toString(16)} is not a 32-bit address`);
    return translateAddress(await this.snapshot(stop), this.access.readPhys, Number(address), pid);
  }

  /** The guest's last memory-manager event (read at the mm_event_hook breakpoint). */
  async readEvent(): Promise<MmEvent> {
    if (this.eventPhys === undefined) throw new Error('this kernel has no mm_last_event');
    return decodeEvent(await this.access.readPhys(this.eventPhys, MM_EVENT_SIZE));
  }

  /** Answers a debug-console line if it is one of ours (vtop, chain, chains, pd, mm); else undefined. */
  async console(stop: number, line: string): Promise<string | undefined> {
    const [cmd, ...args] = line.trim().split(/\s+/);
    const num = (s: string | undefined, what: string): number => {
      if (s === undefined || !/^(0[xX][0-9a-fA-F]+|\d+)$/.test(s)) throw new Error(`${cmd} needs ${what} as a number (decimal or 0x-hex)`);
      return Number(s);
    };
    switch (cmd) {
      case 'vtop': {
        if (!args.length) return 'usage: vtop ADDR [pid]';
        return formatTranslation(await this.translate(stop, num(args[0], 'an address'), args[1] === undefined ? undefined : num(args[1], 'a pid'))).trimEnd();
      }
      case 'chain': {
        if (!args.length) return 'usage: chain ID';
        const id = num(args[0], 'a chain ID');
        const c = (await this.snapshot(stop)).chains.find((x) => x.id === id);
        if (!c) return `there is no chain ${id} (a chain ID is the index of its first block)`;
        return [
          `chain ${id} (${hex(id, 1)}): ${c.blockCount} blocks, ${chainFlagNames(c.flags).join(', ') || 'no flags'}, owner ${c.owner.kind} #${c.owner.seq}`,
          `  allocated by ${formatSite(c.site, c.owner.caller)}`,
          `  blocks ${c.runs.map((r) => (r.count > 1 ? `${r.first}-${r.first + r.count - 1}` : `${r.first}`)).join(', ')}`,
          `  physical ${c.runs.map((r) => `${hex(r.first * 16384)}-${hex((r.first + r.count) * 16384 - 1)}`).join(', ')}`,
          `  mapped ${c.mappedAt.map((m) => `${m.space === 'kernel' ? 'kernel' : `pid ${m.space}`} ${hex(m.virtual)}+${m.length / 1024} KiB (page ${m.firstPage})`).join('; ') || 'nowhere'}`,
          ...(c.handles.length ? [`  handles ${c.handles.map((h) => `${h.type.toUpperCase()} ${hex(h.handle, 1)}`).join(', ')}`] : []),
        ].join('\n');
      }
      case 'chains':
      case 'mm':
        return formatSnapshot(await this.snapshot(stop), { maxChains: cmd === 'chains' ? 100000 : 40 }).trimEnd();
      case 'pd': {
        const snap = await this.snapshot(stop);
        const pid = args[0] === undefined ? undefined : num(args[0], 'a pid');
        const proc = pid === undefined ? undefined : snap.processes.find((p) => p.pid === pid);
        if (pid !== undefined && !proc) return `there is no process ${pid}`;
        const entries = proc ? proc.upd : snap.kernel.pde;
        const lines = [proc ? `UPD of process ${proc.pid} (${proc.name}), ${proc.current ? 'current: copied in KPD[0..63]' : 'not current'}` : `KPD at ${hex(snap.geometry.kpdPhys)}`];
        entries.forEach((e, i) => {
          const f = decodeEntryFlags(e);
          if (!f.present) return;
          const kind = f.pageSize && snap.registers.pse ? '4 MiB page' : 'page table';
          lines.push(`  [${String(i).padStart(4)}] ${hex(e)}  ${hex(i * 0x400000)}-${hex(i * 0x400000 + 0x3fffff)}  ${kind} ${hex(e & 0xfffff000)} ${f.writable ? 'rw' : 'ro'} ${f.user ? 'user' : 'kernel'}${f.accessed ? ' accessed' : ''}`);
        });
        return lines.join('\n');
      }
      default:
        return undefined;
    }
  }
}
