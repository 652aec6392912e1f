// Whether a kernel image is our own guest (guest/), which swaps to an IDE disk the launcher
// provides: it exports the `mm_debug_info` descriptor and the swap slot table `swap_slots`.
// Other kernels get no disk from us (their launch stays exactly as configured).

import * as fs from 'fs';
import { ElfFile } from '../symbols/elf';

/** Size of the swap disk our guest gets (16 KiB slots: 16384 of them). */
export const GUEST_SWAP_DISK_MIB = 256;

/** True when the ELF exports our guest's descriptor and swap slot table. */
export function isOurGuest(elf: ElfFile): boolean {
  return elf.symbolByName('mm_debug_info') !== undefined && elf.symbolByName('swap_slots') !== undefined;
}

/**
 * The `swapDiskMiB` launch option for the kernel image at `file`: GUEST_SWAP_DISK_MIB for our
 * guest, 0 for any other file (or one that is not a readable ELF).
 */
export function guestSwapDiskMiB(file: string | ElfFile): number {
  try {
    const elf = typeof file === 'string' ? new ElfFile(fs.readFileSync(file)) : file;
    return isOurGuest(elf) ? GUEST_SWAP_DISK_MIB : 0;
  } catch {
    return 0;
  }
}
