// The memory model is a pure library: nothing under debug-adapter/src/mm/model imports the
// session, the live feed or the plug-in that serves it (issue 13's split). And the one
// live-refresh timer both refresh paths run on: no two ticks at once, nothing after stop.

import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { RefreshTimer } from '../src/live/refresh-timer';

/** Waits until `done()` (polling; bounded at 5 s so a loaded machine cannot make it flaky). */
async function until(done: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !done(); i++) await new Promise((r) => setTimeout(r, 10));
}

const SRC = path.join(__dirname, '..', '..', '..', 'debug-adapter', 'src');

describe('structure of debug-adapter/src/mm', () => {
  it('model/ imports nothing of session/, live/, cli/ or plugin/ ', () => {
    const dir = path.join(SRC, 'mm', 'model');
    const files = fs.readdirSync(dir).filter((f) => f.endsWith('.ts'));
    assert.ok(files.length > 20, `model/ holds the model (${files.length} files)`);
    const offenders: string[] = [];
    for (const f of files) {
      const text = fs.readFileSync(path.join(dir, f), 'utf8');
      for (const m of text.matchAll(/from '([^']+)'/g)) {
        const target = path.resolve(dir, m[1]);
        const rel = path.relative(SRC, target);
        if (/^(session|live|cli|mm[\\/]plugin)([\\/]|$)/.test(rel) || /^\.\.[\\/]\.\.[\\/]extension/.test(path.relative(SRC, target))) offenders.push(`${f} imports ${m[1]}`);
      }
    }
    assert.deepStrictEqual(offenders, []);
  });

  it('plugin/ holds the session side and mm/ nothing else at its top', () => {
    const top = fs.readdirSync(path.join(SRC, 'mm')).filter((f) => f.endsWith('.ts'));
    assert.deepStrictEqual(top, []);
    assert.ok(fs.existsSync(path.join(SRC, 'mm', 'plugin', 'mm-extension.ts')));
  });
});

describe('RefreshTimer', () => {
  it('ticks repeatedly, never two at once, and not after stop', async () => {
    let running = 0;
    let overlapped = false;
    let ticks = 0;
    const timer = new RefreshTimer(async () => {
      running++;
      if (running > 1) overlapped = true;
      ticks++;
      await new Promise((r) => setTimeout(r, 15)); // a tick longer than the 5 ms period
      running--;
    });
    timer.start(200, 0);
    await until(() => ticks >= 3);
    timer.stop();
    const atStop = ticks;
    await new Promise((r) => setTimeout(r, 100));
    assert.ok(atStop >= 3, `it ticked (${atStop})`);
    assert.ok(!overlapped, 'no tick started while one ran');
    assert.ok(ticks - atStop <= 1, `at most the tick in progress finished after stop (${ticks - atStop} more)`);
  });

  it('pause holds ticks back and resume starts them again at the same rate', async () => {
    let ticks = 0;
    const timer = new RefreshTimer(async () => void ticks++);
    timer.setRate(100);
    await new Promise((r) => setTimeout(r, 60));
    assert.strictEqual(ticks, 0, 'setRate alone does not tick');
    timer.resume(0);
    await until(() => ticks >= 2);
    timer.pause();
    const paused = ticks;
    assert.ok(paused >= 2, `it ticked after resume (${paused})`);
    await new Promise((r) => setTimeout(r, 80));
    assert.strictEqual(ticks, paused, 'no tick while paused');
    assert.strictEqual(timer.ratePerSecond, 100);
    timer.stop();
    assert.strictEqual(timer.ratePerSecond, undefined);
  });
});
