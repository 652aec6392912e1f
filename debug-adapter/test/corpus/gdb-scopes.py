# The gdb side of the frame-scope test, offline (no target): for every pc listed in the file
# named by $MMSCOPE_SCOPE_PCS (one hexadecimal address per line), the source frames gdb makes of
# the block at that pc (the innermost inlined call first, the function last) and, per frame, what
# `info args` and `info locals` would list: the frame function's arguments, and the locals of
# each block from the frame's innermost block out to the frame's function block, in gdb's block
# iteration order. Prints one JSON line per pc: {"pc": N, "frames": [{"function", "args",
# "locals"}, ...]} (a 64-bit pc as its signed value, js_address); a pc without a block gives
# "frames": [].
#
# Run as: MMSCOPE_SCOPE_PCS=FILE gdb -batch -nx -x gdb-scopes.py KERNEL.elf

import json
import os

import gdb


def js_address(a):
    """An address as the adapter holds it (docs/addresses.md): a 64-bit kernel-half address as its
    signed value, which JSON carries exactly; 32-bit addresses are unchanged."""
    return a - (1 << 64) if a >= (1 << 63) else a

PRINTED = (gdb.SYMBOL_LOC_CONST, gdb.SYMBOL_LOC_LOCAL, gdb.SYMBOL_LOC_REGISTER, gdb.SYMBOL_LOC_STATIC,
           gdb.SYMBOL_LOC_COMPUTED, gdb.SYMBOL_LOC_OPTIMIZED_OUT)


def locals_of(block):
    """The names `info locals` prints from one block (stack.c's iterate_over_block_locals)."""
    names = []
    for sym in block:
        if sym.addr_class in PRINTED and not sym.is_argument:
            names.append(sym.name)
    return names


def frames_at(pc):
    try:
        block = gdb.block_for_pc(pc)
    except RuntimeError:
        return []
    frames = []
    current = []
    while block is not None and not block.is_static and not block.is_global:
        current.append(block)
        if block.function is not None:
            frames.append({
                'function': block.function.name,
                'args': [s.name for s in block if s.is_argument],
                'locals': [n for b in current for n in locals_of(b)],
            })
            current = []
        block = block.superblock
    return frames


with open(os.environ['MMSCOPE_SCOPE_PCS']) as f:
    pcs = [int(line, 16) for line in f if line.strip()]
out = []
for pc in pcs:
    out.append(json.dumps({'pc': js_address(pc), 'frames': frames_at(pc)}))
print('\n'.join(out))
