// The Screen's pure parts: PNG headers (good and hand-made bad ones), which screendump sizes are
// VGA text modes, the text buffer decoded through code page 437, and the KeyboardEvent.code ->
// QEMU key-code table, checked against the QKeyCode enum of the real QEMU (query-qmp-schema).

import * as assert from 'assert';
import { spawn } from 'child_process';
import { QmpClient, findFreePort } from '../../qemu-bridge/src';
import { pngInfo } from '../src/screen/png-info';
import { QCODES, qcodesForKey } from '../src/screen/qcodes';
import { CP437, decodeVgaText, textGridOf } from '../src/screen/vga-text';

/** A minimal PNG header: signature + IHDR of `w` x `h` (the CRC is not checked by pngInfo). */
function pngHeader(w: number, h: number, type = 'IHDR', length = 13): Buffer {
  const b = Buffer.alloc(33);
  Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]).copy(b, 0);
  b.writeUInt32BE(length, 8);
  b.write(type, 12, 'latin1');
  b.writeUInt32BE(w, 16);
  b.writeUInt32BE(h, 20);
  b[24] = 8;
  b[25] = 2;
  return b;
}

describe('screen: PNG header, text modes, code page 437', () => {
  it('reads the size from the IHDR and rejects what is not a PNG', () => {
    assert.deepStrictEqual(pngInfo(pngHeader(720, 400)), { width: 720, height: 400, bitDepth: 8, colorType: 2 });
    assert.throws(() => pngInfo(pngHeader(720, 400).subarray(0, 20)), /too few/);
    const notPng = pngHeader(720, 400);
    notPng[1] = 0x51;
    assert.throws(() => pngInfo(notPng), /signature/);
    assert.throws(() => pngInfo(pngHeader(720, 400, 'IDAT')), /not a 13-byte IHDR/);
    assert.throws(() => pngInfo(pngHeader(0, 400)), /0x400/);
  });

  it('takes 720x400 and 640x400 for 80x25 text, 360x400 for 40x25, and graphics sizes for graphics', () => {
    assert.deepStrictEqual(textGridOf(720, 400), { columns: 80, rows: 25 });
    assert.deepStrictEqual(textGridOf(640, 400), { columns: 80, rows: 25 });
    assert.deepStrictEqual(textGridOf(360, 400), { columns: 40, rows: 25 });
    assert.deepStrictEqual(textGridOf(720, 350), { columns: 80, rows: 25 });
    for (const [w, h] of [[640, 480], [800, 600], [1024, 768], [320, 200]]) assert.strictEqual(textGridOf(w, h), undefined, `${w}x${h}`);
  });

  it('decodes the text buffer through code page 437, trimming trailing blanks', () => {
    assert.strictEqual([...CP437].length, 256);
    assert.strictEqual(CP437.length, 256, 'one UTF-16 unit per byte');
    const grid = { columns: 4, rows: 2 };
    const buf = Buffer.from([0x48, 7, 0x69, 7, 0x20, 7, 0x20, 7, 0xc9, 0x1f, 0xcd, 0x1f, 0xbb, 0x1f, 0x01, 7]);
    assert.deepStrictEqual(decodeVgaText(buf, grid), ['Hi', '╔═╗☺']);
    assert.throws(() => decodeVgaText(buf.subarray(0, 10), grid), /10 bytes, not the 16/);
    // Spot checks against the code page's published layout.
    assert.deepStrictEqual([0x41, 0x7e, 0x80, 0xb0, 0xdb, 0xe1, 0xfb].map((c) => CP437[c]), ['A', '~', 'Ç', '░', '█', 'ß', '√']);
  });
});

describe('screen: KeyboardEvent.code to QEMU key codes', function () {
  this.timeout(60000);

  it('maps every code to a QKeyCode the real QEMU knows (query-qmp-schema)', async () => {
    const port = await findFreePort();
    const qemu = spawn('qemu-system-i386', ['-S', '-nodefaults', '-display', 'none', '-qmp', `tcp:127.0.0.1:${port},server=on,wait=off`], { stdio: 'ignore' });
    try {
      let qmp: QmpClient | undefined;
      for (let i = 0; i < 100 && !qmp; i++) {
        qmp = await QmpClient.connect({ host: '127.0.0.1', port }).catch(async () => {
          await new Promise((r) => setTimeout(r, 100));
          return undefined;
        });
      }
      assert.ok(qmp, 'QEMU answered on QMP');
      const schema = (await qmp.execute('query-qmp-schema', undefined, 20000)) as { name: string; 'meta-type': string; values?: string[]; members?: { name: string }[] }[];
      qmp.close();
      // The enum named QKeyCode (its internal name in the schema is a number: find it as the enum holding 'ret' and 'kp_enter').
      const enums = schema.filter((e) => e['meta-type'] === 'enum');
      const qkeycode = enums.find((e) => (e.values ?? (e.members ?? []).map((m) => m.name)).includes('kp_enter'));
      assert.ok(qkeycode, 'the schema has the QKeyCode enum');
      const known = new Set(qkeycode.values ?? (qkeycode.members ?? []).map((m) => m.name));
      const unknown = Object.entries(QCODES).filter(([, q]) => !known.has(q));
      assert.deepStrictEqual(unknown, [], 'every qcode in the table is one QEMU accepts');
      assert.ok(Object.keys(QCODES).length >= 100, `${Object.keys(QCODES).length} keys mapped`);
    } finally {
      qemu.kill('SIGKILL');
    }
  });

  it('presses the held modifiers with the key, not with a modifier itself, and names a key it cannot send', () => {
    assert.deepStrictEqual(qcodesForKey('KeyA'), ['a']);
    assert.deepStrictEqual(qcodesForKey('KeyC', { ctrl: true, shift: true }), ['ctrl', 'shift', 'c']);
    assert.deepStrictEqual(qcodesForKey('ShiftLeft', { shift: true }), ['shift']);
    assert.deepStrictEqual(qcodesForKey('F12', { alt: true }), ['alt', 'f12']);
    assert.throws(() => qcodesForKey('MediaPlayPause'), /"MediaPlayPause" has no QEMU key code/);
  });
});
