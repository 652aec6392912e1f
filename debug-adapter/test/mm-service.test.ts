// The session-side memory-manager service on the real demo guest: console commands, snapshot
// caching per stop with diffs, and allocation breakpoints (break at mm_event_hook, decode the
// event, check a condition, describe the stop) driven through the real gdbstub. Plus the
// condition language on its own.

import * as assert from 'assert';
import * as fs from 'fs';
import { QemuInstance, RspClient, launchQemu } from '../../qemu-bridge/src';
import { DebugSymbols } from '../src/symbols';
import { MmService } from '../src/mm/plugin/mm-service';
import { ConditionError, EventCondition } from '../src/mm/model/event-condition';
import { armFilters, describeEvent, matchEvent, CONDITION_FIELDS } from '../src/mm/plugin/allocation-breakpoints';
import { KERNEL, ramFileReader } from './guest-snapshot';

describe('allocation-breakpoint conditions', function () {
  const fields = { chain: 0x1c0, blocks: 64, flags: 0x30000000, arg: 0, status: 0, caller: 0, pid: 2, seq: 9, kind: 1 };
  const cases: [string, boolean][] = [
    ['blocks >= 64', true], ['blocks > 64', false], ['flags & CONTIGUOUS', true], ['flags & USER', false],
    ['pid == 2 && blocks > 1', true], ['pid == 3 || !(flags & FROZEN)', false], ['(blocks + 1) * 2 == 130', true],
    ['chain == 0x1c0', true], ['~flags & SWAPPABLE', true], ['blocks % 7 == 1', true], ['-1 < 0', true],
  ];
  for (const [text, want] of cases) {
    it(`evaluates ${text}`, () => assert.strictEqual(new EventCondition(text, CONDITION_FIELDS).evaluate(fields), want));
  }
  it('refuses bad conditions with one sentence', () => {
    for (const bad of ['', 'blocks >=', 'size > 3', '(blocks', 'blocks 3', 'blocks $ 2']) {
      assert.throws(() => new EventCondition(bad, CONDITION_FIELDS), (e: Error) => e instanceof ConditionError && !e.message.includes('\n'), bad);
    }
  });
  it('describes events as a sentence', () => {
    const e = { kind: 'allocated' as const, chain: 0x1c0, blocks: 8, flags: 0, arg: 1, status: 0, caller: 0xc0101234, pid: 2, seq: 1 };
    assert.strictEqual(describeEvent(e, { address: 0xc0101234, function: 'demo_worker', file: '/x/demo.c', line: 57 }),
      'chain 0x1c0 allocated, 8 blocks, by demo_worker at demo.c:57');
  });
});

describe('MmService on the demo guest', function () {
  this.timeout(120_000);
  let qemu: QemuInstance;
  let rsp: RspClient;
  let service: MmService;
  let ram: { read: (a: number, n: number) => Promise<Buffer>; close: () => void } | undefined;
  let stop = 0;

  before(async () => {
    qemu = await launchQemu({ kernel: KERNEL, cmdline: 'demo', memoryMiB: 64 });
    rsp = await RspClient.connect(qemu.gdb);
    ram = ramFileReader(qemu.ramPath as string);
    const symbols = new DebugSymbols(fs.readFileSync(KERNEL));
    service = new MmService(symbols, {
      readPhys: ram.read,
      readPagingRegisters: async () => {
        const r = await rsp.readRegisters();
        return { cr0: r.big('cr0'), cr3: r.big('cr3'), cr4: r.big('cr4'), efer: r.bytes('efer') ? r.big('efer') : 0n };
      },
    });
    await rsp.continue();
    await qemu.waitForSerial(/heartbeat 2 /, 90_000);
    await rsp.interrupt();
    stop++;
  });
  after(async () => {
    rsp?.close();
    ram?.close();
    if (qemu?.alive) qemu.kill('SIGKILL');
    await qemu?.exited;
  });

  it('builds one snapshot per stop', async () => {
    assert.ok(service.hasDescriptor);
    assert.strictEqual(service.level, 'descriptor');
    const a = await service.snapshot(stop);
    assert.strictEqual(await service.snapshot(stop), a);
    assert.ok(a.guest && a.guest.chains.length > 0);
    assert.deepStrictEqual([a.document.schema, a.document.level], [3, 'descriptor']);
    assert.deepStrictEqual(a.document.chains?.map((c) => c.id), a.guest.chains.map((c) => c.id), "the document carries the guest's chains");
  });

  it('answers vtop, chain, chains and pd in the debug console', async () => {
    const snap = (await service.snapshot(stop)).guest;
    assert.ok(snap);
    // A kernel worker's chain (allocated in demo.c); the ring-3 processes' chains (owner
    // 'process') come and go with processes the user demo kills, and the swapper's (swap_demo.c)
    // may be swapped out.
    const user = snap.chains.find((c) => c.owner.kind !== 'process' && c.site?.file?.endsWith('demo.c') && !c.site.file.endsWith('swap_demo.c')
      && c.swapped.length === 0 && c.mappedAt.some((m) => typeof m.space === 'number'));
    assert.ok(user);
    const m = user.mappedAt[0];
    const vtop = await service.console(stop, `vtop 0x${m.virtual.toString(16)} ${m.space}`);
    assert.match(vtop ?? '', new RegExp(`chain ${user.id}, page ${m.firstPage}, allocated by worker_main at demo.c:\\d+`));
    const chain = await service.console(stop, `chain ${user.id}`);
    assert.match(chain ?? '', new RegExp(`^chain ${user.id} \\(0x${user.id.toString(16)}\\): ${user.blockCount} blocks`));
    assert.match(chain ?? '', /allocated by worker_main/);
    assert.match((await service.console(stop, 'chains')) ?? '', /^processes:$/m);
    const pd = (await service.console(stop, `pd ${m.space}`)) ?? '';
    assert.match(pd, new RegExp(`^UPD of process ${m.space}`));
    assert.match(pd, /\[ {3}1\] 0x[0-9a-f]{8} {2}0x00400000-0x007fffff {2}page table/);
    assert.match((await service.console(stop, 'pd')) ?? '', /^KPD at 0x/);
    assert.strictEqual(await service.console(stop, 'print x'), undefined);
    await assert.rejects(service.console(stop, 'vtop nowhere'), /needs an address as a number/);
  });

  it('stops on a chain allocation whose condition holds, with a sentence and a diff', async () => {
    assert.ok(service.eventHookAddress);
    const armed = armFilters([{ filterId: 'mm-allocated', condition: 'blocks >= 3 && pid != 0 && caller >= 0xc0000000' }]);
    await rsp.insertBreakpoint('software', service.eventHookAddress);
    const before = await service.snapshot(stop);
    service.published(before);
    let hits = 0;
    let described = '';
    const hook = service.eventHookAddress;
    for (let i = 0; i < 500 && !described; i++) {
      if (i > 0) {
        // QEMU stops again at once when continuing from a breakpoint: step off it first.
        await rsp.removeBreakpoint('software', hook);
        await rsp.step();
        await rsp.insertBreakpoint('software', hook);
      }
      await rsp.continue();
      await rsp.waitForStop(30_000);
      hits++;
      const e = await service.readEvent();
      if (matchEvent(armed, e)) {
        assert.strictEqual(e.kind, 'allocated');
        assert.ok(e.blocks >= 3 && e.pid !== 0 && e.caller >= 0xc0000000);   // not a ring-3 process's SYS_ALLOC
        described = describeEvent(e, service.resolveSite(e.caller));
        stop++;
        const snap = await service.snapshot(stop);
        const chain = snap.guest?.chains.find((c) => c.id === e.chain);
        assert.ok(chain, 'the new chain is in the snapshot taken at the stop');
        assert.strictEqual(chain.blockCount, e.blocks);
        const record = service.changesOf(snap);
        assert.strictEqual(record?.from, before, 'the diff is against the snapshot published before');
        assert.ok(record.changes.chains?.some((c) => c.id === e.chain && c.kind === 'added'), 'the one diff names the new chain');
        assert.strictEqual(service.changesOf(snap), record, 'computed once and kept');
        assert.strictEqual(service.published(snap), record, 'publishing it hands out the same diff');
        assert.notStrictEqual(snap, before);
      }
    }
    await rsp.removeBreakpoint('software', service.eventHookAddress);
    assert.match(described, /^chain 0x[0-9a-f]+ allocated, \d+ blocks, by worker_main at demo\.c:\d+$/);
    assert.ok(hits >= 1);
  });
});
