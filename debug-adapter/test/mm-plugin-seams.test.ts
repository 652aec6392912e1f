// The session plug-in's seams, before the helpers that fill them land: a memory-model
// description's evaluator (describe) called once per stop with a reader of the kernel's virtual
// memory, its DescribedState in the document (level 1: processes with their page directories
// walked, translations in a described process's space, the description's mistakes, an evaluator
// that throws becoming one mistake), the tracing state put into the document, traced CR3s
// listed as spaces, and the bound on the spaces kept. The describer and the tracer are
// hand-made here (their real ones are helpers' work); the page tables are real x86 32-bit
// tables laid out in a memory image and walked by the one page walker.

import * as assert from 'assert';
import { MmService } from '../src/mm/plugin/mm-service';
import { KnownSpaces } from '../src/mm/plugin/known-spaces';
import type { DescribeAccess } from '../src/mm/plugin/stop-snapshot';
import type { DescribedState } from '../src/mm/model/described-state';
import type { TracingJson } from '../src/mm/model/snapshot-document';
import type { PagingRegisters } from '../src/mm/model/paging-registers';

const MIB = 1 << 20;
const PRESENT_RW_USER = 0x7;

/** A 2 MiB guest: two 32-bit page directories (0x1000 and 0x3000), each mapping its own 64 KiB at virtual 0. */
function image(): Buffer {
  const mem = Buffer.alloc(2 * MIB);
  const map = (pd: number, pt: number, firstFrame: number, pages: number): void => {
    mem.writeUInt32LE((pt | PRESENT_RW_USER) >>> 0, pd);
    for (let i = 0; i < pages; i++) mem.writeUInt32LE(((firstFrame + i) * 0x1000) | PRESENT_RW_USER, pt + i * 4);
  };
  map(0x1000, 0x2000, 0x10, 16); // pid 1: 0x0 -> 0x10000
  map(0x3000, 0x4000, 0x40, 16); // pid 2: 0x0 -> 0x40000
  map(0x5000, 0x6000, 0x80, 4); // a space only a tracer saw: 0x0 -> 0x80000
  mem.write('init', 0x10000);
  mem.write('shell', 0x40000);
  return mem;
}

const REGISTERS: PagingRegisters = { cr0: 0x80000011n, cr3: 0x1000n, cr4: 0n, efer: 0n };

function described(seen: string): DescribedState {
  return {
    processes: [
      { pid: 1, name: seen, state: 'RUNNING', current: true, directoryPhys: 0x1000n, address: 0xc0001000n },
      { pid: 2, name: 'shell', state: 'SLEEPING', current: false, directoryPhys: 0x3000n, address: 0xc0002000n },
    ],
    allocators: [{
      summary: { name: 'frames', shape: 'bitmap', unitBytes: 4096, total: 512, free: 400, used: 112, reserved: 0 },
      frames: [[0, 112, 'used'], [112, 400, 'free']],
    }],
    heaps: [],
    findings: [],
    errors: [{ path: 'heaps[0].first', expression: 'heap_head', message: 'heap_head is not a global of this kernel.' }],
  };
}

describe('the session plug-in: describe and trace seams, spaces kept', function () {
  const mem = image();
  const access = {
    readPhys: async (a: number, n: number): Promise<Buffer> => Buffer.from(mem.subarray(a, a + n)),
    readPagingRegisters: async (): Promise<PagingRegisters> => REGISTERS,
  };

  it('calls the describer once per stop with a virtual-memory reader, and the document is level 1', async () => {
    const calls: DescribeAccess[] = [];
    const describe = async (a: DescribeAccess): Promise<DescribedState> => {
      calls.push(a);
      // What an evaluator does: read the kernel's memory at a virtual address, through CR3.
      return described((await a.readVirtual(0n, 4)).toString('latin1'));
    };
    const tracing: TracingJson = { enabled: true, allocFunction: 'kalloc', freeFunction: 'kfree', tracedCalls: 3, callsPerSecond: 1.5, live: [], sites: [] };
    const service = new MmService(undefined, access, { describe, descriptionSource: 'launch.json', tracing: () => tracing });
    assert.strictEqual(service.level, 1);
    await service.noteStop(1);
    const snap = await service.snapshot(1);
    assert.strictEqual(await service.snapshot(1), snap, 'built once per stop');
    assert.strictEqual(calls.length, 1);
    assert.strictEqual(calls[0].registers, REGISTERS);
    const doc = snap.document;
    assert.deepStrictEqual([doc.schema, doc.level, doc.stop], [3, 1, 1]);
    assert.deepStrictEqual(doc.processes.map((p) => [p.pid, p.name, p.space, p.directory]), [[1, 'init', 'pt:0x1000', 0x1000], [2, 'shell', 'pt:0x3000', 0x3000]]);
    const shell = doc.spaces.find((s) => s.id === 'pt:0x3000');
    assert.ok(shell?.sources.includes('process') && shell.pid === 2 && shell.pages === 16, JSON.stringify(shell && { ...shell, mappings: shell.mappings.length }));
    assert.deepStrictEqual(doc.description, { source: 'launch.json', errors: described('init').errors });
    assert.deepStrictEqual(doc.tracing, tracing);
    assert.strictEqual(doc.allocators[0]?.name, 'frames');
    assert.ok(doc.frames.allocation?.length, 'the allocator layer is in the frame map');
    await service.noteStop(2);
    await service.snapshot(2);
    assert.strictEqual(calls.length, 2, 'and again at the next stop');
    // Translations in a described process's space walk its page directory.
    const t = await service.translate(2, 0x123n, { pid: 2 });
    assert.deepStrictEqual([t.space, t.physical], [2, 0x40123]);
    await assert.rejects(service.translate(2, 0x123n, { pid: 9 }), /there is no process 9; the processes are 1, 2/);
    const scopeLevel = (await service.console(2, 'spaces')) ?? '';
    assert.match(scopeLevel, /^\* pt:0x1000 +pid 1 \(init\)/m);
  });

  it('turns a describer that throws into one mistake of the description, and still walks the page tables', async () => {
    const service = new MmService(undefined, access, { describe: async () => { throw new Error('no DWARF for struct proc'); } });
    const doc = (await service.snapshot(1)).document;
    assert.strictEqual(doc.level, 1);
    assert.deepStrictEqual(doc.description?.errors.map((e) => e.message), ['The memory-model description could not be evaluated: no DWARF for struct proc']);
    assert.strictEqual(doc.spaces.find((s) => s.current)?.pages, 16);
  });

  it('lists a traced CR3 (possibly stale) and a named one, and translates in a space by its CR3', async () => {
    const service = new MmService(undefined, access);
    assert.strictEqual(service.level, 0);
    service.addTracedSpace(0x5000n, 1); // a tracer may report before the first stop: kept until the paging mode is known
    await service.noteStop(1);
    const doc = (await service.snapshot(2)).document;
    const traced = doc.spaces.find((s) => s.id === 'pt:0x5000');
    assert.deepStrictEqual(traced && [traced.sources, traced.current, traced.pages], [['traced'], false, 4]);
    const named = await service.openSpace(2, 0x3000n);
    assert.deepStrictEqual([named.id, named.sources, named.pages], ['pt:0x3000', ['named'], 16]);
    const t = await service.translate(2, 0x1004n, { cr3: 0x3000n });
    assert.deepStrictEqual([t.space, t.physical], ['pt:0x3000', 0x41004]);
    assert.match((await service.console(2, 'vtop 0x1004 cr3=0x5000')) ?? '', /in the address space pt:0x5000\n[\s\S]*physical 0x00081004 /);
    assert.match((await service.console(2, 'frames')) ?? '', /^\d+ frames of 4 KiB .*RAM unknown/);
    await assert.rejects(service.console(2, 'chains'), /needs a kernel with mmscope's mm_debug_info descriptor/);
  });

  it('keeps the 64 most recently seen spaces, and every named one', () => {
    const spaces = new KnownSpaces(64);
    spaces.name(REGISTERS, 0x7000n);
    for (let i = 0; i < 100; i++) spaces.noteSeen({ ...REGISTERS, cr3: BigInt(0x100000 + i * 0x1000) }, i + 1);
    spaces.noteSeen({ ...REGISTERS, cr3: 0x132018n }, 101); // PCD|PWT bits: the same top table as the stop-51 space, seen again
    const list = spaces.list();
    assert.strictEqual(list.length, 65);
    assert.ok(list.some((s) => s.topTable === 0x7000n && s.sources.includes('named')));
    const again = list.find((s) => s.topTable === 0x132000n);
    assert.deepStrictEqual(again && [again.firstSeenStop, again.lastSeenStop, again.cr3], [51, 101, 0x132018n]);
    assert.ok(!list.some((s) => s.topTable === 0x100000n || s.topTable === 0x123000n), 'the least recently seen went');
    assert.ok(list.some((s) => s.topTable === 0x124000n), 'the 64 most recent stayed');
    spaces.noteSeen({ ...REGISTERS, cr0: 0x11n, cr3: 0x9000n }, 102);
    assert.strictEqual(spaces.size, 65, 'with paging off, CR3 names no space');
  });
});
