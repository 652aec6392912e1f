/* syscall.h: the system-call interface of ring-3 processes, shared by the kernel
 * (kernel/usermode.c) and the user library (user/ulib.h).
 *
 * A call is `int $0x80` with the number in EAX and up to four arguments in EBX, ECX, EDX,
 * ESI; the result comes back in EAX (every other register is preserved). Results are the
 * memory manager's status codes (mm.h enum mm_status: 0 = MM_OK, negative = error) or, for
 * the calls that produce a value, that value (>= 0) or a negative status.
 *
 * Chains are named by handles: small numbers (1..USER_MAX_CHAINS) private to the process,
 * which the kernel turns into chain IDs (IDs change when the defragmenter moves a chain's
 * head; handles do not). A handle names only a chain the process allocated itself through
 * SYS_ALLOC (owner record OWNER_PROCESS with handle = pid); anything else is MM_ERR_BAD_ID.
 * User pointers must lie below USER_SPACE_END in pages the process has mapped user-
 * accessible (and writable when the kernel writes there); otherwise MM_ERR_RANGE. */
#ifndef SYSCALL_H
#define SYSCALL_H

enum syscall_no {
    SYS_EXIT      = 0,   /* (code 0..255): ends the process; never returns */
    SYS_GETPID    = 1,   /* () -> pid */
    SYS_YIELD     = 2,   /* () -> 0: gives up the CPU */
    SYS_SLEEP     = 3,   /* (ms) -> 0 */
    SYS_WRITE     = 4,   /* (ptr, len <= 256) -> len: writes bytes to the console */
    SYS_REPORT    = 5,   /* (key, value) -> 0: records a result for the kernel (user_report_find) */
    SYS_ALLOC     = 6,   /* (flags USER_CHAIN_*, blocks) -> handle (> 0) or status */
    SYS_FREE      = 7,   /* (handle) -> status: frees the chain and every mapping of it */
    SYS_RESIZE    = 8,   /* (handle, blocks) -> status */
    SYS_MAP       = 9,   /* (handle, va, page_offset, USER_MAP_*) -> status: into own user space */
    SYS_UNMAP     = 10,  /* (handle, va) -> status */
    SYS_FREEZE    = 11,  /* (handle) -> status */
    SYS_UNFREEZE  = 12,  /* (handle) -> status */
    SYS_SWAPPABLE = 13,  /* (handle, on) -> status */
    SYS_CLEAN     = 14,  /* (handle) -> status: clears the dirty bits of the chain's pages */
    SYS_DIRTY     = 15,  /* (handle) -> 1 dirty, 0 clean, or status */
    SYS_INFO      = 16,  /* (handle, struct user_chain_info *out) -> status */
    SYS_TICKS     = 17,  /* () -> milliseconds since boot */
    SYS_COUNT
};

/* SYS_ALLOC flags (the chain always gets CHAIN_USER). */
#define USER_CHAIN_FROZEN    0x1u
#define USER_CHAIN_SWAPPABLE 0x2u
/* SYS_MAP flags. */
#define USER_MAP_READONLY    0x1u

#define USER_MAX_CHAINS 32u     /* handles per process */
#define USER_WRITE_MAX  256u    /* bytes per SYS_WRITE */

/* What SYS_INFO writes. */
struct user_chain_info {
    unsigned int blocks;        /* 16 KiB blocks */
    unsigned int flags;         /* USER_CHAIN_* currently set */
};

/* Memory layout of every user process. */
#define USER_IMAGE_VA   0x00400000u   /* the user image (user/user.ld): text read-only, then data */
#define USER_STACK_TOP  0x10000000u   /* = USER_SPACE_END; the stack is the block below it */
#define USER_STACK_SIZE 0x4000u
#endif
