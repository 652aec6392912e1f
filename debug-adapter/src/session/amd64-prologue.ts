// The end of an x86-64 function's prologue as gdb 13 finds it for gcc code
// (amd64_analyze_prologue, which amd64_skip_prologue uses for every producer but LLVM): an
// optional endbr64, then `push %rbp` followed by `mov %rsp,%rbp` (either encoding, or the 32-bit
// `mov %esp,%ebp`). Without that frame setup the function counts as frameless and gdb stops at
// its entry. Pure: bytes in, an offset out.

/**
 * The offset in `code` (the function's first bytes) where gdb considers the prologue done, or
 * undefined when the function sets up no frame (gdb then stops at the entry itself).
 */
export function amd64PrologueEnd(code: Uint8Array): number | undefined {
  let pc = 0;
  if (code[0] === 0xf3 && code[1] === 0x0f && code[2] === 0x1e && code[3] === 0xfa) pc = 4; // endbr64
  if (code[pc] !== 0x55) return undefined; // push %rbp
  const a = code[pc + 1];
  const b = code[pc + 2];
  const c = code[pc + 3];
  if (a === 0x48 && ((b === 0x89 && c === 0xe5) || (b === 0x8b && c === 0xec))) return pc + 4; // mov %rsp,%rbp
  if ((a === 0x89 && b === 0xe5) || (a === 0x8b && b === 0xec)) return pc + 3; // mov %esp,%ebp
  return undefined;
}
