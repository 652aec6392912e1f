// Recognises a kernel image from the first bytes of a file: an ELF32 i386 or ELF64 x86-64
// executable, and a multiboot v1 header (magic 0x1BADB002, 4-byte aligned in the first 8 KiB,
// magic + flags + checksum == 0) or a multiboot2 header (magic 0xE85250D6, 8-byte aligned in the
// first 32 KiB, magic + architecture + length + checksum == 0). Pure: no file system, no VS Code.
// QEMU's -kernel loader boots an ELF32 i386 multiboot v1 kernel, and an ELF64 x86-64 one only
// when its multiboot v1 header uses the a.out kludge (flag bit 16: QEMU loads the file raw at
// the header's addresses and never reads the ELF64 headers); the adapter then runs
// qemu-system-x86_64 for it.

/** How many bytes of a file the recognition reads: the multiboot2 search window. */
export const KERNEL_HEAD_BYTES = 32 * 1024;
const MB1_WINDOW = 8 * 1024;
const MB1_MAGIC = 0x1badb002;
const MB2_MAGIC = 0xe85250d6;
/** Multiboot v1 flag bit 16: the header gives the load addresses (the a.out kludge). */
const MB1_AOUT_KLUDGE = 1 << 16;

export type KernelArch = 'i386' | 'x86-64';

export interface KernelImage {
  readonly arch: KernelArch;
  /** 32 or 64 (the ELF class). */
  readonly bits: 32 | 64;
  /** The multiboot headers found, with their file offsets. */
  readonly multiboot1?: number;
  readonly multiboot2?: number;
  /**
   * Whether QEMU's `-kernel` boots it: ELF32 i386 with a multiboot v1 header, or ELF64 x86-64
   * whose multiboot v1 header uses the a.out kludge.
   */
  readonly bootableWithKernelOption: boolean;
  /** The QEMU that runs it (the adapter picks the same from the ELF class). */
  readonly qemu: 'qemu-system-i386' | 'qemu-system-x86_64';
  /** One sentence for the quick pick: what it is and how it can boot. */
  readonly summary: string;
}

/** Why a file is not a kernel candidate. */
export interface NotAKernel {
  readonly reason: string;
}

const u32 = (b: Uint8Array, o: number): number => (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24)) >>> 0;
const u16 = (b: Uint8Array, o: number): number => b[o] | (b[o + 1] << 8);

/** Offset of a valid multiboot v1 header in `head`, or undefined. */
export function findMultiboot1(head: Uint8Array): number | undefined {
  const end = Math.min(head.length, MB1_WINDOW) - 12;
  for (let o = 0; o <= end; o += 4) {
    if (u32(head, o) !== MB1_MAGIC) continue;
    if (((u32(head, o) + u32(head, o + 4) + u32(head, o + 8)) >>> 0) === 0) return o;
  }
  return undefined;
}

/** Offset of a valid multiboot2 header in `head`, or undefined. */
export function findMultiboot2(head: Uint8Array): number | undefined {
  const end = Math.min(head.length, KERNEL_HEAD_BYTES) - 16;
  for (let o = 0; o <= end; o += 8) {
    if (u32(head, o) !== MB2_MAGIC) continue;
    const length = u32(head, o + 8);
    if (length < 16) continue;
    if (((u32(head, o) + u32(head, o + 4) + length + u32(head, o + 12)) >>> 0) === 0) return o;
  }
  return undefined;
}

/**
 * Recognises a kernel from its first bytes (`head`, up to KERNEL_HEAD_BYTES). A kernel is an ELF
 * executable for i386 or x86-64 with a multiboot v1 or v2 header.
 */
export function recogniseKernel(head: Uint8Array): KernelImage | NotAKernel {
  if (head.length < 52 || head[0] !== 0x7f || head[1] !== 0x45 || head[2] !== 0x4c || head[3] !== 0x46) {
    return { reason: head.length < 4 ? 'the file is too short to be an ELF' : head.length < 52 && head[0] === 0x7f && head[1] === 0x45 ? 'the ELF header is truncated' : 'not an ELF file' };
  }
  const cls = head[4];
  if (head[5] !== 1) return { reason: 'a big-endian ELF' };
  if (cls !== 1 && cls !== 2) return { reason: `ELF class ${cls} is neither 32- nor 64-bit` };
  if (cls === 2 && head.length < 64) return { reason: 'the ELF64 header is truncated' };
  const type = u16(head, 16);
  const machine = u16(head, 18);
  if (type !== 2) return { reason: type === 1 ? 'an object file (.o), not a linked kernel' : type === 3 ? 'a shared object or PIE, not a kernel' : `ELF type ${type} is not an executable` };
  let arch: KernelArch;
  if (cls === 1 && machine === 3) arch = 'i386';
  else if (cls === 2 && machine === 62) arch = 'x86-64';
  else return { reason: `an ELF${cls === 1 ? 32 : 64} for machine ${machine}, not i386 or x86-64` };
  const mb1 = findMultiboot1(head);
  const mb2 = findMultiboot2(head);
  if (mb1 === undefined && mb2 === undefined) return { reason: `an ELF${cls === 1 ? 32 : 64} ${arch} executable without a multiboot header` };
  const bits = cls === 1 ? 32 : 64;
  const aoutKludge = mb1 !== undefined && (u32(head, mb1 + 4) & MB1_AOUT_KLUDGE) !== 0;
  const bootable = mb1 !== undefined && (arch === 'i386' || aoutKludge);
  const headers = [mb1 !== undefined ? (aoutKludge ? 'multiboot (a.out kludge)' : 'multiboot') : undefined, mb2 !== undefined ? 'multiboot2' : undefined].filter(Boolean).join(' + ');
  const iso = `boot an ISO with GRUB (the "boot" option) and use this ELF for symbols`;
  const summary = arch === 'i386'
    ? bootable
      ? `ELF32 i386, ${headers}: QEMU boots it with -kernel`
      : `ELF32 i386, multiboot2 only: QEMU's -kernel cannot boot it; ${iso}`
    : bootable
      ? `ELF64 x86-64, ${headers}: qemu-system-x86_64 boots it with -kernel`
      : `ELF64 x86-64, ${headers}: QEMU's -kernel loads an ELF64 only through the multiboot a.out kludge (header flag bit 16); ${iso}`;
  const qemu = arch === 'i386' ? 'qemu-system-i386' : 'qemu-system-x86_64';
  return { arch, bits, ...(mb1 !== undefined ? { multiboot1: mb1 } : {}), ...(mb2 !== undefined ? { multiboot2: mb2 } : {}), bootableWithKernelOption: bootable, qemu, summary };
}

export function isKernel(r: KernelImage | NotAKernel): r is KernelImage {
  return 'arch' in r;
}
