// `npm run package` builds mmscope.vsix, and that .vsix installs into a real VS Code (code-server's
// --install-extension) carrying everything it needs: the extension, the language server, the debug
// adapter (which then answers DAP from the installed folder, with no node_modules beside it), the
// Physical memory and Screen webviews and the walkthrough's pages.

import * as assert from 'assert';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { DebugClient } from '@vscode/debugadapter-testsupport';
import { codeServerBinary, missingPrerequisite } from './e2e/code-server';

const ROOT = path.resolve(__dirname, '../../..');

describe('the .vsix (npm run package)', function () {
  this.timeout(10 * 60 * 1000);
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'mmscope-vsix-'));
  let installed: string;

  after(() => fs.rmSync(scratch, { recursive: true, force: true }));

  it('builds mmscope.vsix and installs it into code-server with the bundles it needs', () => {
    const missing = missingPrerequisite();
    if (missing) throw new Error(`The package test cannot run: ${missing}.`);
    const vsix = path.join(ROOT, 'mmscope.vsix');
    fs.rmSync(vsix, { force: true });
    execFileSync('npm', ['run', 'package'], { cwd: ROOT, stdio: 'pipe' });
    assert.ok(fs.statSync(vsix).size > 100_000, 'the .vsix has the bundles in it');
    const extensions = path.join(scratch, 'extensions');
    const env = { ...process.env, XDG_CONFIG_HOME: path.join(scratch, 'config'), XDG_DATA_HOME: path.join(scratch, 'data'), TMPDIR: scratch };
    const out = execFileSync(codeServerBinary(), ['--extensions-dir', extensions, '--user-data-dir', path.join(scratch, 'user'), '--install-extension', vsix], { env, encoding: 'utf8' });
    assert.match(out, /mmscope.*successfully installed/i, out);
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { publisher: string; name: string; version: string };
    installed = path.join(extensions, `${pkg.publisher}.${pkg.name}-${pkg.version}`);
    for (const f of ['package.json', 'dist/extension.js', 'dist/server.js', 'dist/adapter.js', 'dist/iced_x86_bg.wasm', 'dist/webview/memory-map-host.js', 'dist/webview/memory-map-host.css', 'dist/webview/screen-host.js', 'extension/media/walkthrough/kernel.md']) {
      assert.ok(fs.existsSync(path.join(installed, f)), `${f} is installed`);
    }
    assert.ok(!fs.existsSync(path.join(installed, 'node_modules')), 'the bundles stand alone');
    const manifest = JSON.parse(fs.readFileSync(path.join(installed, 'package.json'), 'utf8')) as { engines: { vscode: string }; contributes: { debuggers: { type: string }[] } };
    assert.ok(manifest.contributes.debuggers.some((d) => d.type === 'mmscope'));
    assert.match(manifest.engines.vscode, /^\^1\.(\d+)/);
    assert.ok(Number(/^\^1\.(\d+)/.exec(manifest.engines.vscode)?.[1]) <= 100, 'VS Code 1.100 may install it');
  });

  it('runs the installed debug adapter from its own folder', async () => {
    assert.ok(installed, 'the previous step installed the extension');
    const dc = new DebugClient('node', path.join(installed, 'dist', 'adapter.js'), 'mmscope', { cwd: scratch, stdio: ['pipe', 'pipe', 'pipe'] });
    await dc.start();
    try {
      const caps = (await dc.initializeRequest()).body;
      assert.ok(caps?.supportsEvaluateForHovers);
      assert.ok(caps?.exceptionBreakpointFilters?.some((f) => f.filter === 'mm-allocated'), 'the allocation filters come with the bundle');
      // A launch with a kernel path that does not exist gets one sentence back.
      await assert.rejects(dc.launch({ kernel: path.join(scratch, 'no-such-kernel.elf') } as never), /no-such-kernel\.elf/);
    } finally {
      await dc.stop().catch(() => undefined);
    }
  });
});
