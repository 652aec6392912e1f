// Pure parts of the session, without QEMU: launch/attach validation, hit conditions, data
// breakpoint ids, addresses, instruction classification, and the stack unwinder over a
// hand-built stack (frame pointers and an interrupt frame) of the guest kernel's code.

import * as assert from 'assert';
import * as fs from 'fs';
import { dataId, parseAddress, parseDataId, parseHitCondition } from '../src/session/breakpoint-table';
import { CodeMap } from '../src/session/code-map';
import { ConfigurationError } from '../src/session/errors';
import { classifyInstruction } from '../src/session/instruction-kind';
import { validateAttach, validateLaunch } from '../src/session/launch-arguments';
import { GUEST_INTERRUPT_STUB, unwindStack } from '../src/session/stack-unwinder';
import { DebugSymbols } from '../src/symbols';
import { requireGuest, KERNEL } from './dap-fixture';

describe('session units', () => {
  it('validates launch attributes and says what is wrong', () => {
    const ok = validateLaunch({ kernel: 'guest/build/kernel.elf', cwd: '/repo', memory: 64, qemuArgs: ['-smp', '1'], stopOnEntry: true });
    assert.deepStrictEqual(ok, {
      kernel: '/repo/guest/build/kernel.elf',
      boot: { kind: 'kernel', file: '/repo/guest/build/kernel.elf', cmdline: '' },
      drives: [],
      display: 'none',
      memoryMiB: 64,
      qemuArgs: ['-smp', '1'],
      stopOnEntry: true,
    });
    assert.throws(() => validateLaunch({}), (e: unknown) => e instanceof ConfigurationError && /"kernel" must name the kernel ELF file/.test(e.message));
    assert.throws(() => validateLaunch({ kernel: 'k', memory: 1.5 }), /"memory" must be a whole number/);
    assert.throws(() => validateLaunch({ kernel: 'k', qemuArgs: [1] }), /"qemuArgs" must be an array of strings/);
    assert.throws(() => validateLaunch({ kernel: 'k', stopOnEntry: 'yes' }), /"stopOnEntry" must be true or false/);
  });

  it('validates attach attributes', () => {
    const a = validateAttach({ gdb: '127.0.0.1:1234', qmp: '4444', kernel: '/k' });
    assert.deepStrictEqual(a, { gdb: { host: '127.0.0.1', port: 1234 }, qmp: { host: '127.0.0.1', port: 4444 }, kernel: '/k' });
    assert.throws(() => validateAttach({ kernel: '/k' }), /"gdb" must be "host:port"/);
    assert.throws(() => validateAttach({ gdb: 'localhost:99999', kernel: '/k' }), /not host:port/);
  });

  it('parses hit conditions', () => {
    const count = (text: string): number[] => {
      const p = parseHitCondition(text);
      assert.strictEqual(typeof p, 'function', String(p));
      return [1, 2, 3, 4, 5, 6].filter((h) => (p as (h: number) => boolean)(h));
    };
    assert.deepStrictEqual(count('3'), [3, 4, 5, 6]);
    assert.deepStrictEqual(count('>= 3'), [3, 4, 5, 6]);
    assert.deepStrictEqual(count('== 2'), [2]);
    assert.deepStrictEqual(count('> 4'), [5, 6]);
    assert.deepStrictEqual(count('< 3'), [1, 2]);
    assert.deepStrictEqual(count('%2'), [2, 4, 6]);
    assert.match(String(parseHitCondition('often')), /is not a number or an operator/);
  });

  it('round-trips data breakpoint ids and parses addresses', () => {
    assert.strictEqual(dataId(0xc0123450, 4), '0xc0123450/4');
    assert.deepStrictEqual(parseDataId('0xc0123450/4'), { address: 0xc0123450, length: 4 });
    assert.strictEqual(parseDataId('c0123450/4'), undefined);
    assert.strictEqual(parseAddress('0x10'), 16);
    assert.strictEqual(parseAddress('16'), 16);
    assert.strictEqual(parseAddress('c0100000'), 0xc0100000);
    assert.strictEqual(parseAddress('0x1ffffffff'), undefined);
  });

  it('classifies the instructions run control cares about', () => {
    const at = 0x1000;
    assert.deepStrictEqual(classifyInstruction(Uint8Array.from([0xe8, 0x10, 0, 0, 0]), at), { address: at, length: 5, kind: 'call', target: at + 0x15 });
    assert.strictEqual(classifyInstruction(Uint8Array.from([0xff, 0xd0]), at).kind, 'call');
    assert.strictEqual(classifyInstruction(Uint8Array.from([0xc3]), at).kind, 'return');
    assert.strictEqual(classifyInstruction(Uint8Array.from([0xcd, 0x81]), at).kind, 'interrupt');
    assert.strictEqual(classifyInstruction(Uint8Array.from([0xf4]), at).kind, 'halt');
    assert.deepStrictEqual(classifyInstruction(Uint8Array.from([0x74, 0x02]), at), { address: at, length: 2, kind: 'conditional', target: at + 4 });
    assert.strictEqual(classifyInstruction(Uint8Array.from([0xff, 0xe0]), at).kind, 'indirect');
    assert.strictEqual(classifyInstruction(Uint8Array.from([0x89, 0xe5]), at).kind, 'other');
  });

  describe('stack unwinder on the guest kernel (hand-built stack)', function () {
    let symbols: DebugSymbols;
    before(function () {
      requireGuest();
      symbols = new DebugSymbols(fs.readFileSync(KERNEL));
    });

    it('walks the frame-pointer chain and an interrupt frame into the interrupted code', async () => {
      const map = new CodeMap(symbols);
      const fn = (name: string): number => symbols.functionsNamed(name)[0].lowPc;
      const stub = symbols.elf.symbolByName('interrupt_return');
      assert.ok(stub);
      // Stack (addresses grow up): frame of a function without CFI use (ebp chain), then the
      // interrupt stub's frame, then the interrupted function.
      const memory = new Map<number, number>();
      const sp0 = 0x9000;
      const interrupted = fn('MmFreeChain') + 0x20;
      const stubReturn = stub.value - 2; // after `call interrupt_dispatch`
      // timer_irq at its entry: [esp] = return into interrupt_dispatch... use a synthetic chain:
      // frame 0 at the entry of interrupt_dispatch's callee is unwound by CFI, so build frame 0 at
      // interrupt_dispatch's entry: [esp] = return address into the stub.
      memory.set(sp0, stubReturn);
      const trapFrame = sp0 + 8;
      memory.set(sp0 + 4, trapFrame); // the handler's argument: the frame's address
      const words = GUEST_INTERRUPT_STUB.words;
      const put = (name: string, v: number): void => {
        memory.set(trapFrame + words[name] * 4, v);
      };
      put('gs', 0x10); put('fs', 0x10); put('es', 0x10); put('ds', 0x10);
      put('edi', 1); put('esi', 2); put('ebp', 0xa000); put('ebx', 3); put('edx', 4); put('ecx', 5); put('eax', 6);
      put('vector', 32); put('error', 0); put('eip', interrupted); put('cs', 0x08); put('eflags', 0x202);
      memory.set(0xa000, 0); // the interrupted function's saved ebp: end of the chain
      memory.set(0xa004, 0);
      const read = async (address: number, length: number): Promise<Buffer> => {
        const out = Buffer.alloc(length);
        for (let i = 0; i < length; i += 4) out.writeUInt32LE(memory.get(address + i) ?? 0, i);
        return out;
      };
      const regs = new Map<string, number>([['eip', fn('interrupt_dispatch')], ['esp', sp0], ['ebp', 0x9f00], ['cs', 8], ['cr0', 0x80010011]]);
      const frames = await unwindStack(symbols, map, regs, { readMemory: read }, { pagingOn: true });
      const names = frames.map((f) => map.functionName(f.index === 0 ? f.symbolPc : f.symbolPc - 1));
      assert.deepStrictEqual(names.slice(0, 3), ['interrupt_dispatch', 'common_stub', 'MmFreeChain']);
      assert.deepStrictEqual(frames[1].interrupt, { vector: 32, errorCode: 0 });
      assert.strictEqual(frames[2].registers.get('esp'), trapFrame + GUEST_INTERRUPT_STUB.kernelWords * 4);
      assert.strictEqual(frames[2].registers.get('ebp'), 0xa000);
    });
  });
});
