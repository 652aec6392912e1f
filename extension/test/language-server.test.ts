// mmscope's language server over a real LSP connection (the compiled server in a child process,
// stdio), on snapshots recorded from the demo guest: code lenses at allocation call sites,
// findings as diagnostics at the allocating line, and hover with the pointer's translation. The
// test plays the extension's side: it pushes the snapshot and answers the server's evaluate
// requests with values of the recorded run.

import * as assert from 'assert';
import { ChildProcess, spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import {
  CodeLensRequest,
  DidOpenTextDocumentNotification,
  ExitNotification,
  HoverRequest,
  InitializeRequest,
  InitializedNotification,
  MarkupContent,
  ProtocolConnection,
  PublishDiagnosticsNotification,
  PublishDiagnosticsParams,
  ShutdownRequest,
  StreamMessageReader,
  StreamMessageWriter,
  createProtocolConnection,
} from 'vscode-languageserver-protocol/node';
import { SnapshotJson } from '../../debug-adapter/src/mm/model/snapshot-json';
import { EVALUATE_REQUEST, EvaluateParams, EvaluateResult, SNAPSHOT_NOTIFICATION, ServerSnapshotParams, TRANSLATE_REQUEST } from '../server/protocol';
import { expressionAt } from '../server/c-expression';
import { translationLines } from '../server/translation-text';
import { translateCurrent } from '../../debug-adapter/src/mm/model/translate';
import { pathUri } from '../server/site-files';
import { snapshotToJson } from '../../debug-adapter/src/mm/model/snapshot-json';
import { buildSnapshot } from '../../debug-adapter/src/mm/model/snapshot';
import { LAYOUT, MmImage, REGISTERS } from '../../debug-adapter/test/fixtures/mm-image';
import type { SnapshotDocument } from '../../contract/snapshot-document';
import { levelOneDocument, levelZeroDocument } from './documents';

const ROOT = path.resolve(__dirname, '../../..');
const FIXTURES = path.join(ROOT, 'extension/test/fixtures');
const SERVER = path.join(ROOT, 'out/extension/server/server.js');
/**
 * A recorded snapshot, with its source paths moved to this checkout: DWARF names the files where
 * the kernel was built when the fixture was recorded, which need not be where the tests run.
 */
const load = (name: string): SnapshotJson => {
  const text = fs.readFileSync(path.join(FIXTURES, name), 'utf8');
  const here = JSON.stringify(path.join(ROOT, 'guest') + '/').slice(1, -1);
  return JSON.parse(text.replace(/"file":"[^"]*?\/guest\//g, `"file":"${here}`)) as SnapshotJson;
};
const hex = (n: number): string => `0x${(n >>> 0).toString(16).padStart(8, '0')}`;

interface Harness {
  connection: ProtocolConnection;
  child: ChildProcess;
  diagnostics: PublishDiagnosticsParams[];
  evaluate: (p: EvaluateParams) => EvaluateResult;
  evaluated: string[];
}

async function startServer(): Promise<Harness> {
  const child = spawn(process.execPath, [SERVER, '--stdio'], { stdio: ['pipe', 'pipe', 'inherit'] });
  const connection = createProtocolConnection(new StreamMessageReader(child.stdout!), new StreamMessageWriter(child.stdin!));
  const h: Harness = { connection, child, diagnostics: [], evaluate: () => null, evaluated: [] };
  connection.onNotification(PublishDiagnosticsNotification.type, (p) => h.diagnostics.push(p));
  connection.onRequest(EVALUATE_REQUEST, (p: EvaluateParams) => {
    h.evaluated.push(p.expression);
    return h.evaluate(p);
  });
  connection.onRequest(TRANSLATE_REQUEST, () => null);
  connection.listen();
  await connection.sendRequest(InitializeRequest.type, {
    processId: process.pid,
    rootUri: pathUri(ROOT),
    workspaceFolders: [{ uri: pathUri(ROOT), name: 'mmscope' }],
    capabilities: {},
  });
  await connection.sendNotification(InitializedNotification.type, {});
  return h;
}

async function stopServer(h: Harness): Promise<void> {
  await Promise.race([h.connection.sendRequest(ShutdownRequest.type), new Promise((r) => setTimeout(r, 2000))]);
  await h.connection.sendNotification(ExitNotification.type);
  h.connection.dispose();
  if (h.child.exitCode === null) await Promise.race([new Promise((r) => h.child.once('exit', r)), new Promise((r) => setTimeout(r, 3000))]);
  if (h.child.exitCode === null) h.child.kill('SIGKILL');
}

async function open(h: Harness, file: string): Promise<{ uri: string; text: string }> {
  const text = fs.readFileSync(file, 'utf8');
  const uri = pathUri(file);
  await h.connection.sendNotification(DidOpenTextDocumentNotification.type, { textDocument: { uri, languageId: 'c', version: 1, text } });
  return { uri, text };
}

async function until<T>(what: string, f: () => T | undefined, ms = 5000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('language server on recorded snapshots', function () {
  this.timeout(30000);
  let h: Harness;
  beforeEach(async () => {
    h = await startServer();
  });
  afterEach(async () => {
    await stopServer(h);
  });

  it('puts a code lens on each allocation call site with its live chains and blocks', async () => {
    const snap = load('demo-snapshot.json');
    const demo = path.join(ROOT, 'guest/demo/demo.c');
    const { uri } = await open(h, demo);
    const none = await h.connection.sendRequest(CodeLensRequest.type, { textDocument: { uri } });
    assert.deepStrictEqual(none, [], 'no lenses without a session');
    await h.connection.sendNotification(SNAPSHOT_NOTIFICATION, { state: 'stopped', snapshot: snap } satisfies ServerSnapshotParams);
    const lenses = (await h.connection.sendRequest(CodeLensRequest.type, { textDocument: { uri } })) ?? [];
    const here = snap.chains.filter((c) => c.site?.file && path.basename(c.site.file) === 'demo.c');
    const lines = [...new Set(here.map((c) => c.site!.line!))].sort((a, b) => a - b);
    assert.deepStrictEqual(lenses.map((l) => l.range.start.line), lines.map((l) => l - 1));
    for (const l of lenses) {
      const at = here.filter((c) => c.site!.line === l.range.start.line + 1);
      const blocks = at.reduce((n, c) => n + c.blocks.length, 0);
      assert.strictEqual(l.command?.title, `${at.length} live chain${at.length === 1 ? '' : 's'}, ${blocks} block${blocks === 1 ? '' : 's'} allocated here`);
      assert.strictEqual(l.command?.command, 'mmscope.revealChain');
      assert.ok(at.some((c) => c.id === l.command?.arguments?.[0]));
    }
    assert.ok(lenses.length > 0 && /MmAllocateChain/.test(fs.readFileSync(demo, 'utf8').split('\n')[lenses[0].range.start.line]), 'the lens sits on the allocating line');
  });

  it('publishes a leaked chain as a diagnostic at the line that allocated it, and clears it when the session ends', async () => {
    const snap = load('leaked-snapshot.json');
    const finding = snap.findings.find((f) => f.kind === 'leaked-chain');
    assert.ok(finding?.site?.file && finding.site.line);
    const file = path.join(ROOT, 'guest', finding.site.file.split('/guest/').pop() ?? '');
    assert.ok(fs.existsSync(file), file);
    await h.connection.sendNotification(SNAPSHOT_NOTIFICATION, { state: 'stopped', snapshot: snap } satisfies ServerSnapshotParams);
    const published = await until('diagnostics', () => h.diagnostics.find((d) => d.diagnostics.length > 0));
    assert.strictEqual(published.uri, pathUri(file));
    const [d] = published.diagnostics;
    assert.strictEqual(d.range.start.line, finding.site.line - 1);
    assert.strictEqual(d.code, 'leaked-chain');
    assert.strictEqual(d.source, 'mmscope');
    assert.match(d.message, new RegExp(`chain ${finding.chain} `));
    assert.match(fs.readFileSync(file, 'utf8').split('\n')[d.range.start.line], /MmAllocateChain/);
    h.diagnostics.length = 0;
    await h.connection.sendNotification(SNAPSHOT_NOTIFICATION, { state: 'none' } satisfies ServerSnapshotParams);
    const cleared = await until('cleared diagnostics', () => h.diagnostics.find((x) => x.uri === published.uri));
    assert.deepStrictEqual(cleared.diagnostics, []);
  });

  it('publishes the findings of a live snapshot the extension pushes (its one source of snapshots)', async () => {
    const demo = path.join(ROOT, 'guest/demo/demo.c');
    const line = fs.readFileSync(demo, 'utf8').split('\n').findIndex((l) => /MmAllocateChain\(/.test(l)) + 1;
    assert.ok(line > 0);
    // A hand-built guest image with one chain nobody maps or holds, allocated at that line.
    const img = new MmImage();
    const id = img.addChain([450, 451]);
    const snap = await buildSnapshot({
      read: img.read, descriptorPhys: LAYOUT.descriptor, registers: REGISTERS,
      resolveSite: (address) => ({ address, function: 'step', file: demo, line }),
    });
    assert.ok(snap.findings.some((f) => f.kind === 'leaked-chain' && f.chain === id));
    try {
      await h.connection.sendNotification(SNAPSHOT_NOTIFICATION, { state: 'running', snapshot: snapshotToJson(snap) } satisfies ServerSnapshotParams);
      const published = await until('diagnostics of the live snapshot', () => h.diagnostics.find((d) => d.uri === pathUri(demo) && d.diagnostics.length > 0));
      assert.strictEqual(published.diagnostics[0].code, 'leaked-chain');
      assert.strictEqual(published.diagnostics[0].range.start.line, line - 1);
      assert.match(published.diagnostics[0].message, new RegExp(`chain ${id} `));
    } finally {
      await h.connection.sendNotification(SNAPSHOT_NOTIFICATION, { state: 'none' } satisfies ServerSnapshotParams);
    }
  });

  it('hovers a pointer with its translation down to the chain and the allocation site, only while stopped', async () => {
    const snap = load('demo-snapshot.json');
    const demo = path.join(ROOT, 'guest/demo/demo.c');
    const { uri, text } = await open(h, demo);
    const lineNo = text.split('\n').findIndex((l) => /struct slot \*s = &w->slots\[i\];/.test(l));
    assert.ok(lineNo >= 0);
    const character = text.split('\n')[lineNo].indexOf('*s') + 1;
    // A user chain of the current process: the pointer points 0x1234 bytes into its mapping.
    const current = snap.processes.find((p) => p.current)!;
    const chain = snap.chains.find((c) => c.mappedAt.some((m) => m.space === current.pid) && c.site?.function === 'worker_main')!;
    const m = chain.mappedAt.find((x) => x.space === current.pid)!;
    const pointer = m.virtual + 0x1234;
    const page = m.firstPage + 1;
    const expectedPhysical = chain.blocks[Math.floor(page / 4)] * 16384 + (page % 4) * 4096 + 0x234;
    h.evaluate = (p) => (p.expression === 's' ? { expression: 's', value: `(struct slot *) ${hex(pointer)}`, type: 'struct slot *', pointer } : null);

    const running = await h.connection.sendRequest(HoverRequest.type, { textDocument: { uri }, position: { line: lineNo, character } });
    assert.strictEqual(running, null, 'no hover without a stopped session');
    await h.connection.sendNotification(SNAPSHOT_NOTIFICATION, { state: 'stopped', snapshot: snap } satisfies ServerSnapshotParams);
    const hover = await h.connection.sendRequest(HoverRequest.type, { textDocument: { uri }, position: { line: lineNo, character } });
    assert.ok(hover);
    const value = (hover.contents as MarkupContent).value;
    assert.ok(h.evaluated.includes('s') && h.evaluated.includes('&s'), h.evaluated.join());
    assert.match(value, new RegExp(`virtual \`${hex(pointer)}\` \\(pid ${current.pid}\\)`));
    assert.match(value, new RegExp(`PDE UPD\\[${pointer >>> 22}\\] = \`${hex(current.upd[pointer >>> 22])}\``));
    assert.match(value, new RegExp(`physical \`${hex(expectedPhysical)}\``));
    assert.match(value, new RegExp(`→ block ${Math.floor(expectedPhysical / 16384)}\\b`));
    assert.match(value, new RegExp(`→ chain ${chain.id} \\(page ${page}\\)`));
    assert.match(value, /allocated by worker_main at demo\.c:\d+/);
    assert.deepStrictEqual(hover.range?.start, { line: lineNo, character: character });
  });
});

describe('language server on kernels that are not ours', function () {
  this.timeout(30000);
  let h: Harness;
  let dir: string;
  /** The level-1 document with its sources under a temporary checkout of "myos". */
  let doc: SnapshotDocument;
  let proc: string;
  beforeEach(async () => {
    h = await startServer();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mmscope-myos-'));
    proc = path.join(dir, 'kernel', 'proc.c');
    fs.mkdirSync(path.dirname(proc), { recursive: true });
    fs.writeFileSync(proc, Array.from({ length: 200 }, (_, i) => `// line ${i + 1}`).join('\n'));
    doc = JSON.parse(JSON.stringify(levelOneDocument()).replace(/\/src\/myos\//g, `${dir}/`)) as SnapshotDocument;
  });
  afterEach(async () => {
    await stopServer(h);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('puts a lens on each traced allocation site with what it holds live (level 2), none on a site with nothing live', async () => {
    const { uri } = await open(h, proc);
    await h.connection.sendNotification(SNAPSHOT_NOTIFICATION, { state: 'stopped', snapshot: doc } satisfies ServerSnapshotParams);
    const lenses = (await h.connection.sendRequest(CodeLensRequest.type, { textDocument: { uri } })) ?? [];
    assert.deepStrictEqual(lenses.map((l) => [l.range.start.line, l.command?.title, l.command?.command]), [[87, '3 live allocations, 12 KiB allocated here', 'mmscope.chains.focus']]);
  });

  it('publishes a double free (level 2) at the line of its site', async () => {
    await h.connection.sendNotification(SNAPSHOT_NOTIFICATION, { state: 'stopped', snapshot: doc } satisfies ServerSnapshotParams);
    const published = await until('diagnostics', () => h.diagnostics.find((d) => d.diagnostics.length > 0));
    assert.strictEqual(published.uri, pathUri(proc));
    assert.deepStrictEqual(published.diagnostics.map((d) => [d.range.start.line, d.code, d.severity]), [[130, 'double-free', 1]]);
  });

  it('hovers a 64-bit pointer exactly and, when the session cannot translate, translates it on the document', async () => {
    const level0 = levelZeroDocument();
    const file = path.join(dir, 'kernel', 'main.c');
    fs.writeFileSync(file, 'void f(void) {\n  char *p = text;\n}\n');
    const { uri } = await open(h, file);
    // 2^53 < 0xffffffff81000010: a JavaScript number would round it to ...81000000 or ...81000020.
    h.evaluate = (p) => (p.expression === 'p' ? { expression: 'p', value: '(char *) 0xffffffff81000010', type: 'char *', pointer: '0xffffffff81000010' } : null);
    await h.connection.sendNotification(SNAPSHOT_NOTIFICATION, { state: 'stopped', snapshot: level0 } satisfies ServerSnapshotParams);
    const hover = await h.connection.sendRequest(HoverRequest.type, { textDocument: { uri }, position: { line: 1, character: 8 } });
    assert.ok(hover);
    const value = (hover.contents as MarkupContent).value;
    assert.match(value, /virtual `0xffffffff81000010` \(current address space\)/);
    assert.match(value, /→ writable, kernel\n?/);
    assert.match(value, /→ physical `0x01000010`/);
  });
});

describe('expression under the cursor', function () {
  const at = (line: string, col: number): string | undefined => expressionAt(line, 0, col)?.expression;
  it('takes member accesses and indexes before the identifier', () => {
    const line = '    x = w->slots[i].chain + cur.next;';
    assert.strictEqual(at(line, line.indexOf('chain') + 2), 'w->slots[i].chain');
    assert.strictEqual(at(line, line.indexOf('slots')), 'w->slots');
    assert.strictEqual(at(line, line.indexOf('next')), 'cur.next');
    assert.strictEqual(at(line, line.indexOf('w->')), 'w');
  });
  it('ignores keywords, numbers, comments, strings and includes', () => {
    assert.strictEqual(at('    return 42;', 5), undefined);
    assert.strictEqual(at('    return 42;', 12), undefined);
    assert.strictEqual(at('    a = 1; // see chain', 20), undefined);
    assert.strictEqual(at('    panic("chain %u", id);', 12), undefined);
    assert.strictEqual(at('    panic("chain %u", id);', 23), 'id');
    assert.strictEqual(at('#include "mm.h"', 11), undefined);
  });
});

describe('translation lines of a kernel without our descriptor (level 0)', function () {
  it('name every level of a 4-level walk, the exact 64-bit address and the page, with no KPD or UPD', async () => {
    const mem = Buffer.alloc(0x8000);
    mem.writeBigUInt64LE(0x2000n | 3n, 0x1000 + 511 * 8);
    mem.writeBigUInt64LE(0x3000n | 3n, 0x2000 + 510 * 8);
    mem.writeBigUInt64LE(0x4000n | 3n, 0x3000 + 1 * 8);
    mem.writeBigUInt64LE(0x7000n | 0x63n | (1n << 63n), 0x4000 + 3 * 8);
    const t = await translateCurrent({ cr0: 0x80000001n, cr3: 0x1000n, cr4: 0x20n, efer: 0xd00n }, async (a, n) => mem.subarray(a, a + n), 0xffffffff80203456n);
    const lines = translationLines(t);
    assert.deepStrictEqual(lines, [
      'virtual `0xffffffff80203456` (current address space)',
      '→ PML4[511] = `0x0000000000002003` at 0x00001ff8 P RW',
      '→ PDPT[510] = `0x0000000000003003` at 0x00002ff0 P RW',
      '→ PD[1] = `0x0000000000004003` at 0x00003008 P RW',
      '→ PTE[3] = `0x8000000000007063` at 0x00004018 P RW A D NX',
      '→ writable, kernel, no execute',
      '→ physical `0x00007456`',
    ]);
  });
});
