/* timer.c: programs the PIT channel 0 at TIMER_HZ; IRQ 0 counts milliseconds (the
 * scheduler's preemption runs from interrupt_dispatch after this handler). */
#include "timer.h"
#include "interrupts.h"
#include "x86.h"

volatile uint32_t timer_ticks;

static void timer_irq(struct int_frame *f)
{
    (void)f;
    timer_ticks++;
}

void timer_init(void)
{
    uint32_t divisor = 1193182u / TIMER_HZ;
    outb(0x43, 0x36);
    outb(0x40, (uint8_t)divisor);
    outb(0x40, (uint8_t)(divisor >> 8));
    irq_set_handler(0, timer_irq);
}
