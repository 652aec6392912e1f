// The debug configuration provider for type `mmscope`: the initial launch.json entries, a
// default "Boot guest kernel" when F5 is pressed without a launch.json, and the QEMU path and
// memory size filled in from the settings when a configuration leaves them out.

import * as vscode from 'vscode';

export const DEBUG_TYPE = 'mmscope';

export function bootGuestConfiguration(): vscode.DebugConfiguration {
  return {
    type: DEBUG_TYPE,
    request: 'launch',
    name: 'Boot guest kernel',
    kernel: '${workspaceFolder}/guest/build/kernel.elf',
    cmdline: 'demo',
  };
}

export class MmscopeConfigurationProvider implements vscode.DebugConfigurationProvider {
  provideDebugConfigurations(): vscode.DebugConfiguration[] {
    return [
      bootGuestConfiguration(),
      { type: DEBUG_TYPE, request: 'attach', name: 'Attach to QEMU', gdb: '127.0.0.1:1234', kernel: '${workspaceFolder}/guest/build/kernel.elf' },
    ];
  }

  resolveDebugConfiguration(folder: vscode.WorkspaceFolder | undefined, config: vscode.DebugConfiguration): vscode.DebugConfiguration {
    if (!config.type && !config.request && !config.name) config = bootGuestConfiguration();
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
