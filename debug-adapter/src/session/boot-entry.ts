// Where a multiboot kernel's first instruction is when its loader jumps to it (paging still
// off, so a physical address). GRUB accepts an ELF whose entry is a virtual address inside a
// PT_LOAD segment and jumps to that segment's load address; QEMU's -kernel loader jumps to the
// entry as written, which such kernels therefore give as a physical address outside every
// segment's virtual range. One rule covers both.

import type { ElfFile } from '../symbols';
import { wrapAddress } from '../../../qemu-bridge/src/address';
import { symbolsAddressWidth } from './cpu-mode';

/** The physical address of the kernel's entry point. */
export function physicalEntry(elf: ElfFile): number {
  const entry = wrapAddress(elf.header.entry, symbolsAddressWidth({ elf }));
  return elf.virtualToLoad(entry) ?? entry;
}
