#!/usr/bin/env node
// Boots the guest kernel with its demo workload in QEMU and streams the serial console
// to stdout until Ctrl-C or SIGTERM, then kills QEMU. `npm run demo` builds first.
// Environment: MMSCOPE_KERNEL (kernel image), MMSCOPE_QEMU (QEMU binary).
'use strict';

const { spawn } = require('child_process');
const fs = require('fs');
const path = require('path');

const root = path.resolve(__dirname, '..');
const kernel = process.env.MMSCOPE_KERNEL || path.join(root, 'guest', 'build', 'kernel.elf');
const qemu = process.env.MMSCOPE_QEMU || 'qemu-system-i386';
const memoryMiB = 128;

if (!fs.existsSync(kernel)) {
  console.error(`demo: the guest kernel ${kernel} does not exist; build it with "npm run build" (or run "npm run demo").`);
  process.exit(1);
}

const args = [
  '-kernel', kernel,
  '-append', 'demo',
  '-m', String(memoryMiB),
  '-nodefaults',
  '-display', 'none',
  '-serial', 'stdio',
  '-device', 'isa-debug-exit,iobase=0xf4,iosize=0x04',
  '-no-reboot',
];

console.error(`demo: booting ${path.relative(process.cwd(), kernel) || kernel} in ${qemu} (-m ${memoryMiB}); Ctrl-C stops it.`);

// stdin is a pipe, not the terminal: -serial stdio would put the terminal in raw mode.
const child = spawn(qemu, args, { stdio: ['pipe', 'pipe', 'pipe'] });
let stopping = false;
// Ctrl-C in a terminal reaches QEMU too; it then exits by itself and says so on stderr.
let qemuGotSignal = false;

child.stdout.on('data', (chunk) => process.stdout.write(chunk.toString('latin1').replace(/\r\n/g, '\n')));
child.stderr.on('data', (chunk) => {
  if (/terminating on signal/.test(chunk.toString())) {
    qemuGotSignal = true;
    return;
  }
  process.stderr.write(chunk);
});
child.stdin.on('error', () => {});

child.on('error', (err) => {
  if (err.code === 'ENOENT') {
    console.error(`demo: ${qemu} was not found; install it with "sudo apt-get install -y --no-install-recommends qemu-system-x86" (or run "bash scripts/setup.sh").`);
  } else {
    console.error(`demo: could not start ${qemu}: ${err.message}`);
  }
  process.exit(1);
});

child.on('close', (code, signal) => {
  if (stopping || qemuGotSignal) {
    console.error('demo: QEMU stopped.');
    process.exit(0);
  }
  const how = signal ? `was killed by ${signal}` : `exited with status ${code}`;
  console.error(`demo: QEMU ${how} before it was asked to stop; the demo should run until Ctrl-C.`);
  process.exit(1);
});

function stop() {
  if (stopping) return;
  stopping = true;
  child.kill('SIGKILL');
}

for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, stop);
// Last resort if this process ends some other way: never leave QEMU behind.
process.on('exit', () => {
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});
