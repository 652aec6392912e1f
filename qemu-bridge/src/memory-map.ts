// QEMU's physical memory map: the flat view of the system "memory" address space that HMP's
// `info mtree -f` prints (RAM, ROM and device regions; the I/O port space is skipped), parsed
// into regions. Pure. The guest's RAM is the memory region QEMU maps at physical 0 (`pc.ram`,
// or the memory backend's id with `-machine memory-backend=`): every piece of it is 'ram' (or
// 'rom' where the chipset shadows it read-only, as the BIOS area); RAM of devices (a VGA
// framebuffer) is 'device', like every I/O region.

/** One region of the flat view (docs/snapshot-schema.md, "Frames"). */
export interface PhysicalRegion {
  readonly base: number;
  readonly size: number;
  readonly kind: 'ram' | 'rom' | 'device';
  /** The memory region's name, without QEMU's `@offset`. */
  readonly name: string;
  /** Offset into the memory region (QEMU's `@offset`; 0 when absent). */
  readonly offset: number;
}

const LINE = /^\s*([0-9a-f]+)-([0-9a-f]+) \(prio -?\d+, ([a-z/-]+)\): (.*?)(?: @([0-9a-f]+))?\s*$/i;

/**
 * The regions of the flat view whose address spaces include "memory", sorted by base. Returns []
 * when the text holds no such view (an older QEMU, an error message).
 */
export function parseFlatMemoryMap(text: string): PhysicalRegion[] {
  const lines = text.split(/\r?\n/);
  let i = 0;
  // Find the FlatView block that lists AS "memory".
  for (; i < lines.length; i++) {
    if (!/^FlatView #\d+/.test(lines[i])) continue;
    let j = i + 1;
    let isMemory = false;
    for (; j < lines.length && /^\s*AS "/.test(lines[j]); j++) if (/^\s*AS "memory"/.test(lines[j])) isMemory = true;
    if (isMemory) {
      i = j;
      break;
    }
  }
  const raw: { base: number; end: number; type: string; name: string; offset: number }[] = [];
  for (; i < lines.length; i++) {
    const line = lines[i];
    if (/^FlatView #/.test(line) || /^\(qemu\)/.test(line)) break;
    const m = LINE.exec(line);
    if (!m) continue;
    raw.push({ base: parseInt(m[1], 16), end: parseInt(m[2], 16), type: m[3].toLowerCase(), name: m[4], offset: m[5] ? parseInt(m[5], 16) : 0 });
  }
  const ramName = raw.find((r) => r.base === 0 && (r.type === 'ram' || r.type === 'ramd'))?.name;
  return raw.map((r) => ({
    base: r.base,
    size: r.end - r.base + 1,
    kind: r.type === 'i/o' ? 'device' : r.name === ramName ? (r.type.startsWith('rom') ? 'rom' : 'ram') : r.type.startsWith('rom') ? 'rom' : 'device',
    name: r.name,
    offset: r.offset,
  }) as PhysicalRegion).sort((a, b) => a.base - b.base);
}
