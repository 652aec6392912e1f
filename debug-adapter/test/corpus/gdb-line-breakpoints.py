# Where gdb 13 puts `break FILE:LINE` for every line of the files named in MMSCOPE_FILES
# (comma-separated "file:lines"), for symbols-line-breakpoints.test.ts:
#   gdb -batch -nx -x gdb-line-breakpoints.py KERNEL   (MMSCOPE_OUT names the JSON file to write)
# One entry per line: [file, line, [addresses...], shown line of the first] (no addresses: gdb
# placed nothing; the shown line is what gdb reports for the location, 0 when none).
import json
import os

import gdb

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
            addresses = sorted({loc.address for loc in locations})
            if locations and locations[0].source:
                shown = locations[0].source[1]
            bp.delete()
        except gdb.error:
            pass
        result.append([name, line, addresses, shown])
with open(os.environ["MMSCOPE_OUT"], "w") as out:
    json.dump(result, out)
