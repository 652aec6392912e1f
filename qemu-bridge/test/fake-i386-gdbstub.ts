// A FAKE i386 machine behind a scripted gdbstub, for run-control tests without QEMU: a few vCPUs
// sharing one flat memory (paging on with an identity map: one 4 MiB PSE page at CR3, so virtual
// and physical addresses are the same, for the adapter's own page walker too), registers,
// software and hardware breakpoints, single steps and continues. Code runs on a deliberately
// minimal interpreter that knows only the instructions gcc -O0 emits for the test programs
// (push/pop, mov, add/sub/cmp, jmp/jcc, call/ret, leave, nop, hlt, out); anything else is a
// fault the tests see (FakeI386Gdbstub.fault). It answers what QEMU 7.2 answers: multiprocess
// thread ids, a breakpoint at the pc a vCPU resumes from reported before its instruction runs,
// T02 after the interrupt byte, `W` and a closed socket when the guest writes isa-debug-exit.
// It records the packets it receives (received) and the stops it reports (stops).

import { FakeRspPeer, INTERRUPT, packet, QEMU_QSUPPORTED } from './fake-rsp-peer';

/** The registers of the fake's target description, in `g` packet order, 32 bits each. */
/** Where the fake's page directory lies (CR3). */
export const FAKE_PAGE_DIRECTORY = 0x1000;
const CR4_PSE = 0x10;

export const FAKE_REGISTERS = ['eax', 'ecx', 'edx', 'ebx', 'esp', 'ebp', 'esi', 'edi', 'eip', 'eflags', 'cs', 'ss', 'ds', 'es', 'fs', 'gs', 'cr0', 'cr2', 'cr3', 'cr4'] as const;
export type FakeRegister = (typeof FAKE_REGISTERS)[number];
export type FakeCpu = Record<FakeRegister, number>;

const TARGET_XML =
  '<?xml version="1.0"?><!DOCTYPE target SYSTEM "gdb-target.dtd"><target><architecture>i386</architecture>' +
  '<feature name="org.gnu.gdb.i386.core">' +
  FAKE_REGISTERS.slice(0, 16).map((r) => `<reg name="${r}" bitsize="32" type="int32"/>`).join('') +
  '</feature><feature name="org.gnu.gdb.i386.sys">' +
  FAKE_REGISTERS.slice(16).map((r) => `<reg name="${r}" bitsize="32" type="int32" group="system"/>`).join('') +
  '</feature></target>';

/** CR0 of a kernel that runs with paging on (PG, ET, PE); the fake maps every address to itself. */
const CR0_PAGING = 0x80000011;
const EFLAGS_CF = 0x1;
const EFLAGS_ZF = 0x40;
const EFLAGS_SF = 0x80;
const EFLAGS_OF = 0x800;
/** QEMU's isa-debug-exit port (iobase 0xf4): writing V ends QEMU with status (V << 1) | 1. */
const DEBUG_EXIT_PORT = 0xf4;
/** Instructions per vCPU executed per turn of the event loop while continuing (so the interrupt byte gets in). */
const SLICE = 500;

/** A stop the fake reported: the reply, the vCPU and its pc then. */
export interface FakeStop {
  reply: string;
  thread: number;
  pc: number;
}

export interface FakeMachineOptions {
  /** Bytes placed in memory (the program's loadable segments). */
  segments: readonly { address: number; bytes: Uint8Array }[];
  /** Size of the flat memory from address 0 (default 2 MiB). */
  memorySize?: number;
}

class MachineFault extends Error {}

export class FakeI386Gdbstub {
  readonly memory: Buffer;
  readonly cpus = new Map<number, FakeCpu>();
  /** Armed breakpoints as `type:address` (type 0 software, 1 hardware). */
  readonly breakpoints = new Set<string>();
  readonly stops: FakeStop[] = [];
  /** Set when the interpreter met what it cannot do (an unknown instruction, memory outside the machine). */
  fault: string | undefined;
  /** Instructions executed since start. */
  executed = 0;
  private peer: FakeRspPeer | undefined;
  /** The vCPU `g`, `p`, `m` act on (`Hg`); QEMU resets it to the stopping vCPU at each stop. */
  private gThread = 1;
  private lastStopThread = 1;
  private run: { threads: number[]; timer?: NodeJS.Immediate } | undefined;
  private exited = false;
  private readonly failures: { match: (payload: string) => boolean; reply: string }[] = [];

  constructor(options: FakeMachineOptions) {
    this.memory = Buffer.alloc(options.memorySize ?? 2 << 20);
    for (const s of options.segments) Buffer.from(s.bytes).copy(this.memory, s.address);
    // The page directory CR3 names: PD[0] maps 0-4 MiB onto itself (present, writable, 4 MiB page).
    if (options.segments.some((s) => s.address < FAKE_PAGE_DIRECTORY + 4096 && s.address + s.bytes.length > FAKE_PAGE_DIRECTORY)) {
      throw new Error(`a segment overlaps the fake's page directory at 0x${FAKE_PAGE_DIRECTORY.toString(16)}`);
    }
    this.memory.writeUInt32LE(0x00000083, FAKE_PAGE_DIRECTORY);
  }

  /** Adds vCPU `thread` stopped at `eip` with stack pointer `esp` (thread ids from 1, as QEMU numbers them). */
  addCpu(thread: number, eip: number, esp: number): FakeCpu {
    const cpu: FakeCpu = { eax: 0, ecx: 0, edx: 0, ebx: 0, esp, ebp: 0, esi: 0, edi: 0, eip, eflags: 0x2, cs: 0x8, ss: 0x10, ds: 0x10, es: 0x10, fs: 0x10, gs: 0x10, cr0: CR0_PAGING, cr2: 0, cr3: FAKE_PAGE_DIRECTORY, cr4: CR4_PSE };
    this.cpus.set(thread, cpu);
    return cpu;
  }

  cpu(thread: number): FakeCpu {
    const cpu = this.cpus.get(thread);
    if (!cpu) throw new Error(`the fake machine has no vCPU ${thread}`);
    return cpu;
  }

  /** Starts serving the gdbstub on a free loopback port. */
  async listen(): Promise<{ host: string; port: number }> {
    this.peer = await FakeRspPeer.start((payload) => this.answer(payload));
    return this.peer.address;
  }

  /** Packets received, in order (the interrupt byte as "\x03"). */
  get received(): string[] {
    return this.peer?.received ?? [];
  }

  /** Called with every packet the client sends, before it is answered (a test acts at a chosen moment). */
  onPacket: ((payload: string) => void) | undefined;

  /** Answers the next packet matching `match` with `reply` (an error code) instead of doing it. */
  failOnce(match: string | RegExp | ((payload: string) => boolean), reply = 'E14'): void {
    this.failures.push({ match: (p) => (typeof match === 'string' ? p === match : typeof match === 'function' ? match(p) : match.test(p)), reply });
  }

  async stop(): Promise<void> {
    if (this.run?.timer) clearImmediate(this.run.timer);
    this.run = undefined;
    await this.peer?.stop();
  }

  /** Runs vCPU `thread` here, without the gdbstub, until its pc is `address` (sets the scene of a test). */
  runTo(address: number, thread = 1, limit = 100000): void {
    for (let i = 0; i < limit && this.cpu(thread).eip !== address; i++) {
      const result = this.execute(thread);
      if (result !== undefined) throw new Error(`vCPU ${thread} exited before reaching 0x${address.toString(16)}`);
    }
    if (this.cpu(thread).eip !== address) throw new Error(`vCPU ${thread} did not reach 0x${address.toString(16)}`);
  }

  read32(address: number): number {
    this.check(address, 4);
    return this.memory.readUInt32LE(address);
  }

  write32(address: number, value: number): void {
    this.check(address, 4);
    this.memory.writeUInt32LE(value >>> 0, address);
  }

  // ---- the gdbstub ----

  private answer(payload: string): { send: Buffer } | 'silence' {
    this.onPacket?.(payload);
    if (payload === INTERRUPT) {
      // QEMU stops a running guest and reports SIGINT; a stopped one ignores the byte.
      if (this.run) this.report('T02', this.run.threads[0]);
      return 'silence';
    }
    if (this.exited) return 'silence';
    const failure = this.failures.findIndex((f) => f.match(payload));
    if (failure >= 0) {
      const [f] = this.failures.splice(failure, 1);
      return { send: packet(f.reply) };
    }
    const reply = this.reply(payload);
    return reply === undefined ? 'silence' : { send: packet(reply) };
  }

  /** The reply to a packet, or undefined for a resume (its stop reply comes later). */
  private reply(p: string): string | undefined {
    if (p.startsWith('qSupported')) return QEMU_QSUPPORTED;
    if (p.startsWith('qXfer:features:read:')) {
      const m = /^qXfer:features:read:([^:]+):([0-9a-f]+),([0-9a-f]+)$/.exec(p);
      if (!m || m[1] !== 'target.xml') return 'E00';
      const offset = parseInt(m[2], 16);
      const length = parseInt(m[3], 16);
      const chunk = TARGET_XML.slice(offset, offset + length);
      return (offset + length >= TARGET_XML.length ? 'l' : 'm') + chunk;
    }
    if (p === '?') return this.stopText('T05', this.lastStopThread);
    if (p === 'qfThreadInfo') return 'm' + [...this.cpus.keys()].map((t) => threadText(t)).join(',');
    if (p === 'qsThreadInfo') return 'l';
    if (p === 'vCont?') return 'vCont;c;C;s;S';
    if (p.startsWith('Hg')) {
      const t = parseThread(p.slice(2));
      if (t === undefined || (t > 0 && !this.cpus.has(t))) return 'E22';
      if (t > 0) this.gThread = t;
      return 'OK';
    }
    if (p.startsWith('Hc')) return 'OK';
    if (p.startsWith('Qqemu.PhyMemMode:')) return 'OK';
    if (p === 'qqemu.PhyMemMode') return '0';
    if (p === 'g') return FAKE_REGISTERS.map((r) => hex32(this.cpu(this.gThread)[r])).join('');
    if (/^p[0-9a-f]+$/.test(p)) {
      const r = FAKE_REGISTERS[parseInt(p.slice(1), 16)];
      return r ? hex32(this.cpu(this.gThread)[r]) : 'E00';
    }
    if (/^P[0-9a-f]+=[0-9a-f]{8}$/.test(p)) {
      const [n, v] = p.slice(1).split('=');
      const r = FAKE_REGISTERS[parseInt(n, 16)];
      if (!r) return 'E00';
      this.cpu(this.gThread)[r] = Buffer.from(v, 'hex').readUInt32LE(0);
      return 'OK';
    }
    let m = /^m([0-9a-f]+),([0-9a-f]+)$/.exec(p);
    if (m) {
      const address = parseInt(m[1], 16);
      const length = parseInt(m[2], 16);
      if (address + length > this.memory.length) return 'E14';
      return this.memory.subarray(address, address + length).toString('hex');
    }
    m = /^M([0-9a-f]+),([0-9a-f]+):([0-9a-f]*)$/.exec(p);
    if (m) {
      const address = parseInt(m[1], 16);
      const data = Buffer.from(m[3], 'hex');
      if (address + data.length > this.memory.length) return 'E14';
      data.copy(this.memory, address);
      return 'OK';
    }
    m = /^([Zz])([01]),([0-9a-f]+),1$/.exec(p);
    if (m) {
      const key = `${m[2]}:${parseInt(m[3], 16)}`;
      if (m[1] === 'Z') this.breakpoints.add(key);
      else this.breakpoints.delete(key);
      return 'OK';
    }
    if (p === 'D' || p === 'D;1') return 'OK';
    if (p === 's') return this.resume('s', [this.lastStopThread]);
    if (p === 'c') return this.resume('c', [...this.cpus.keys()]);
    m = /^vCont;([cs])(?::(.+))?$/.exec(p);
    if (m) {
      // One action, for one vCPU or all (the others stay stopped); the fake does no more.
      if (m[2] === undefined) return this.resume(m[1] as 'c' | 's', m[1] === 's' ? [this.lastStopThread] : [...this.cpus.keys()]);
      const t = parseThread(m[2]);
      if (t === undefined || !this.cpus.has(t)) return 'E22';
      return this.resume(m[1] as 'c' | 's', [t]);
    }
    return '';
  }

  private resume(action: 'c' | 's', threads: number[]): undefined {
    const run: { threads: number[]; timer?: NodeJS.Immediate } = { threads };
    this.run = run;
    run.timer = setImmediate(() => (action === 's' ? this.stepOnce(threads[0]) : this.slice(run)));
    return undefined;
  }

  private stepOnce(thread: number): void {
    if (!this.run) return;
    try {
      if (!this.atBreakpoint(thread)) {
        const exit = this.execute(thread);
        if (exit !== undefined) return this.exit(exit);
      }
      this.report('T05', thread);
    } catch (e) {
      this.faulted(e, thread);
    }
  }

  /** Runs the vCPUs of `run` in turn, one instruction each, until one meets a breakpoint or exits. */
  private slice(run: { threads: number[]; timer?: NodeJS.Immediate }): void {
    if (this.run !== run) return;
    try {
      for (let n = 0; n < SLICE; n++) {
        for (const thread of run.threads) {
          if (this.atBreakpoint(thread)) return this.report('T05', thread);
          const exit = this.execute(thread);
          if (exit !== undefined) return this.exit(exit);
        }
      }
    } catch (e) {
      return this.faulted(e, run.threads[0]);
    }
    run.timer = setImmediate(() => this.slice(run));
  }

  private atBreakpoint(thread: number): boolean {
    const pc = this.cpu(thread).eip;
    return this.breakpoints.has(`0:${pc}`) || this.breakpoints.has(`1:${pc}`);
  }

  private stopText(signal: string, thread: number): string {
    return `${signal}thread:${threadText(thread)};`;
  }

  private report(signal: string, thread: number): void {
    if (this.run?.timer) clearImmediate(this.run.timer);
    this.run = undefined;
    this.lastStopThread = thread;
    this.gThread = thread;
    const reply = this.stopText(signal, thread);
    this.stops.push({ reply, thread, pc: this.cpu(thread).eip });
    this.peer?.send(packet(reply));
  }

  private exit(status: number): void {
    this.run = undefined;
    this.exited = true;
    const reply = `W${(status & 0xff).toString(16).padStart(2, '0')}`;
    this.stops.push({ reply, thread: this.lastStopThread, pc: this.cpu(this.lastStopThread).eip });
    // QEMU reports the exit and ends: the socket closes.
    this.peer?.send(packet(reply), true);
  }

  private faulted(e: unknown, thread: number): void {
    this.fault = e instanceof Error ? e.message : String(e);
    this.report('T04', thread);
  }

  // ---- the interpreter ----

  private check(address: number, length: number): void {
    if (address < 0 || address + length > this.memory.length) throw new MachineFault(`memory access at 0x${(address >>> 0).toString(16)} outside the fake machine`);
  }

  /** Executes one instruction of vCPU `thread`; returns QEMU's exit status when it wrote isa-debug-exit. */
  private execute(thread: number): number | undefined {
    const cpu = this.cpu(thread);
    const names: FakeRegister[] = ['eax', 'ecx', 'edx', 'ebx', 'esp', 'ebp', 'esi', 'edi'];
    const getReg = (n: number): number => cpu[names[n]];
    const setReg = (n: number, v: number): void => {
      cpu[names[n]] = v >>> 0;
    };
    const start = cpu.eip;
    let ip = start;
    const fetch8 = (): number => {
      this.check(ip, 1);
      return this.memory[ip++];
    };
    const fetchS8 = (): number => (fetch8() << 24) >> 24;
    const fetch32 = (): number => {
      this.check(ip, 4);
      const v = this.memory.readUInt32LE(ip);
      ip += 4;
      return v;
    };
    const push = (v: number): void => {
      cpu.esp = (cpu.esp - 4) >>> 0;
      this.write32(cpu.esp, v);
    };
    const pop = (): number => {
      const v = this.read32(cpu.esp);
      cpu.esp = (cpu.esp + 4) >>> 0;
      return v;
    };
    /** A ModRM operand: the register field and the r/m operand (a register or memory). */
    const modrm = (): { reg: number; get: () => number; set: (v: number) => void } => {
      const b = fetch8();
      const mod = b >> 6;
      const reg = (b >> 3) & 7;
      const rm = b & 7;
      if (mod === 3) return { reg, get: () => getReg(rm), set: (v) => setReg(rm, v) };
      let address: number;
      if (rm === 4) {
        const sib = fetch8();
        const base = sib & 7;
        const index = (sib >> 3) & 7;
        address = base === 5 && mod === 0 ? fetch32() : getReg(base);
        if (index !== 4) address += getReg(index) << (sib >> 6);
      } else if (rm === 5 && mod === 0) {
        address = fetch32();
      } else {
        address = getReg(rm);
      }
      if (mod === 1) address += fetchS8();
      else if (mod === 2) address += fetch32();
      const at = address >>> 0;
      return { reg, get: () => this.read32(at), set: (v) => this.write32(at, v) };
    };
    const flags = (result: number, carry: boolean, overflow: boolean): void => {
      let f = cpu.eflags & ~(EFLAGS_CF | EFLAGS_ZF | EFLAGS_SF | EFLAGS_OF);
      if (carry) f |= EFLAGS_CF;
      if (result === 0) f |= EFLAGS_ZF;
      if (result & 0x80000000) f |= EFLAGS_SF;
      if (overflow) f |= EFLAGS_OF;
      cpu.eflags = f >>> 0;
    };
    const add = (a: number, b: number): number => {
      const r = (a + b) >>> 0;
      flags(r, a + b > 0xffffffff, ((a ^ r) & (b ^ r) & 0x80000000) !== 0);
      return r;
    };
    const sub = (a: number, b: number): number => {
      const r = (a - b) >>> 0;
      flags(r, a < b, ((a ^ b) & (a ^ r) & 0x80000000) !== 0);
      return r;
    };
    const condition = (cc: number): boolean => {
      const f = cpu.eflags;
      const cf = (f & EFLAGS_CF) !== 0;
      const zf = (f & EFLAGS_ZF) !== 0;
      const sf = (f & EFLAGS_SF) !== 0;
      const of = (f & EFLAGS_OF) !== 0;
      const base = [of, cf, zf, cf || zf, sf, undefined, sf !== of, zf || sf !== of][cc >> 1];
      if (base === undefined) throw new MachineFault('the fake keeps no parity flag');
      return (cc & 1) === 0 ? base : !base;
    };
    let exit: number | undefined;
    const op = fetch8();
    if (op >= 0x50 && op <= 0x57) push(getReg(op - 0x50));
    else if (op >= 0x58 && op <= 0x5f) setReg(op - 0x58, pop());
    else if (op >= 0xb8 && op <= 0xbf) setReg(op - 0xb8, fetch32());
    else if (op >= 0x70 && op <= 0x7f) {
      const d = fetchS8();
      if (condition(op - 0x70)) ip += d;
    } else {
      switch (op) {
        case 0x90: // nop
        case 0xf4: // hlt: the next interrupt comes at once and its handler returns unseen
          break;
        case 0x6a:
          push(fetchS8() >>> 0);
          break;
        case 0x68:
          push(fetch32());
          break;
        case 0x89: {
          const o = modrm();
          o.set(getReg(o.reg));
          break;
        }
        case 0x8b: {
          const o = modrm();
          setReg(o.reg, o.get());
          break;
        }
        case 0x01: {
          const o = modrm();
          o.set(add(o.get(), getReg(o.reg)));
          break;
        }
        case 0x29: {
          const o = modrm();
          o.set(sub(o.get(), getReg(o.reg)));
          break;
        }
        case 0x39: {
          const o = modrm();
          sub(o.get(), getReg(o.reg));
          break;
        }
        case 0x83: {
          const o = modrm();
          const imm = fetchS8() >>> 0;
          if (o.reg === 0) o.set(add(o.get(), imm));
          else if (o.reg === 5) o.set(sub(o.get(), imm));
          else if (o.reg === 7) sub(o.get(), imm);
          else throw new MachineFault(`the fake does not do 83 /${o.reg} at 0x${start.toString(16)}`);
          break;
        }
        case 0xa1:
          cpu.eax = this.read32(fetch32());
          break;
        case 0xa3:
          this.write32(fetch32(), cpu.eax);
          break;
        case 0xe8: {
          const d = fetch32() | 0;
          push(ip);
          ip += d;
          break;
        }
        case 0xc3:
          ip = pop();
          break;
        case 0xc9:
          cpu.esp = cpu.ebp;
          cpu.ebp = pop();
          break;
        case 0xeb: {
          const d = fetchS8();
          ip += d;
          break;
        }
        case 0xe9: {
          const d = fetch32() | 0;
          ip += d;
          break;
        }
        case 0xe6:
          if (fetch8() === DEBUG_EXIT_PORT) exit = (((cpu.eax & 0xff) << 1) | 1) & 0xff;
          break;
        default:
          throw new MachineFault(`the fake does not know opcode 0x${op.toString(16)} at 0x${start.toString(16)}`);
      }
    }
    cpu.eip = ip >>> 0;
    this.executed++;
    return exit;
  }
}

function hex32(v: number): string {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v >>> 0);
  return b.toString('hex');
}

/** A thread id as QEMU writes it with multiprocess: `p01.0N`. */
function threadText(thread: number): string {
  return `p01.${thread.toString(16).padStart(2, '0')}`;
}

/** `p1.2`, `2`, `0` (any), `-1` (all) → the thread number (0 and -1 as given). */
function parseThread(text: string): number | undefined {
  const m = /^(?:p-?[0-9a-f]+\.)?(-1|[0-9a-f]+)$/.exec(text);
  if (!m) return undefined;
  return m[1] === '-1' ? -1 : parseInt(m[1], 16);
}
