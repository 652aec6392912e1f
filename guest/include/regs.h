/* regs.h: the register frame a real-mode or DPMI client hands to a service dispatcher
 * (XMS far-call entry, INT 31h). Low 16-bit halves are the 16-bit registers. */
#ifndef REGS_H
#define REGS_H
#include <stdint.h>

struct rm_regs {
    uint32_t eax, ebx, ecx, edx, esi, edi, ebp;
    uint16_t ds, es, fs, gs;
    uint32_t eflags;       /* bit 0: carry (DPMI error flag) */
};

#define REG_LO16(r) ((uint16_t)((r) & 0xFFFFu))
#define REG_SET16(r, v) ((r) = ((r) & 0xFFFF0000u) | ((uint32_t)(v) & 0xFFFFu))
#define REG_LO8(r) ((uint8_t)((r) & 0xFFu))
#define REG_HI8(r) ((uint8_t)(((r) >> 8) & 0xFFu))
#define REG_SETLO8(r, v) ((r) = ((r) & 0xFFFFFF00u) | ((uint32_t)(v) & 0xFFu))
#define REG_SETHI8(r, v) ((r) = ((r) & 0xFFFF00FFu) | (((uint32_t)(v) & 0xFFu) << 8))
#define EFLAGS_CF 0x1u
#endif
