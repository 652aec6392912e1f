// Debug-adapter benchmark through the real adapter process and a real QEMU running the guest's
// demo: launch to first stop (stop on entry, and a breakpoint in kmain after the firmware boot),
// step-over latency (request to stopped event), and breakpoint hit to stack trace ready.
// --write FILE replaces the section between <!-- dap-bench:start --> and <!-- dap-bench:end -->.
//   npm run bench:dap   (= tsc -p . && make -C guest && node out/bench/dap.js --write docs/benchmarks.md)

import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { DebugClient } from '@vscode/debugadapter-testsupport';
import { DebugProtocol } from '@vscode/debugprotocol';
import { markerLine } from '../debug-adapter/test/source-markers';

const ROOT = path.resolve(__dirname, '..', '..');
const KERNEL = process.env.MMSCOPE_KERNEL ?? path.join(ROOT, 'guest', 'build', 'kernel.elf');
const ADAPTER = path.join(ROOT, 'out', 'debug-adapter', 'src', 'adapter.js');
const CHAIN_C = path.join(ROOT, 'guest', 'mm', 'chain.c');
const START = '<!-- dap-bench:start -->';
const END = '<!-- dap-bench:end -->';
const LAUNCHES = Number(process.env.BENCH_LAUNCHES ?? 3);
const STEPS = 60;
const HITS = 25;

const now = (): number => Number(process.hrtime.bigint()) / 1e6;

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

function percentile(values: number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}

async function client(): Promise<DebugClient> {
  const dc = new DebugClient('node', ADAPTER, 'mmscope', { stdio: ['pipe', 'pipe', 'pipe'] });
  dc.defaultTimeout = 60000;
  await dc.start();
  await dc.initializeRequest();
  return dc;
}

async function stop(dc: DebugClient): Promise<void> {
  await Promise.race([dc.disconnectRequest({}).catch(() => undefined), new Promise((r) => setTimeout(r, 5000))]);
  (dc as unknown as { stopAdapter(): void }).stopAdapter();
}

/** Milliseconds from the launch request to the first stopped event. */
async function launchToStop(configure: (dc: DebugClient) => Promise<unknown>, stopOnEntry: boolean): Promise<{ ms: number; dc: DebugClient }> {
  const dc = await client();
  const stopped = dc.waitForEvent('stopped');
  const initialized = dc.waitForEvent('initialized');
  const t0 = now();
  const launched = dc.launch({ kernel: KERNEL, cmdline: 'demo', memory: 128, stopOnEntry } as DebugProtocol.LaunchRequestArguments);
  await initialized;
  await configure(dc);
  await dc.configurationDoneRequest();
  await launched;
  await stopped;
  return { ms: now() - t0, dc };
}

async function timedStop(dc: DebugClient, request: () => Promise<unknown>): Promise<number> {
  const stopped = dc.waitForEvent('stopped');
  const t0 = now();
  await request();
  await stopped;
  return now() - t0;
}

async function main(): Promise<void> {
  if (!fs.existsSync(KERNEL)) throw new Error(`${KERNEL} does not exist; run make -C guest`);
  const entry: number[] = [];
  const kmain: number[] = [];
  for (let i = 0; i < LAUNCHES; i++) {
    const a = await launchToStop(async () => undefined, true);
    entry.push(a.ms);
    await stop(a.dc);
    const b = await launchToStop((dc) => dc.setFunctionBreakpointsRequest({ breakpoints: [{ name: 'kmain' }] }), false);
    kmain.push(b.ms);
    await stop(b.dc);
    process.stderr.write(`launch ${i + 1}/${LAUNCHES}: entry ${entry[i].toFixed(0)} ms, kmain ${kmain[i].toFixed(0)} ms\n`);
  }

  const { dc } = await launchToStop((c) => c.setBreakpointsRequest({ source: { path: CHAIN_C }, breakpoints: [{ line: markerLine(CHAIN_C, 'free-chain-unmap') }] }), false);
  const stackReady: number[] = [];
  const localsReady: number[] = [];
  try {
    for (let i = 0; i < HITS; i++) {
      if (i > 0) {
        const stopped = dc.waitForEvent('stopped');
        await dc.continueRequest({ threadId: 1 });
        await stopped;
      }
      const t0 = now();
      const st = await dc.stackTraceRequest({ threadId: 1 });
      stackReady.push(now() - t0);
      const scopes = await dc.scopesRequest({ frameId: st.body.stackFrames[0].id });
      await dc.variablesRequest({ variablesReference: scopes.body.scopes[0].variablesReference });
      localsReady.push(now() - t0);
    }
    await dc.setBreakpointsRequest({ source: { path: CHAIN_C }, breakpoints: [] });
    // Any line: from MmFreeChain on into the demo's loop (lines with calls include the guest's run time).
    const steps: number[] = [];
    for (let i = 0; i < STEPS; i++) {
      steps.push(await timedStop(dc, () => dc.nextRequest({ threadId: 1 })));
      // Keep the stack view current like VS Code does after every stop.
      await dc.stackTraceRequest({ threadId: 1, levels: 20 });
    }
    // Lines without calls: the loop of take_blocks (chain.c), so the time is the adapter's and the gdbstub's.
    const plain: number[] = [];
    while (plain.length < STEPS) {
      await dc.setFunctionBreakpointsRequest({ breakpoints: [{ name: 'take_blocks' }] });
      await timedStop(dc, () => dc.continueRequest({ threadId: 1 }));
      await dc.setFunctionBreakpointsRequest({ breakpoints: [] });
      for (let i = 0; i < 12 && plain.length < STEPS; i++) {
        const ms = await timedStop(dc, () => dc.nextRequest({ threadId: 1 }));
        const st = await dc.stackTraceRequest({ threadId: 1, levels: 20 });
        if (st.body.stackFrames[0].name !== 'take_blocks') break;
        plain.push(ms);
      }
    }
    const rows: [string, string, string][] = [
      ['Launch to first stop (stop on entry, first instruction)', `${median(entry).toFixed(0)} ms`, `${Math.min(...entry).toFixed(0)}–${Math.max(...entry).toFixed(0)} ms, ${LAUNCHES} launches`],
      ['Launch to first stop (breakpoint in kmain, after the firmware)', `${median(kmain).toFixed(0)} ms`, `${Math.min(...kmain).toFixed(0)}–${Math.max(...kmain).toFixed(0)} ms, ${LAUNCHES} launches`],
      ['Step over a line without calls (next request to stopped event)', `${median(plain).toFixed(1)} ms median`, `p90 ${percentile(plain, 90).toFixed(1)} ms, ${plain.length} steps in take_blocks`],
      ['Step over any line (calls included)', `${median(steps).toFixed(1)} ms median`, `p90 ${percentile(steps, 90).toFixed(1)} ms, ${STEPS} steps from MmFreeChain into the demo loop; includes the guest's run time in called functions (proc_sleep sleeps 10-50 ms)`],
      ['Breakpoint hit to stack trace ready', `${median(stackReady).toFixed(1)} ms median`, `p90 ${percentile(stackReady, 90).toFixed(1)} ms, ${HITS} hits in MmFreeChain`],
      ['Breakpoint hit to stack and locals ready', `${median(localsReady).toFixed(1)} ms median`, `p90 ${percentile(localsReady, 90).toFixed(1)} ms (stackTrace + scopes + Locals)`],
    ];
    const section = [
      START,
      '## Debug adapter (DAP)',
      '',
      `Measured by \`npm run bench:dap\` (bench/dap.ts) on ${new Date().toISOString().slice(0, 10)}, ${os.cpus().length} cores, QEMU TCG, through the adapter process`,
      'over stdio with @vscode/debugadapter-testsupport, the guest running `demo`. Targets: first stop within',
      '1.5 s of launch; step over under 50 ms at the median.',
      '',
      '| Measure | Result | Spread |',
      '| --- | --- | --- |',
      ...rows.map((r) => `| ${r.join(' | ')} |`),
      END,
    ].join('\n');
    process.stdout.write(section + '\n');
    const writeIndex = process.argv.indexOf('--write');
    const target = writeIndex > 0 ? process.argv[writeIndex + 1] : undefined;
    if (target) {
      const text = fs.existsSync(target) ? fs.readFileSync(target, 'utf8') : '# Benchmarks\n';
      const re = new RegExp(`${START}[\\s\\S]*?${END}`);
      const updated = re.test(text) ? text.replace(re, section) : `${text.trimEnd()}\n\n${section}\n`;
      fs.writeFileSync(target, updated);
      process.stdout.write(`wrote ${target}\n`);
    }
  } finally {
    await stop(dc);
  }
}

main().then(
  () => process.exit(0),
  (e) => {
    process.stderr.write(`bench:dap: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  },
);
