// The launch.json entries and quick-pick rows for kernel candidates, and the build step to run
// before a launch: only a task tasks.json defines, or a `make` task created for a Makefile. Pure:
// plain objects in, plain objects out (the VS Code side writes them).

import * as path from 'path';
import type { KernelCandidate } from './kernel-search';

export const DEBUG_TYPE = 'mmscope';

/** What to say when the workspace has no kernel. */
export const NO_KERNEL_MESSAGE =
  'mmscope found no kernel in this workspace: build your kernel as an ELF32 i386 executable with a multiboot header (and -g for source lines), then run "mmscope: Pick a Kernel to Debug".';

export interface LaunchEntry {
  type: string;
  request: 'launch';
  name: string;
  kernel: string;
  cmdline: string;
  stopOnEntry: boolean;
  preLaunchTask?: string;
  [key: string]: unknown;
}

/** A process task running `make` in the workspace folder (no shell). */
export const MAKE_TASK = {
  label: 'make',
  detail: 'make in the workspace folder (added by mmscope for its launch configuration)',
  type: 'process',
  command: 'make',
  args: [] as string[],
  options: { cwd: '${workspaceFolder}' },
  group: 'build',
  problemMatcher: ['$gcc'],
} as const;

export interface BuildChoice {
  readonly label: string;
  readonly detail: string;
  /** The preLaunchTask to reference, if any. */
  readonly task?: string;
  /** Create MAKE_TASK in tasks.json. */
  readonly createMakeTask?: boolean;
}

/** The build steps a user may choose: none, a task tasks.json defines, or make for a Makefile. */
export function buildChoices(taskLabels: readonly string[], hasMakefile: boolean): BuildChoice[] {
  const choices: BuildChoice[] = [{ label: 'No build step', detail: 'Build the kernel yourself before you press F5.' }];
  for (const label of taskLabels) choices.push({ label: `Run the task "${label}" first`, detail: 'Defined in .vscode/tasks.json.', task: label });
  if (hasMakefile && !taskLabels.includes(MAKE_TASK.label)) {
    choices.push({ label: 'Run make first', detail: 'Adds a "make" task to .vscode/tasks.json (make in the workspace folder).', task: MAKE_TASK.label, createMakeTask: true });
  }
  return choices;
}

/** A name not among `taken`: "Boot <file>", then "Boot <relative path>". */
function uniqueName(c: Pick<KernelCandidate, 'relative'>, taken: readonly string[]): string {
  const short = `Boot ${path.posix.basename(c.relative)}`;
  if (!taken.includes(short)) return short;
  const long = `Boot ${c.relative}`;
  if (!taken.includes(long)) return long;
  for (let i = 2; ; i++) if (!taken.includes(`${long} (${i})`)) return `${long} (${i})`;
}

/** The launch entry for a candidate; `preLaunchTask` only when the caller knows the task exists. */
export function launchEntryFor(c: Pick<KernelCandidate, 'relative'>, options: { preLaunchTask?: string; takenNames?: readonly string[] } = {}): LaunchEntry {
  return {
    type: DEBUG_TYPE,
    request: 'launch',
    name: uniqueName(c, options.takenNames ?? []),
    kernel: `\${workspaceFolder}/${c.relative}`,
    cmdline: '',
    stopOnEntry: false,
    ...(options.preLaunchTask ? { preLaunchTask: options.preLaunchTask } : {}),
  };
}

/** This repository's own guest: "Boot guest kernel", with `build guest` only when tasks.json defines it. */
export function guestEntry(taskLabels: readonly string[]): LaunchEntry {
  return {
    type: DEBUG_TYPE,
    request: 'launch',
    name: 'Boot guest kernel',
    kernel: '${workspaceFolder}/guest/build/kernel.elf',
    cmdline: 'demo',
    stopOnEntry: false,
    ...(taskLabels.includes('build guest') ? { preLaunchTask: 'build guest' } : {}),
  };
}

/** The configurations F5's dynamic list offers: the guest's (in this repository) and each bootable candidate. */
export function offeredEntries(candidates: readonly KernelCandidate[], taskLabels: readonly string[], isGuestRepository: boolean): LaunchEntry[] {
  const out: LaunchEntry[] = isGuestRepository ? [guestEntry(taskLabels)] : [];
  for (const c of candidates) {
    if (!c.bootableWithKernelOption) continue;
    if (isGuestRepository && c.relative === 'guest/build/kernel.elf') continue;
    out.push(launchEntryFor(c, { takenNames: out.map((e) => e.name) }));
  }
  return out;
}

function formatSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1 << 20) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / (1 << 20)).toFixed(1)} MiB`;
}

function formatAge(mtimeMs: number, nowMs: number): string {
  const s = Math.max(0, Math.round((nowMs - mtimeMs) / 1000));
  if (s < 60) return `built ${s} s ago`;
  if (s < 3600) return `built ${Math.round(s / 60)} min ago`;
  if (s < 86400 * 2) return `built ${Math.round(s / 3600)} h ago`;
  return `built ${new Date(mtimeMs).toISOString().slice(0, 10)}`;
}

export interface CandidateRow {
  readonly label: string;
  readonly description: string;
  readonly detail: string;
  readonly bootable: boolean;
}

/** The quick-pick row of a candidate: path; arch, size, age; what it is. */
export function candidateRow(c: KernelCandidate, nowMs: number): CandidateRow {
  return {
    label: `${c.bootableWithKernelOption ? '' : '$(warning) '}${c.relative}`,
    description: `${c.arch} · ${formatSize(c.size)} · ${formatAge(c.mtimeMs, nowMs)}`,
    detail: c.summary,
    bootable: c.bootableWithKernelOption,
  };
}
