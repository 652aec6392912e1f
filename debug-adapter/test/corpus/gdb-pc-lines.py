# gdb's pc -> line for every address of .text, for symbols-gdb-lines.test.ts:
#   gdb -batch -nx -x gdb-pc-lines.py KERNEL  (MMSCOPE_OUT names the JSON file to write)
# One entry per address: [pc] without a line, else [pc, file basename, line, start, end]; 64-bit
# addresses as their signed value (js_address).
import json
import os
import re

import gdb


def js_address(a):
    """An address as the adapter holds it (docs/addresses.md): a 64-bit kernel-half address as its
    signed value, which JSON carries exactly; 32-bit addresses are unchanged."""
    return a - (1 << 64) if a >= (1 << 63) else a

info = gdb.execute("maint info sections .text", to_string=True)
m = re.search(r"\[\d+\]\s+0x([0-9a-f]+)->0x([0-9a-f]+)", info)
low, high = int(m.group(1), 16), int(m.group(2), 16)
result = []
for pc in range(low, high):
    sal = gdb.find_pc_line(pc)
    if sal.symtab is None or sal.line == 0:
        result.append([js_address(pc)])
    else:
        result.append([js_address(pc), os.path.basename(sal.symtab.filename), sal.line, js_address(sal.pc), js_address(sal.last + 1)])
with open(os.environ["MMSCOPE_OUT"], "w") as out:
    json.dump(result, out)
