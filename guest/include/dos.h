/* dos.h: conventional memory (below 640 KiB) in paragraphs with a DOS-style MCB chain, and
 * ISA-DMA-safe buffers (below 16 MiB, never crossing a 64 KiB boundary). */
#ifndef DOS_H
#define DOS_H
#include <stdint.h>
#include "mm.h"

/* A memory control block: 16 bytes in the paragraph before each arena block. */
struct mcb {
    uint8_t type;          /* 'M' = another MCB follows, 'Z' = last */
    uint16_t owner;        /* 0 = free, else owner id (pid + 1, or 8 for "system") */
    uint16_t size;         /* paragraphs in the block, not counting the MCB */
    uint8_t reserved[3];
    char name[8];
} __attribute__((packed));

#define DOS_ARENA_START_SEG 0x1000u  /* first MCB at 64 KiB */
#define DOS_ARENA_END_SEG   0x9C00u  /* arena ends at 624 KiB (below the EBDA) */

#define DOS_OWNER_SYSTEM 8u          /* owner id used when a caller passes 0 */

#define DOS_OK 0
/* Error codes are the DOS ones: 7 MCB destroyed, 8 insufficient memory, 9 invalid block. */

extern uint16_t dos_first_mcb;     /* segment of the first MCB */

/* Writes one free block over the whole arena. */
void dos_init(void);
/* Allocates `paragraphs` paragraphs (first fit; 0 is legal). On success *seg is the block's
 * segment (the MCB is at seg-1); on error 8, *largest is the largest free block; error 7
 * when the chain is damaged. Owner 0 is recorded as DOS_OWNER_SYSTEM. */
int dos_alloc(uint16_t paragraphs, uint16_t owner, uint16_t *seg, uint16_t *largest);
/* Frees the block at segment `seg`, merging free neighbours. Returns 0, 7 or 9. */
int dos_free(uint16_t seg);
/* Grows or shrinks the block in place. Returns 0, 7, 8 (then *largest) or 9. */
int dos_resize(uint16_t seg, uint16_t paragraphs, uint16_t *largest);
/* Total free paragraphs and the largest free block. */
void dos_stats(uint32_t *free_paras, uint32_t *largest);
/* Verifies the MCB chain. Returns 0 or 7 with *why set. */
int dos_check(const char **why);
/* Frees every block owned by `owner` (process teardown). Returns how many it freed. */
uint32_t dos_release_owner(uint16_t owner);

/* Allocates an ISA DMA buffer of `bytes` (<= 64 KiB): a contiguous chain below 16 MiB that
 * does not cross a 64 KiB boundary. Returns MM_OK or MM_ERR_*. */
int dma_alloc_buffer(uint32_t bytes, chain_id_t *chain, uint32_t *phys);
#endif
