// The snapshot document's types live in the shared contract module (contract/snapshot-document.ts),
// which the adapter, the extension, the language server, the webview and the dashboard import.
// This re-export keeps the adapter's many imports of this path working.

export * from '../../../../contract/snapshot-document';
