/* timer.h: the PIT at TIMER_HZ and the kernel tick count. */
#ifndef TIMER_H
#define TIMER_H
#include <stdint.h>
#define TIMER_HZ 1000u
extern volatile uint32_t timer_ticks;   /* milliseconds since timer_init */
void timer_init(void);
static inline uint32_t timer_ms(void) { return timer_ticks; }
#endif
