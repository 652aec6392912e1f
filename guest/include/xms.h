/* xms.h: the XMS 3.0 driver interface over chains. A client calls the far-call entry
 * point with AH = function; xms_dispatch() takes that register frame and returns results
 * in it (AX = 1 on success, AX = 0 and BL = error code on failure). Handles are 16-bit. */
#ifndef XMS_H
#define XMS_H
#include <stdint.h>
#include "mm.h"
#include "regs.h"
#include "vector.h"

/* XMS error codes (BL). */
#define XMS_ERR_NOT_IMPLEMENTED   0x80
#define XMS_ERR_VDISK             0x81
#define XMS_ERR_A20               0x82
#define XMS_ERR_UMB_NONE          0xB1
#define XMS_ERR_OUT_OF_MEMORY     0xA0
#define XMS_ERR_OUT_OF_HANDLES    0xA1
#define XMS_ERR_HMA_MISSING       0x90  /* 01h/02h: there is no HMA */
#define XMS_ERR_A20_STILL_ENABLED 0x94  /* 04h/06h: A20 is always on in protected mode */
#define XMS_ERR_INVALID_HANDLE    0xA2
#define XMS_ERR_INVALID_SRC_HANDLE 0xA3
#define XMS_ERR_INVALID_SRC_OFFSET 0xA4
#define XMS_ERR_INVALID_DST_HANDLE 0xA5
#define XMS_ERR_INVALID_DST_OFFSET 0xA6
#define XMS_ERR_INVALID_LENGTH    0xA7
#define XMS_ERR_INVALID_OVERLAP   0xA8
#define XMS_ERR_PARITY            0xA9
#define XMS_ERR_NOT_LOCKED        0xAA
#define XMS_ERR_LOCKED            0xAB
#define XMS_ERR_LOCK_OVERFLOW     0xAC
#define XMS_ERR_LOCK_FAILED       0xAD

#define XMS_MAX_HANDLES 128
#define XMS_VERSION          0x0300   /* 00h: AX, the XMS specification version */
#define XMS_DRIVER_REVISION  0x0001   /* 00h: BX, this driver's revision */
#define XMS_LOCK_MAX         255      /* lock counts are 8-bit (0Eh returns them in BH) */

/* The move structure of function 0Bh, read from the real-mode address DS:SI. A handle of
 * 0 means conventional memory: the offset is then a seg:off far pointer (segment in the
 * high word). Conventional ranges must lie inside the DOS arena (dos.h). */
struct xms_move {
    uint32_t length;       /* bytes, must be even */
    uint16_t src_handle;
    uint32_t src_offset;
    uint16_t dst_handle;
    uint32_t dst_offset;
} __attribute__((packed));

/* One extended-memory block. Layout is part of the debugger contract. */
struct xms_handle {
    uint16_t handle;       /* 1..0xFFFF, never 0 (0 means conventional memory in moves) */
    uint16_t lock_count;   /* 0Ch/0Dh; while > 0 the chain is frozen and physically contiguous */
    chain_id_t chain;      /* 0 for a zero-length block */
    uint32_t size_kb;      /* size the client asked for, in KiB */
    uint32_t owner_pid;
};
extern struct vector xms_handles;   /* of struct xms_handle */

/* Sets up the handle table (capacity XMS_MAX_HANDLES, reserved now so it never grows)
 * and the relocation listener. Panics if the heap cannot hold the table. */
void xms_init(void);
/* The far-call entry point's dispatcher: AH selects the function (00h-0Fh; 10h-12h UMB
 * functions answer "not implemented"). Moves (0Bh) read the move structure at DS:SI.
 * Lock (0Ch) makes the chain physically contiguous and returns its physical address,
 * which is the linear address in the identity view a DOS extender gives real mode.
 * The return address of this call is recorded as the caller in the chains' owner records. */
void xms_dispatch(struct rm_regs *r);
/* Frees every block of process `pid`, locked or not (process teardown). A DOS task calling
 * xms_dispatch (v86.h) owns its blocks by its pid, and its moves' handle-0 side and move
 * structure are addressed in its own first megabyte. */
void xms_release_process(uint32_t pid);
#endif
