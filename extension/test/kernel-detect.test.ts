// Finding the user's kernel (extension/src/kernels/): recognition of real ELFs built here by
// gcc/ld (multiboot v1, multiboot2, no header, a bad checksum, ELF64 x86-64, an object file) and of
// hand-made bad files (truncated, not ELF), the bounded workspace search, and the launch.json
// entries and build choices (no preLaunchTask that tasks.json does not define). No VS Code.

import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { findMultiboot1, isKernel, KERNEL_HEAD_BYTES, recogniseKernel } from '../src/kernels/kernel-image';
import { findKernels } from '../src/kernels/kernel-search';
import { buildChoices, candidateRow, guestEntry, launchEntryFor, MAKE_TASK, offeredEntries } from '../src/kernels/launch-entry';
import { buildScreenKernel } from '../../debug-adapter/test/fixtures-screen/build';
import { buildX64Kernel } from '../../debug-adapter/test/fixtures-x64/build';
import { spawn } from 'child_process';

const head = (file: string): Uint8Array => new Uint8Array(fs.readFileSync(file)).subarray(0, KERNEL_HEAD_BYTES);

describe('kernel recognition (ELF + multiboot headers)', function () {
  this.timeout(120000);

  it('takes an ELF32 i386 multiboot v1 kernel as bootable with -kernel, where readelf and the header bytes say so', () => {
    const file = buildScreenKernel('multiboot1');
    const r = recogniseKernel(head(file));
    assert.ok(isKernel(r), JSON.stringify(r));
    assert.strictEqual(r.arch, 'i386');
    assert.strictEqual(r.bits, 32);
    assert.strictEqual(r.bootableWithKernelOption, true);
    // The header sits where the linker put .multiboot: at the file offset of the first PT_LOAD.
    const bytes = fs.readFileSync(file);
    const phoff = bytes.readUInt32LE(28);
    assert.strictEqual(r.multiboot1, bytes.readUInt32LE(phoff + 4));
    assert.strictEqual(r.multiboot2, undefined);
  });

  it('lists multiboot2-only ELF32 and ELF64 x86-64 kernels as not bootable with -kernel, saying why', () => {
    const mb2 = recogniseKernel(head(buildScreenKernel('multiboot2')));
    assert.ok(isKernel(mb2));
    assert.strictEqual(mb2.bootableWithKernelOption, false);
    assert.strictEqual(mb2.multiboot1, undefined);
    assert.ok(mb2.multiboot2 !== undefined);
    assert.match(mb2.summary, /multiboot2 only.*-kernel cannot boot/);
    const x64 = recogniseKernel(head(buildScreenKernel('elf64')));
    assert.ok(isKernel(x64));
    assert.strictEqual(x64.arch, 'x86-64');
    assert.strictEqual(x64.bits, 64);
    assert.strictEqual(x64.bootableWithKernelOption, false);
    assert.strictEqual(x64.qemu, 'qemu-system-x86_64');
    assert.match(x64.summary, /ELF64 x86-64.*only through the multiboot a\.out kludge/);
  });

  it('takes an ELF64 x86-64 kernel whose multiboot header uses the a.out kludge as bootable on qemu-system-x86_64', async () => {
    const file = buildX64Kernel();
    const r = recogniseKernel(head(file));
    assert.ok(isKernel(r), JSON.stringify(r));
    assert.strictEqual(r.arch, 'x86-64');
    assert.strictEqual(r.bits, 64);
    assert.strictEqual(r.bootableWithKernelOption, true);
    assert.strictEqual(r.qemu, 'qemu-system-x86_64');
    assert.match(r.summary, /a\.out kludge.*qemu-system-x86_64 boots it/);
    // The oracle: qemu-system-x86_64 -kernel really boots it (its serial line says so).
    const out = await new Promise<string>((resolve) => {
      const child = spawn('qemu-system-x86_64', ['-kernel', file, '-display', 'none', '-nodefaults', '-serial', 'stdio', '-m', '32', '-no-reboot'], { stdio: ['ignore', 'pipe', 'pipe'] });
      let text = '';
      const timer = setTimeout(() => child.kill('SIGKILL'), 20000);
      child.stdout.on('data', (d: Buffer) => {
        text += d.toString('latin1');
        if (text.includes('x64 kernel up')) child.kill('SIGKILL');
      });
      child.on('exit', () => {
        clearTimeout(timer);
        resolve(text);
      });
    });
    assert.match(out, /x64 kernel up/);
    const i386 = recogniseKernel(head(buildScreenKernel('multiboot1')));
    assert.ok(isKernel(i386));
    assert.strictEqual(i386.qemu, 'qemu-system-i386');
  });

  it('rejects an ELF without a multiboot header, one with a bad checksum, an object file, truncated and non-ELF files', () => {
    const none = recogniseKernel(head(buildScreenKernel('no-header')));
    assert.ok(!isKernel(none));
    assert.match(none.reason, /without a multiboot header/);
    const bad = buildScreenKernel('bad-checksum');
    const badR = recogniseKernel(head(bad));
    assert.ok(!isKernel(badR), 'a header whose checksum does not add up is no header');
    assert.ok(fs.readFileSync(bad).includes(Buffer.from([0x02, 0xb0, 0xad, 0x1b])), 'the magic is there, only the checksum is wrong');
    const good = fs.readFileSync(buildScreenKernel('multiboot1'));
    assert.ok(!isKernel(recogniseKernel(good.subarray(0, 40))), 'truncated ELF header');
    assert.match((recogniseKernel(good.subarray(0, 40)) as { reason: string }).reason, /truncated/);
    // Cut before the header's checksum: the magic alone is not enough.
    const mb = findMultiboot1(good) as number;
    assert.ok(!isKernel(recogniseKernel(good.subarray(0, mb + 8))));
    assert.match((recogniseKernel(Buffer.from('#!/bin/sh\necho not a kernel\n'.repeat(4))) as { reason: string }).reason, /not an ELF/);
    // An object file (ET_REL) with the header bytes in it is not a linked kernel.
    const obj = Buffer.from(good);
    obj.writeUInt16LE(1, 16);
    assert.match((recogniseKernel(obj) as { reason: string }).reason, /object file/);
    // A big-endian or foreign-machine ELF.
    const arm = Buffer.from(good);
    arm.writeUInt16LE(40, 18);
    assert.match((recogniseKernel(arm) as { reason: string }).reason, /machine 40/);
    // The multiboot v1 header must be in the first 8 KiB.
    const late = Buffer.concat([good.subarray(0, 52), Buffer.alloc(8192), good.subarray(mb, mb + 12)]);
    assert.ok(!isKernel(recogniseKernel(late)));
  });
});

describe('the workspace search for kernels', function () {
  this.timeout(120000);
  let root: string;
  before(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'mmscope-kernels-'));
    const put = (rel: string, from: string): void => {
      fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
      fs.copyFileSync(from, path.join(root, rel));
    };
    put('out/myos.bin', buildScreenKernel('multiboot1'));
    put('build/x86_64/kernel64', buildScreenKernel('elf64'));
    put('build/iso/boot/mb2.elf', buildScreenKernel('multiboot2'));
    put('build/plain.elf', buildScreenKernel('no-header'));
    put('node_modules/pkg/kernel.elf', buildScreenKernel('multiboot1'));
    put('.git/objects/kernel.elf', buildScreenKernel('multiboot1'));
    put('a/b/c/d/e/f/g/h/i/deep.elf', buildScreenKernel('multiboot1'));
    fs.writeFileSync(path.join(root, 'src.c'), 'int main(void) { return 0; }\n');
    fs.writeFileSync(path.join(root, 'truncated.elf'), fs.readFileSync(buildScreenKernel('multiboot1')).subarray(0, 60));
  });
  after(() => fs.rmSync(root, { recursive: true, force: true }));

  it('finds the bootable kernel first, lists the others marked, and skips node_modules, .git and folders below the depth limit', () => {
    const r = findKernels(root);
    assert.deepStrictEqual(r.candidates.map((c) => c.relative).sort(), ['build/iso/boot/mb2.elf', 'build/x86_64/kernel64', 'out/myos.bin']);
    assert.strictEqual(r.candidates[0].relative, 'out/myos.bin');
    assert.deepStrictEqual(r.candidates.map((c) => c.bootableWithKernelOption), [true, false, false]);
    assert.strictEqual(r.truncated, true, 'the folder nine levels down was not entered');
    const deeper = findKernels(root, { maxDepth: 12 });
    assert.ok(deeper.candidates.some((c) => c.relative === 'a/b/c/d/e/f/g/h/i/deep.elf'));
    assert.strictEqual(deeper.truncated, false);
    assert.strictEqual(r.candidates[0].size, fs.statSync(path.join(root, 'out/myos.bin')).size);
  });

  it('stops at its limits (files read, candidates, file size) and says it did', () => {
    const few = findKernels(root, { maxFilesRead: 1 });
    assert.strictEqual(few.filesRead, 1);
    assert.strictEqual(few.truncated, true);
    const small = findKernels(root, { maxFileBytes: 100 });
    assert.deepStrictEqual(small.candidates, []);
    const one = findKernels(root, { maxCandidates: 1, maxDepth: 12 });
    assert.strictEqual(one.candidates.length, 1);
    assert.strictEqual(one.truncated, true);
  });

  it('builds quick-pick rows and launch entries that reference only tasks that exist', () => {
    const [kernel] = findKernels(root).candidates;
    const row = candidateRow(kernel, kernel.mtimeMs + 90_000);
    assert.strictEqual(row.label, 'out/myos.bin');
    assert.match(row.description, /^i386 · \d+\.\d KiB · built 2 min ago$/);
    const marked = candidateRow(findKernels(root).candidates.find((c) => c.arch === 'x86-64') as typeof kernel, Date.now());
    assert.match(marked.label, /^\$\(warning\) build\/x86_64\/kernel64$/);
    const entry = launchEntryFor(kernel);
    assert.deepStrictEqual(entry, { type: 'mmscope', request: 'launch', name: 'Boot myos.bin', kernel: '${workspaceFolder}/out/myos.bin', cmdline: '', stopOnEntry: false });
    assert.strictEqual(launchEntryFor(kernel, { takenNames: ['Boot myos.bin'] }).name, 'Boot out/myos.bin');
    assert.strictEqual(launchEntryFor(kernel, { preLaunchTask: 'build' }).preLaunchTask, 'build');
    // The build choices: none; the tasks tasks.json defines; make only with a Makefile, as a task we create.
    assert.deepStrictEqual(buildChoices([], false).map((c) => c.task), [undefined]);
    assert.deepStrictEqual(buildChoices(['kernel'], false).map((c) => c.task), [undefined, 'kernel']);
    const withMake = buildChoices([], true);
    assert.deepStrictEqual(withMake.map((c) => [c.task, c.createMakeTask === true]), [[undefined, false], ['make', true]]);
    assert.deepStrictEqual(buildChoices(['make'], true).map((c) => [c.task, c.createMakeTask === true]), [[undefined, false], ['make', false]]);
    assert.strictEqual(MAKE_TASK.type, 'process');
    // F5's dynamic list: the bootable kernels only; in the mmscope repository, "Boot guest kernel"
    // with `build guest` only when tasks.json defines it.
    assert.deepStrictEqual(offeredEntries(findKernels(root).candidates, [], false).map((e) => e.name), ['Boot myos.bin']);
    assert.strictEqual(guestEntry(['build guest']).preLaunchTask, 'build guest');
    assert.strictEqual(guestEntry([]).preLaunchTask, undefined);
  });
});

describe('the package manifest for a foreign repository', () => {
  const pkg = JSON.parse(fs.readFileSync(path.resolve(__dirname, '../../../package.json'), 'utf8')) as {
    contributes: { debuggers: { initialConfigurations?: unknown; configurationSnippets: { body: Record<string, unknown> }[] }[]; walkthroughs: { steps: { description: string; media: { markdown?: string } }[] }[]; views: Record<string, { id: string }[]> };
  };

  it('writes no fixed configuration with a task that may not exist, and has the walkthrough and the Screen view', () => {
    const dbg = pkg.contributes.debuggers[0];
    assert.strictEqual(dbg.initialConfigurations, undefined, 'launch.json creation comes from the provider (the kernels found)');
    for (const s of dbg.configurationSnippets) assert.ok(!('preLaunchTask' in s.body), JSON.stringify(s.body));
    const walk = pkg.contributes.walkthroughs[0];
    assert.strictEqual(walk.steps.length, 3);
    assert.match(walk.steps[0].description, /\(command:mmscope\.pickKernel\)/);
    for (const s of walk.steps) assert.ok(s.media.markdown && fs.existsSync(path.resolve(__dirname, '../../..', s.media.markdown)), s.media.markdown);
    assert.ok(pkg.contributes.views.mmscope.some((v) => v.id === 'mmscope.screen'));
  });
});
