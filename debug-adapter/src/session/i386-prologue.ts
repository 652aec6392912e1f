// The end of an i386 function's prologue as gdb 13 finds it for gcc code (i386_analyze_prologue):
// optional endbr32 and no-op padding, `push %ebp`, a few scratch-register instructions gcc may
// schedule before the frame is set up, `mov %esp,%ebp` (or `lea (%esp),%ebp`), an optional
// `sub $N,%esp` (or `lea -N(%esp),%esp`), then the register pushes; or `enter`. Pure: bytes in,
// an offset out.

/** One instruction pattern: `length` bytes whose first bytes match `bytes` under `mask`. */
interface Pattern {
  length: number;
  bytes: readonly number[];
  mask: readonly number[];
}

/** Instructions gcc may place between `push %ebp` and `mov %esp,%ebp` (they touch only eax, ecx, edx). */
const BEFORE_FRAME_SETUP: readonly Pattern[] = [
  { length: 2, bytes: [0xb0], mask: [0xfa] }, // movb $imm8, %al/%cl/%ah/%ch
  { length: 2, bytes: [0xb2], mask: [0xfb] }, // movb $imm8, %dl/%dh
  { length: 5, bytes: [0xb8], mask: [0xfe] }, // movl $imm32, %eax/%ecx
  { length: 5, bytes: [0xba], mask: [0xff] }, // movl $imm32, %edx
  { length: 5, bytes: [0xa1], mask: [0xff] }, // movl m32, %eax
  // Opcode 0x89 with an absolute address, as gdb's table has it; a load (0x8b) such as
  // `mov 0x...,%edx` there makes gdb see no frame setup (measured: the guest's mm_event at -O2).
  { length: 6, bytes: [0x89, 0x05], mask: [0xff, 0xf7] },
  { length: 6, bytes: [0x89, 0x15], mask: [0xff, 0xff] },
  { length: 2, bytes: [0x29, 0xc0], mask: [0xfd, 0xff] }, // subl %eax, %eax
  { length: 2, bytes: [0x29, 0xc9], mask: [0xfd, 0xff] }, // subl %ecx, %ecx
  { length: 2, bytes: [0x29, 0xd2], mask: [0xfd, 0xff] }, // subl %edx, %edx
  { length: 2, bytes: [0x31, 0xc0], mask: [0xfd, 0xff] }, // xorl %eax, %eax
  { length: 2, bytes: [0x31, 0xc9], mask: [0xfd, 0xff] }, // xorl %ecx, %ecx
  { length: 2, bytes: [0x31, 0xd2], mask: [0xfd, 0xff] }, // xorl %edx, %edx
];

function matches(code: Uint8Array, at: number, p: Pattern): boolean {
  if (at + p.length > code.length) return false;
  return p.bytes.every((b, i) => (code[at + i] & p.mask[i]) === b);
}

/**
 * The offset in `code` (the function's first bytes) where gdb considers the prologue done, or
 * undefined when the function sets up no frame (gdb then stops at the entry itself).
 */
export function i386PrologueEnd(code: Uint8Array): number | undefined {
  let pc = 0;
  // endbr32
  if (code[0] === 0xf3 && code[1] === 0x0f && code[2] === 0x1e && code[3] === 0xfb) pc = 4;
  // nop; mov %edi,%edi (hot-patch padding)
  for (let n = 0; n < 8; n++) {
    if (code[pc] === 0x90) pc += 1;
    else if (code[pc] === 0x8b && code[pc + 1] === 0xff) pc += 2;
    else break;
  }
  if (code[pc] === 0xc8) return pc + 4; // enter $N, $0
  if (code[pc] !== 0x55) return undefined;
  pc += 1;
  let skip = 0;
  for (;;) {
    const p = BEFORE_FRAME_SETUP.find((q) => matches(code, pc + skip, q));
    if (!p) break;
    skip += p.length;
  }
  const op = code[pc + skip];
  if (op === 0x8b && code[pc + skip + 1] === 0xec) pc += skip + 2;
  else if (op === 0x89 && code[pc + skip + 1] === 0xe5) pc += skip + 2;
  else if (op === 0x8d && code[pc + skip + 1] === 0x2c && code[pc + skip + 2] === 0x24) pc += skip + 3;
  else return undefined;
  // The frame is set up; an immediate stack adjustment belongs to the prologue.
  if (code[pc] === 0x83 && code[pc + 1] === 0xec) pc += 3;
  else if (code[pc] === 0x81 && code[pc + 1] === 0xec) pc += 6;
  else if (code[pc] === 0x8d && code[pc + 1] === 0x64 && code[pc + 2] === 0x24) pc += 4;
  // Callee-saved register pushes.
  while (pc < code.length && code[pc] >= 0x50 && code[pc] <= 0x57) pc++;
  return pc;
}
