/* dos_demo.h: the demo's DOS tasks (demo/dos_demo.c). */
#ifndef DOS_DEMO_H
#define DOS_DEMO_H
/* Starts the kernel thread that runs DOS programs in V86 tasks one after another. */
void dos_demo_start(void);
#endif
