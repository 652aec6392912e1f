// The launch attributes: validation into what QEMU is given (kernel for symbols vs boot for what
// QEMU starts, drives, smp, cpu, display), one sentence for each kind of bad input, the physical
// entry a loader jumps to, and the package.json schema naming exactly the attributes validated.

import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { physicalEntry } from '../src/session/boot-entry';
import { validateLaunch } from '../src/session/launch-arguments';
import { ElfFile } from '../src/symbols';
import { build } from './fixtures-c/compile';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mmscope-launch-args-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));
const file = (name: string): string => {
  const f = path.join(dir, name);
  fs.writeFileSync(f, 'x');
  return f;
};

function rejects(args: Record<string, unknown>, message: string): void {
  assert.throws(() => validateLaunch({ cwd: dir, ...args }), (e: Error) => {
    assert.strictEqual(e.message, `The debug configuration is not valid: ${message}; fix it in launch.json.`);
    return true;
  });
}

describe('launch arguments', () => {
  const kernel = file('kernel.elf');
  const iso = file('os.iso');
  const disk = file('disk.img');

  it('boots "kernel" with -kernel when there is no "boot", with its cmdline', () => {
    const v = validateLaunch({ kernel: 'kernel.elf', cwd: dir, cmdline: 'demo' });
    assert.deepStrictEqual(v.boot, { kind: 'kernel', file: kernel, cmdline: 'demo' });
    assert.strictEqual(v.kernel, kernel);
    assert.deepStrictEqual([v.drives, v.display, v.smp, v.cpu], [[], 'none', undefined, undefined]);
  });

  it('keeps "kernel" for symbols while "boot" names the ISO, the disk or another -kernel file', () => {
    assert.deepStrictEqual(validateLaunch({ kernel, boot: { iso: 'os.iso' }, cwd: dir }).boot, { kind: 'iso', file: iso });
    assert.deepStrictEqual(validateLaunch({ kernel, boot: { disk, format: 'qcow2' } }).boot, { kind: 'disk', file: disk, format: 'qcow2' });
    assert.deepStrictEqual(validateLaunch({ kernel, boot: { disk } }).boot, { kind: 'disk', file: disk, format: 'raw' });
    const other = validateLaunch({ kernel, boot: { kernel: disk }, cmdline: 'x' });
    assert.deepStrictEqual([other.kernel, other.boot], [kernel, { kind: 'kernel', file: disk, cmdline: 'x' }]);
  });

  it('takes drives, smp, cpu and display', () => {
    const v = validateLaunch({ kernel, drives: [{ file: disk }, { file: iso, media: 'cdrom', interface: 'ide' }, { file: disk, format: 'qcow2', interface: 'virtio', readOnly: true }], smp: 4, cpu: 'qemu32,+nx', display: 'window' });
    assert.deepStrictEqual(v.drives, [
      { file: disk, format: 'raw', interface: 'ide', media: 'disk' },
      { file: iso, format: 'raw', interface: 'ide', media: 'cdrom' },
      { file: disk, format: 'qcow2', interface: 'virtio', media: 'disk', readOnly: true },
    ]);
    assert.deepStrictEqual([v.smp, v.cpu, v.display], [4, 'qemu32,+nx', 'window']);
  });

  it('says in one sentence what is wrong with a boot setting', () => {
    rejects({ kernel, boot: { iso, disk } }, '"boot" names both "iso" and "disk"; give only one image to boot');
    rejects({ kernel, boot: {} }, '"boot" names no image; give one of "iso", "disk" or "kernel"');
    rejects({ kernel, boot: 'os.iso' }, '"boot" must be an object such as {"iso": "build/os.iso"}, {"disk": "build/disk.img"} or {"kernel": "build/boot.elf"}');
    rejects({ kernel, boot: { cdrom: iso } }, '"boot" has "cdrom", which it does not know (it takes "iso", "disk" with an optional "format", or "kernel")');
    rejects({ kernel, boot: { iso: 'missing.iso' } }, `"boot.iso" names ${path.join(dir, 'missing.iso')}, which does not exist (build it first or correct the path)`);
    rejects({ kernel, boot: { iso, format: 'raw' } }, '"boot.format" applies only to "boot.disk"');
    rejects({ kernel, boot: { disk, format: 'ext4' } }, '"boot.format" is "ext4", not one of "raw", "qcow2", "qcow", "vmdk", "vdi", "vpc", "vhdx", "qed", "dmg", "parallels", "bochs", "cloop"');
    rejects({ kernel, boot: { disk }, cmdline: 'x' }, '"cmdline" applies only when QEMU loads the kernel itself; with "boot.disk" the bootloader passes the command line (put it in your grub.cfg)');
  });

  it('says in one sentence what is wrong with drives, smp, cpu or display', () => {
    rejects({ kernel, drives: {} }, '"drives" must be an array such as [{"file": "build/data.img"}]');
    rejects({ kernel, drives: [{}] }, '"drives[0].file" must name a drive image');
    rejects({ kernel, drives: [{ file: disk }, { file: 'gone.img' }] }, `"drives[1].file" names ${path.join(dir, 'gone.img')}, which does not exist (build it first or correct the path)`);
    rejects({ kernel, drives: [{ file: disk, bus: 1 }] }, '"drives[0]" has "bus", which it does not know (it takes "file", "format", "interface", "media", "readOnly")');
    rejects({ kernel, drives: [{ file: disk, media: 'tape' }] }, '"drives[0].media" is "tape", not one of "disk", "cdrom"');
    rejects({ kernel, drives: [{ file: iso, media: 'cdrom', interface: 'floppy' }] }, '"drives[0]" puts a CD-ROM on the floppy interface; use "interface": "ide" for a CD-ROM');
    for (const smp of [0, 256, 1.5, '2']) rejects({ kernel, smp }, `"smp" is ${JSON.stringify(smp)}, but it must be a whole number of CPUs from 1 to 255`);
    rejects({ kernel, cpu: 'qemu32 -enable-kvm' }, '"cpu" is "qemu32 -enable-kvm", which is not a QEMU CPU model (a name such as "max" or "qemu32", optionally followed by features: "qemu32,+nx")');
    rejects({ kernel, display: 'sdl' }, '"display" is "sdl", not one of "none", "window"');
  });

  it('finds the physical entry for QEMU\'s -kernel (physical entry) and for GRUB (virtual entry in a segment)', () => {
    // fixtures-c/higher_half.ld links at 0xC0100000, loaded at 1 MiB; the entry is `_start`.
    const elf = new ElfFile(new Uint8Array(fs.readFileSync(build('lines.c', { script: 'higher_half.ld' }))));
    const virtualEntry = elf.header.entry >>> 0;
    assert.ok(virtualEntry >= 0xc0000000, `entry 0x${virtualEntry.toString(16)}`);
    assert.strictEqual(physicalEntry(elf), virtualEntry - 0xc0000000);
    const identity = new ElfFile(new Uint8Array(fs.readFileSync(build('lines.c'))));
    assert.strictEqual(physicalEntry(identity), identity.header.entry >>> 0);
  });

  it('matches the launch schema in package.json, attribute for attribute', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', '..', 'package.json'), 'utf8')) as {
      contributes: { debuggers: { type: string; configurationAttributes: { launch: { properties: Record<string, { properties?: Record<string, unknown>; items?: { properties: Record<string, unknown> } }> } } }[] };
    };
    const launch = pkg.contributes.debuggers.find((d) => d.type === 'mmscope')?.configurationAttributes.launch.properties;
    assert.ok(launch);
    assert.deepStrictEqual(Object.keys(launch).sort(), ['boot', 'cmdline', 'cpu', 'display', 'drives', 'kernel', 'memory', 'memoryModel', 'qemuArgs', 'qemuPath', 'smp', 'stopOnEntry', 'traceAddressSpaces']);
    assert.deepStrictEqual(Object.keys(launch.boot.properties ?? {}).sort(), ['disk', 'format', 'iso', 'kernel']);
    assert.deepStrictEqual(Object.keys(launch.drives.items?.properties ?? {}).sort(), ['file', 'format', 'interface', 'media', 'readOnly']);
    // Every schema attribute is accepted.
    validateLaunch({ kernel, boot: { disk, format: 'raw' }, drives: [{ file: disk, format: 'raw', interface: 'ide', media: 'disk', readOnly: false }], smp: 2, cpu: 'max', display: 'none', memory: 64, qemuPath: 'qemu-system-i386', qemuArgs: [], stopOnEntry: true, memoryModel: 'kernel.memory-model.json', traceAddressSpaces: true });
    assert.throws(() => validateLaunch({ kernel, traceAddressSpaces: 'yes' }), /"traceAddressSpaces" must be true or false/);
  });
});
