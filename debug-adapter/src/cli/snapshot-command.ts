// `mmscope snapshot` and `mmscope translate`: attach to a QEMU, stop the guest if it runs, decode
// its memory manager (our guest, through its descriptor) or, for any other kernel, its current
// address space (level 0), or one address; print it as text or JSON, and leave the guest as it
// was found.

import * as fs from 'fs';
import { parseHostPort, QemuSession, RegisterValues } from '../../../qemu-bridge/src';
import { DebugSymbols } from '../symbols';
import { buildSnapshot, MmSnapshot } from '../mm/snapshot';
import { makeSiteResolver } from '../mm/site-resolver';
import { snapshotToJson } from '../mm/snapshot-json';
import { formatSnapshot, formatTranslation } from '../mm/snapshot-text';
import { translateAddress, translateCurrent, Translation } from '../mm/translate';
import { buildSpaceSnapshot, formatSpaceSnapshot, PagingRegisters, SpaceSnapshot, spaceSnapshotToJson } from '../mm/space-snapshot';
import { Command, MODEL_OPTION, OptionSpec, ParsedOptions, parseAddressOption, parseNumberOption, UsageError } from './command-line';

const ATTACH_OPTIONS: Readonly<Record<string, OptionSpec>> = {
  gdb: { type: 'string', placeholder: 'HOST:PORT', description: "QEMU's gdbstub (required)" },
  qmp: { type: 'string', placeholder: 'HOST:PORT', description: "QEMU's QMP socket (optional)" },
  ram: { type: 'string', placeholder: 'FILE', description: 'guest RAM file (memory-backend-file; fastest)' },
  kernel: { type: 'string', placeholder: 'ELF', description: 'the kernel ELF QEMU runs (with mm_debug_info: the memory manager; without --kernel: the address space only)' },
  model: MODEL_OPTION,
  json: { type: 'boolean', description: 'print JSON (docs/snapshot-schema.md)' },
};

/** The kernel is missing, unreadable, or not an mmscope guest. */
export class KernelFileError extends UsageError {}

/** Loads the kernel's symbols and the physical address of its descriptor. */
export function loadKernel(file: string): { symbols: DebugSymbols; descriptorPhys: number } {
  if (!fs.existsSync(file)) throw new KernelFileError(`the kernel ${file} does not exist; pass the ELF that QEMU runs with --kernel`);
  let symbols: DebugSymbols;
  try {
    symbols = new DebugSymbols(fs.readFileSync(file));
  } catch (e) {
    throw new KernelFileError(`${file} is not a readable ELF kernel (${(e as Error).message})`);
  }
  const sym = symbols.elf.symbolByName('mm_debug_info');
  if (!sym) throw new KernelFileError(`${file} has no mm_debug_info symbol, so it is not an mmscope guest (or it was stripped)`);
  const descriptorPhys = symbols.virtualToLoad(sym.value);
  if (descriptorPhys === undefined) throw new KernelFileError(`mm_debug_info in ${file} is not in a loaded segment`);
  return { symbols, descriptorPhys };
}

/** What the command decodes with: our guest's descriptor (with its symbols), or nothing (level 0). */
type KernelKnowledge = { level: 'descriptor'; symbols: DebugSymbols; descriptorPhys: number } | { level: 0; note?: string };

/** The kernel's level: --kernel with mm_debug_info gives the descriptor; no --kernel, or an ELF without it, level 0. */
function kernelKnowledge(options: ParsedOptions): KernelKnowledge {
  if (typeof options.kernel !== 'string') return { level: 0 };
  try {
    return { level: 'descriptor', ...loadKernel(options.kernel) };
  } catch (e) {
    if (e instanceof KernelFileError && /no mm_debug_info symbol/.test(e.message)) return { level: 0, note: `${options.kernel} has no mm_debug_info descriptor` };
    throw e;
  }
}

/** The paging registers, exact (EFER is 0 when the gdbstub has none: a CPU without long mode). */
function pagingRegisters(regs: RegisterValues): PagingRegisters {
  const has = (name: string): boolean => regs.bytes(name) !== undefined;
  return { cr0: regs.big('cr0'), cr3: regs.big('cr3'), cr4: regs.big('cr4'), efer: has('efer') ? regs.big('efer') : 0n };
}

type Decoded = { level: 'descriptor'; snap: MmSnapshot } | { level: 0; space: SpaceSnapshot; registers: PagingRegisters; note?: string };

/** Attaches, decodes (and runs `then` while stopped), detaches restoring the run state. */
async function withSnapshot<T>(options: ParsedOptions, then: (decoded: Decoded, session: QemuSession) => Promise<T>): Promise<T> {
  if (typeof options.gdb !== 'string') throw new UsageError('this command needs --gdb HOST:PORT.');
  const knowledge = kernelKnowledge(options);
  const session = await QemuSession.attach({
    gdb: parseHostPort(options.gdb),
    qmp: typeof options.qmp === 'string' ? parseHostPort(options.qmp) : undefined,
    ramFile: typeof options.ram === 'string' ? options.ram : undefined,
  });
  try {
    const rsp = session.rsp;
    if (!rsp) throw new UsageError('this command needs the gdbstub (--gdb) to read the control registers.');
    if (rsp.running) await rsp.interrupt();
    const regs = await rsp.readRegisters();
    const read = (a: number, n: number): Promise<Buffer> => session.memory.readPhys(a, n);
    if (knowledge.level === 0) {
      const registers = pagingRegisters(regs);
      const space = await buildSpaceSnapshot({ read: (a, n) => read(Number(a), n), registers });
      return await then({ level: 0, space, registers, note: knowledge.note }, session);
    }
    const snap = await buildSnapshot({
      read,
      descriptorPhys: knowledge.descriptorPhys,
      registers: { cr0: regs.value('cr0'), cr3: regs.value('cr3'), cr4: regs.value('cr4') },
      resolveSite: makeSiteResolver(knowledge.symbols),
    });
    return await then({ level: 'descriptor', snap }, session);
  } finally {
    await session.detach({ restore: true });
  }
}

export const snapshotCommand: Command = {
  name: 'snapshot',
  summary: "Attach to a QEMU and print the guest's memory: with our descriptor the memory manager (processes, chains, blocks, findings), else the current address space.",
  options: ATTACH_OPTIONS,
  async run(options, io) {
    const d = await withSnapshot(options, async (x) => x);
    if (d.level === 0) {
      if (d.note) io.stderr.write(`mmscope: ${d.note}; showing the address space only (level 0).\n`);
      io.stdout.write(options.json ? JSON.stringify(spaceSnapshotToJson(d.space)) + '\n' : formatSpaceSnapshot(d.space));
    } else {
      io.stdout.write(options.json ? JSON.stringify(snapshotToJson(d.snap)) + '\n' : formatSnapshot(d.snap));
    }
    return 0;
  },
};

export const translateCommand: Command = {
  name: 'translate',
  summary: 'Attach to a QEMU and explain where a virtual address lands: every paging-structure entry, physical, and with our descriptor the block, chain and allocation site.',
  options: { ...ATTACH_OPTIONS, pid: { type: 'string', placeholder: 'N', description: 'address space of this process (default: the current one; needs the descriptor)' } },
  positional: { name: 'address', placeholder: 'ADDR' },
  async run(options, io) {
    const address = parseAddressOption('address', options.address);
    const pid = options.pid === undefined ? undefined : parseNumberOption('pid', options.pid);
    const t = await withSnapshot(options, async (d, session): Promise<Translation> => {
      if (d.level === 0) {
        if (pid !== undefined) throw new UsageError('--pid needs a kernel with our mm_debug_info descriptor (--kernel ELF); without one only the current address space is known.');
        return translateCurrent(d.registers, (a, n) => session.memory.readPhys(a, n), address);
      }
      if (address > 0xffffffffn) throw new UsageError(`${options.address} is not a 32-bit address, and this guest is a 32-bit kernel.`);
      return translateAddress(d.snap, (a, n) => session.memory.readPhys(a, n), Number(address), pid);
    });
    io.stdout.write(options.json ? JSON.stringify(t) + '\n' : formatTranslation(t));
    return t.notMapped ? 3 : 0;
  },
};

