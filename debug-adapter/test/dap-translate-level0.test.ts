// Level 0 through the real adapter: on corpus kernels that have no mm_debug_info (written in the
// styles hobby kernels use), in 32-bit and PAE paging, the `mmscope/translate` request answers
// for every page QEMU's own `info tlb` lists (physical address, NX, writable, user), says "not
// mapped" for a hole, and a pointer's hover note says where it lands: the adapter's one page
// walker against QEMU's MMU, at a stop in C with paging on.

import * as assert from 'assert';
import { DebugClient } from '@vscode/debugadapter-testsupport';
import { buildKernel, CORPUS_MEMORY_MIB, CORPUS_QEMU_ARGS, corpusMachine, CorpusVariant, variantId } from './corpus/build';
import { endSessionLeavingNoQemu, launchArgs, qemuMarker, QemuMonitor, startClient } from './dap-fixture';

const KERNELS: readonly CorpusVariant[] = [
  { style: 'higher-half-c0', opt: 'O2', framePointer: true }, // 32-bit paging, 4 MiB PSE pages
  { style: 'identity', opt: 'O0', framePointer: true }, // 32-bit paging, 4 KiB pages
  { style: 'higher-half-c0-pae', opt: 'O2', framePointer: false }, // PAE: 4 KiB and 2 MiB pages, NX
  { style: 'x86-64-higher-half', opt: 'O2', framePointer: false }, // 4-level: 2 MiB pages at 0xffffffff80000000
  { style: 'x86-64-direct-map', opt: 'O2', framePointer: true }, // 4-level: 1 GiB pages only, an NX direct map
];

const hex = (n: number | bigint): string => `0x${n.toString(16)}`;

for (const variant of KERNELS) {
  describe(`DAP level 0: translations on ${variantId(variant)} (no descriptor) equal QEMU's info tlb`, function () {
    this.timeout(120_000);
    let dc: DebugClient | undefined;
    let monitor: QemuMonitor | undefined;
    const marker = qemuMarker();

    before(async () => {
      const kernel = buildKernel(variant);
      const machine = corpusMachine(variant);
      const client = (dc = await startClient());
      const stopped = client.waitForEvent('stopped', 180_000);
      await Promise.all([
        client.initializeRequest(),
        client.waitForEvent('initialized').then(async () => {
          await client.setFunctionBreakpointsRequest({ breakpoints: [{ name: 'checksum' }] });
          await client.configurationDoneRequest();
        }),
        client.launch({
          ...launchArgs({ marker, kernel, monitor: true, qemuArgs: [...CORPUS_QEMU_ARGS] }),
          memory: CORPUS_MEMORY_MIB, cmdline: '', ...(machine.cpu ? { cpu: machine.cpu } : {}), ...(machine.qemuBinary ? { qemuPath: machine.qemuBinary } : {}),
        } as never),
      ]);
      await stopped;
      monitor = await QemuMonitor.connect(marker);
    });
    after(async () => {
      monitor?.close();
      await endSessionLeavingNoQemu(dc, marker);
    });

    it('every page of the current address space, and a hole', async () => {
      const client = dc as DebugClient;
      const tlb = await (monitor as QemuMonitor).tlb();
      assert.ok(tlb.length >= 1, `info tlb lists ${tlb.length} pages`);
      const differ: string[] = [];
      // info tlb does not print a large page's size: probe the first 2 MiB of each (every large page size is at least that).
      const probeSpan = variant.style.endsWith('pae') || variant.style.startsWith('x86-64') ? 2n << 20n : 4n << 20n;
      const probes = tlb.flatMap((e) => (e.large ? Array.from({ length: 64 }, (_, k) => ({ e, offset: BigInt(k) * (probeSpan / 64n) + 0x18n })) : [{ e, offset: 0x18n }]));
      for (const { e, offset } of probes) {
        const address = e.virtualExact + offset;
        const t = (await client.customRequest('mmscope/translate', { address: hex(address) })).body as {
          space: string; virtual: number | string; physical?: number; nx?: boolean; writable?: boolean; user?: boolean; notMapped?: string;
        };
        // QEMU 7.2's PAE `info tlb` leaves NX in the physical column (docs: facts); its X letter says NX.
        const physical = (e.physicalExact & 0xfffffffffffffn) + offset;
        const want = `${hex(physical)} nx=${e.flags[0] === 'X'} w=${e.flags[8] === 'W'} u=${e.flags[7] === 'U'}`;
        const got = t.physical === undefined ? `not mapped: ${t.notMapped}` : `${hex(t.physical)} nx=${t.nx} w=${t.writable} u=${t.user}`;
        if (got !== want || t.space !== 'current' || BigInt(t.virtual) !== address) differ.push(`${hex(address)}: ours ${got}, QEMU ${want}`);
      }
      assert.deepStrictEqual(differ.slice(0, 10), [], `${differ.length} of ${probes.length} addresses differ`);
      // A hole: the first 4 KiB page from 4 KiB up that no listed page covers (large pages: the largest size there can be).
      const largest = variant.style.startsWith('x86-64') ? 1n << 30n : probeSpan;
      let hole = 0x1000n;
      while (tlb.some((e) => hole >= e.virtualExact && hole < e.virtualExact + (e.large ? largest : 0x1000n))) hole += 0x1000n;
      const h = (await client.customRequest('mmscope/translate', { address: hex(hole) })).body as { physical?: number; notMapped?: string };
      assert.strictEqual(h.physical, undefined, `${hex(hole)} is not mapped`);
      assert.match(h.notMapped ?? '', /entry \d+ is not present/);
      console.log(`      (${probes.length} addresses in ${tlb.length} pages translated, ${variant.style})`);
    });

    it("a pointer's hover note says where it lands", async () => {
      const client = dc as DebugClient;
      const frame = (await client.stackTraceRequest({ threadId: 1, levels: 1 })).body.stackFrames[0];
      const r = await client.evaluateRequest({ expression: 'buf', frameId: frame.id, context: 'hover' });
      const address = BigInt(r.body.memoryReference ?? '0');
      assert.ok(address > 0n, `buf has an address (${r.body.result})`);
      const tlb = await (monitor as QemuMonitor).tlb();
      // The page that holds it: the last listed page at or below it (large pages hold it within their size).
      const page = tlb.filter((e) => e.virtualExact <= address).sort((a, b) => (a.virtualExact < b.virtualExact ? 1 : -1))[0];
      assert.ok(page && (page.large || address < page.virtualExact + 0x1000n), `QEMU maps ${hex(address)}`);
      const physical = (page.physicalExact & 0xfffffffffffffn) + (address - page.virtualExact);
      assert.match(r.body.result, new RegExp(`phys 0x0*${physical.toString(16)}\\b`), r.body.result);
    });
  });
}
