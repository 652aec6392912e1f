// Where the kernel loads its IDT: the address right after every `lidt` in the ELF image's code
// (the executable sections decoded by the disassembler's sweepCode, as 64-bit code in an ELF64 kernel,
// else as 32-bit code; `lidt` has the same encoding in both, and the sites are address numbers
// under the adapter's rule). A breakpoint there lets the
// exception filters re-read the IDT as soon as the kernel installs one. Pure over the ELF.

import { Mnemonic } from 'iced-x86';
import { sweepCode } from '../inspect/disassembler';
import type { ElfFile } from '../symbols/elf';

/** The addresses of the instructions that follow each `lidt`, in address order. */
export function lidtSites(elf: ElfFile): number[] {
  const sites: number[] = [];
  sweepCode(elf, (instr, _address, next) => {
    if (instr.mnemonic === Mnemonic.Lidt) sites.push(next);
  });
  return sites;
}
