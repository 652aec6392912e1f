// machine-args: the QEMU arguments for the boot medium, drives, CPUs, display and the PC devices,
// and which defaults the user's own arguments replace. (That QEMU then does what the arguments
// say is boot-media.qemu.test.ts.)

import * as assert from 'assert';
import { escapeOptionValue, machineArgs, userChoices } from '../src';

const kernel = { kind: 'kernel', file: '/k/kernel.elf', cmdline: 'demo' } as const;

/** The values following each occurrence of `option`. */
function valuesOf(args: string[], option: string): string[] {
  return args.flatMap((a, i) => (a === option ? [args[i + 1]] : []));
}

describe('machine-args', () => {
  it('gives a PC its VGA adapter, a parallel port, single-threaded TCG and no window by default', () => {
    const args = machineArgs({ boot: kernel });
    assert.deepStrictEqual(args, ['-display', 'none', '-accel', 'tcg,thread=single', '-vga', 'std', '-parallel', 'null', '-kernel', '/k/kernel.elf', '-append', 'demo']);
  });

  it('leaves the accelerator to the user\'s -accel, -enable-kvm or -machine accel=', () => {
    for (const user of [['-accel', 'kvm'], ['--accel', 'tcg'], ['-accel=tcg,thread=multi'], ['-enable-kvm'], ['-machine', 'pc,accel=kvm'], ['-M', 'q35,accel=tcg'], ['-machine', 'accel=kvm:tcg']]) {
      const args = machineArgs({ boot: kernel, userArgs: user });
      assert.deepStrictEqual(valuesOf(args, '-accel'), [], `with ${user.join(' ')}: ${args.join(' ')}`);
    }
    // A machine option without accel= keeps the default.
    assert.deepStrictEqual(valuesOf(machineArgs({ boot: kernel, userArgs: ['-machine', 'pc,usb=off'] }), '-accel'), ['tcg,thread=single']);
  });

  it('opens QEMU\'s GTK window for display "window"', () => {
    assert.deepStrictEqual(valuesOf(machineArgs({ boot: kernel, display: 'window' }), '-display'), ['gtk']);
  });

  it('leaves the VGA adapter to the user\'s -vga, display -device or -nodefaults', () => {
    for (const user of [['-vga', 'none'], ['-vga', 'cirrus'], ['--vga', 'std'], ['-device', 'cirrus-vga'], ['-device', 'VGA,vgamem_mb=16'], ['-device=bochs-display'], ['-nodefaults']]) {
      const args = machineArgs({ boot: kernel, userArgs: user });
      assert.deepStrictEqual(valuesOf(args, '-vga'), [], `with ${user.join(' ')}: ${args.join(' ')}`);
    }
    // Devices that are not display adapters keep the default.
    assert.deepStrictEqual(valuesOf(machineArgs({ boot: kernel, userArgs: ['-device', 'isa-debugcon,iobase=0xe9', '-name', 'VGA'] }), '-vga'), ['std']);
  });

  it('leaves the parallel port to the user\'s -parallel or -nodefaults, and the display to -display/-nographic', () => {
    assert.deepStrictEqual(valuesOf(machineArgs({ boot: kernel, userArgs: ['-parallel', 'file:/tmp/lpt'] }), '-parallel'), []);
    assert.deepStrictEqual(valuesOf(machineArgs({ boot: kernel, userArgs: ['-nodefaults'] }), '-parallel'), []);
    assert.deepStrictEqual(valuesOf(machineArgs({ boot: kernel, userArgs: ['-display', 'curses'] }), '-display'), []);
    assert.deepStrictEqual(valuesOf(machineArgs({ boot: kernel, userArgs: ['-nographic'] }), '-display'), []);
    assert.deepStrictEqual(userChoices(['-smp', '2']), { noDefaults: false, displayAdapter: false, parallel: false, display: false, accelerator: false });
  });

  it('adds no PC devices when told not to', () => {
    const args = machineArgs({ boot: kernel, pcDevices: false });
    assert.deepStrictEqual(valuesOf(args, '-vga'), []);
    assert.deepStrictEqual(valuesOf(args, '-parallel'), []);
  });

  it('boots an ISO from the secondary IDE master as a read-only CD-ROM, a disk from the primary master', () => {
    const iso = machineArgs({ boot: { kind: 'iso', file: '/b/os.iso' } });
    assert.deepStrictEqual(valuesOf(iso, '-drive'), ['file=/b/os.iso,format=raw,if=ide,index=2,media=cdrom,readonly=on']);
    assert.deepStrictEqual(valuesOf(iso, '-boot'), ['order=d']);
    assert.deepStrictEqual(valuesOf(iso, '-kernel'), []);
    const disk = machineArgs({ boot: { kind: 'disk', file: '/b/disk.qcow2', format: 'qcow2' } });
    assert.deepStrictEqual(valuesOf(disk, '-drive'), ['file=/b/disk.qcow2,format=qcow2,if=ide,index=0,media=disk']);
    assert.deepStrictEqual(valuesOf(disk, '-boot'), ['order=c']);
  });

  it('maps extra drives to -drive, one argument each, commas in paths escaped', () => {
    const args = machineArgs({
      boot: kernel,
      drives: [
        { file: '/d/a,b.img' },
        { file: '/d/fd.img', interface: 'floppy' },
        { file: '/d/cd.iso', media: 'cdrom' },
        { file: '/d/ro.qcow2', format: 'qcow2', interface: 'virtio', readOnly: true },
      ],
    });
    assert.deepStrictEqual(valuesOf(args, '-drive'), [
      'file=/d/a,,b.img,format=raw,if=ide,media=disk',
      'file=/d/fd.img,format=raw,if=floppy,media=disk',
      'file=/d/cd.iso,format=raw,if=ide,media=cdrom,readonly=on',
      'file=/d/ro.qcow2,format=qcow2,if=virtio,media=disk,readonly=on',
    ]);
    assert.strictEqual(escapeOptionValue('a,b,,c'), 'a,,b,,,,c');
  });

  it('passes smp and cpu through', () => {
    const args = machineArgs({ boot: kernel, smp: 4, cpu: 'qemu32,+nx' });
    assert.deepStrictEqual(valuesOf(args, '-smp'), ['4']);
    assert.deepStrictEqual(valuesOf(args, '-cpu'), ['qemu32,+nx']);
    assert.deepStrictEqual(valuesOf(machineArgs({ boot: kernel }), '-smp'), []);
  });
});
