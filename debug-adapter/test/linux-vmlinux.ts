// The ELF inside a Linux bzImage (Debian's vmlinuz): the adapter's sessions need an ELF for
// symbols, and a distribution's kernel ships none. The bzImage's setup header says where its
// compressed payload is (payload_offset, payload_length: the boot protocol, 2.08+); the payload
// is the stripped vmlinux ELF. Decompressed once per file with the system's xz/zstd/gzip.

import { execFileSync } from 'child_process';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const DECOMPRESSORS: readonly { magic: Buffer; command: string; args: string[] }[] = [
  { magic: Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]), command: 'xz', args: ['-dc', '--single-stream'] },
  { magic: Buffer.from([0x28, 0xb5, 0x2f, 0xfd]), command: 'zstd', args: ['-dc'] },
  { magic: Buffer.from([0x1f, 0x8b]), command: 'gzip', args: ['-dc'] },
];

/** Path of the (stripped) vmlinux ELF inside `bzImage`, extracted into the temp directory once. */
export function vmlinuxOf(bzImage: string): string {
  const image = fs.readFileSync(bzImage);
  const out = path.join(os.tmpdir(), `mmscope-vmlinux-${crypto.createHash('sha256').update(image).digest('hex').slice(0, 16)}.elf`);
  if (fs.existsSync(out)) return out;
  if (image.readUInt32LE(0x202) !== 0x53726448) throw new Error(`${bzImage} is not a bzImage (no HdrS setup header)`);
  const setupSectors = image[0x1f1] || 4;
  const start = (setupSectors + 1) * 512 + image.readUInt32LE(0x248);
  const payload = image.subarray(start, start + image.readUInt32LE(0x24c));
  const d = DECOMPRESSORS.find((x) => payload.subarray(0, x.magic.length).equals(x.magic));
  if (!d) throw new Error(`${bzImage}'s payload is compressed in a way this helper does not know (first bytes ${payload.subarray(0, 6).toString('hex')})`);
  const elf = execFileSync(d.command, d.args, { input: payload, maxBuffer: 1 << 30 });
  if (elf.subarray(0, 4).toString('latin1') !== '\x7fELF') throw new Error(`${bzImage}'s payload is not an ELF`);
  fs.writeFileSync(`${out}.tmp`, elf);
  fs.renameSync(`${out}.tmp`, out);
  return out;
}
