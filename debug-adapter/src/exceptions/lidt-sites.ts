// Where the kernel loads its IDT: the address right after every `lidt` in the ELF image's code
// (a linear sweep of the executable sections with iced-x86, as 64-bit code in an ELF64 kernel,
// else as 32-bit code; `lidt` has the same encoding in both, and the sites are address numbers
// under the adapter's rule). A breakpoint there lets the
// exception filters re-read the IDT as soon as the kernel installs one. Pure over the ELF.

import { Decoder, DecoderOptions, Mnemonic } from 'iced-x86';
import { addressFromBigInt, addressToBigInt } from '../../../qemu-bridge/src/address';
import type { ElfFile } from '../symbols/elf';

const SHT_PROGBITS = 1;
const SHF_EXECINSTR = 4;
/** A bound on the code swept (a kernel's text is far smaller). */
const MAX_CODE_BYTES = 64 << 20;

/** The addresses of the instructions that follow each `lidt`, in address order. */
export function lidtSites(elf: ElfFile): number[] {
  const sites: number[] = [];
  let swept = 0;
  for (const section of elf.sections) {
    if (section.type !== SHT_PROGBITS || (section.flags & SHF_EXECINSTR) === 0 || section.size === 0) continue;
    swept += section.size;
    if (swept > MAX_CODE_BYTES) break;
    const code = elf.sectionData(section);
    const width = elf.addressWidth;
    const decoder = new Decoder(width, code, DecoderOptions.None);
    decoder.ip = addressToBigInt(section.addr, width);
    const instr = decoder.decode();
    try {
      while (decoder.canDecode) {
        decoder.decodeOut(instr);
        if (instr.mnemonic === Mnemonic.Lidt) sites.push(addressFromBigInt(instr.nextIP, width));
      }
    } finally {
      instr.free();
      decoder.free();
    }
  }
  return sites;
}
