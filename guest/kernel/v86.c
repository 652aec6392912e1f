/* v86.c: the V86 monitor (usermode.h, v86.h). Placeholder until DOS tasks land: no task runs
 * in V86 mode, so nothing is handled here. */
#include "usermode.h"
#include "v86.h"

uint32_t v86_trap(struct int_frame *f)
{
    (void)f;
    return 0;
}
