// Test helper: a TargetAccess over a linked ELF image's loaded segments (file bytes, zero-filled
// to their memory size), so the Inspector can be tested on a compiled C program without running
// it. Writes change a private copy. Registers are whatever the test supplies.

import { DebugSymbols, PT_LOAD } from '../src/symbols';
import { TargetAccess } from '../src/inspect';

export class ImageAccess implements TargetAccess {
  private readonly segments: { start: number; bytes: Uint8Array }[] = [];
  readonly registers = new Map<string, number>();
  reads = 0;

  constructor(symbols: DebugSymbols) {
    const elf = symbols.elf;
    for (const p of elf.programHeaders) {
      if (p.type !== PT_LOAD || p.memsz === 0) continue;
      // Memory exists in whole 4 KiB pages, as in the guest.
      const start = p.vaddr & ~0xfff;
      const end = (p.vaddr + p.memsz + 0xfff) & ~0xfff;
      const bytes = new Uint8Array(end - start);
      bytes.set(elf.bytes.subarray(p.offset, p.offset + p.filesz), p.vaddr - start);
      const previous = this.segments.find((s) => s.start + s.bytes.length > start && s.start < end);
      if (previous) {
        // Two segments sharing a page: merge them into one mapping.
        const merged = new Uint8Array(Math.max(previous.start + previous.bytes.length, end) - previous.start);
        merged.set(previous.bytes);
        merged.set(elf.bytes.subarray(p.offset, p.offset + p.filesz), p.vaddr - previous.start);
        previous.bytes = merged;
        continue;
      }
      this.segments.push({ start, bytes });
    }
  }

  private locate(address: number, length: number): { bytes: Uint8Array; offset: number } {
    for (const s of this.segments) {
      if (address >= s.start && address + length <= s.start + s.bytes.length) return { bytes: s.bytes, offset: address - s.start };
    }
    throw new Error(`no image bytes at 0x${address.toString(16)} (+${length})`);
  }

  async readMemory(address: number, length: number): Promise<Buffer> {
    this.reads++;
    const { bytes, offset } = this.locate(address, length);
    return Buffer.from(bytes.subarray(offset, offset + length));
  }

  async writeMemory(address: number, data: Uint8Array): Promise<void> {
    const { bytes, offset } = this.locate(address, data.length);
    bytes.set(data, offset);
  }

  async readRegisters(): Promise<ReadonlyMap<string, number>> {
    return this.registers;
  }

  async writeRegister(name: string, value: number): Promise<void> {
    this.registers.set(name, value >>> 0);
  }
}
