// Address spaces traced (launch attribute `traceAddressSpaces`): internal breakpoints right after
// every `mov …, %cr3` of the kernel's code (found by decoding it, disassembler.ts), where CR3 is
// read and recorded with the stop it was seen before; the guest goes on at once. Every process's
// page directory the kernel switches to becomes an address space the views can open, marked
// 'traced' (it may have been freed since: no findings are made from it).

import { addressFromBigInt } from '../../../../qemu-bridge/src/address';
import { controlRegisterWrites, ControlRegisterWrite } from '../../inspect/disassembler';
import type { ElfFile } from '../../symbols/elf';

export interface TracedSpace {
  /** The CR3 value as loaded (PCID and flag bits included). */
  readonly cr3: bigint;
  /** Times a traced `mov` loaded it. */
  hits: number;
  /** The user-visible stop it was first / last loaded before (0: before the first stop). */
  firstSeenStop: number;
  lastSeenStop: number;
}

/** The sentence for a session without the kernel's ELF (attached with only a gdbstub): nothing to search. */
export const NO_ELF_FOR_CR3 = 'Address spaces cannot be traced without the kernel\'s ELF (mmscope finds its mov-to-CR3 instructions there); only the CR3 values seen at stops are known.';

export class AddressSpaceTracer {
  /** The `mov …, %cr3` instructions found. */
  readonly writes: readonly ControlRegisterWrite[];
  private readonly after: Set<number>;
  private readonly spaces = new Map<bigint, TracedSpace>();
  hits = 0;

  constructor(elf: ElfFile) {
    this.writes = controlRegisterWrites(elf, 3);
    this.after = new Set(this.writes.map((w) => w.next));
  }

  /** Where to break: the instruction after each CR3 load. */
  breakpointAddresses(): number[] {
    return [...this.after];
  }

  owns(pc: number): boolean {
    return this.after.has(pc);
  }

  /** A hit after a CR3 load: records CR3 (exact) at user stop number `stop`. */
  record(cr3: bigint, stop: number): TracedSpace {
    this.hits++;
    let s = this.spaces.get(cr3);
    if (!s) this.spaces.set(cr3, (s = { cr3, hits: 0, firstSeenStop: stop, lastSeenStop: stop }));
    s.hits++;
    s.lastSeenStop = stop;
    return s;
  }

  /** Every CR3 value loaded so far, in the order first seen. */
  tracedSpaces(): readonly TracedSpace[] {
    return [...this.spaces.values()];
  }

  /** "3 mov-to-CR3 sites: context_switch+0x14 …" for the output. */
  describeSites(symbolAt: (address: number) => { name: string; value: number } | undefined, width: 32 | 64): string {
    if (this.writes.length === 0) return 'The kernel\'s code has no mov to CR3, so no address space can be traced; only the CR3 values seen at stops are known.';
    const names = this.writes.map((w) => {
      const s = symbolAt(w.address);
      return s ? `${s.name}+0x${(w.address - s.value).toString(16)}` : `0x${addressFromBigInt(BigInt.asUintN(width, BigInt(w.address)), width).toString(16)}`;
    });
    return `Tracing address spaces at ${this.writes.length} mov-to-CR3 instruction${this.writes.length === 1 ? '' : 's'} (${names.slice(0, 8).join(', ')}${names.length > 8 ? ', …' : ''}).`;
  }
}
