/* modes.h: what the kernel runs after boot, chosen by the command line. */
#ifndef MODES_H
#define MODES_H
extern char kernel_cmdline[256];
/* Runs the demo workload forever (processes allocating, mapping, freeing; heartbeats). */
void demo_run(void) __attribute__((noreturn));
/* Starts the demo's ring-3 processes (demo/user_demo.c): a kernel thread keeps a few of them
 * allocating (and faulting now and then) and starts a replacement for each one that ends. */
void user_demo_start(void);
/* Runs the guest-side benchmarks, prints "bench NAME VALUE UNIT" lines, exits QEMU. */
void bench_run(void) __attribute__((noreturn));
/* Fills memory with chains and page tables for the snapshot benchmark; never returns. */
void fill_run(void) __attribute__((noreturn));
/* Starts the demo's DOS tasks (demo/dos_demo.c): a kernel thread runs DOS programs in V86
 * tasks one after another. Declared here so that demo.c keeps its line numbers. */
void dos_demo_start(void);
#endif
