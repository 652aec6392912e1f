// The memory views' backend on kernels that are not ours, through the real adapter (level 0: no
// descriptor, no description), on corpus kernels in 32-bit, PAE and 4-level paging whose two
// threads run in two address spaces (switch_to loads the other thread's CR3): at a stop,
// mmscope/snapshot is a schema-3 document whose current space equals QEMU's `info tlb` page by
// page, snapshotReady says level 0; after a stop in the other thread both CR3s are listed by
// mmscope/spaces (the earlier one as seen, not current); a space opened by its CR3 is walked and
// translations in it land where QEMU mapped them when it was current; the debug console's
// spaces, frames and vtop cr3= answer; the Memory manager scope says the level.

import * as assert from 'assert';
import { DebugClient } from '@vscode/debugadapter-testsupport';
import { DebugProtocol } from '@vscode/debugprotocol';
import type { TlbEntry } from '../../qemu-bridge/src';
import { buildKernel, CORPUS_MEMORY_MIB, CORPUS_QEMU_ARGS, corpusMachine, CorpusVariant, variantId } from './corpus/build';
import { endSessionLeavingNoQemu, launchArgs, qemuMarker, QemuMonitor, resumeAndStop, startClient } from './dap-fixture';
import { tlbComparison } from './document-oracle';
import type { SnapshotDocument, SpaceJson } from '../src/mm/model/snapshot-document';
import type { SpaceSummaryJson } from '../src/mm/plugin/mm-requests';

const KERNELS: readonly { variant: CorpusVariant; paging: SnapshotDocument['pagingMode'] }[] = [
  { variant: { style: 'higher-half-c0', opt: 'O2', framePointer: true }, paging: 'x86-32' },
  { variant: { style: 'higher-half-c0-pae', opt: 'O2', framePointer: false }, paging: 'pae' },
  { variant: { style: 'x86-64-higher-half', opt: 'O2', framePointer: false }, paging: 'x86-64' },
];

const hex = (n: number | bigint): string => `0x${n.toString(16)}`;

function currentOf(doc: SnapshotDocument): SpaceJson {
  const s = doc.spaces.find((x) => x.id === doc.currentSpace);
  assert.ok(s && s.current, `the document names its current space (${doc.currentSpace})`);
  return s;
}

for (const { variant, paging } of KERNELS) {
  describe(`DAP level 0: snapshot documents and address spaces seen on ${variantId(variant)} (no descriptor)`, function () {
    this.timeout(180_000);
    let dc: DebugClient | undefined;
    let monitor: QemuMonitor | undefined;
    const marker = qemuMarker();
    let firstReady: DebugProtocol.Event | undefined;
    let first: { doc: SnapshotDocument; tlb: TlbEntry[] } | undefined;

    before(async () => {
      const kernel = buildKernel(variant);
      const machine = corpusMachine(variant);
      const client = (dc = await startClient());
      const stopped = client.waitForEvent('stopped', 180_000);
      const ready = client.waitForEvent('mmscope/snapshotReady', 180_000);
      await Promise.all([
        client.initializeRequest(),
        client.waitForEvent('initialized').then(async () => {
          await client.setFunctionBreakpointsRequest({ breakpoints: [{ name: 'switch_to' }] });
          await client.configurationDoneRequest();
        }),
        client.launch({
          ...launchArgs({ marker, kernel, monitor: true, qemuArgs: [...CORPUS_QEMU_ARGS] }),
          memory: CORPUS_MEMORY_MIB, cmdline: '', ...(machine.cpu ? { cpu: machine.cpu } : {}), ...(machine.qemuBinary ? { qemuPath: machine.qemuBinary } : {}),
        } as never),
      ]);
      await stopped;
      firstReady = await ready;
      monitor = await QemuMonitor.connect(marker);
    });
    after(async () => {
      monitor?.close();
      await endSessionLeavingNoQemu(dc, marker);
    });

    it("serves a level-0 schema-3 document whose current space is QEMU's info tlb, and says level 0 in snapshotReady", async () => {
      const client = dc as DebugClient;
      const ready = (firstReady as DebugProtocol.Event).body as { level: unknown; stop: number; spaces: number; frames: Record<string, number>; error?: string };
      assert.strictEqual(ready.error, undefined);
      assert.strictEqual(ready.level, 0);
      assert.ok(ready.spaces >= 1 && typeof ready.frames.mapped === 'number', JSON.stringify(ready));
      const doc = (await client.customRequest('mmscope/snapshot')).body.snapshot as SnapshotDocument;
      assert.deepStrictEqual([doc.schema, doc.level, doc.pagingMode, doc.stop], [3, 0, paging, ready.stop]);
      const current = currentOf(doc);
      assert.strictEqual(BigInt(current.cr3), BigInt(doc.registers.cr3));
      const tlb = await (monitor as QemuMonitor).tlb();
      assert.ok(tlb.length >= 1, `info tlb lists ${tlb.length} pages`);
      const { differ } = tlbComparison(current, tlb);
      assert.deepStrictEqual(differ, [], `pages of info tlb that differ (of ${tlb.length})`);
      assert.strictEqual(current.pages, tlb.length, 'the current space counts every page QEMU lists');
      assert.ok(doc.frames.counts.table >= current.tables.length - 1 && doc.frames.counts.mapped > 0, JSON.stringify(doc.frames.counts));
      // QEMU's memory map, read once through the session's QMP: RAM is known, so frames outside it are 'not-ram'.
      assert.ok(doc.frames.ramKnown && doc.frames.regions.some((r) => r.kind === 'ram' && r.size >= (CORPUS_MEMORY_MIB - 1) << 20), JSON.stringify(doc.frames.regions));
      first = { doc, tlb };
      const scopes = await client.scopesRequest({ frameId: (await client.stackTraceRequest({ threadId: 1, levels: 1 })).body.stackFrames[0].id });
      const mm = scopes.body.scopes.find((s) => s.name === 'Memory manager');
      assert.ok(mm, 'the Memory manager scope is there on a kernel that is not ours');
      const vars = new Map((await client.variablesRequest({ variablesReference: mm.variablesReference })).body.variables.map((v) => [v.name, v.value]));
      assert.strictEqual(vars.get('level'), '0 (nothing described)');
      assert.match(vars.get('current space') ?? '', new RegExp(`: ${current.pages} pages in ${current.mappings.length} runs$`));
    });

    it('lists the spaces seen at two stops with different CR3s, opens one by its CR3 and translates in it', async () => {
      const client = dc as DebugClient;
      assert.ok(first, 'the first test ran');
      const firstCr3 = BigInt(first.doc.registers.cr3);
      const firstTop = currentOf(first.doc).id;
      // switch_to runs with the old thread's CR3: the thread that runs in the other space calls it within a few stops.
      let doc = first.doc;
      for (let i = 0; i < 8 && currentOf(doc).id === firstTop; i++) {
        await resumeAndStop(client, client.continueRequest({ threadId: 1 }));
        doc = (await client.customRequest('mmscope/snapshot')).body.snapshot as SnapshotDocument;
      }
      const now = currentOf(doc);
      assert.notStrictEqual(now.id, firstTop, 'a stop in the other address space');
      assert.deepStrictEqual(tlbComparison(now, await (monitor as QemuMonitor).tlb()).differ, [], 'the new current space is info tlb');
      const listed = (await client.customRequest('mmscope/spaces')).body as { currentSpace: string; spaces: SpaceSummaryJson[] };
      assert.strictEqual(listed.currentSpace, now.id);
      const earlier = listed.spaces.find((s) => s.id === firstTop);
      assert.ok(earlier, `the space of the first stop is listed: ${listed.spaces.map((s) => s.id).join(', ')}`);
      assert.strictEqual(earlier.current, false);
      assert.ok(earlier.sources.includes('seen') && !earlier.sources.includes('current'), earlier.sources.join(','));
      assert.ok(earlier.lastSeenStop !== undefined && earlier.lastSeenStop < doc.stop && earlier.firstSeenStop === first.doc.stop, JSON.stringify(earlier));
      assert.ok(listed.spaces.find((s) => s.id === now.id)?.sources.includes('current'));
      // Open it by its CR3: named (it now counts for the frame map and findings), walked like any other.
      const opened = (await client.customRequest('mmscope/openSpace', { cr3: hex(firstCr3) })).body.space as SpaceJson;
      assert.strictEqual(opened.id, firstTop);
      assert.ok(opened.sources.includes('named'));
      assert.deepStrictEqual(tlbComparison(opened, first.tlb).differ, [], 'the opened space is the info tlb of its stop (the corpus never changes its page tables)');
      const again = (await client.customRequest('mmscope/snapshot')).body.snapshot as SnapshotDocument;
      assert.ok(again.spaces.find((s) => s.id === firstTop)?.sources.includes('named'), 'the stop\'s document was built again with it');
      // Translations in the named space land where QEMU mapped them at the first stop.
      const pick = first.tlb[Math.floor(first.tlb.length / 2)];
      const address = pick.virtualExact + 0x18n;
      const t = (await client.customRequest('mmscope/translate', { address: hex(address), cr3: hex(firstCr3) })).body as { space: string; physical?: number };
      assert.strictEqual(t.space, firstTop);
      assert.strictEqual(BigInt(t.physical ?? -1), (pick.physicalExact & 0xfffffffffffffn) + 0x18n);
      // The debug console.
      const spaces = (await client.evaluateRequest({ expression: 'spaces', context: 'repl' })).body.result;
      assert.match(spaces, new RegExp(`^\\* ${now.id.replace('.', '\\.')} `, 'm'));
      assert.match(spaces, new RegExp(`^  ${firstTop} .*named, seen`, 'm'));
      const frames = (await client.evaluateRequest({ expression: 'frames', context: 'repl' })).body.result;
      assert.match(frames, /^\d+ frames of 4 KiB/);
      assert.match(frames, new RegExp(`page-table pages +${again.frames.counts.table}$`, 'm'));
      const vtop = (await client.evaluateRequest({ expression: `vtop ${hex(address)} cr3=${hex(firstCr3)}`, context: 'repl' })).body.result;
      assert.match(vtop, new RegExp(`in the address space ${firstTop}`));
      assert.match(vtop, new RegExp(`physical 0x0*${(BigInt(t.physical ?? 0)).toString(16)} `));
      console.log(`      (${listed.spaces.length} spaces listed; current ${now.id}, earlier ${firstTop}; ${first.tlb.length} pages at the first stop)`);
    });
  });
}
