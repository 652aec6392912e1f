// Where the kernel loads its IDT (exceptions/lidt-sites.ts), on the exception test kernel's two
// builds: the address after every `lidt` in the ELF, decoded as 64-bit code in the ELF64 (the
// higher half at 0xffffffff80000000, exact under the address rule) and as 32-bit code in the
// ELF32. Oracle: objdump's disassembly of the same files.

import * as assert from 'assert';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import { addressFromBigInt } from '../../qemu-bridge/src/address';
import { lidtSites } from '../src/exceptions/lidt-sites';
import { ElfFile } from '../src/symbols/elf';
import { buildExceptionKernel, ExceptionArch } from './fixtures-exc/build';

/** objdump's address of the instruction after each lidt, as the adapter's address numbers. */
function objdumpSites(elf: string, width: 32 | 64): number[] {
  const lines = execFileSync('objdump', ['-d', '--no-show-raw-insn', elf], { encoding: 'utf8', timeout: 60_000, maxBuffer: 64 << 20 }).split('\n');
  const insns = lines.map((l) => /^\s*([0-9a-f]+):\s+(\S+)/.exec(l)).filter((m): m is RegExpExecArray => m !== null);
  const out: number[] = [];
  insns.forEach((m, i) => {
    if (/^lidt/.test(m[2]) && insns[i + 1]) out.push(addressFromBigInt(BigInt(`0x${insns[i + 1][1]}`), width));
  });
  return out;
}

describe('exceptions: lidt sites of the kernel (ELF32 and ELF64, objdump as the oracle)', () => {
  const cases: [ExceptionArch, 32 | 64][] = [['i386', 32], ['x86-64', 64]];
  for (const [arch, width] of cases) {
    it(`${arch}: the instruction after each lidt, where objdump puts it`, () => {
      const file = buildExceptionKernel('-O0', arch === 'x86-64' ? 'higher-half' : 'identity', arch);
      const sites = lidtSites(new ElfFile(fs.readFileSync(file)));
      const oracle = objdumpSites(file, width);
      assert.strictEqual(oracle.length, 2, 'load_idt and reload_idt');
      assert.deepStrictEqual(sites, oracle);
      if (width === 64) assert.ok(sites.every((a) => a < 0), 'higher-half addresses are negative numbers under the address rule');
    });
  }
});
