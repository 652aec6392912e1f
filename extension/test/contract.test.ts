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

describe('one definition of the translation and the diff (contract/translation.ts, contract/guest-document.ts)', function () {
  const sources = (dir: string): string[] => fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(path.join(dir, e.name)) : e.name.endsWith('.ts') ? [path.join(dir, e.name)] : []);
  const product = ['debug-adapter/src', 'qemu-bridge/src', 'extension/src', 'extension/server', 'extension/webview', 'extension/view-host'].flatMap(sources);

  it('defines the translation result, its steps and the entry flag bits only in the contract', () => {
    const defined = product.filter((f) => /\binterface (Translation|TranslationStep|AddressTranslation)\b|\btype TableLevel\s*=/.test(fs.readFileSync(path.join(ROOT, f), 'utf8')));
    assert.deepStrictEqual(defined, [], 'a second definition');
    const text = fs.readFileSync(path.join(CONTRACT, 'translation.ts'), 'utf8');
    for (const name of ['interface Translation ', 'interface TranslationStep', 'interface AddressTranslation', 'const EntryFlag', 'const EntryBit']) assert.ok(text.includes(name), name);
  });

  it('leaves no custom request or event name as a string literal in the product code (contract/dap.ts names them)', () => {
    const dap = fs.readFileSync(path.join(CONTRACT, 'dap.ts'), 'utf8');
    const names = [...dap.matchAll(/:\s*'(mmscope\/\w+)'/g)].map((m) => m[1]);
    assert.ok(names.length >= 10, names.join(' '));
    const literal = new RegExp(`['"\`](${names.map((n) => n.replace('/', '\\/')).join('|')})['"\`]`);
    const found = product.filter((f) => literal.test(fs.readFileSync(path.join(ROOT, f), 'utf8').replace(/\/\/.*$/gm, '').replace(/\/\*[\s\S]*?\*\//g, '')));
    assert.deepStrictEqual(found, [], 'request names written out');
  });

  it('computes "what changed" only in the adapter: no view model compares with a previous snapshot', () => {
    const views = sources('extension/src/views').concat(['extension/src/snapshot-store.ts']);
    const previous = views.filter((f) => /\bprevious\??\s*[:.]|store\.previous/.test(fs.readFileSync(path.join(ROOT, f), 'utf8').replace(/\/\/.*$/gm, '')));
    assert.deepStrictEqual(previous, [], 'a view or the store keeps a previous snapshot');
  });
});
