// mmscope's VS Code side: the mmscope view container (Address space, Processes, Allocators (Chains
// on our guest), Findings, Physical memory, Screen), at every level of knowing the kernel, commands, the pick-a-kernel command, the status bar item, the debug configuration provider and the
// language client. It speaks only DAP (custom requests and events) and LSP; never to QEMU.
// activate only wires the pieces of activation/ together.

import * as vscode from 'vscode';
import { DEBUG_TYPE, MmscopeAdapterFactory, MmscopeConfigurationProvider } from './debug-configuration';
import { offeredConfigurations } from './kernels/pick-kernel';
import { MmLanguageClient } from './language-client';
import { SnapshotStore } from './snapshot-store';
import { registerCommands } from './activation/commands';
import { LiveRefreshControl } from './activation/live-refresh';
import { SessionWiring } from './activation/sessions';
import { MmViews } from './activation/views';

export function activate(context: vscode.ExtensionContext): void {
  const store = new SnapshotStore();
  const output = vscode.window.createOutputChannel('mmscope');
  const views = new MmViews(context, store, output);
  const client = new MmLanguageClient(context.extensionUri, store);
  // The language server's one source of snapshots: the store's (what the adapter pushed).
  const toServer = store.onDidChange(() => client.push());
  const live = new LiveRefreshControl();
  const sessions = new SessionWiring(store, views, client, live);
  context.subscriptions.push(
    output,
    views,
    client,
    toServer,
    sessions,
    vscode.debug.registerDebugConfigurationProvider(DEBUG_TYPE, new MmscopeConfigurationProvider()),
    vscode.debug.registerDebugConfigurationProvider(DEBUG_TYPE, { provideDebugConfigurations: (folder) => offeredConfigurations(folder ?? vscode.workspace.workspaceFolders?.[0]) }, vscode.DebugConfigurationProviderTriggerKind.Dynamic),
    vscode.debug.registerDebugAdapterDescriptorFactory(DEBUG_TYPE, new MmscopeAdapterFactory(context.extensionUri)),
    ...registerCommands(store, views, live, output),
  );
  // The end-to-end test's output (extension/test/e2e): only when the environment names its file.
  const stateFile = process.env.MMSCOPE_E2E_STATE;
  if (stateFile) {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    const { installE2eOutput } = require('./e2e-output') as typeof import('./e2e-output');
    context.subscriptions.push(...installE2eOutput(stateFile, store, views, sessions));
  }
  void client.start().catch((e: unknown) => output.appendLine(`language server: ${e instanceof Error ? e.message : String(e)}`));
}

export function deactivate(): void {
  // Disposables are released through the context.
}
