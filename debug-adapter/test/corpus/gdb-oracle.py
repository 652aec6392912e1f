# gdb-oracle.py: runs a corpus plan in gdb (gdb -batch -x gdb-oracle.py KERNEL) against a QEMU
# that waits with its gdbstub on CORPUS_PORT, and writes one JSON object per stop to CORPUS_OUT.
#
# The plan (CORPUS_PLAN, JSON) is a list of stops: a breakpoint (function name or file:line)
# and the first round (corpus_round) in which it counts, then a list of step operations
# (next, step, finish, stepi). gdb goes first: the round it really used (one past the round it
# was in, if that is later than planned) and the operations it really ran are recorded, and the
# mmscope side replays exactly those. `finish` is not run in frames that never return
# (NO_FINISH): gdb would run to the end of the kernel. With each breakpoint a guard breakpoint
# (yield, two rounds later) ends the wait for a line that is not reached; the stop then says
# "guard": both sides must agree on that as well.

import json
import os
import gdb

NO_FINISH = {"worker_main", "thread_start", "kmain", "threads_run", "corpus_exit"}
MAX_FRAMES = 24
GUARD = "yield"
GUARD_ROUNDS = 2

plan = json.load(open(os.environ["CORPUS_PLAN"]))
out = open(os.environ["CORPUS_OUT"], "w")
state = {"exited": None}


def on_exit(event):
    state["exited"] = getattr(event, "exit_code", None)
    if state["exited"] is None:
        state["exited"] = -1


gdb.events.exited.connect(on_exit)


def emit(record):
    out.write(json.dumps(record) + "\n")
    out.flush()


def basename(path):
    return os.path.basename(path) if path else None


def parse_values(text):
    """`info args`/`info locals` output: name = value per line (first of a shadowed name)."""
    values = []
    seen = set()
    for line in text.splitlines():
        if " = " not in line:
            continue
        name, value = line.split(" = ", 1)
        name = name.strip()
        if not name or name in seen:
            continue
        seen.add(name)
        values.append([name, value])
    return values


def run_text(command):
    try:
        return gdb.execute(command, to_string=True), None
    except gdb.error as e:
        return "", str(e)


def capture():
    frames = []
    try:
        frame = gdb.newest_frame()
    except gdb.error as e:
        return {"error": str(e)}
    pc = frame.pc()
    n = 0
    while frame is not None and n < MAX_FRAMES:
        sal = frame.find_sal()
        frames.append({
            "function": frame.name(),
            "file": basename(sal.symtab.filename) if sal.symtab else None,
            "line": sal.line or 0,
            "pc": "0x%x" % frame.pc(),
        })
        n += 1
        try:
            frame = frame.older()
        except gdb.error:
            break
    gdb.newest_frame().select()
    args_text, args_error = run_text("info args")
    locals_text, locals_error = run_text("info locals")
    record = {
        "pc": "0x%x" % pc,
        "frames": frames,
        "args": parse_values(args_text),
        "locals": parse_values(locals_text),
    }
    if args_error:
        record["argsError"] = args_error
    if locals_error:
        record["localsError"] = locals_error
    try:
        record["round"] = int(gdb.parse_and_eval("corpus_round"))
    except gdb.error:
        pass
    return record


def current_function():
    try:
        return gdb.newest_frame().name()
    except gdb.error:
        return None


gdb.execute("set pagination off")
gdb.execute("set confirm off")
gdb.execute("set width 0")
gdb.execute("set height 0")
# kmain's breakpoint is set before the kernel turns paging on, when its virtual addresses
# cannot be read through the target: without this gdb's prologue analysis fails and it stops at
# the function's opening line (where it would not stop once paging is on, nor with the ELF alone).
# The kernel's code is read-only and never modified, so gdb may read it from the ELF.
gdb.execute("set trust-readonly-sections on")
# The x86-64 kernels (CORPUS_ARCH=i386:x86-64): QEMU's x86-64 gdbstub reports the 64-bit register
# set from reset on, also while the kernel's entry runs in 32-bit mode; gdb debugs them as 64-bit
# code. The plan's breakpoints are set after the kmain stop, when the kernel runs in long mode
# (kmain's own is matched by QEMU on the virtual pc, so it may be set at reset).
if os.environ.get("CORPUS_ARCH"):
    gdb.execute("set architecture %s" % os.environ["CORPUS_ARCH"])
gdb.execute("target remote 127.0.0.1:%d" % int(os.environ["CORPUS_PORT"]))
gdb.execute("tbreak kmain", to_string=True)
gdb.execute("continue", to_string=True)
entry = capture()
entry.update({"stop": -1, "op": "entry"})
emit(entry)

COMMANDS = {"next": "next", "step": "step", "finish": "finish", "stepi": "stepi"}

for index, stop in enumerate(plan["stops"]):
    if state["exited"] is not None:
        break
    gdb.execute("delete")
    current = int(gdb.parse_and_eval("corpus_round"))
    first_round = max(int(stop["round"]), current + 1)
    spec = stop["function"] if stop.get("function") else "%s:%d" % (stop["file"], stop["line"])
    try:
        bp = gdb.Breakpoint(spec, internal=False)
    except gdb.error as e:
        emit({"stop": index, "op": "break", "breakRound": first_round, "error": "cannot set %s: %s" % (spec, e)})
        continue
    bp.condition = "corpus_round >= %d" % first_round
    # The guard ends the wait if the breakpoint is not hit within two rounds.
    guard = gdb.Breakpoint(GUARD, internal=False)
    guard.condition = "corpus_round >= %d" % (first_round + GUARD_ROUNDS)
    _, error = run_text("continue")
    if state["exited"] is not None:
        emit({"stop": index, "op": "break", "breakRound": first_round, "exited": state["exited"], "error": error})
        break
    record = capture()
    record.update({"stop": index, "op": "break", "breakRound": first_round, "locations": len(bp.locations)})
    if guard.hit_count > 0 and bp.hit_count == 0:
        record["guard"] = True
    emit(record)
    # The breakpoint stays during the sequence: a step may end at it (deleted before the next stop).
    guard.delete()
    for op in stop["ops"]:
        if op == "finish" and current_function() in NO_FINISH:
            continue
        _, error = run_text(COMMANDS[op])
        if state["exited"] is not None:
            emit({"stop": index, "op": op, "exited": state["exited"], "error": error})
            break
        record = capture()
        record.update({"stop": index, "op": op})
        if error:
            record["error"] = error
        emit(record)

out.close()
gdb.execute("kill", to_string=True) if state["exited"] is None else None
