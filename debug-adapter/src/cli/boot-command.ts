// `mmscope boot`: launch QEMU paused with the guest, print its endpoints as one JSON line, resume
// the guest, stream its console to stderr, and shut QEMU down on SIGINT/SIGTERM.

import * as path from 'path';
import { launchQemu, QmpClient } from '../../../qemu-bridge/src';
import { Command, parseNumberOption } from './command-line';
import { guestSwapDiskMiB } from '../session/guest-kernel';

/** The guest kernel built by `make -C guest`, relative to the package root. */
export function defaultKernelPath(): string {
  return process.env.MMSCOPE_KERNEL ?? path.resolve(__dirname, '..', '..', '..', '..', 'guest', 'build', 'kernel.elf');
}

export const bootCommand: Command = {
  name: 'boot',
  summary: 'Start QEMU with the guest, print {"gdb","qmp","ram","pid"} as JSON, run until SIGINT/SIGTERM.',
  options: {
    kernel: { type: 'string', placeholder: 'PATH', description: 'kernel image (default guest/build/kernel.elf)' },
    memory: { type: 'string', placeholder: 'MIB', description: 'guest RAM in MiB (default 128)' },
    cmdline: { type: 'string', placeholder: 'TEXT', description: 'kernel command line (default "demo")' },
    paused: { type: 'boolean', description: 'leave the guest paused instead of resuming it' },
  },
  async run(options, io) {
    const memoryMiB = options.memory === undefined ? 128 : parseNumberOption('memory', options.memory);
    const kernel = typeof options.kernel === 'string' ? options.kernel : defaultKernelPath();
    const cmdline = typeof options.cmdline === 'string' ? options.cmdline : 'demo';
    const qemu = await launchQemu({ kernel, memoryMiB, cmdline, swapDiskMiB: guestSwapDiskMiB(kernel) });
    let stopping = false;
    const stop = (): void => {
      if (stopping) return;
      stopping = true;
      void qemu.shutdown();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    qemu.serial.on('data', (chunk: Buffer) => io.stderr.write(chunk));
    try {
      io.stdout.write(
        JSON.stringify({ gdb: `127.0.0.1:${qemu.gdb.port}`, qmp: `127.0.0.1:${qemu.qmp.port}`, ram: qemu.ramPath ?? null, pid: qemu.pid }) + '\n',
      );
      if (!options.paused) {
        const qmp = await QmpClient.connect(qemu.qmp);
        try {
          await qmp.cont();
        } finally {
          qmp.close();
        }
      }
    } catch (e) {
      await qemu.shutdown();
      throw e;
    }
    const exit = await qemu.exited;
    process.removeListener('SIGINT', stop);
    process.removeListener('SIGTERM', stop);
    if (stopping) return 0;
    io.stderr.write(`mmscope: QEMU exited by itself (status ${exit.code ?? exit.signal}).\n`);
    return exit.code === 33 || exit.code === 0 ? 0 : 1;
  },
};
