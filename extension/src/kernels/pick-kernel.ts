// The VS Code side of choosing a kernel: searches a workspace folder (with progress), offers the
// candidates in a quick pick, asks for the build step, and writes the launch.json entry (and a
// `make` task when chosen) through VS Code's configuration API, which keeps the files' comments.

import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import { findKernels, KernelCandidate } from './kernel-search';
import { buildChoices, candidateRow, guestEntry, LaunchEntry, launchEntryFor, MAKE_TASK, NO_KERNEL_MESSAGE, offeredEntries } from './launch-entry';

/** Labels of the tasks the folder's tasks.json defines (auto-detected tasks do not count). */
export function definedTaskLabels(folder: vscode.WorkspaceFolder): string[] {
  const tasks = vscode.workspace.getConfiguration('tasks', folder.uri).get<{ label?: unknown }[]>('tasks') ?? [];
  return tasks.map((t) => t.label).filter((l): l is string => typeof l === 'string');
}

/** This repository (it has the guest's sources): "Boot guest kernel" stays its configuration. */
export function isGuestRepository(folder: vscode.WorkspaceFolder): boolean {
  const root = folder.uri.fsPath;
  return fs.existsSync(path.join(root, 'guest', 'Makefile')) && fs.existsSync(path.join(root, 'guest', 'kernel'));
}

export async function searchKernels(folder: vscode.WorkspaceFolder): Promise<KernelCandidate[]> {
  if (folder.uri.scheme !== 'file') return [];
  return vscode.window.withProgress({ location: vscode.ProgressLocation.Window, title: 'mmscope: looking for kernel ELFs' }, async () => findKernels(folder.uri.fsPath).candidates);
}

/** The configurations to offer for a folder (dynamic list, launch.json creation). */
export async function offeredConfigurations(folder: vscode.WorkspaceFolder | undefined): Promise<LaunchEntry[]> {
  if (!folder) return [];
  return offeredEntries(await searchKernels(folder), definedTaskLabels(folder), isGuestRepository(folder));
}

async function chooseFolder(): Promise<vscode.WorkspaceFolder | undefined> {
  const folders = vscode.workspace.workspaceFolders ?? [];
  if (folders.length <= 1) return folders[0];
  return vscode.window.showWorkspaceFolderPick({ placeHolder: 'Workspace folder of the kernel' });
}

/** Quick pick of the candidates; undefined when cancelled or there is none (after saying so). */
export async function pickCandidate(candidates: readonly KernelCandidate[]): Promise<KernelCandidate | undefined> {
  if (candidates.length === 0) {
    void vscode.window.showWarningMessage(NO_KERNEL_MESSAGE);
    return undefined;
  }
  const now = Date.now();
  const items = candidates.map((c) => ({ ...candidateRow(c, now), candidate: c }));
  for (;;) {
    const pick = await vscode.window.showQuickPick(items, { placeHolder: 'The kernel ELF to debug (built with -g for source lines)', matchOnDescription: true, matchOnDetail: true });
    if (!pick) return undefined;
    if (pick.bootable) return pick.candidate;
    const again = await vscode.window.showWarningMessage(`${pick.candidate.relative}: ${pick.candidate.summary}.`, 'Pick Another');
    if (again !== 'Pick Another') return undefined;
  }
}

/** `mmscope.pickKernel`: writes a launch.json entry for a chosen kernel; returns its name. */
export async function pickKernelCommand(): Promise<string | undefined> {
  const folder = await chooseFolder();
  if (!folder) {
    void vscode.window.showWarningMessage('mmscope: open the folder of your kernel first (File > Open Folder), then pick the kernel.');
    return undefined;
  }
  const candidate = await pickCandidate(await searchKernels(folder));
  if (!candidate) return undefined;
  const labels = definedTaskLabels(folder);
  const choices = buildChoices(labels, fs.existsSync(path.join(folder.uri.fsPath, 'Makefile')));
  let choice = choices[0];
  if (choices.length > 1) {
    const pick = await vscode.window.showQuickPick(choices, { placeHolder: 'Build before each launch?' });
    if (!pick) return undefined;
    choice = pick;
  }
  const launch = vscode.workspace.getConfiguration('launch', folder.uri);
  const existing = launch.get<{ name?: unknown }[]>('configurations') ?? [];
  const isGuest = isGuestRepository(folder) && candidate.relative === 'guest/build/kernel.elf';
  const entry = isGuest ? guestEntry(labels) : launchEntryFor(candidate, { preLaunchTask: choice.task, takenNames: existing.map((c) => String(c.name)) });
  if (choice.createMakeTask) {
    const tasks = vscode.workspace.getConfiguration('tasks', folder.uri);
    await tasks.update('version', tasks.get('version') ?? '2.0.0', vscode.ConfigurationTarget.WorkspaceFolder);
    await tasks.update('tasks', [...(tasks.get<unknown[]>('tasks') ?? []), MAKE_TASK], vscode.ConfigurationTarget.WorkspaceFolder);
  }
  if (!launch.get('version')) await launch.update('version', '0.2.0', vscode.ConfigurationTarget.WorkspaceFolder);
  await launch.update('configurations', [...existing, entry], vscode.ConfigurationTarget.WorkspaceFolder);
  const answer = await vscode.window.showInformationMessage(`mmscope: added "${entry.name}" to .vscode/launch.json${entry.preLaunchTask ? ` (builds with the task "${entry.preLaunchTask}" first)` : ''}. Press F5 to debug it.`, 'Start Debugging', 'Open launch.json');
  if (answer === 'Start Debugging') await vscode.debug.startDebugging(folder, entry.name);
  else if (answer === 'Open launch.json') await vscode.window.showTextDocument(vscode.Uri.joinPath(folder.uri, '.vscode', 'launch.json'));
  return entry.name;
}
