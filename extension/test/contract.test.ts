// The shared contract module (contract/) is browser-safe: the webview's browser build
// (extension/webview/tsconfig.json: DOM, no Node types) compiles every file of it, and its files
// import only each other. The webview and the dashboard take their types from it, not from the
// adapter. (`npm run build:ts` runs the browser build; this test checks what it produced.)

import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const CONTRACT = path.join(ROOT, 'contract');
const importsOf = (file: string): string[] => [...fs.readFileSync(file, 'utf8').matchAll(/\b(?:import|export)\b[^'";]*?\bfrom\s*'([^']+)'/g)].map((m) => m[1]);

describe('the shared contract module', function () {
  const files = fs.readdirSync(CONTRACT).filter((f) => f.endsWith('.ts'));

  it('is compiled by the browser build (no Node types there), every file of it', () => {
    const config = JSON.parse(fs.readFileSync(path.join(ROOT, 'extension/webview/tsconfig.json'), 'utf8').replace(/^\s*\/\/.*$/gm, '')) as { compilerOptions: { types: string[]; lib: string[] }; include: string[] };
    assert.deepStrictEqual(config.compilerOptions.types, [], 'no @types/node in the browser build');
    assert.ok(config.include.includes('../../contract/*.ts'));
    assert.ok(files.length >= 5, files.join(', '));
    for (const f of files) assert.ok(fs.existsSync(path.join(ROOT, 'out/webview/contract', f.replace(/\.ts$/, '.js'))), `out/webview/contract/${f} built (npm run build:ts)`);
  });

  it('imports only itself: no Node module, no Buffer, no require', () => {
    for (const f of files) {
      const file = path.join(CONTRACT, f);
      for (const spec of importsOf(file)) assert.match(spec, /^\.\/[\w-]+\.js$/, `${f} imports ${spec}`);
      const text = fs.readFileSync(file, 'utf8').replace(/\/\/.*$/gm, '');
      assert.doesNotMatch(text, /\bBuffer\b|\brequire\(|\bprocess\./, `${f} uses Node`);
    }
  });

  it('is where the webview and the dashboard take their types from (nothing of the adapter)', () => {
    const webview = path.join(ROOT, 'extension/webview');
    for (const f of fs.readdirSync(webview).filter((x) => x.endsWith('.ts'))) {
      for (const spec of importsOf(path.join(webview, f))) assert.ok(spec.startsWith('./') || spec.startsWith('../../contract/'), `extension/webview/${f} imports ${spec}`);
    }
    assert.ok(!fs.existsSync(path.join(webview, 'snapshot-view.ts')), 'the hand copy of the snapshot types is gone');
  });
});
