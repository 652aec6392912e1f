// "Reveal": opens the source line that allocated something, with the path from DWARF resolved
// against the workspace when the kernel was built in another checkout.

import * as path from 'path';
import * as fs from 'fs';
import * as vscode from 'vscode';
import { commonSuffix } from '../server/site-files';

export async function sourceUri(file: string): Promise<vscode.Uri | undefined> {
  if (path.isAbsolute(file) && fs.existsSync(file)) return vscode.Uri.file(file);
  const found = await vscode.workspace.findFiles(`**/${path.basename(file)}`, '**/node_modules/**', 50);
  found.sort((a, b) => commonSuffix(file, b.fsPath) - commonSuffix(file, a.fsPath));
  return found[0];
}

export async function revealSource(file: string, line: number): Promise<void> {
  const uri = await sourceUri(file);
  if (!uri) {
    void vscode.window.showWarningMessage(`mmscope: cannot find ${file} in the workspace; open the folder the kernel was built from.`);
    return;
  }
  const pos = new vscode.Position(Math.max(0, line - 1), 0);
  await vscode.window.showTextDocument(uri, { selection: new vscode.Range(pos, pos), preserveFocus: false, preview: true });
}
