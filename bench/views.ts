// Benchmark of the mmscope views at a stop: the time from the adapter's stopped
// event to every view's content being ready, measured on the extension's side of the protocol
// against the real adapter (node adapter.js over stdio) debugging the demo guest in QEMU, at
// stops on the "Chain allocated" filter. One stop's refresh is: the mmscope/snapshot custom
// request, the top level of the Address space (expanded to its runs), Processes, Chains and
// Findings views as tree items, the Physical memory webview's message (changed blocks included,
// serialized), and the language server's notification (serialized). Medians of 11 stops.
//   npm run bench:views   (= tsc -p . && node out/bench/views.js --write docs/benchmarks.md)

import * as fs from 'fs';
import * as path from 'path';
import { DebugClient } from '@vscode/debugadapter-testsupport';
import { SnapshotJson } from '../debug-adapter/src/mm/snapshot-json';
import { addressSpaceModel } from '../extension/src/views/address-space-model';
import { chainsModel } from '../extension/src/views/chains-model';
import { findingsModel, statusText } from '../extension/src/views/findings-model';
import { processesModel } from '../extension/src/views/processes-model';
import { changedBlocks } from '../extension/src/views/changed-blocks';
import { treeItemData } from '../extension/src/views/tree-item-data';
import { ViewNode } from '../extension/src/views/view-node';

const ROOT = path.resolve(__dirname, '..', '..');
const ADAPTER = path.join(ROOT, 'out', 'debug-adapter', 'src', 'adapter.js');
const KERNEL = path.join(ROOT, 'guest', 'build', 'kernel.elf');
const STOPS = 11;
const WARMUP = 3;

const median = (v: number[]): number => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];
const max = (v: number[]): number => Math.max(...v);
const ms = (t0: bigint): number => Number(process.hrtime.bigint() - t0) / 1e6;

/** Builds every row a person sees: top levels, the address space down to its runs. */
function renderViews(snap: SnapshotJson, previous: SnapshotJson | undefined): number {
  let rows = 0;
  const items = (nodes: readonly ViewNode[], depth: number): void => {
    for (const n of nodes) {
      treeItemData(n);
      rows++;
      if (depth > 1 && n.children) items(n.children(), depth - 1);
    }
  };
  items(addressSpaceModel(snap, undefined, previous), 3);
  items(processesModel(snap, previous), 1);
  items(chainsModel(snap, previous), 1);
  items(findingsModel(snap, previous), 1);
  statusText(snap);
  JSON.stringify({ type: 'snapshot', snapshot: snap, changedBlocks: changedBlocks(snap, previous) });
  JSON.stringify({ state: 'stopped', snapshot: snap });
  return rows;
}

async function main(): Promise<void> {
  if (!fs.existsSync(KERNEL) || !fs.existsSync(ADAPTER)) throw new Error('build first: npm run build');
  const dc = new DebugClient('node', ADAPTER, 'mmscope', { stdio: ['pipe', 'pipe', 'pipe'] });
  await dc.start();
  const fetchMs: number[] = [];
  const viewMs: number[] = [];
  const totalMs: number[] = [];
  let chains = 0;
  let rows = 0;
  let blocks = 0;
  try {
    const stopped = dc.waitForEvent('initialized', 60000).then(async () => {
      await dc.configurationDoneRequest();
    });
    let ready = dc.waitForEvent('stopped', 120000);
    await dc.launch({ kernel: KERNEL, cmdline: 'demo', memory: 128 } as never);
    await stopped;
    // Arm the filter once the kernel has set up its memory manager (as a person does in the UI).
    await new Promise((r) => setTimeout(r, 5000));
    await dc.setExceptionBreakpointsRequest({ filters: ['mm-allocated'] });
    let previous: SnapshotJson | undefined;
    let first = true;
    for (let i = 0, tries = 0; i < STOPS + WARMUP && tries < 60; i++, tries++) {
      if (!first) {
        ready = dc.waitForEvent('stopped', 120000);
        await dc.continueRequest({ threadId: 1 });
      }
      const ev = (await ready) as { body?: { reason?: string } };
      first = false;
      if (ev.body?.reason !== 'exception') {
        i--; // a stop before the memory manager is up (entry): not one of ours
        continue;
      }
      const t0 = process.hrtime.bigint();
      const r = await dc.customRequest('mmscope/snapshot', { withPrevious: true });
      const body = r.body as { snapshot: SnapshotJson; previous?: SnapshotJson };
      const fetched = ms(t0);
      const t1 = process.hrtime.bigint();
      rows = renderViews(body.snapshot, body.previous ?? previous);
      const built = ms(t1);
      if (i >= WARMUP) {
        fetchMs.push(fetched);
        viewMs.push(built);
        totalMs.push(ms(t0));
      }
      previous = body.snapshot;
      chains = body.snapshot.chains.length;
      blocks = body.snapshot.blocks.total;
    }
  } finally {
    await dc.disconnectRequest({ terminateDebuggee: true }).catch(() => undefined);
    await dc.stop();
  }
  const f = (n: number): string => n.toFixed(1);
  const table = [
    `Measured ${new Date().toISOString().slice(0, 10)} on this machine (2 cores, QEMU TCG): the demo guest (128 MiB, ${blocks} blocks, ${chains} chains),`,
    `${STOPS} stops on the "Chain allocated" filter after ${WARMUP} warm-up stops, through the real adapter over stdio. "Refresh" is the time from`,
    `the stopped event to all views' content ready: the mmscope/snapshot request, ${rows} tree rows (Address space expanded to its runs,`,
    'Processes, Chains, Findings), the Physical memory webview message and the language server notification, both serialized.',
    'VS Code\'s own drawing of the rows is not included (the e2e test records the extension-side time in its state file).',
    '',
    '| step | median ms | max ms |',
    '| --- | ---: | ---: |',
    `| mmscope/snapshot request (adapter builds the snapshot, DAP round trip) | ${f(median(fetchMs))} | ${f(max(fetchMs))} |`,
    `| view models, tree items, webview and LSP payloads | ${f(median(viewMs))} | ${f(max(viewMs))} |`,
    `| **refresh of all views after a stop** | **${f(median(totalMs))}** | ${f(max(totalMs))} |`,
    '',
    `Target: all views within 100 ms of a stop — ${median(totalMs) <= 100 ? 'met' : 'NOT met'} (median ${f(median(totalMs))} ms).`,
  ].join('\n');
  console.log(table);
  const w = process.argv.indexOf('--write');
  if (w >= 0) {
    const file = path.resolve(process.argv[w + 1] ?? 'docs/benchmarks.md');
    const text = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '# Benchmarks\n';
    const start = '<!-- views-bench:start -->';
    const end = '<!-- views-bench:end -->';
    const section = `${start}\n## Views refresh at a stop (\`npm run bench:views\`)\n\n${table}\n${end}`;
    const next = text.includes(start) && text.includes(end)
      ? text.slice(0, text.indexOf(start)) + section + text.slice(text.indexOf(end) + end.length)
      : `${text.trimEnd()}\n\n${section}\n`;
    fs.writeFileSync(file, next);
  }
}

main().catch((e: unknown) => {
  console.error(`bench:views: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
