// `mmscope read`: attach to a running QEMU, read guest memory (physical, or virtual through a
// page directory), print it as hex or JSON, and leave the guest running or stopped as found.

import { jsonAddress, pagingModel, parseHostPort, QemuSession } from '../../../qemu-bridge/src';
import { Command, parseAddressOption, parseNumberOption, UsageError } from './command-line';

/** Formats bytes as lines of `address: 16 hex bytes  |ascii|` (addresses exact: 8 hex digits, 16 above 4 GiB). */
export function formatHexDump(address: number | bigint, bytes: Buffer): string {
  const lines: string[] = [];
  const start = BigInt(address);
  const width = start + BigInt(bytes.length) > 0x100000000n ? 16 : 8;
  for (let off = 0; off < bytes.length; off += 16) {
    const row = bytes.subarray(off, off + 16);
    const hex = [...row].map((b) => b.toString(16).padStart(2, '0')).join(' ');
    const ascii = [...row].map((b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.')).join('');
    lines.push(`${(start + BigInt(off)).toString(16).padStart(width, '0')}: ${hex.padEnd(47)}  |${ascii}|`);
  }
  return lines.join('\n') + (lines.length ? '\n' : '');
}

export const readCommand: Command = {
  name: 'read',
  summary: 'Attach to a QEMU and print guest memory (physical or virtual) as hex or JSON.',
  options: {
    gdb: { type: 'string', placeholder: 'HOST:PORT', description: "QEMU's gdbstub (required)" },
    qmp: { type: 'string', placeholder: 'HOST:PORT', description: "QEMU's QMP socket (optional)" },
    ram: { type: 'string', placeholder: 'FILE', description: 'guest RAM file (memory-backend-file, optional)' },
    phys: { type: 'string', placeholder: 'ADDR', description: 'physical address to read' },
    virt: { type: 'string', placeholder: 'ADDR', description: 'virtual address to read' },
    cr3: { type: 'string', placeholder: 'VALUE', description: 'page directory for --virt (default: the current cr3)' },
    length: { type: 'string', placeholder: 'N', description: 'number of bytes' },
    json: { type: 'boolean', description: 'print {"address":..,"bytes":"<hex>"}' },
  },
  async run(options, io) {
    if (typeof options.gdb !== 'string') throw new UsageError('mmscope read needs --gdb HOST:PORT.');
    if ((options.phys === undefined) === (options.virt === undefined)) throw new UsageError('mmscope read needs exactly one of --phys ADDR and --virt ADDR.');
    if (options.cr3 !== undefined && options.virt === undefined) throw new UsageError('--cr3 applies only to --virt.');
    const length = parseNumberOption('length', options.length);
    const virtual = options.virt !== undefined;
    const address = virtual ? parseAddressOption('virt', options.virt) : BigInt(parseNumberOption('phys', options.phys));
    const cr3Option = options.cr3 === undefined ? undefined : parseAddressOption('cr3', options.cr3);
    const session = await QemuSession.attach({
      gdb: parseHostPort(options.gdb),
      qmp: typeof options.qmp === 'string' ? parseHostPort(options.qmp) : undefined,
      ramFile: typeof options.ram === 'string' ? options.ram : undefined,
    });
    let bytes: Buffer;
    let cr3: bigint | undefined;
    try {
      if (virtual) {
        // Any paging mode: the walker's model from CR0/CR4/EFER, the address exact (x86-64 kernels live above 2^53).
        const paging = await session.pagingRegisters();
        cr3 = cr3Option ?? paging.cr3;
        bytes = await session.memory.readVirtual(address, length, cr3, pagingModel(paging));
      } else {
        bytes = await session.memory.readPhys(Number(address), length);
      }
    } finally {
      await session.detach({ restore: true });
    }
    if (options.json) {
      const out: Record<string, unknown> = { address: jsonAddress(address), space: virtual ? 'virtual' : 'physical' };
      if (cr3 !== undefined) out.cr3 = jsonAddress(cr3);
      out.length = bytes.length;
      out.bytes = bytes.toString('hex');
      io.stdout.write(JSON.stringify(out) + '\n');
    } else {
      io.stdout.write(formatHexDump(address, bytes));
    }
    return 0;
  },
};
