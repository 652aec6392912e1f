// Run control against gdb on a kernel we did not write for the adapter (fixtures-c/runctl_kernel.c:
// two kernel threads with their own stacks and page directories running the same code,
// recursion, a loop on one line, a tail call) at -O0, -O2 and -Os: seeded sequences of next,
// step, finish and stepi from a function breakpoint must stop where gdb 13 stops (function, line
// and pc), stop after stop, on the same kernel in the same QEMU.

import * as assert from 'assert';
import { DebugClient } from '@vscode/debugadapter-testsupport';
import { build } from './fixtures-c/compile';
import { endSessionLeavingNoQemu, qemuMarker, startClient } from './dap-fixture';
import { differences, runInAdapter, runInGdb } from './step-compare';

const KERNEL_FLAGS: Record<string, string[]> = {
  O0: ['-O0'],
  O2: ['-O2', '-fno-omit-frame-pointer'],
  Os: ['-Os', '-fomit-frame-pointer'],
};

/** Functions that never return: no `finish` from them or from what they call directly. */
const NO_FINISH = ['kmain', '_start', 'thread_b', 'halt_forever'];
const STEPS = 60;

describe('DAP: stepping agrees with gdb on a foreign kernel (real QEMU, gdb as oracle)', function () {
  this.timeout(400000);
  for (const [level, flags] of Object.entries(KERNEL_FLAGS)) {
    for (const [fn, seed] of [['accumulate', 11], ['shared_work', 23], ['fib', 37]] as const) {
      it(`${level}: ${STEPS} seeded steps from break ${fn} stop where gdb stops`, async () => {
        const kernel = build('runctl_kernel.c', { flags: [...flags, '-Wall', '-Wextra', '-Werror'], script: 'runctl_kernel.ld' });
        const marker = qemuMarker();
        let dc: DebugClient | undefined;
        let ours;
        try {
          dc = await startClient();
          ours = await runInAdapter(dc, { kernel, fn, marker, seed, count: STEPS, noFinish: NO_FINISH });
        } finally {
          await endSessionLeavingNoQemu(dc, marker);
        }
        assert.deepStrictEqual(ours.errors, []);
        const gdb = await runInGdb(kernel, fn, ours.commands);
        const diff = differences(ours.commands, ours.places, gdb);
        const mismatches = diff.filter((d) => !d.includes('(same in both)'));
        assert.ok(mismatches.length === 0, `${mismatches.length} of ${ours.places.length} stops differ from gdb:\n${diff.join('\n')}`);
      });
    }
  }
});
