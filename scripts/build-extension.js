#!/usr/bin/env node
// Bundles the extension for VS Code with esbuild into dist/: the extension host entry
// (dist/extension.js), the language server (dist/server.js), the debug adapter (dist/adapter.js,
// when debug-adapter/src/adapter.ts exists), the Physical memory webview's script and style and
// the Screen webview's script (dist/webview/). `npm run package` runs it before vsce; the e2e
// tests run it before they start code-server. Usage: node scripts/build-extension.js [--production]
'use strict';
const fs = require('fs');
const path = require('path');
const esbuild = require('esbuild');

const root = path.resolve(__dirname, '..');
const dist = path.join(root, 'dist');
const production = process.argv.includes('--production');

async function main() {
  fs.rmSync(dist, { recursive: true, force: true });
  fs.mkdirSync(path.join(dist, 'webview'), { recursive: true });
  const node = { bundle: true, platform: 'node', format: 'cjs', target: 'node20', sourcemap: !production, minify: production, logLevel: 'warning', absWorkingDir: root };
  const builds = [
    esbuild.build({ ...node, entryPoints: ['extension/src/extension.ts'], outfile: 'dist/extension.js', external: ['vscode'] }),
    esbuild.build({ ...node, entryPoints: ['extension/server/server.ts'], outfile: 'dist/server.js' }),
    esbuild.build({ bundle: true, platform: 'browser', format: 'iife', target: 'es2020', sourcemap: !production, minify: production, logLevel: 'warning', absWorkingDir: root, entryPoints: ['extension/view-host/memory-map-host.ts'], outfile: 'dist/webview/memory-map-host.js' }),
    esbuild.build({ bundle: true, platform: 'browser', format: 'iife', target: 'es2020', sourcemap: !production, minify: production, logLevel: 'warning', absWorkingDir: root, entryPoints: ['extension/view-host/screen-host.ts'], outfile: 'dist/webview/screen-host.js' }),
  ];
  const adapter = path.join(root, 'debug-adapter/src/adapter.ts');
  if (fs.existsSync(adapter)) {
    builds.push(esbuild.build({ ...node, entryPoints: ['debug-adapter/src/adapter.ts'], outfile: 'dist/adapter.js' }));
    // iced-x86 (the disassembler) reads its wasm next to the module: next to the bundle.
    fs.copyFileSync(path.join(root, 'node_modules/iced-x86/iced_x86_bg.wasm'), path.join(dist, 'iced_x86_bg.wasm'));
  } else {
    console.warn('build-extension: debug-adapter/src/adapter.ts does not exist yet; dist/ has no debug adapter');
  }
  const css = path.join(root, 'extension/webview/dashboard.css');
  const mapCss = fs.existsSync(css)
    ? fs.readFileSync(css, 'utf8').split('\n').filter((l) => /memory-map/.test(l)).join('\n')
    : '';
  fs.writeFileSync(path.join(dist, 'webview/memory-map-host.css'), `${mapCss}\n.memory-map-tooltip { color: #d6dbe1; }\n`);
  await Promise.all(builds);
}

main().catch((e) => {
  console.error(`build-extension: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
