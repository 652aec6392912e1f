# Where gdb 13 puts `break FILE:LINE` for every line of the files named in MMSCOPE_FILES
# (comma-separated "file:lines"), for symbols-line-breakpoints.test.ts:
#   gdb -batch -nx -x gdb-line-breakpoints.py KERNEL   (MMSCOPE_OUT names the JSON file to write)
# One entry per line: [file, line, [addresses...], shown line of the first] (no addresses: gdb
# placed nothing; the shown line is what gdb reports for the location, 0 when none; 64-bit
# addresses as their signed value, js_address).
import json
import os

import gdb


def js_address(a):
    """An address as the adapter holds it (docs/addresses.md): a 64-bit kernel-half address as its
    signed value, which JSON carries exactly; 32-bit addresses are unchanged."""
    return a - (1 << 64) if a >= (1 << 63) else a

gdb.execute("set breakpoint pending off")
result = []
for spec in os.environ["MMSCOPE_FILES"].split(","):
    name, count = spec.rsplit(":", 1)
    for line in range(1, int(count) + 1):
        addresses = []
        shown = 0
        try:
            bp = gdb.Breakpoint("%s:%d" % (name, line), internal=True)
            locations = sorted(bp.locations, key=lambda loc: loc.address)
            addresses = sorted({js_address(loc.address) for loc in locations})
            if locations and locations[0].source:
                shown = locations[0].source[1]
            bp.delete()
        except gdb.error:
            pass
        result.append([name, line, addresses, shown])
with open(os.environ["MMSCOPE_OUT"], "w") as out:
    json.dump(result, out)
