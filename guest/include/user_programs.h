/* user_programs.h: what the kernel's tests and the ring-3 test programs (user/prog_test.c)
 * agree on: the keys of the values a program reports (SYS_REPORT, user_report_find) and the
 * user addresses they use. */
#ifndef USER_PROGRAMS_H
#define USER_PROGRAMS_H

enum user_report_key {
    UR_CS = 1, UR_SS = 2, UR_EFLAGS = 3,  /* "cpl": the segment registers and flags in ring 3 */
    UR_STEP = 4,                          /* "mmtest": last step that passed */
    UR_ALIVE = 5,                         /* a faulting program got past its faulting instruction */
    UR_HANDLE = 6,                        /* "holder": its handle */
    UR_MAP_STACK = 10, UR_MAP_LIMIT = 11, UR_MAP_KERNEL = 12, UR_MAP_CROSS = 13, UR_MAP_ZERO = 14,
    UR_MAP_UNALIGNED = 15,                /* "maphigh": status of each refused map */
    UR_FREE_OTHER = 20, UR_MAP_OTHER = 21, UR_FREE_RAW = 22, UR_RESIZE_OTHER = 23,  /* "thief" */
    UR_WRITE_KPTR = 30, UR_INFO_RO = 31, UR_INFO_UNMAPPED = 32, UR_WRITE_WRAP = 33,
    UR_WRITE_LONG = 34, UR_ALLOC_ZERO = 35, UR_ALLOC_FLAGS = 36, UR_ALLOC_QUOTA = 37,
    UR_BAD_CALL = 38,                     /* "badptr": status of each refused call */
};

#define UT_DATA_VA   0x01000000u   /* where test programs map their chains */
#define UT_KERNEL_VA 0xC0100000u   /* the kernel image */
#endif
