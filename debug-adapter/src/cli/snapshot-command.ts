// `mmscope snapshot` and `mmscope translate`: attach to a QEMU, stop the guest if it runs, build
// the snapshot document of any kernel with the one builder (our guest through its descriptor;
// any other kernel at level 0: the current address space from CR3, the spaces named with --cr3,
// the frame map over QEMU's memory map when --qmp is given, the generic findings), or translate
// one address; print it as text or JSON, and leave the guest as it was found.

import * as fs from 'fs';
import { parseHostPort, QemuSession } from '../../../qemu-bridge/src';
import { DebugSymbols } from '../symbols';
import { formatSnapshot, formatTranslation } from '../mm/model/snapshot-text';
import { formatDocument } from '../mm/model/document-text';
import { MmService, TranslateWhere } from '../mm/plugin/mm-service';
import type { Translation } from '../../../contract/translation';
import { pagingRegistersOf } from '../mm/plugin/stop-snapshot';
import { readGeneration } from '../mm/plugin/live-reader';
import type { RspClient } from '../../../qemu-bridge/src';
import { Command, MODEL_OPTION, OptionSpec, ParsedOptions, parseAddressOption, parseNumberOption, UsageError } from './command-line';
import { describeErrorsText, memoryModelKnowledge } from '../mm/plugin/memory-model-knowledge';

const ATTACH_OPTIONS: Readonly<Record<string, OptionSpec>> = {
  gdb: { type: 'string', placeholder: 'HOST:PORT', description: "QEMU's gdbstub (required)" },
  qmp: { type: 'string', placeholder: 'HOST:PORT', description: "QEMU's QMP socket (optional: QEMU's memory map, so frames outside RAM are known)" },
  ram: { type: 'string', placeholder: 'FILE', description: 'guest RAM file (memory-backend-file; fastest)' },
  kernel: { type: 'string', placeholder: 'ELF', description: 'the kernel ELF QEMU runs (with mm_debug_info: the memory manager; without --kernel: level 0, the page tables only)' },
  cr3: { type: 'string', placeholder: 'HEX', multiple: true, description: 'also walk the address space this CR3 value names' },
  model: MODEL_OPTION,
  json: { type: 'boolean', description: 'print JSON (docs/snapshot-schema.md)' },
};

/** The kernel is missing, unreadable, or not an mmscope guest. */
export class KernelFileError extends UsageError {}

/** Loads the kernel's symbols (any ELF). */
export function loadSymbols(file: string): DebugSymbols {
  if (!fs.existsSync(file)) throw new KernelFileError(`the kernel ${file} does not exist; pass the ELF that QEMU runs with --kernel`);
  try {
    return new DebugSymbols(fs.readFileSync(file));
  } catch (e) {
    throw new KernelFileError(`${file} is not a readable ELF kernel (${(e as Error).message})`);
  }
}

/** Loads the kernel's symbols and the physical address of its descriptor. */
export function loadKernel(file: string): { symbols: DebugSymbols; descriptorPhys: number } {
  const symbols = loadSymbols(file);
  const sym = symbols.elf.symbolByName('mm_debug_info');
  if (!sym) throw new KernelFileError(`${file} has no mm_debug_info symbol, so it is not an mmscope guest (or it was stripped)`);
  const descriptorPhys = symbols.virtualToLoad(sym.value);
  if (descriptorPhys === undefined) throw new KernelFileError(`mm_debug_info in ${file} is not in a loaded segment`);
  return { symbols, descriptorPhys };
}

/** The values of a repeatable option (none, one, or several). */
export function repeatedOption(options: ParsedOptions, name: string): string[] {
  const v = options[name];
  return typeof v === 'string' ? [v] : Array.isArray(v) ? [...(v as readonly string[])] : [];
}

/** `--cr3` values, exact. */
export function cr3Options(options: ParsedOptions): bigint[] {
  return repeatedOption(options, 'cr3').map((text) => parseAddressOption('cr3', text));
}

/**
 * Attaches, stops the guest, makes the session's MmService (the same one the debug session uses)
 * over this moment, runs `then`, and detaches restoring the run state.
 */
async function withService<T>(options: ParsedOptions, then: (service: MmService) => Promise<T>, stderr?: NodeJS.WritableStream): Promise<T> {
  if (typeof options.gdb !== 'string') throw new UsageError('this command needs --gdb HOST:PORT.');
  if (typeof options.model === 'string' && typeof options.kernel !== 'string') throw new UsageError('--model needs --kernel ELF: a memory-model description is written over the kernel\'s globals and types.');
  const symbols = typeof options.kernel === 'string' ? loadSymbols(options.kernel) : undefined;
  const model = memoryModelKnowledge(options.model, process.cwd(), symbols);
  if (model && stderr) stderr.write(describeErrorsText(model));
  const cr3s = cr3Options(options);
  const session = await QemuSession.attach({
    gdb: parseHostPort(options.gdb),
    qmp: typeof options.qmp === 'string' ? parseHostPort(options.qmp) : undefined,
    ramFile: typeof options.ram === 'string' ? options.ram : undefined,
  });
  try {
    const rsp = session.rsp;
    if (!rsp) throw new UsageError('this command needs the gdbstub (--gdb) to read the control registers.');
    if (rsp.running) {
      await rsp.interrupt();
      if (descriptorAddress(symbols) !== undefined) await stopBetweenUpdates(rsp, session, descriptorAddress(symbols) as number, stderr);
    }
    const registers = pagingRegistersOf(await rsp.readRegisters());
    const service = new MmService(symbols, {
      readPhys: (a, n) => session.memory.readPhys(a, n),
      readPagingRegisters: async () => registers,
      physicalMemoryMap: () => session.physicalMemoryMap(),
    }, model ? { describe: model.describe, descriptionSource: model.descriptionSource } : {});
    for (const cr3 of cr3s) {
      if (service.spaces.name(registers, cr3) === undefined) throw new UsageError('--cr3 names an address space only while paging is on, and it is off.');
    }
    return await then(service);
  } finally {
    await session.detach({ restore: true });
  }
}

/** Our descriptor's physical address in this kernel, if it has one. */
function descriptorAddress(symbols: DebugSymbols | undefined): number | undefined {
  const d = symbols?.elf.symbolByName('mm_debug_info');
  return d && symbols ? symbols.virtualToLoad(d.value) : undefined;
}

/** Stops of our own before the guest is let go again when it was caught mid-update. */
const CONSISTENT_STOP_TRIES = 8;

/**
 * The CLI stopped a running guest wherever it was: if that is inside a memory-manager update (our
 * guest's generation is odd), lets it run on briefly and stops it again, at most
 * CONSISTENT_STOP_TRIES times, so that the snapshot is of consistent structures (the seqlock the
 * live reader uses). A guest found stopped is never moved. Kernels without a generation: as stopped.
 */
async function stopBetweenUpdates(rsp: RspClient, session: QemuSession, descriptorPhys: number, stderr?: NodeJS.WritableStream): Promise<void> {
  const read = (a: number, n: number): Promise<Buffer> => session.memory.readPhys(a, n);
  for (let attempt = 0; attempt < CONSISTENT_STOP_TRIES; attempt++) {
    const g = await readGeneration(read, descriptorPhys).catch(() => undefined);
    if (g === undefined || (g & 1) === 0) return;
    await rsp.continue();
    await new Promise((r) => setTimeout(r, 1));
    await rsp.interrupt();
  }
  stderr?.write(`mmscope: the guest was inside a memory-manager update at each of ${CONSISTENT_STOP_TRIES} stops; this snapshot may show it half done.\n`);
}

export const snapshotCommand: Command = {
  name: 'snapshot',
  summary: "Attach to a QEMU and print the guest's memory as a snapshot document: on any kernel its address spaces, frame map and findings; with our descriptor also its memory manager (processes, chains, blocks).",
  options: ATTACH_OPTIONS,
  async run(options, io) {
    const text = await withService(options, async (service) => {
      if (typeof options.kernel === 'string' && !service.hasDescriptor && options.model === undefined) io.stderr.write(`mmscope: ${options.kernel} has no mm_debug_info descriptor; showing the page tables only (level 0).\n`);
      const snap = await service.snapshot(1);
      if (options.json) return JSON.stringify(snap.document) + '\n';
      return snap.guest ? formatSnapshot(snap.guest) : formatDocument(snap.document);
    }, io.stderr);
    io.stdout.write(text);
    return 0;
  },
};

export const translateCommand: Command = {
  name: 'translate',
  summary: 'Attach to a QEMU and explain where a virtual address lands: every paging-structure entry, physical, and with our descriptor the block, chain and allocation site.',
  options: {
    ...ATTACH_OPTIONS,
    cr3: { type: 'string', placeholder: 'HEX', description: 'in the address space this CR3 value names (default: the current one)' },
    pid: { type: 'string', placeholder: 'N', description: 'address space of this process (default: the current one; needs the descriptor)' },
  },
  positional: { name: 'address', placeholder: 'ADDR' },
  async run(options, io) {
    const address = parseAddressOption('address', options.address);
    const where: TranslateWhere = {
      ...(options.pid !== undefined ? { pid: parseNumberOption('pid', options.pid) } : {}),
      ...(options.cr3 !== undefined ? { cr3: parseAddressOption('cr3', options.cr3) } : {}),
    };
    if (where.pid !== undefined && where.cr3 !== undefined) throw new UsageError('give --pid or --cr3, not both.');
    const t = await withService({ ...options, cr3: undefined }, async (service): Promise<Translation> => {
      if (where.pid !== undefined && !service.hasDescriptor && options.model === undefined) throw new UsageError('--pid needs a kernel with our mm_debug_info descriptor (--kernel ELF) or a memory-model description (--model FILE); without one only the current address space is known (or name one with --cr3).');
      if (address > 0xffffffffn && service.hasDescriptor && where.cr3 === undefined) throw new UsageError(`${options.address} is not a 32-bit address, and this guest is a 32-bit kernel.`);
      return service.translate(1, address, where);
    }, io.stderr);
    io.stdout.write(options.json ? JSON.stringify(t) + '\n' : formatTranslation(t));
    return t.notMapped ? 3 : 0;
  },
};
