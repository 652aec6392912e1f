/* usermode.h: the kernel's entry points for code that runs outside ring 0.
 *   proc_user_fault  a fault (exception) from ring 3 or V86 mode that nothing handled: ends the
 *                    process with a console message, frees its memory, switches to another
 *   v86_trap         any exception or interrupt taken in V86 mode: the V86 monitor emulates
 *                    the sensitive instruction / service and returns the frame to resume, or
 *                    0 to let the default (proc_user_fault for exceptions, the IRQ handler) run
 * Both return the stack pointer to resume (interrupt_dispatch's convention). */
#ifndef USERMODE_H
#define USERMODE_H
#include <stdint.h>
#include "interrupts.h"

uint32_t proc_user_fault(struct int_frame *f);
uint32_t v86_trap(struct int_frame *f);
#endif
