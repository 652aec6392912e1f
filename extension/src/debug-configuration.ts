// The debug configuration provider for type `mmscope`: launch.json creation and F5's dynamic list
// offer the kernel ELFs found in the workspace (kernels/), F5 without a launch.json boots the one
// found (or asks which), and the QEMU path and memory size come from the settings when a
// configuration leaves them out. In this repository "Boot guest kernel" stays the configuration.

import * as vscode from 'vscode';
import { DEBUG_TYPE, guestEntry, NO_KERNEL_MESSAGE } from './kernels/launch-entry';
import { definedTaskLabels, isGuestRepository, offeredConfigurations, pickCandidate, searchKernels } from './kernels/pick-kernel';
import { launchEntryFor } from './kernels/launch-entry';

export { DEBUG_TYPE };

export class MmscopeConfigurationProvider implements vscode.DebugConfigurationProvider {
  /** Creating launch.json, and the dynamic list: one entry per bootable kernel found. */
  async provideDebugConfigurations(folder: vscode.WorkspaceFolder | undefined): Promise<vscode.DebugConfiguration[]> {
    const folderOrFirst = folder ?? vscode.workspace.workspaceFolders?.[0];
    const entries = await offeredConfigurations(folderOrFirst);
    if (!entries.length) void vscode.window.showWarningMessage(NO_KERNEL_MESSAGE);
    return entries;
  }

  async resolveDebugConfiguration(folder: vscode.WorkspaceFolder | undefined, config: vscode.DebugConfiguration): Promise<vscode.DebugConfiguration | undefined> {
    if (!config.type && !config.request && !config.name) {
      // F5 without a launch.json.
      const f = folder ?? vscode.workspace.workspaceFolders?.[0];
      if (!f) {
        void vscode.window.showWarningMessage('mmscope: open the folder of your kernel first (File > Open Folder), then press F5.');
        return undefined;
      }
      if (isGuestRepository(f)) config = guestEntry(definedTaskLabels(f));
      else {
        const bootable = (await searchKernels(f)).filter((c) => c.bootableWithKernelOption);
        const chosen = bootable.length === 1 ? bootable[0] : await pickCandidate(bootable);
        if (!chosen) return undefined;
        config = launchEntryFor(chosen);
      }
    }
    if (config.request === 'launch') {
      const settings = vscode.workspace.getConfiguration('mmscope', folder);
      if (config.qemuPath === undefined) {
        const qemu = settings.get<string>('qemuPath');
        if (qemu) config.qemuPath = qemu;
      }
      if (config.memory === undefined) {
        const memory = settings.get<number>('memory');
        if (memory) config.memory = memory;
      }
    }
    // Launch and attach: every address space the kernel loads into CR3 (traced without stopping).
    if (config.traceAddressSpaces === undefined && vscode.workspace.getConfiguration('mmscope', folder).get<boolean>('traceAddressSpaces')) {
      config.traceAddressSpaces = true;
    }
    if (config.cwd === undefined && folder) config.cwd = folder.uri.fsPath;
    return config;
  }
}

/**
 * Runs the adapter that ships with the extension: the bundled dist/adapter.js in a .vsix, or the
 * compiled out/ tree when the extension runs from the repository.
 */
export class MmscopeAdapterFactory implements vscode.DebugAdapterDescriptorFactory {
  constructor(private readonly extensionUri: vscode.Uri) {}

  createDebugAdapterDescriptor(): vscode.ProviderResult<vscode.DebugAdapterDescriptor> {
    const fs = require('fs') as typeof import('fs');
    const candidates = ['dist/adapter.js', 'out/debug-adapter/src/adapter.js'].map((p) => vscode.Uri.joinPath(this.extensionUri, p).fsPath);
    const program = candidates.find((p) => fs.existsSync(p));
    if (!program) throw new Error('The mmscope debug adapter is not built; run "npm run build" in the extension folder.');
    // The extension host runs in Node (code-server, remote) or Electron with ELECTRON_RUN_AS_NODE.
    const runtime = process.versions.electron ? 'node' : process.execPath;
    return new vscode.DebugAdapterExecutable(runtime, [program]);
  }
}
