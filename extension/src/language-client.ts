// Starts mmscope's language server for C files and connects it to the snapshot store: the store's
// state and snapshots go to the server as notifications, and the server's evaluate/translate
// requests are answered through the store's data source (the debug session today).

import * as fs from 'fs';
import * as vscode from 'vscode';
import { LanguageClient, LanguageClientOptions, ServerOptions, TransportKind } from 'vscode-languageclient/node';
import { EVALUATE_REQUEST, EvaluateParams, EvaluateResult, SNAPSHOT_NOTIFICATION, ServerSnapshotParams, TRANSLATE_REQUEST, TranslateParams, TranslateResult } from '../server/protocol';
import { SnapshotStore } from './snapshot-store';

export function serverModule(extensionUri: vscode.Uri): string {
  const candidates = ['dist/server.js', 'out/extension/server/server.js'].map((p) => vscode.Uri.joinPath(extensionUri, p).fsPath);
  return candidates.find((p) => fs.existsSync(p)) ?? candidates[0];
}

export class MmLanguageClient implements vscode.Disposable {
  private client: LanguageClient | undefined;
  private sentFor: unknown;
  private ready: Promise<void> | undefined;

  constructor(private readonly extensionUri: vscode.Uri, private readonly store: SnapshotStore) {}

  start(): Promise<void> {
    if (this.ready) return this.ready;
    const module = serverModule(this.extensionUri);
    const serverOptions: ServerOptions = {
      run: { module, transport: TransportKind.ipc },
      debug: { module, transport: TransportKind.ipc },
    };
    const clientOptions: LanguageClientOptions = {
      documentSelector: [{ scheme: 'file', language: 'c' }, { scheme: 'file', language: 'cpp' }],
      diagnosticCollectionName: 'mmscope',
    };
    const client = new LanguageClient('mmscope', 'mmscope memory manager', serverOptions, clientOptions);
    this.client = client;
    client.onRequest(EVALUATE_REQUEST, async (p: EvaluateParams): Promise<EvaluateResult> => (await this.store.dataSource?.evaluate(p.expression)) ?? null);
    client.onRequest(TRANSLATE_REQUEST, async (p: TranslateParams): Promise<TranslateResult> => {
      try {
        return (await this.store.dataSource?.translate(p.address, p.pid)) ?? null;
      } catch {
        return null;
      }
    });
    this.ready = client.start().then(() => this.push());
    return this.ready;
  }

  /** Sends the store's state, and its snapshot when the server has not seen it. */
  push(): void {
    const client = this.client;
    if (!client || !client.isRunning()) return;
    const snap = this.store.snapshot;
    const params: ServerSnapshotParams = { state: this.store.state, ...(snap && snap !== this.sentFor ? { snapshot: snap } : {}) };
    this.sentFor = this.store.state === 'none' ? undefined : snap;
    void client.sendNotification(SNAPSHOT_NOTIFICATION, params);
  }

  dispose(): void {
    void this.client?.stop();
  }
}
