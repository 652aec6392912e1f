// The oracle side: QEMU started by qemu-bridge's launcher with the corpus arguments (the same
// launcher and arguments the adapter uses), and `gdb -batch -x gdb-oracle.py` running the plan.

import { execFile } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { launchQemu, QemuInstance } from '../../../qemu-bridge/src';
import { CORPUS_DIR, CORPUS_MEMORY_MIB, CORPUS_QEMU_ARGS, CorpusMachine } from './build';
import { Plan } from './plan';
import { fromGdb, GdbRecord, StopView } from './records';

export const GDB_SCRIPT = path.join(CORPUS_DIR, 'gdb-oracle.py');

export interface GdbRun {
  views: StopView[];
  /** gdb's own output (for a failed run). */
  log: string;
  ms: number;
}

/** Runs `plan` in gdb against a fresh QEMU on `kernel`; bounded by `timeoutMs`. */
export async function runGdbSide(kernel: string, plan: Plan, machine: CorpusMachine = {}, timeoutMs = 300_000): Promise<GdbRun> {
  const started = Date.now();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mmscope-corpus-gdb-'));
  const planFile = path.join(dir, 'plan.json');
  const outFile = path.join(dir, 'stops.jsonl');
  fs.writeFileSync(planFile, JSON.stringify(plan));
  let qemu: QemuInstance | undefined;
  try {
    qemu = await launchQemu({
      kernel, cmdline: '', memoryMiB: CORPUS_MEMORY_MIB, extraArgs: CORPUS_QEMU_ARGS,
      ...(machine.cpu ? { cpu: machine.cpu } : {}), ...(machine.qemuBinary ? { qemuBinary: machine.qemuBinary } : {}),
    });
    const port = qemu.gdb.port;
    const log = await new Promise<string>((resolve) => {
      execFile('gdb', ['-batch', '-nx', '-x', GDB_SCRIPT, kernel], {
        encoding: 'utf8', timeout: timeoutMs, maxBuffer: 64 << 20,
        // LC_ALL=C: gdb prints bytes >= 0x80 of char arrays as octal escapes (as the adapter
        // does), not decoded in the host's UTF-8 locale.
        env: {
          ...process.env, LC_ALL: 'C', LANG: 'C', CORPUS_PLAN: planFile, CORPUS_OUT: outFile, CORPUS_PORT: String(port),
          ...(machine.gdbArchitecture ? { CORPUS_ARCH: machine.gdbArchitecture } : {}),
        },
      }, (error, stdout, stderr) => resolve(`${stdout}${stderr}${error ? `\n[gdb: ${error.message}]` : ''}`));
    });
    const text = fs.existsSync(outFile) ? fs.readFileSync(outFile, 'utf8') : '';
    const views = text.split('\n').filter((l) => l.trim()).map((l) => fromGdb(JSON.parse(l) as GdbRecord));
    if (views.length === 0) throw new Error(`gdb produced no stops; its output:\n${log.slice(-4000)}`);
    return { views, log, ms: Date.now() - started };
  } finally {
    await qemu?.shutdown(1000);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
