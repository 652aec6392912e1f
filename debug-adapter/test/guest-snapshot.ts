// Test helper: boots the guest kernel in QEMU with a command line, waits for a console line,
// stops the guest through QMP and builds a memory-manager snapshot from its RAM file.

import * as assert from 'assert';
import * as fs from 'fs';
import { QemuInstance, QmpClient, launchQemu, parseInfoRegisters } from '../../qemu-bridge/src';
import { ElfFile } from '../src/symbols';
import { MmSnapshot, PhysicalReader, buildSnapshot, readDescriptor } from '../src/mm/model/snapshot';
import { MmDebugInfo } from '../src/mm/model/descriptor';
import { GUEST_KERNEL, requireGuestKernel } from '../../qemu-bridge/test/fixtures/guest-kernel';
import { guestSwapDiskMiB } from '../src/session/guest-kernel';

export const KERNEL = GUEST_KERNEL;

export interface StoppedGuest {
  readonly qemu: QemuInstance;
  readonly qmp: QmpClient;
  readonly read: PhysicalReader;
  readonly descriptorPhys: number;
  readonly descriptor: MmDebugInfo;
  readonly registers: { cr0: number; cr3: number; cr4: number };
  snapshot(): Promise<MmSnapshot>;
  close(): Promise<void>;
}

/** A reader of guest-physical memory straight from QEMU's RAM file, and its closer. */
export function ramFileReader(file: string): { read: PhysicalReader; close: () => void } {
  const fd = fs.openSync(file, 'r');
  return {
    read: async (address, length) => {
      const b = Buffer.alloc(length);
      fs.readSync(fd, b, 0, length, address);
      return b;
    },
    close: () => fs.closeSync(fd),
  };
}

/** Physical address of mm_debug_info in the built kernel. */
export function descriptorPhysOf(kernel = KERNEL): number {
  requireGuestKernel(kernel);
  const elf = new ElfFile(fs.readFileSync(kernel));
  const sym = elf.symbolByName('mm_debug_info');
  assert.ok(sym, 'the kernel exports mm_debug_info');
  const phys = elf.virtualToLoad(sym.value);
  assert.ok(phys !== undefined, 'mm_debug_info lies in a loaded segment');
  return phys;
}

/** Boots `cmdline`, runs until the console matches `until`, stops the guest. */
export async function bootAndStop(cmdline: string, until: RegExp, memoryMiB = 64, timeoutMs = 90_000): Promise<StoppedGuest> {
  const descriptorPhys = descriptorPhysOf();
  const qemu = await launchQemu({ kernel: KERNEL, cmdline, memoryMiB, swapDiskMiB: guestSwapDiskMiB(KERNEL) });
  let qmp: QmpClient | undefined;
  try {
    qmp = await QmpClient.connect(qemu.qmp);
    await qmp.cont();
    await qemu.waitForSerial(until, timeoutMs);
    await qmp.stop();
    const regs = parseInfoRegisters(await qmp.humanMonitorCommand('info registers'));
    const registers = { cr0: regs.get('cr0') ?? 0, cr3: regs.get('cr3') ?? 0, cr4: regs.get('cr4') ?? 0 };
    const ram = ramFileReader(qemu.ramPath as string);
    const read = ram.read;
    const descriptor = await readDescriptor(read, descriptorPhys);
    const q = qmp;
    return {
      qemu, qmp: q, read, descriptorPhys, descriptor, registers,
      snapshot: () => buildSnapshot({ read, descriptorPhys, registers }),
      close: async () => {
        ram.close();
        q.close();
        if (qemu.alive) qemu.kill('SIGKILL');
        await qemu.exited;
      },
    };
  } catch (e) {
    qmp?.close();
    if (qemu.alive) qemu.kill('SIGKILL');
    await qemu.exited;
    throw e;
  }
}
