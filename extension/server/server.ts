// mmscope's language server for the kernel's C sources (ours or any other). While a debug session
// is stopped: hover shows values and address translations (exact 64-bit addresses), code lenses
// count what each allocation call site holds live (our guest's chains; any kernel's traced
// allocations at level 2), and findings appear as diagnostics at their allocation site. Data comes from the
// extension (SNAPSHOT_NOTIFICATION pushes, EVALUATE/TRANSLATE requests): see protocol.ts.

import {
  CodeLens,
  CodeLensRefreshRequest,
  Connection,
  Diagnostic,
  DiagnosticSeverity,
  Hover,
  InitializeResult,
  ProposedFeatures,
  TextDocuments,
  TextDocumentSyncKind,
  createConnection,
} from 'vscode-languageserver/node';
import { TextDocument } from 'vscode-languageserver-textdocument';
import type { ViewSnapshot } from '../src/view-snapshot';
import { allocationLenses } from './allocation-lenses';
import { expressionAt } from './c-expression';
import { findingDiagnostics } from './findings-diagnostics';
import { HoverSource, hoverMarkdown } from './hover-text';
import {
  EVALUATE_REQUEST,
  EvaluateParams,
  EvaluateResult,
  REVEAL_CHAIN_COMMAND,
  SHOW_ALLOCATORS_COMMAND,
  SNAPSHOT_NOTIFICATION,
  ServerSnapshotParams,
  TRANSLATE_REQUEST,
  TranslateParams,
  TranslateResult,
} from './protocol';
import { pathUri, sameSource, uriPath } from './site-files';
import * as fs from 'fs';
import * as path from 'path';

/** Wires the features to a connection (stdio, IPC or a test's stream pair). */
export function startServer(connection: Connection): void {
  const documents = new TextDocuments(TextDocument);
  let state: ServerSnapshotParams['state'] = 'none';
  let snapshot: ViewSnapshot | undefined;
  let roots: string[] = [];
  let canRefreshLenses = false;
  let published = new Set<string>();

  const source: HoverSource = {
    evaluate: async (expression) => (await connection.sendRequest<EvaluateResult>(EVALUATE_REQUEST, { expression } satisfies EvaluateParams)) ?? undefined,
    translate: async (address, pid) => (await connection.sendRequest<TranslateResult>(TRANSLATE_REQUEST, { address, pid } satisfies TranslateParams)) ?? undefined,
  };

  /** The URI to publish a site's diagnostics to: an open document, the file itself, or the same file under a workspace root. */
  const siteUri = (file: string): string | undefined => {
    const open = documents.all().find((d) => sameSource(file, uriPath(d.uri)));
    if (open) return open.uri;
    if (path.isAbsolute(file) && fs.existsSync(file)) return pathUri(file);
    const parts = file.split(/[\\/]/).filter(Boolean);
    for (const root of roots) {
      for (let k = Math.min(parts.length, 4); k >= 2; k--) {
        const p = path.join(root, ...parts.slice(parts.length - k));
        if (fs.existsSync(p)) return pathUri(p);
      }
    }
    return undefined;
  };

  const publishDiagnostics = (): void => {
    const byUri = new Map<string, Diagnostic[]>();
    if (snapshot && state !== 'none') {
      for (const d of findingDiagnostics(snapshot)) {
        const uri = siteUri(d.file);
        if (!uri) continue;
        const list = byUri.get(uri) ?? [];
        list.push({
          range: { start: { line: d.line, character: 0 }, end: { line: d.line, character: Number.MAX_SAFE_INTEGER } },
          severity: d.severity === 'error' ? DiagnosticSeverity.Error : d.severity === 'warning' ? DiagnosticSeverity.Warning : DiagnosticSeverity.Information,
          source: 'mmscope',
          code: d.code,
          message: d.message,
        });
        byUri.set(uri, list);
      }
    }
    for (const uri of published) if (!byUri.has(uri)) void connection.sendDiagnostics({ uri, diagnostics: [] });
    for (const [uri, diagnostics] of byUri) void connection.sendDiagnostics({ uri, diagnostics });
    published = new Set(byUri.keys());
  };

  connection.onInitialize((params): InitializeResult => {
    roots = (params.workspaceFolders ?? []).map((f) => uriPath(f.uri));
    if (roots.length === 0 && params.rootUri) roots = [uriPath(params.rootUri)];
    canRefreshLenses = params.capabilities.workspace?.codeLens?.refreshSupport === true;
    return {
      capabilities: {
        textDocumentSync: TextDocumentSyncKind.Incremental,
        hoverProvider: true,
        codeLensProvider: { resolveProvider: false },
      },
      serverInfo: { name: 'mmscope' },
    };
  });

  // The one source of snapshots: the extension forwards each document the adapter pushed (at
  // stops and, with live refresh, while the guest runs).
  connection.onNotification(SNAPSHOT_NOTIFICATION, (p: ServerSnapshotParams) => {
    state = p.state;
    if (p.state === 'none') snapshot = undefined;
    else if (p.snapshot) snapshot = p.snapshot;
    publishDiagnostics();
    if (canRefreshLenses) void connection.sendRequest(CodeLensRefreshRequest.type).catch(() => undefined);
  });

  connection.onHover(async (params): Promise<Hover | null> => {
    if (state !== 'stopped') return null;
    const doc = documents.get(params.textDocument.uri);
    if (!doc) return null;
    const at = expressionAt(doc.getText(), params.position.line, params.position.character);
    if (!at) return null;
    const value = await hoverMarkdown(at.expression, snapshot, source);
    if (!value) return null;
    return {
      contents: { kind: 'markdown', value },
      range: { start: { line: at.line, character: at.start }, end: { line: at.line, character: at.end } },
    };
  });

  connection.onCodeLens((params): CodeLens[] => {
    if (!snapshot || state === 'none') return [];
    return allocationLenses(snapshot, uriPath(params.textDocument.uri)).map((l) => ({
      range: { start: { line: l.line, character: 0 }, end: { line: l.line, character: 0 } },
      command: l.chains.length ? { title: l.title, command: REVEAL_CHAIN_COMMAND, arguments: [l.chains[0]] } : { title: l.title, command: SHOW_ALLOCATORS_COMMAND },
    }));
  });

  documents.onDidOpen(() => publishDiagnostics());
  documents.listen(connection);
  connection.listen();
}

if (require.main === module) startServer(createConnection(ProposedFeatures.all));
