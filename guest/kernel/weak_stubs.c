/* weak_stubs.c: TEMPORARY weak fallbacks so the kernel links while services are written. */
#include "dos.h"
#include "dpmi.h"
#include "modes.h"
#include "console.h"
#include "xms.h"
__attribute__((weak)) struct vector xms_handles;
__attribute__((weak)) struct vector dpmi_blocks;
__attribute__((weak)) void xms_init(void) {}
__attribute__((weak)) void dpmi_init(void) {}
__attribute__((weak)) void dos_init(void) {}
__attribute__((weak)) void bench_run(void) { qemu_exit(1); }
