# gdb's pc -> line for every address of .text, for symbols-gdb-lines.test.ts:
#   gdb -batch -nx -x gdb-pc-lines.py KERNEL  (MMSCOPE_OUT names the JSON file to write)
# One entry per address: [pc] without a line, else [pc, file basename, line, start, end].
import json
import os
import re

import gdb

info = gdb.execute("maint info sections .text", to_string=True)
m = re.search(r"\[\d+\]\s+0x([0-9a-f]+)->0x([0-9a-f]+)", info)
low, high = int(m.group(1), 16), int(m.group(2), 16)
result = []
for pc in range(low, high):
    sal = gdb.find_pc_line(pc)
    if sal.symtab is None or sal.line == 0:
        result.append([pc])
    else:
        result.append([pc, os.path.basename(sal.symtab.filename), sal.line, sal.pc, sal.last + 1])
with open(os.environ["MMSCOPE_OUT"], "w") as out:
    json.dump(result, out)
