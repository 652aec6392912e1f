// CPU exceptions stop the debugger: exception-breakpoint filters for #PF, #GP, #DF, #UD, #DE and
// the triple fault, plugged into the session (session/session-extension.ts). The same on i386 and
// x86-64 kernels: in long mode (EFER.LMA) the IDT holds 16-byte gates, the CPU pushes the
// long-mode frame (8-byte slots), and addresses are exact 64-bit values (qemu-bridge/src/address.ts).
//
// The gdbstub reports no CPU exception, so for the vector filters we read the IDT (IDTR from
// QMP `info registers`, the gates from guest memory) and place internal breakpoints at the
// handlers' entries. At such a hit the CPU-pushed frame is on the stack: the stop's sentence
// decodes the error code (and translates CR2 through the current page tables with the one page
// walker), and the call stack starts at the faulting frame. The IDT is re-read when the filters
// change, after every `lidt` in the kernel's code (internal breakpoints right after them), and at
// every reported stop; the handler breakpoints are re-armed when it changed.
//
// The triple fault (on by default): QMP `set-action shutdown=pause` makes QEMU (started with
// -no-reboot) stop instead of ending, the gdbstub then reports signal 3 and query-status says
// `shutdown`; the chain of exceptions and the first fault's registers come from QEMU's
// interrupt log, switched on through HMP only while this filter is on (interrupt-log-files.ts).

import type { DebugProtocol } from '@vscode/debugprotocol';
import { pagingModel, QmpClient, TableLevel, walkAddress } from '../../../qemu-bridge/src';
import type { ExceptionFilter, SessionExtension } from '../session/session-extension';
import type { Target, TargetStop } from '../session/target';
import { addressToBigInt, AddressWidth } from '../../../qemu-bridge/src/address';
import { CPU_EXCEPTIONS, CpuExceptionKind, describeException, describePageFaultAccess, hex, hexAddress, kindOfVector, mnemonicOf, nameOf, pushesErrorCode, TRIPLE_FAULT_FILTER } from './cpu-exceptions';
import { gateSize, handlerEntries, Idtr, parseIdtr } from './idt';
import { FRAME_WORDS, faultingFrame, faultingFrame64, LONG_FRAME_SLOT } from './interrupt-frame';
import { chainToDelivery, DeliveredEvent, ExceptionChain, formatChain, parseInterruptLog, tripleFaultChain } from './interrupt-log';
import { InterruptLogFiles } from './interrupt-log-files';
import { lidtSites } from './lidt-sites';

const LEVEL_NAMES: Record<TableLevel, string> = { PML5: 'PML5', PML4: 'PML4', PDPT: 'page-directory-pointer', PD: 'page-directory', PT: 'page-table' };
const PAGE_SIZE_NAMES = new Map<bigint, string>([[0x1000n, '4 KiB'], [0x200000n, '2 MiB'], [0x400000n, '4 MiB'], [0x40000000n, '1 GiB']]);
const EFER_NXE = 0x800;
const hexBig = (n: bigint): string => `0x${n.toString(16)}`;

export const CPU_EXCEPTION_FILTERS: readonly ExceptionFilter[] = CPU_EXCEPTIONS.map((k) => ({
  filter: k.filter,
  label: k.label,
  description: k.vector === undefined
    ? 'Stop when the guest triple-faults, before QEMU resets it, with the chain of exceptions that led to it'
    : `Stop at the entry of the kernel's ${k.name} handler (vector ${k.vector}), showing the faulting code`,
  default: k.default,
}));

const OWNER = 'cpu-exceptions';
const CR0_PE = 1;
const CR0_PG = 0x80000000;
const EFER_LMA = 0x400;

/** Whether the CPU is in long mode (EFER.LMA): 16-byte gates, the 8-byte-slot frame. */
function longMode(registers: ReadonlyMap<string, number>): boolean {
  return ((registers.get('efer') ?? 0) & EFER_LMA) !== 0 && registers.has('rip');
}
/** How often the interrupt log's size is checked while the guest runs. */
const ROTATE_EVERY_MS = 250;

/** The exception the current stop is about. */
interface CaughtException {
  readonly kind: CpuExceptionKind;
  readonly description: string;
  /** Registers the call stack starts from: the faulting frame (or the first fault's, for a triple fault). */
  readonly registers: ReadonlyMap<string, number>;
  readonly chain?: ExceptionChain;
}

export class CpuExceptionExtension implements SessionExtension {
  readonly commands: readonly string[] = [];
  readonly exceptionFilters = CPU_EXCEPTION_FILTERS;
  private readonly vectors = new Set<number>();
  private triple = false;
  /** Handler entry → the enabled vectors whose gate points there. */
  private entries = new Map<number, number[]>();
  private idtKey = '';
  private lidt: number[] | undefined;
  private caught: CaughtException | undefined;
  /** Set from a triple fault until the guest is reset: QEMU cannot resume it. */
  private tripleFault: CaughtException | undefined;
  private lastShutdownReason: string | undefined;
  private readonly log: InterruptLogFiles | undefined;
  private rotateTimer: NodeJS.Timeout | undefined;
  private readonly ready: Promise<void>;

  constructor(private readonly target: Target) {
    const qmp = target.bridge.qmp;
    this.log = qmp && target.launched ? new InterruptLogFiles((line) => qmp.humanMonitorCommand(line)) : undefined;
    qmp?.onEvent((e) => {
      if (e.event === 'SHUTDOWN') this.lastShutdownReason = typeof e.data?.reason === 'string' ? e.data.reason : undefined;
    });
    const previous = target.stopDescriber;
    target.stopDescriber = async (stop) => this.describeStop(previous ? await previous(stop) : stop);
    target.stackStart = () => (this.caught ?? this.tripleFault)?.registers;
    target.resumeRefusal = () => this.tripleFault
      ? 'The guest triple-faulted and QEMU cannot run it on from there; restart the session (or stop it).'
      : undefined;
    target.on('reset', () => {
      this.tripleFault = undefined;
      this.caught = undefined;
    });
    target.once('exited', () => this.dispose());
    // The session may end without an 'exited' event (terminate, disconnect): QEMU's exit ends the log files.
    void target.instance?.exited.then(() => this.dispose());
    // The triple-fault filter is on until the client says otherwise.
    this.ready = this.setTriple(true).catch(() => undefined);
  }

  async setExceptionFilters(options: readonly { filterId: string; condition?: string }[]): Promise<{ verified: boolean; message?: string }[]> {
    await this.ready;
    const qmp = this.target.bridge.qmp;
    const verdicts = options.map((o) => {
      if (o.condition?.trim()) return { verified: false, message: 'CPU exception filters take no condition.' };
      if (!qmp) return { verified: false, message: 'CPU exception stops need QMP; add "qmp": "host:port" to the attach configuration (QEMU -qmp tcp:127.0.0.1:PORT,server=on,wait=off).' };
      return { verified: true };
    });
    const on = new Set(options.filter((_, i) => verdicts[i].verified).map((o) => o.filterId));
    this.vectors.clear();
    for (const k of CPU_EXCEPTIONS) if (k.vector !== undefined && on.has(k.filter)) this.vectors.add(k.vector);
    await this.setTriple(on.has(TRIPLE_FAULT_FILTER));
    this.idtKey = '';
    // Only vectors still enabled stay armed at once; the IDT is read (for vectors newly enabled)
    // with the guest stopped: now, or in a short interruption while it runs.
    this.arm(this.entries);
    await this.target.whenStopped(() => this.rearm());
    return verdicts;
  }

  /** Turns the triple-fault machinery on or off: QEMU's shutdown action and the interrupt log. */
  private async setTriple(on: boolean): Promise<void> {
    this.triple = on;
    const qmp = this.target.bridge.qmp;
    if (!qmp || !this.target.launched) return;
    await qmp.execute('set-action', { shutdown: on ? 'pause' : 'poweroff' });
    if (on) await this.log?.start();
    else await this.log?.stop();
  }

  /** Re-reads the IDT and re-arms the handler breakpoints when the handlers changed. Needs the guest stopped. */
  private async rearm(): Promise<void> {
    const entries = this.vectors.size ? await this.readHandlers() : new Map<number, number[]>();
    const key = JSON.stringify([...entries]);
    if (key === this.idtKey) return;
    this.idtKey = key;
    this.arm(entries);
    await this.target.syncBreakpoints();
  }

  private arm(entries: Map<number, number[]>): void {
    // Only vectors still enabled (filters may change while the guest runs, before the IDT is read again).
    this.entries = new Map([...entries].map(([a, vs]): [number, number[]] => [a, vs.filter((v) => this.vectors.has(v))]).filter(([, vs]) => vs.length > 0));
    const sites = this.vectors.size ? (this.lidt ??= lidtSites(this.target.symbols.elf)) : [];
    this.target.table.setInternalBreakpoints(OWNER, [...new Set([...entries.keys(), ...sites])]);
  }

  /** The handler entries of the enabled vectors in the current IDT (none in real mode or without an IDT). */
  private async readHandlers(): Promise<Map<number, number[]>> {
    const out = new Map<number, number[]>();
    const qmp = this.target.bridge.qmp as QmpClient;
    const registers = await this.target.guest.registers();
    if (((registers.get('cr0') ?? 0) & CR0_PE) === 0) return out;
    const long = longMode(registers);
    const idtr: Idtr | undefined = parseIdtr(await qmp.humanMonitorCommand('info registers'), long ? 64 : 32);
    if (!idtr) return out;
    const top = Math.max(...this.vectors);
    const length = Math.min(idtr.limit + 1, (top + 1) * gateSize(long ? 'long' : 'protected'));
    let table: Buffer;
    try {
      table = await this.target.guest.readMemory(idtr.base, length);
    } catch {
      return out; // the IDT's address is not mapped: the CPU would triple-fault
    }
    for (const [vector, entry] of handlerEntries(idtr, table, [...this.vectors], long ? 'long' : 'protected')) out.set(entry, [...(out.get(entry) ?? []), vector]);
    return out;
  }

  async decideInternalHit(pc: number): Promise<{ description: string; text?: string } | undefined> {
    if (this.lidt?.includes(pc)) {
      await this.rearm();
      if (!this.entries.has(pc)) return undefined;
    }
    return this.describeHandlerEntry(pc);
  }

  /** The exception stop at the entry of an enabled vector's handler, or undefined when `pc` is none. */
  private async describeHandlerEntry(pc: number): Promise<{ description: string; text?: string } | undefined> {
    const vectors = this.entries.get(pc);
    if (!vectors?.length) return undefined;
    const events = this.log?.active ? parseInterruptLog(this.log.tail()) : undefined;
    let vector = vectors[0];
    if (events && vectors.length > 1) {
      // One handler for several enabled vectors: the log says which one was delivered last.
      const last = [...events].reverse().find((e): e is DeliveredEvent => e.kind === 'delivered');
      if (last && vectors.includes(last.vector)) vector = last.vector;
    }
    const kind = kindOfVector(vector);
    if (!kind) return undefined;
    const live = await this.target.guest.registers();
    const long = longMode(live);
    const sp = (long ? live.get('rsp') : live.get('esp')) ?? 0;
    const slot = long ? LONG_FRAME_SLOT : 4;
    const words = await this.target.guest.readMemory(sp, FRAME_WORDS * slot).catch(() => this.target.guest.readMemory(sp, (long ? 5 : 4) * slot).catch(() => Buffer.alloc(0)));
    const frame = long ? faultingFrame64(live, words, pushesErrorCode(vector)) : faultingFrame(live, words, pushesErrorCode(vector));
    const registers = frame?.registers ?? new Map(live);
    const ip = (long ? registers.get('rip') : registers.get('eip')) ?? 0;
    const notes: string[] = [];
    let chain: ExceptionChain | undefined;
    if (vector === 14) notes.push(await this.translateCr2(live));
    if (vector === 8 && events) {
      chain = chainToDelivery(events, 8);
      if (chain) notes.push(`the exceptions before it: ${formatChain(chain)}`);
    }
    if (vector === 6) {
      const bytes = await this.target.guest.readMemory(ip, 4).catch(() => undefined);
      if (bytes) notes.push(`the bytes there: ${[...bytes].map((b) => b.toString(16).padStart(2, '0')).join(' ')}`);
    }
    notes.push(`stopped at the entry of its handler (${this.handlerName(pc, live)})`);
    const description = describeException({
      vector,
      ...(frame?.errorCode !== undefined ? { errorCode: frame.errorCode } : {}),
      cr2: live.get('cr2') ?? 0,
      where: await this.whereOf(vector, ip, registers),
      notes,
      width: this.width,
    });
    this.caught = { kind, description, registers, ...(chain ? { chain } : {}) };
    return { description, text: kind.label };
  }

  private get width(): AddressWidth {
    return this.target.addressWidth;
  }

  /**
   * Where the exception happened: the faulting instruction, or for a #BP (a trap: the pushed
   * instruction pointer is past the int3) the int3 itself when the byte before it is 0xcc.
   */
  private async whereOf(vector: number, pc: number, registers: ReadonlyMap<string, number>): Promise<string> {
    if (vector === 3) {
      const before = await this.target.guest.readMemory(pc - 1, 1).catch(() => undefined);
      if (before?.[0] === 0xcc) return `the int3 at ${this.placeOf(pc - 1, registers)}`;
    }
    return this.placeOf(pc, registers);
  }

  /** "kmain.c:42 (poke)", or the function and offset, or the bare address. */
  private placeOf(address: number, registers: ReadonlyMap<string, number>): string {
    const pagingOn = ((registers.get('cr0') ?? 0) & CR0_PG) !== 0;
    const sym = this.target.codeMap.symbolAddress(address, pagingOn);
    const frames = this.target.symbols.hasDebugInfo ? this.target.codeMap.sourceFrames(sym, true) : [];
    const top = frames[0];
    if (top?.file && top.line) return `${basename(top.file)}:${top.line} (${top.name})`;
    const name = this.target.codeMap.functionName(sym);
    return name ? `${hexAddress(address, this.width)} (${name})` : hexAddress(address, this.width);
  }

  /** "isr14 at 0x10004d, boot.S:69" (the name and line when the symbols know them). */
  private handlerName(address: number, registers: ReadonlyMap<string, number>): string {
    const pagingOn = ((registers.get('cr0') ?? 0) & CR0_PG) !== 0;
    const sym = this.target.codeMap.symbolAddress(address, pagingOn);
    const name = this.target.codeMap.functionName(sym) ?? this.target.symbols.elf.nearestSymbolBelow(sym)?.name;
    const line = this.target.symbols.hasDebugInfo ? this.target.symbols.addressToLine(sym) : undefined;
    return [`${name ? `${name} at ` : ''}${hexAddress(address, this.width)}`, ...(line ? [`${basename(line.file)}:${line.line}`] : [])].join(', ');
  }

  /** Where CR2 lands in the current page tables, through the one page walker (any paging mode). */
  private async translateCr2(live: ReadonlyMap<string, number>): Promise<string> {
    const cr2 = live.get('cr2') ?? 0;
    const cr3 = live.get('cr3') ?? 0;
    const width = longMode(live) ? 64 : this.width;
    const at = (a: number): string => hexAddress(a, width);
    // Without EFER in the register set, take NX as enabled: bit 63 is then never called reserved.
    const model = pagingModel({ cr0: live.get('cr0') ?? 0, cr4: live.get('cr4') ?? 0, efer: live.get('efer') ?? EFER_NXE });
    const w = await walkAddress(model, cr3, addressToBigInt(cr2, width), (a, n) => this.target.bridge.memory.readPhys(Number(a), n));
    const last = w.steps[w.steps.length - 1];
    const where = last ? `${LEVEL_NAMES[last.level]} entry ${last.index} (at physical ${hexBig(last.entryAddress)}) is ${hexBig(last.entry.raw)}` : '';
    switch (w.kind) {
      case 'mapped':
        return `CR3 ${at(cr3)} maps ${at(cr2)} to physical ${hexBig(w.physical)} (${PAGE_SIZE_NAMES.get(w.pageSize) ?? `${w.pageSize} byte`} page, ${w.writable ? 'writable' : 'read-only'}, ${w.user ? 'user' : 'kernel-only'}${w.noExecute ? ', no-execute' : ''})`;
      case 'not-present':
        return `CR3 ${at(cr3)} maps nothing at ${at(cr2)}: ${where}, not present`;
      case 'reserved-bits':
        return `CR3 ${at(cr3)} cannot map ${at(cr2)}: ${where}, with reserved bits ${hexBig(last.entry.reserved)} set`;
      case 'unreadable':
        return `CR2 ${at(cr2)} could not be translated (the table at physical ${hexBig(w.tableAddress)} cannot be read)`;
      case 'paging-off':
        return `paging is off: ${at(cr2)} is a physical address`;
      default:
        return `CR2 ${at(cr2)} is not a canonical address`;
    }
  }

  /** A stop with signal 3 in QEMU's `shutdown` state is a triple fault (or the guest powering off). */
  private async describeStop(stop: TargetStop): Promise<TargetStop> {
    if (stop.reason === 'step' && this.entries.has(stop.pc)) {
      // A step of the faulting instruction ends at the handler's entry: that is the exception stop.
      const hit = await this.describeHandlerEntry(stop.pc);
      return hit ? { ...stop, reason: 'exception', description: hit.description, ...(hit.text ? { text: hit.text } : {}) } : stop;
    }
    if (stop.reason !== 'exception' || stop.description !== 'signal 3') return stop;
    const qmp = this.target.bridge.qmp;
    if (!qmp || (await qmp.queryStatus()).status !== 'shutdown') return stop;
    const reason = this.lastShutdownReason;
    const events = this.log?.active ? parseInterruptLog(this.log.tail()) : [];
    const chain = tripleFaultChain(events);
    // Without the log (attached, or QEMU refused it) a guest reset is taken for a triple fault.
    const triple = chain !== undefined || (!this.log?.active && reason === 'guest-reset');
    if (!triple || !this.triple) {
      // Not a triple fault: the guest powered off or asked for a reset, which ends QEMU under -no-reboot.
      if (this.target.launched) await qmp.quit().catch(() => undefined);
      throw new Error(reason === 'guest-reset' ? 'the guest reset the machine' : 'the guest powered off');
    }
    const live = await this.target.guest.registers();
    const registers = new Map(live);
    const first = chain?.first;
    const width = first?.width ?? this.width;
    for (const [name, value] of first?.registers ?? []) if (live.has(name)) registers.set(name, value);
    const parts = [`triple fault: ${chain ? formatChain(chain) : 'the guest reset the machine (QEMU\'s interrupt log is off, so the chain is unknown)'}`];
    if (first) {
      const where = this.placeOf(first.eip, registers);
      parts.push(`the first fault: ${first.vector === 14 && first.cr2 !== undefined
        ? `page fault: ${describePageFaultAccess(first.errorCode, first.cr2, width)}, at ${where}`
        : `${nameOf(first.vector)}${pushesErrorCode(first.vector) ? ` (error code ${hex(first.errorCode)})` : ''} at ${where}`}`);
    }
    parts.push('QEMU stopped instead of resetting the machine; the registers are those of the first fault');
    const kind = CPU_EXCEPTIONS.find((k) => k.filter === TRIPLE_FAULT_FILTER) as CpuExceptionKind;
    this.tripleFault = { kind, description: parts.join('; '), registers, ...(chain ? { chain } : {}) };
    return { ...stop, description: this.tripleFault.description, text: kind.label };
  }

  async exceptionInfo(): Promise<DebugProtocol.ExceptionInfoResponse['body'] | undefined> {
    const c = this.caught ?? this.tripleFault;
    if (!c) return undefined;
    const inner: DebugProtocol.ExceptionDetails[] = (c.chain?.links ?? []).map((l) => ({
      message: `${nameOf(l.vector)}${l.deliveredAs !== undefined && l.deliveredAs !== l.vector ? `, delivered as ${mnemonicOf(l.deliveredAs)}` : ''}`,
      typeName: mnemonicOf(l.vector),
    }));
    return {
      exceptionId: c.kind.filter,
      description: c.description,
      breakMode: 'always',
      details: { message: c.description, typeName: c.kind.mnemonic, ...(inner.length ? { innerException: inner } : {}) },
    };
  }

  onStop(stop: TargetStop): void {
    this.stopRotation();
    if (stop.reason !== 'breakpoint' && stop.text === undefined) this.caught = undefined;
    void this.log?.rotateIfLarge().catch(() => undefined);
    if (this.vectors.size && !this.tripleFault) void this.rearm().catch(() => undefined);
  }

  onResume(): void {
    this.caught = undefined;
    if (this.log?.active) {
      this.rotateTimer = setInterval(() => void this.log?.rotateIfLarge().catch(() => undefined), ROTATE_EVERY_MS);
      this.rotateTimer.unref?.();
    }
  }

  private stopRotation(): void {
    if (this.rotateTimer) clearInterval(this.rotateTimer);
    this.rotateTimer = undefined;
  }

  dispose(): void {
    this.stopRotation();
    this.log?.dispose();
  }
}

function basename(file: string): string {
  return file.slice(file.lastIndexOf('/') + 1);
}

/** Builds the CPU-exception extension for every session with a target. */
export function cpuExceptionExtensionFactory(): (target: Target) => SessionExtension {
  return (target) => new CpuExceptionExtension(target);
}
