/* event.c: the debugger's allocation-breakpoint hook (mm_event.h). */
#include "mm_event.h"
#include "proc.h"

volatile struct mm_event mm_last_event;

__attribute__((noinline)) void mm_event_hook(void)
{
    __asm__ volatile("" ::: "memory");
}

void mm_event(uint32_t kind, uint32_t chain, uint32_t blocks, uint32_t flags, uint32_t arg, uint32_t status, uint32_t caller)
{
    mm_last_event.kind = kind;
    mm_last_event.chain = chain;
    mm_last_event.blocks = blocks;
    mm_last_event.flags = flags;
    mm_last_event.arg = arg;
    mm_last_event.status = status;
    mm_last_event.caller = caller;
    mm_last_event.pid = current ? current->pid : 0;
    mm_last_event.seq++;
    mm_event_hook();
}
