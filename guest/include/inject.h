/* inject.h: deliberate corruption for testing the debugger. The kernel command line option
 * `inject=KIND` makes the demo break one structure on purpose (after its second heartbeat)
 * so that a test can check that mmscope reports the matching finding. */
#ifndef INJECT_H
#define INJECT_H
#include <stdint.h>

/* Breaks the structure named by `kind` (see inject.c for the list). Returns 0, or -1 for an
 * unknown kind or when the setup it needs could not be allocated. Sets mm_fault_injected. */
int fault_inject(const char *kind);
extern uint32_t mm_fault_injected;   /* 0, or 1 + index of the injected kind */
#endif
