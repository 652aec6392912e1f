// The reaper: a tiny detached Node process that guarantees no QEMU outlives its owner. The owner
// starts it with a pipe on its stdin and tells it `ram PATH`, `file PATH` (more files to delete:
// a swap disk) and `qemu PID` lines. When the pipe
// closes without a `release` line (the owner exited or was killed, even with SIGKILL, since the
// kernel closes the pipe), it kills that QEMU and deletes the RAM file. Run as a script only.

import * as fs from 'fs';

/** A process id is alive (signal 0 succeeds). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The pid still runs the QEMU we were told about (guards against pid reuse). */
function isOurQemu(pid: number, marker: string | undefined): boolean {
  try {
    const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'latin1');
    return cmdline.includes('qemu') && (marker === undefined || cmdline.includes(marker));
  } catch {
    return false;
  }
}

function main(): void {
  let qemuPid: number | undefined;
  let ramPath: string | undefined;
  let marker: string | undefined;
  const files: string[] = [];
  let released = false;
  let buffer = '';
  process.stdin.setEncoding('latin1');
  process.stdin.on('data', (chunk: string) => {
    buffer += chunk;
    let nl: number;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, nl).trim();
      buffer = buffer.slice(nl + 1);
      const space = line.indexOf(' ');
      const word = space < 0 ? line : line.slice(0, space);
      const arg = space < 0 ? '' : line.slice(space + 1);
      if (word === 'qemu') qemuPid = Number(arg);
      else if (word === 'ram') ramPath = arg;
      else if (word === 'marker') marker = arg;
      else if (word === 'file') files.push(arg);
      else if (word === 'release') released = true;
    }
  });
  let finishing = false;
  const finish = (): void => {
    if (finishing) return;
    finishing = true;
    if (released) process.exit(0);
    const pid = qemuPid;
    if (pid !== undefined && Number.isInteger(pid) && pid > 0 && isOurQemu(pid, marker)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
    const started = Date.now();
    const tick = (): void => {
      if (pid !== undefined && alive(pid) && isOurQemu(pid, marker) && Date.now() - started < 5000) {
        setTimeout(tick, 20);
        return;
      }
      if (ramPath) fs.rmSync(ramPath, { force: true });
      for (const f of files) fs.rmSync(f, { force: true });
      process.exit(0);
    };
    tick();
  };
  process.stdin.on('end', finish);
  process.stdin.on('error', finish);
  process.stdin.on('close', finish);
}

if (require.main === module) main();
