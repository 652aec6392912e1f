// Level 0 on a kernel nobody here wrote: Debian's Linux (amd64, 4-level paging, PTI: each
// process has two top-level tables), attached with its stripped vmlinux (no symbols, no
// description). Through the real adapter: at a stop the schema-3 document's current space is
// QEMU's `info tlb` page by page and snapshotReady says level 0; the CR3s of stops in different
// address spaces are all listed; live documents come from the RAM file while it runs. Then `mmscope serve --gdb --ram --cr3 …` (no ELF at all) serves
// a level-0 document over the WebSocket feed to a client with the token, and refuses one without.

import * as assert from 'assert';
import { ChildProcess, spawn } from 'child_process';
import * as path from 'path';
import * as readline from 'readline';
import { DebugClient } from '@vscode/debugadapter-testsupport';
import { DebugProtocol } from '@vscode/debugprotocol';
import { WebSocket } from 'ws';
import { parseInfoTlb } from '../../qemu-bridge/src';
import { BootedGuest, bootLinuxGuest, LINUX_MODES } from '../../qemu-bridge/test/fixtures/linux-guests';
import { resumeAndStop, startClient, stopClient } from './dap-fixture';
import { vmlinuxOf } from './linux-vmlinux';
import { tlbComparison } from './document-oracle';
import type { SnapshotDocument, SpaceJson } from '../src/mm/model/snapshot-document';
import type { SpaceSummaryJson } from '../src/mm/plugin/mm-requests';

const BIN = path.resolve(__dirname, '..', '..', '..', 'bin', 'mmscope.js');
const MODE = LINUX_MODES.find((m) => m.guest === 'amd64' && m.kind === 'x86-64');

function currentOf(doc: SnapshotDocument): SpaceJson {
  const s = doc.spaces.find((x) => x.id === doc.currentSpace);
  assert.ok(s && s.current, `the document names its current space (${doc.currentSpace})`);
  return s;
}

/** Messages of a feed connection until `until` says enough (bounded by the test's timeout). */
function feedMessages(url: string, until: (m: { type: string }[]) => boolean): Promise<{ type: string; [k: string]: unknown }[]> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, 'mmscope-live.v1');
    const got: { type: string }[] = [];
    ws.on('message', (data) => {
      got.push(JSON.parse(String(data)) as { type: string });
      if (until(got)) {
        ws.close();
        resolve(got as { type: string; [k: string]: unknown }[]);
      }
    });
    ws.on('error', reject);
  });
}

describe(`DAP and mmscope serve at level 0 on Linux ${MODE?.mode} (Debian's kernel, stripped vmlinux)`, function () {
  this.timeout(400_000);
  let booted: BootedGuest | undefined;
  let dc: DebugClient | undefined;
  let serve: ChildProcess | undefined;
  let firstReady: DebugProtocol.Event | undefined;
  let firstDoc: SnapshotDocument | undefined;

  before(async () => {
    assert.ok(MODE, 'the amd64 4-level mode is listed');
    booted = await bootLinuxGuest(MODE);
    const { qemu, guest } = booted;
    const vmlinux = vmlinuxOf(guest.kernel);
    const client = (dc = await startClient());
    const stopped = client.waitForEvent('stopped', 120_000);
    const ready = client.waitForEvent('mmscope/snapshotReady', 120_000);
    await Promise.all([
      client.initializeRequest(),
      client.waitForEvent('initialized').then(() => client.configurationDoneRequest()),
      client.attachRequest({ gdb: `127.0.0.1:${qemu.gdb.port}`, ram: qemu.ramPath, kernel: vmlinux } as DebugProtocol.AttachRequestArguments),
    ]);
    await stopped;
    firstReady = await ready;
  });
  after(async () => {
    serve?.kill('SIGKILL');
    await stopClient(dc);
    booted?.qmp.close();
    await booted?.qemu.shutdown();
  });

  it("serves a document whose current space is QEMU's info tlb, with snapshotReady at level 0", async () => {
    const client = dc as DebugClient;
    const ready = (firstReady as DebugProtocol.Event).body as { level: unknown; error?: string; stop: number; pagingMode: string };
    assert.strictEqual(ready.error, undefined);
    assert.deepStrictEqual([ready.level, ready.pagingMode], [0, 'x86-64']);
    const doc = (await client.customRequest('mmscope/snapshot')).body.snapshot as SnapshotDocument;
    assert.deepStrictEqual([doc.schema, doc.level, doc.pagingMode, doc.processes.length], [3, 0, 'x86-64', 0]);
    const tlb = parseInfoTlb(await (booted as BootedGuest).qmp.humanMonitorCommand('info tlb', 30_000));
    assert.ok(tlb.length > 300, `info tlb lists ${tlb.length} pages`);
    const current = currentOf(doc);
    const { differ, throughFolds } = tlbComparison(current, tlb);
    assert.deepStrictEqual(differ, [], `pages of info tlb that differ (of ${tlb.length})`);
    assert.strictEqual(current.pages, tlb.length);
    assert.ok(doc.frames.counts.mapped > 0 && doc.frames.counts.table > 10, JSON.stringify(doc.frames.counts));
    firstDoc = doc;
    console.log(`      (${tlb.length} pages of info tlb in the document, ${throughFolds} through folds; ${doc.findings.length} findings: ${[...new Set(doc.findings.map((f) => f.kind))].join(', ')})`);
  });

  it('lists the address spaces of stops with different CR3s', async () => {
    const client = dc as DebugClient;
    assert.ok(firstDoc, 'the first test ran');
    const seen = new Set([currentOf(firstDoc).id]);
    // The guest's workload runs busybox processes in rounds: pauses land in different spaces (with PTI, a process's user half is another table).
    for (let i = 0; i < 40 && seen.size < 2; i++) {
      await client.continueRequest({ threadId: 1 });
      await new Promise((r) => setTimeout(r, 150 + 50 * i));
      await resumeAndStop(client, client.pauseRequest({ threadId: 1 }));
      seen.add(currentOf((await client.customRequest('mmscope/snapshot')).body.snapshot as SnapshotDocument).id);
    }
    assert.ok(seen.size >= 2, `stops in ${seen.size} address spaces`);
    const listed = (await client.customRequest('mmscope/spaces')).body as { currentSpace: string; spaces: SpaceSummaryJson[] };
    for (const id of seen) assert.ok(listed.spaces.some((s) => s.id === id), `${id} is listed (${listed.spaces.map((s) => s.id).join(', ')})`);
    assert.strictEqual(listed.spaces.filter((s) => s.current).length, 1);
    assert.ok(listed.spaces.filter((s) => !s.current).every((s) => s.sources.includes('seen') && s.lastSeenStop !== undefined));
  });

  it('sends live level-0 documents from the RAM file while Linux runs', async () => {
    const client = dc as DebugClient;
    const live: { stop: number; level: unknown; spaces: number }[] = [];
    const seen = new Promise<void>((resolve) => {
      client.on('mmscope/snapshotReady', (e: DebugProtocol.Event) => {
        const body = e.body as { stop: number; level: unknown; spaces: number; live: boolean };
        if (body.live) live.push(body);
        if (live.length >= 2) resolve();
      });
    });
    assert.deepStrictEqual((await client.customRequest('mmscope/liveRefresh', { enabled: true, ratePerSecond: 4 })).body, { enabled: true, ratePerSecond: 4 });
    await client.continueRequest({ threadId: 1 });
    await seen;
    assert.ok(live.every((l) => l.level === 0 && l.spaces >= 1 && l.stop < 0), JSON.stringify(live));
    const running = (await client.customRequest('mmscope/snapshot')).body as { live?: boolean; snapshot: SnapshotDocument };
    assert.deepStrictEqual([running.live, running.snapshot.live, running.snapshot.level], [true, true, 0]);
    assert.ok(currentOf(running.snapshot).pages > 300);
    await client.customRequest('mmscope/liveRefresh', { enabled: false });
    await resumeAndStop(client, client.pauseRequest({ threadId: 1 }));
  });

  it('mmscope serve --gdb (no ELF) serves a level-0 document over the WebSocket with the token', async () => {
    assert.ok(firstDoc, 'the first test ran');
    // The gdbstub takes one client: the debug session detaches first.
    await stopClient(dc);
    dc = undefined;
    const { qemu } = booted as BootedGuest;
    const named = BigInt(firstDoc.registers.cr3);
    serve = spawn(process.execPath, [BIN, 'serve', '--gdb', `127.0.0.1:${qemu.gdb.port}`, '--ram', qemu.ramPath as string, '--cr3', `0x${named.toString(16)}`], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    serve.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    const line = await new Promise<string>((resolve, reject) => {
      readline.createInterface({ input: serve?.stdout as NodeJS.ReadableStream }).once('line', resolve);
      serve?.once('exit', (code) => reject(new Error(`serve exited (${code}): ${stderr}`)));
    });
    const { ws } = JSON.parse(line) as { url: string; ws: string };
    assert.match(ws, /^ws:\/\/127\.0\.0\.1:\d+\/feed\?token=[0-9a-f]{64}$/);
    const refused = await new Promise<number>((resolve) => {
      const bad = new WebSocket(ws.replace(/token=[0-9a-f]+/, 'token=00'), 'mmscope-live.v1');
      bad.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      bad.on('error', () => resolve(-1));
    });
    assert.strictEqual(refused, 401);
    const messages = await feedMessages(ws, (m) => m.some((x) => x.type === 'snapshot'));
    const hello = messages[0] as unknown as { type: string; snapshotSchema: number; guest: { level?: unknown; kernel: string } | null };
    assert.strictEqual(hello.type, 'hello');
    assert.strictEqual(hello.snapshotSchema, 3);
    assert.deepStrictEqual([hello.guest?.level, hello.guest?.kernel], [0, '']);
    const doc = (messages.find((m) => m.type === 'snapshot') as unknown as { snapshot: SnapshotDocument }).snapshot;
    assert.deepStrictEqual([doc.schema, doc.level, doc.pagingMode], [3, 0, 'x86-64']);
    assert.ok(currentOf(doc).pages > 300, `${currentOf(doc).pages} pages in the current space`);
    const opened = doc.spaces.find((s) => BigInt(s.topTable) === (named & 0xffffffffff000n));
    assert.ok(opened?.sources.includes('named'), `the --cr3 space is listed as named: ${doc.spaces.map((s) => `${s.id} ${s.sources.join('+')}`).join(', ')}`);
    const exited = new Promise<number | null>((resolve) => serve?.once('exit', resolve));
    serve.kill('SIGINT');
    assert.strictEqual(await exited, 0, stderr);
    serve = undefined;
    assert.ok(qemu.alive, 'QEMU keeps running after serve detaches');
  });
});
