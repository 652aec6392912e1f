// `mmscope snapshot` and `mmscope translate`: attach to a QEMU running an mmscope guest, stop it
// if it runs, decode its memory manager (or one address), print it as text or JSON, and leave
// the guest as it was found.

import * as fs from 'fs';
import { parseHostPort, QemuSession } from '../../../qemu-bridge/src';
import { DebugSymbols } from '../symbols';
import { buildSnapshot, MmSnapshot } from '../mm/snapshot';
import { makeSiteResolver } from '../mm/site-resolver';
import { snapshotToJson } from '../mm/snapshot-json';
import { formatSnapshot, formatTranslation } from '../mm/snapshot-text';
import { translateAddress, Translation } from '../mm/translate';
import { Command, OptionSpec, ParsedOptions, parseNumberOption, UsageError } from './command-line';

const ATTACH_OPTIONS: Readonly<Record<string, OptionSpec>> = {
  gdb: { type: 'string', placeholder: 'HOST:PORT', description: "QEMU's gdbstub (required)" },
  qmp: { type: 'string', placeholder: 'HOST:PORT', description: "QEMU's QMP socket (optional)" },
  ram: { type: 'string', placeholder: 'FILE', description: 'guest RAM file (memory-backend-file; fastest)' },
  kernel: { type: 'string', placeholder: 'ELF', description: 'the kernel ELF QEMU runs (required: it locates mm_debug_info)' },
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
    throw new KernelFileError(`${file} is not a readable 32-bit ELF kernel (${(e as Error).message})`);
  }
  const sym = symbols.elf.symbolByName('mm_debug_info');
  if (!sym) throw new KernelFileError(`${file} has no mm_debug_info symbol, so it is not an mmscope guest (or it was stripped)`);
  const descriptorPhys = symbols.virtualToLoad(sym.value);
  if (descriptorPhys === undefined) throw new KernelFileError(`mm_debug_info in ${file} is not in a loaded segment`);
  return { symbols, descriptorPhys };
}

/** Attaches, builds a snapshot (and runs `then` while stopped), detaches restoring the run state. */
async function withSnapshot<T>(options: ParsedOptions, then: (snap: MmSnapshot, session: QemuSession) => Promise<T>): Promise<T> {
  if (typeof options.gdb !== 'string') throw new UsageError('this command needs --gdb HOST:PORT.');
  if (typeof options.kernel !== 'string') throw new UsageError('this command needs --kernel ELF (the kernel QEMU runs).');
  const { symbols, descriptorPhys } = loadKernel(options.kernel);
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
    const snap = await buildSnapshot({
      read: (a, n) => session.memory.readPhys(a, n),
      descriptorPhys,
      registers: { cr0: regs.value('cr0'), cr3: regs.value('cr3'), cr4: regs.value('cr4') },
      resolveSite: makeSiteResolver(symbols),
    });
    return await then(snap, session);
  } finally {
    await session.detach({ restore: true });
  }
}

export const snapshotCommand: Command = {
  name: 'snapshot',
  summary: "Attach to a QEMU and print the guest's memory manager: processes, chains, blocks, findings.",
  options: ATTACH_OPTIONS,
  async run(options, io) {
    const snap = await withSnapshot(options, async (s) => s);
    io.stdout.write(options.json ? JSON.stringify(snapshotToJson(snap)) + '\n' : formatSnapshot(snap));
    return 0;
  },
};

export const translateCommand: Command = {
  name: 'translate',
  summary: 'Attach to a QEMU and explain where a virtual address lands: PDE, PTE, physical, block, chain, allocation site.',
  options: { ...ATTACH_OPTIONS, pid: { type: 'string', placeholder: 'N', description: 'address space of this process (default: the current one)' } },
  positional: { name: 'address', placeholder: 'ADDR' },
  async run(options, io) {
    const address = parseNumberOption('address', options.address);
    const pid = options.pid === undefined ? undefined : parseNumberOption('pid', options.pid);
    const t: Translation = await withSnapshot(options, (snap, session) => translateAddress(snap, (a, n) => session.memory.readPhys(a, n), address, pid));
    io.stdout.write(options.json ? JSON.stringify(t) + '\n' : formatTranslation(t));
    return t.notMapped ? 3 : 0;
  },
};
