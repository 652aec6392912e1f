// A fuzz-like test of the session's run state: seeded random sequences of DAP requests (continue,
// pause, next, stepIn, stepOut, setBreakpoints, setFunctionBreakpoints, evaluate, stackTrace)
// against a real QEMU running a kernel (the foreign runctl kernel at -O2, our guest), checking
// after each request: every request is answered; the session is stopped exactly when a stopped
// event came after the last resume; at most one stopped event per resume; while stopped,
// stackTrace and evaluate work and nothing says "while the guest is running"; the session ends
// with no QEMU left. Bounded: a fixed number of requests per kernel.

import * as assert from 'assert';
import * as fs from 'fs';
import { DebugClient } from '@vscode/debugadapter-testsupport';
import { DebugSymbols } from '../src/symbols';
import { CodeMap } from '../src/session/code-map';
import { SeededRandom } from '../../qemu-bridge/test/seeded-random';
import { build } from './fixtures-c/compile';
import { endSessionLeavingNoQemu, KERNEL, launchAndStop, qemuMarker, startClient } from './dap-fixture';

type Op = 'continue' | 'pause' | 'next' | 'stepIn' | 'stepOut' | 'setBreakpoints' | 'setFunctionBreakpoints' | 'evaluate' | 'stackTrace';
const OPS: [Op, number][] = [
  ['continue', 3], ['pause', 3], ['next', 5], ['stepIn', 4], ['stepOut', 2], ['setBreakpoints', 2],
  ['setFunctionBreakpoints', 2], ['evaluate', 3], ['stackTrace', 3],
];
const REQUESTS = 300;
const RUNNING = /while the guest is running/;

interface KernelFacts {
  functions: { name: string; file: string; line: number }[];
  global: string;
}

/** Functions with a line at their breakpoint address, and one global variable to evaluate. */
function factsOf(kernel: string): KernelFacts {
  const symbols = new DebugSymbols(fs.readFileSync(kernel));
  const map = new CodeMap(symbols);
  const functions: KernelFacts['functions'] = [];
  for (const f of symbols.functions) {
    const line = map.gdbLineAt(map.afterPrologue(f));
    if (line && f.external) functions.push({ name: f.name, file: line.file, line: line.line });
  }
  const global = symbols.globals.find((g) => g.external && g.name.length > 2)?.name;
  assert.ok(global, 'the kernel has no global variable to evaluate');
  return { functions, global };
}

async function fuzz(kernel: string, firstBreak: string, seed: number): Promise<{ stops: number; resumes: number; rejected: number }> {
  const facts = factsOf(kernel);
  const random = new SeededRandom(seed);
  const pick = <T>(list: readonly T[]): T => list[random.below(list.length)];
  const weighted: Op[] = OPS.flatMap(([op, w]) => Array<Op>(w).fill(op));
  const marker = qemuMarker();
  let dc: DebugClient | undefined;
  let stops = 0;
  let resumes = 0;
  let rejected = 0;
  try {
    dc = await startClient();
    const client = dc;
    let stopsSinceResume = 0;
    let stopped = false;
    const stoppedListener = (): void => {
      stops++;
      stopsSinceResume++;
      stopped = true;
    };
    await launchAndStop(client, { kernel, marker, cmdline: kernel === KERNEL ? 'demo' : '' }, () =>
      client.setFunctionBreakpointsRequest({ breakpoints: [{ name: firstBreak }] }));
    stopped = true;
    client.on('stopped', stoppedListener);
    const waitStop = async (ms: number): Promise<void> => {
      const deadline = Date.now() + ms;
      while (!stopped && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    };
    const history: string[] = [];
    for (let i = 0; i < REQUESTS; i++) {
      const op = pick(weighted);
      history.push(op);
      const context = (): string => `request ${i} (${op}) after ${history.slice(-8, -1).join(', ')}`;
      const wasStopped = stopped;
      let error: string | undefined;
      try {
        switch (op) {
          case 'continue':
          case 'next':
          case 'stepIn':
          case 'stepOut': {
            // Mark running before the request: the stop may arrive before the response.
            const before = stopsSinceResume;
            stopped = false;
            stopsSinceResume = 0;
            try {
              if (op === 'continue') await client.continueRequest({ threadId: 1 });
              else if (op === 'next') await client.nextRequest({ threadId: 1 });
              else if (op === 'stepIn') await client.stepInRequest({ threadId: 1 });
              else await client.stepOutRequest({ threadId: 1 });
            } catch (e) {
              stopped = wasStopped;
              stopsSinceResume = before;
              throw e;
            }
            resumes++;
            await waitStop(op === 'continue' ? 300 + random.below(700) : 10000);
            if (op !== 'continue' && !stopped) {
              // A step out of a function that never returns runs on, as in gdb; pause must stop it.
              await client.pauseRequest({ threadId: 1 });
              await waitStop(10000);
              assert.ok(stopped, `${context()}: a step that ran on did not stop on pause`);
            }
            break;
          }
          case 'pause':
            await client.pauseRequest({ threadId: 1 });
            if (!wasStopped) {
              await waitStop(10000);
              assert.ok(stopped, `${context()}: pause did not stop the guest`);
            }
            break;
          case 'setBreakpoints': {
            const chosen = random.below(3) === 0 ? [] : [pick(facts.functions)];
            const file = chosen[0]?.file ?? pick(facts.functions).file;
            const r = await client.setBreakpointsRequest({ source: { path: file }, breakpoints: chosen.map((f) => ({ line: f.line })) });
            assert.strictEqual(r.body.breakpoints.length, chosen.length);
            break;
          }
          case 'setFunctionBreakpoints': {
            const names = random.below(3) === 0 ? [] : [pick(facts.functions).name];
            await client.setFunctionBreakpointsRequest({ breakpoints: names.map((name) => ({ name })) });
            break;
          }
          case 'evaluate':
          case 'stackTrace': {
            const st = await client.stackTraceRequest({ threadId: 1 });
            assert.ok(st.body.stackFrames.length > 0, `${context()}: an empty stack`);
            if (op === 'evaluate') {
              const r = await client.evaluateRequest({ expression: facts.global, frameId: st.body.stackFrames[0].id, context: 'watch' });
              assert.ok(!/cannot|not/i.test(r.body.result), `${context()}: ${facts.global} = ${r.body.result}`);
            }
            break;
          }
        }
      } catch (e) {
        error = (e as Error).message;
      }
      // Invariants after every request.
      if (error !== undefined) {
        assert.ok(!/timeout|no response/i.test(error), `${context()}: not answered: ${error}`);
        if (RUNNING.test(error)) {
          assert.ok(!wasStopped && !stopped, `${context()}: "${error}" although the session was stopped`);
          rejected++;
        } else if (!(op === 'evaluate' || op === 'stackTrace') || wasStopped) {
          assert.fail(`${context()}: ${error}`);
        } else {
          rejected++;
        }
      }
      assert.ok(stopsSinceResume <= 1, `${context()}: ${stopsSinceResume} stopped events for one resume`);
      if (stopped) {
        // Whatever happened, a stopped session answers the stack and evaluation.
        const st = await client.stackTraceRequest({ threadId: 1 });
        assert.ok(st.body.stackFrames.length > 0, `${context()}: no frames while stopped`);
        const threads = await client.threadsRequest();
        assert.ok(threads.body.threads.length > 0);
      }
    }
    client.removeListener('stopped', stoppedListener);
  } finally {
    await endSessionLeavingNoQemu(dc, marker);
  }
  return { stops, resumes, rejected };
}

describe('DAP fuzz: random request sequences keep the run state consistent (real QEMU)', function () {
  this.timeout(400000);

  it(`foreign runctl kernel -O2: ${REQUESTS} seeded requests`, async () => {
    const kernel = build('runctl_kernel.c', { flags: ['-O2', '-fno-omit-frame-pointer'], script: 'runctl_kernel.ld' });
    const r = await fuzz(kernel, 'accumulate', 0x5eed1);
    assert.ok(r.stops > 20 && r.resumes > 20, `only ${r.stops} stops and ${r.resumes} resumes`);
  });

  it(`our guest: ${REQUESTS} seeded requests`, async () => {
    assert.ok(fs.existsSync(KERNEL), `${KERNEL} is missing; build the guest with make -C guest`);
    const r = await fuzz(KERNEL, 'kmain', 0x5eed2);
    assert.ok(r.stops > 20 && r.resumes > 20, `only ${r.stops} stops and ${r.resumes} resumes`);
  });
});
