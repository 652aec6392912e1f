// `<symbol+offset>` labels for addresses, chosen the way gdb chooses a minimal symbol: the
// nearest preceding ELF symbol in the same allocated section that covers the address (sized
// symbols must contain it; zero-sized labels count only in code sections).

import { ElfFile, ElfSection, ElfSymbol } from '../symbols';
import { countAtOrBelow } from '../symbols/sorted-search';

const SHF_ALLOC = 0x2;
const SHF_EXECINSTR = 0x4;

export interface AddressSymbol {
  name: string;
  offset: number;
}

export class AddressSymbolizer {
  private readonly sections: ElfSection[];
  private readonly bySection = new Map<number, ElfSymbol[]>();

  constructor(elf: ElfFile) {
    this.sections = elf.sections.filter((s) => (s.flags & SHF_ALLOC) !== 0 && s.size > 0 && s.addr !== 0);
    for (const sym of elf.symbols) {
      if (!sym.name || (sym.type !== 'func' && sym.type !== 'object' && sym.type !== 'notype')) continue;
      if (sym.name.startsWith('$') || sym.name.startsWith('.L')) continue;
      const list = this.bySection.get(sym.sectionIndex) ?? [];
      list.push(sym);
      this.bySection.set(sym.sectionIndex, list);
    }
    for (const list of this.bySection.values()) {
      // Equal addresses: the preferred symbol (sized, global) sorts last, as gdb's lookup takes the last.
      list.sort((a, b) => a.value - b.value || rank(a) - rank(b));
    }
  }

  /** The section holding `address`, if the image has one there. */
  sectionAt(address: number): ElfSection | undefined {
    return this.sections.find((s) => address >= s.addr && address < s.addr + s.size);
  }

  /** The label gdb would print for `address`, or undefined outside the image's symbols. */
  symbolize(address: number): AddressSymbol | undefined {
    const section = this.sectionAt(address);
    if (!section) return undefined;
    const list = this.bySection.get(section.index);
    if (!list) return undefined;
    const lo = countAtOrBelow(list, address);
    let i = lo - 1;
    let zeroSized: ElfSymbol | undefined;
    while (i >= 0 && list[i].size === 0 && zeroSized === undefined) {
      zeroSized = list[i];
      i--;
    }
    let chosen: ElfSymbol | undefined = i >= 0 ? list[i] : zeroSized;
    if (chosen && chosen.size !== 0 && address >= chosen.value + chosen.size) chosen = zeroSized;
    if (!chosen) return undefined;
    if (chosen.size === 0 && (section.flags & SHF_EXECINSTR) === 0) return undefined;
    return { name: chosen.name, offset: address - chosen.value };
  }

  /** `<name>` or `<name+offset>` (decimal offset, as gdb prints it), or '' when there is no symbol. */
  label(address: number): string {
    const s = this.symbolize(address);
    if (!s) return '';
    return s.offset ? `<${s.name}+${s.offset}>` : `<${s.name}>`;
  }
}

function rank(s: ElfSymbol): number {
  return (s.size > 0 ? 4 : 0) + (s.binding === 'global' ? 2 : s.binding === 'weak' ? 1 : 0) + (s.type === 'func' || s.type === 'object' ? 1 : 0);
}
