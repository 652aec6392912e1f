// How real kernels boot, against a real qemu-system-i386: the PC devices kernels expect (a VGA
// adapter: vgak, a tutorial-style kernel that keeps its console in the CRTC cursor, boots once
// with them and reboots in a loop without), the user's qemuArgs replacing those defaults, the
// VGA window 0xA0000-0xBFFFF read through the session (it differs from the RAM file) compared
// with QEMU's own `xp`, GRUB ISO and disk boots, extra drives, smp and cpu as QEMU reports them
// over QMP, and QEMU's startup failures (no window, unknown CPU model or feature) as one sentence.

import * as assert from 'assert';
import * as fs from 'fs';
import {
  BootFileNotFoundError, CpuFeatureError, CpuModelError, DisplayUnavailableError, launchQemu, LaunchOptions, parseXpBytes,
  QemuInstance, QemuSession, QmpClient, RamFileTier,
} from '../src';
import { blankImage, buildGrubIso, buildVgaKernel } from './fixtures/boot-media';

const live = new Set<QemuInstance>();
process.once('exit', () => {
  for (const q of live) q.kill('SIGKILL');
});

async function boot(options: LaunchOptions): Promise<{ qemu: QemuInstance; qmp: QmpClient }> {
  const qemu = await launchQemu({ memoryMiB: 64, ...options });
  live.add(qemu);
  void qemu.exited.then(() => live.delete(qemu));
  const qmp = await QmpClient.connect(qemu.qmp);
  await qmp.cont();
  return { qemu, qmp };
}

async function end(qemu: QemuInstance | undefined, qmp?: QmpClient): Promise<void> {
  qmp?.close();
  await qemu?.shutdown(1000);
}

const count = (text: string, what: string): number => text.split(what).length - 1;
const BANNER = 'vgak: banner\n';
const DONE = 'vgak: done\n';
/** How long a kernel is watched for a second banner: one reboot cycle under TCG is ~0.5 s. */
const WATCH_MS = 4000;

/** Boots vgak with reboots allowed and returns its serial console after WATCH_MS. */
async function watchVgak(options: Partial<LaunchOptions>): Promise<{ serial: string; alive: boolean }> {
  const { qemu, qmp } = await boot({ kernel: buildVgaKernel(), noReboot: false, ...options });
  try {
    await qemu.waitForSerial(BANNER, 30000);
    await new Promise((r) => setTimeout(r, WATCH_MS));
    return { serial: qemu.serialText, alive: qemu.alive };
  } finally {
    await end(qemu, qmp);
  }
}

async function hmp(qmp: QmpClient, command: string): Promise<string> {
  return qmp.humanMonitorCommand(command, 30000);
}

/** Physical memory as QEMU's `xp` shows it, in 4 KiB commands. */
async function xp(qmp: QmpClient, address: number, length: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  for (let at = address; at < address + length; at += 4096) {
    const n = Math.min(4096, address + length - at);
    const bytes = parseXpBytes(await hmp(qmp, `xp /${n}xb 0x${at.toString(16)}`));
    assert.ok(bytes && bytes.length === n, `xp at 0x${at.toString(16)} gave ${bytes?.length} bytes`);
    parts.push(bytes);
  }
  return Buffer.concat(parts);
}

describe('booting like a PC (real QEMU)', function () {
  this.timeout(180000);

  describe('the PC devices kernels expect', () => {
    it('boots a kernel that keeps its console in the VGA cursor once, without rebooting', async () => {
      const { serial, alive } = await watchVgak({});
      assert.strictEqual(count(serial, BANNER), 1, serial);
      assert.match(serial, /vgak: cursor 0x000000c4 ok\nvgak: done\n/);
      assert.strictEqual(alive, true);
    });

    it('shows the reboot loop when the user removes the VGA adapter with -vga none (qemuArgs win)', async () => {
      const { serial } = await watchVgak({ extraArgs: ['-vga', 'none'] });
      assert.ok(count(serial, BANNER) >= 2, `one boot only:\n${serial}`);
      assert.match(serial, /vgak: panic: the CRTC cursor does not read back 0x0000ffff/);
      assert.strictEqual(count(serial, DONE), 0);
    });

    it('leaves out its defaults when the user passes -nodefaults', async () => {
      const { serial } = await watchVgak({ extraArgs: ['-nodefaults'] });
      assert.ok(count(serial, BANNER) >= 2, `one boot only:\n${serial}`);
      assert.strictEqual(count(serial, DONE), 0);
    });

    it('uses the adapter the user chose (-vga cirrus) instead of the standard VGA, and has a parallel port', async () => {
      const { qemu, qmp } = await boot({ kernel: buildVgaKernel(), extraArgs: ['-vga', 'cirrus'] });
      try {
        await qemu.waitForSerial(DONE, 30000);
        const pci = await hmp(qmp, 'info pci');
        assert.match(pci, /VGA controller: PCI device 1013:00b8/, pci); // Cirrus CLGD 5446
        assert.doesNotMatch(pci, /1234:1111/, pci); // QEMU's standard VGA
        const tree = await hmp(qmp, 'info qtree');
        assert.match(tree, /dev: isa-parallel/);
      } finally {
        await end(qemu, qmp);
      }
      const std = await boot({ kernel: buildVgaKernel() });
      try {
        await std.qemu.waitForSerial(DONE, 30000);
        assert.match(await hmp(std.qmp, 'info pci'), /VGA controller: PCI device 1234:1111/);
      } finally {
        await end(std.qemu, std.qmp);
      }
    });
  });

  describe('the VGA window in guest memory', () => {
    it('reads 0x9F000-0xC1000 as QEMU\'s xp shows it, stopped and running, though the RAM file differs there', async () => {
      const { qemu, qmp } = await boot({ kernel: buildVgaKernel() });
      let session: QemuSession | undefined;
      try {
        await qemu.waitForSerial(DONE, 30000);
        qmp.close(); // QEMU's QMP server takes one client at a time: the session's
        session = await QemuSession.attachTo(qemu); // connecting the gdbstub stops the guest
        const monitor = session.qmp as QmpClient;
        const start = 0x9f000;
        const length = 0xc1000 - start;
        const ours = await session.memory.readPhys(start, length);
        const theirs = await xp(monitor, start, length);
        assert.ok(ours.equals(theirs), 'the session and xp differ in 0x9F000-0xC1000');
        // The line vgak wrote at row 2 is there, so the comparison covered the live text buffer.
        const row2 = ours.subarray(0xb8000 + 2 * 160 - start, 0xb8000 + 2 * 160 - start + 72); // 80 cells of 2 bytes a row
        const text = Buffer.from([...row2].filter((_, i) => i % 2 === 0)).toString('latin1');
        assert.strictEqual(text, 'vgak: hello from the VGA text buffer');
        // The RAM file does not hold what the guest sees there: reading it would be wrong.
        const file = new RamFileTier(qemu.ramPath as string);
        try {
          file.serveVgaWindow = true;
          assert.ok(!file.readSync(0xb8000, 4096).equals(theirs.subarray(0xb8000 - start, 0xb8000 - start + 4096)), 'the RAM file equals the VGA window');
          assert.ok(file.readSync(start, 0x1000).equals(theirs.subarray(0, 0x1000)), 'the RAM file differs below the window');
        } finally {
          file.close();
        }
        assert.ok(session.memory.served.gdbstub >= 0x20000, `gdbstub served ${session.memory.served.gdbstub} bytes`);
        // Running: the gdbstub cannot serve, QMP does.
        await session.rsp?.continue();
        const running = await session.memory.readPhys(0xb8000, 4000);
        assert.ok(running.equals(await xp(monitor, 0xb8000, 4000)), 'while running, the text buffer differs from xp');
        assert.ok(session.memory.served.qmp >= 4000);
      } finally {
        await session?.detach().catch(() => undefined);
        await end(qemu, qmp);
      }
    });
  });

  describe('boot media', () => {
    it('boots a GRUB ISO from the CD-ROM', async () => {
      const iso = buildGrubIso(buildVgaKernel());
      const t0 = Date.now();
      const { qemu, qmp } = await boot({ boot: { kind: 'iso', file: iso } });
      try {
        await qemu.waitForSerial(DONE, 60000);
        console.log(`      (ISO boot to the kernel's last line: ${Date.now() - t0} ms)`);
        assert.strictEqual(count(qemu.serialText, BANNER), 1);
        const block = JSON.stringify(await qmp.execute('query-block'));
        assert.ok(block.includes(JSON.stringify(iso).slice(1, -1)), block);
      } finally {
        await end(qemu, qmp);
      }
    });

    it('boots the same hybrid ISO as a raw hard disk, with IDE, CD-ROM, floppy and virtio drives attached', async () => {
      const disk = buildGrubIso(buildVgaKernel());
      const cdrom = buildGrubIso(buildVgaKernel(), 'from-cdrom');
      const extra = blankImage('extra.img', 1024);
      const floppy = blankImage('floppy.img', 1440);
      const virtio = blankImage('virtio.img', 256);
      const t0 = Date.now();
      const drives = [{ file: extra }, { file: cdrom, media: 'cdrom' as const }, { file: floppy, interface: 'floppy' as const }, { file: virtio, interface: 'virtio' as const, readOnly: true }];
      const { qemu, qmp } = await boot({ boot: { kind: 'disk', file: disk }, drives });
      try {
        await qemu.waitForSerial(DONE, 60000);
        console.log(`      (disk boot to the kernel's last line: ${Date.now() - t0} ms)`);
        const devices = (await qmp.execute('query-block')) as { device: string; removable: boolean; inserted?: { file: string; ro: boolean } }[];
        const byFile = (f: string): typeof devices => devices.filter((d) => d.inserted?.file === f);
        assert.deepStrictEqual(byFile(disk).map((d) => [d.device, d.removable, d.inserted?.ro]), [['ide0-hd0', false, false]]);
        assert.deepStrictEqual(byFile(extra).map((d) => [d.device, d.removable, d.inserted?.ro]), [['ide0-hd1', false, false]]);
        assert.deepStrictEqual(byFile(cdrom).map((d) => [d.device, d.removable, d.inserted?.ro]), [['ide1-cd0', true, true]]);
        assert.deepStrictEqual(byFile(floppy).map((d) => [d.device, d.removable, d.inserted?.ro]), [['floppy0', true, false]]);
        assert.deepStrictEqual(byFile(virtio).map((d) => [d.device, d.removable, d.inserted?.ro]), [['virtio0', false, true]]);
      } finally {
        await end(qemu, qmp);
      }
    });

    it('starts the CPUs and the CPU model asked for', async () => {
      const { qemu, qmp } = await boot({ kernel: buildVgaKernel(), smp: 2, cpu: 'pentium3' });
      try {
        const cpus = (await qmp.execute('query-cpus-fast')) as { 'cpu-index': number; 'qom-path': string }[];
        const types = await Promise.all(cpus.map((c) => qmp.execute('qom-get', { path: c['qom-path'], property: 'type' })));
        assert.deepStrictEqual(cpus.map((c, i) => [c['cpu-index'], types[i]]), [[0, 'pentium3-i386-cpu'], [1, 'pentium3-i386-cpu']]);
        await qemu.waitForSerial(DONE, 30000);
      } finally {
        await end(qemu, qmp);
      }
    });

    // QEMU names its vCPU threads with debug-threads=on: one "CPU n/TCG" per vCPU with
    // multi-threaded TCG, a single "ALL CPUs/TCG" with thread=single.
    const vcpuThreads = (qemu: QemuInstance): string[] => fs.readdirSync(`/proc/${qemu.pid}/task`)
      .map((t) => fs.readFileSync(`/proc/${qemu.pid}/task/${t}/comm`, 'utf8').trim())
      .filter((name) => name.endsWith('/TCG'))
      .sort();

    it('runs every vCPU on one TCG thread unless the user names an accelerator', async () => {
      const single = await boot({ kernel: buildVgaKernel(), smp: 2, extraArgs: ['-name', 'accel-default,debug-threads=on'] });
      try {
        assert.deepStrictEqual(vcpuThreads(single.qemu), ['ALL CPUs/TCG']);
      } finally {
        await end(single.qemu, single.qmp);
      }
      const multi = await boot({ kernel: buildVgaKernel(), smp: 2, extraArgs: ['-name', 'accel-user,debug-threads=on', '-accel', 'tcg,thread=multi'] });
      try {
        assert.deepStrictEqual(vcpuThreads(multi.qemu), ['CPU 0/TCG', 'CPU 1/TCG']);
      } finally {
        await end(multi.qemu, multi.qmp);
      }
    });
  });

  describe('startup failures in one sentence', () => {
    const fails = async (options: LaunchOptions): Promise<Error> => {
      const e = await launchQemu({ memoryMiB: 64, ...options }).then(
        async (q) => {
          await q.shutdown(500);
          return undefined;
        },
        (err: Error) => err,
      );
      assert.ok(e, 'the launch succeeded');
      return e;
    };

    it('names the unknown CPU model and where the models are listed', async () => {
      const e = await fails({ kernel: buildVgaKernel(), cpu: 'pentium9' });
      assert.ok(e instanceof CpuModelError, e.message);
      assert.strictEqual(e.message, 'QEMU (qemu-system-i386) does not know the CPU model "pentium9"; choose one that "qemu-system-i386 -cpu help" lists, for example qemu32, pentium3 or max.');
    });

    it('names an unknown CPU feature', async () => {
      const e = await fails({ kernel: buildVgaKernel(), cpu: 'qemu32,+warpdrive' });
      assert.ok(e instanceof CpuFeatureError, e.message);
      assert.match(e.message, /^QEMU's CPU model "qemu32" has no feature "warpdrive"; /);
    });

    it('says why QEMU\'s window cannot open when there is no desktop (DISPLAY unset)', async () => {
      const saved = { DISPLAY: process.env.DISPLAY, WAYLAND_DISPLAY: process.env.WAYLAND_DISPLAY };
      delete process.env.DISPLAY;
      delete process.env.WAYLAND_DISPLAY;
      try {
        const e = await fails({ kernel: buildVgaKernel(), display: 'window' });
        assert.ok(e instanceof DisplayUnavailableError, e.message);
        assert.strictEqual(e.message, 'QEMU could not open its window ("display": "window") because no graphical display is reachable (DISPLAY and WAYLAND_DISPLAY are not set); start it where a graphical desktop is available, or set "display" to "none".');
      } finally {
        for (const [k, v] of Object.entries(saved)) if (v !== undefined) process.env[k] = v;
      }
    });

    it('says a missing ISO or drive image does not exist, before starting QEMU', async () => {
      const iso = await fails({ boot: { kind: 'iso', file: '/nonexistent/os.iso' } });
      assert.ok(iso instanceof BootFileNotFoundError);
      assert.strictEqual(iso.message, 'The ISO image /nonexistent/os.iso does not exist; build it first or correct the path.');
      const drive = await fails({ kernel: buildVgaKernel(), drives: [{ file: '/nonexistent/d.img' }] });
      assert.strictEqual(drive.message, 'The drive image /nonexistent/d.img does not exist; build it first or correct the path.');
      assert.ok(!fs.existsSync('/nonexistent'));
    });
  });
});
