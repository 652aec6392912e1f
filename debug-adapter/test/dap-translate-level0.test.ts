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
];

const hex = (n: number): string => `0x${n.toString(16)}`;

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
          memory: CORPUS_MEMORY_MIB, cmdline: '', ...(machine.cpu ? { cpu: machine.cpu } : {}),
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
      const largeSize = variant.style.endsWith('pae') ? 2 << 20 : 4 << 20;
      // Each 4 KiB page once; each large page at 64 places across it.
      const probes = tlb.flatMap((e) => (e.large ? Array.from({ length: 64 }, (_, k) => ({ e, offset: k * (largeSize / 64) + 0x18 })) : [{ e, offset: 0x18 }]));
      for (const { e, offset } of probes) {
        const address = e.virtual + offset;
        const t = (await client.customRequest('mmscope/translate', { address: hex(address) })).body as {
          space: string; physical?: number; nx?: boolean; writable?: boolean; user?: boolean; notMapped?: string; steps: { level: string }[];
        };
        // QEMU 7.2's PAE `info tlb` leaves NX in the physical column (docs: facts); its X letter says NX.
        const physical = Number(e.physicalExact & 0xfffffffffffffn) + offset;
        const want = `${hex(physical)} nx=${e.flags[0] === 'X'} w=${e.flags[8] === 'W'} u=${e.flags[7] === 'U'}`;
        const got = t.physical === undefined ? `not mapped: ${t.notMapped}` : `${hex(t.physical)} nx=${t.nx} w=${t.writable} u=${t.user}`;
        if (got !== want || t.space !== 'current') differ.push(`${hex(address)}: ours ${got}, QEMU ${want}`);
      }
      assert.deepStrictEqual(differ.slice(0, 10), [], `${differ.length} of ${probes.length} addresses differ`);
      // A hole: the first page QEMU does not list below the last mapping.
      const mapped = new Set(tlb.map((e) => e.virtual));
      let hole = 0x1000;
      while (mapped.has(hole) || tlb.some((e) => e.large && hole >= e.virtual && hole < e.virtual + largeSize)) hole += 0x1000;
      const h = (await client.customRequest('mmscope/translate', { address: hole })).body as { physical?: number; notMapped?: string };
      assert.strictEqual(h.physical, undefined, `${hex(hole)} is not mapped`);
      assert.match(h.notMapped ?? '', /entry \d+ is not present/);
      console.log(`      (${probes.length} addresses in ${tlb.length} pages translated, ${variant.style})`);
    });

    it("a pointer's hover note says where it lands", async () => {
      const client = dc as DebugClient;
      const frame = (await client.stackTraceRequest({ threadId: 1, levels: 1 })).body.stackFrames[0];
      const r = await client.evaluateRequest({ expression: 'buf', frameId: frame.id, context: 'hover' });
      const address = Number(r.body.memoryReference);
      assert.ok(address > 0, `buf has an address (${r.body.result})`);
      const tlb = await (monitor as QemuMonitor).tlb();
      const page = tlb.find((e) => address >= e.virtual && address < e.virtual + (e.large ? (variant.style.endsWith('pae') ? 2 << 20 : 4 << 20) : 4096));
      assert.ok(page, `QEMU maps ${hex(address)}`);
      const physical = Number(page.physicalExact & 0xfffffffffffffn) + (address - page.virtual);
      assert.match(r.body.result, new RegExp(`phys 0x0*${physical.toString(16)}\\b`), r.body.result);
    });
  });
}
