/* usermode.c: ring-3 processes (usermode.h). Placeholder until user mode lands: nothing runs in
 * ring 3 yet, so a fault from there is a kernel bug and stops the kernel. */
#include "usermode.h"
#include "console.h"
#include "x86.h"

uint32_t proc_user_fault(struct int_frame *f)
{
    panic("fault (vector %u) from ring 3 at eip=%p, but no process runs in ring 3", f->vector, (void *)f->eip);
}
