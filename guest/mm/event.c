/* event.c: the debugger's allocation-breakpoint hook (mm_event.h); every event also goes
 * into the event ring (event_ring.h). */
#include "mm_event.h"
#include "event_ring.h"
#include "proc.h"

volatile struct mm_event mm_last_event;

__attribute__((noinline)) void mm_event_hook(void)
{
    __asm__ volatile("" ::: "memory");
}

void mm_event_x(uint32_t kind, uint32_t chain, uint32_t blocks, uint32_t flags, uint32_t arg, uint32_t status,
                uint32_t caller, uint32_t ring_flags, uint32_t extra)
{
    uint32_t pid = current ? current->pid : 0;
    mm_ring_write(kind, chain, blocks, ring_flags, arg, status, caller, extra, pid);
    mm_last_event.kind = kind;
    mm_last_event.chain = chain;
    mm_last_event.blocks = blocks;
    mm_last_event.flags = flags;
    mm_last_event.arg = arg;
    mm_last_event.status = status;
    mm_last_event.caller = caller;
    mm_last_event.pid = pid;
    mm_last_event.seq++;
    mm_event_hook();
}

void mm_event(uint32_t kind, uint32_t chain, uint32_t blocks, uint32_t flags, uint32_t arg, uint32_t status, uint32_t caller)
{
    mm_event_x(kind, chain, blocks, flags, arg, status, caller, flags, 0);
}
