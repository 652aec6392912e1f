/* ring_bench.h: the event ring's recording cost, cmdline `ringbench` (kernel/ring_bench.c). */
#ifndef RING_BENCH_H
#define RING_BENCH_H
void ring_bench_run(void);
#endif
