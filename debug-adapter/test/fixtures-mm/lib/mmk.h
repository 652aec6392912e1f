/* mmk.h: what the mm test kernels share (docs/testing-mm-kernels.md): the COM1 console, the page
 * tables of one paging mode (32-bit, PAE or 4-level, chosen with MMK_PAGING), the kernel's own
 * mappings, the faults a broken variant plants (BREAK_*), and the serial dump that mm_checkpoint
 * readers compare with. Each kernel (bitmap.c, freelist.c, ...) brings its own frame allocator,
 * processes and main loop; nothing here knows mmscope.
 *
 * Build-time settings (build.ts passes them): KERNEL_VBASE (the boot style's), MMK_PAGING (32, 3
 * for PAE, 4), MMK_RAM_MIB (must equal QEMU's -m), MMK_DIRECT_BASE (where the kernel maps all RAM;
 * absent: it maps only its own image and reaches other frames through a window of one page per
 * slot), MMK_KERNEL and MMK_VARIANT (names printed in the dump). */
#ifndef MMK_H
#define MMK_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#ifndef MMK_PAGING
#error "MMK_PAGING must be 32, 3 (PAE) or 4"
#endif
#ifndef MMK_RAM_MIB
#define MMK_RAM_MIB 32
#endif
#ifndef MMK_KERNEL
#define MMK_KERNEL "unknown"
#endif
#ifndef MMK_VARIANT
#define MMK_VARIANT "clean"
#endif

#define PAGE_SIZE 4096u
#define RAM_BYTES ((uint64_t)MMK_RAM_MIB << 20)
#define RAM_FRAMES ((uint32_t)(RAM_BYTES / PAGE_SIZE))

typedef uint64_t paddr_t;
typedef uintptr_t vaddr_t;

#if MMK_PAGING == 32
typedef uint32_t pte_t;
#define PTE_NX 0u
#else
typedef uint64_t pte_t;
#define PTE_NX (1ull << 63)
#endif
#define PTE_P 0x001u
#define PTE_W 0x002u
#define PTE_U 0x004u
#define PTE_ADDR_MASK ((pte_t)0x000ffffffffff000ull)

/* Where every process's user pages start (a top-level slot of its own, apart from the kernel's and
 * from the planted faults'). */
#if MMK_PAGING == 4
#define USER_BASE ((vaddr_t)0x0000010000000000ull)
#else
#define USER_BASE ((vaddr_t)0x40000000u)
#endif

/* ---- console (serial.c) ---- */
void outb(uint16_t port, uint8_t value);
void serial_init(void);
void kputs(const char *s);
/* printf with %s %c %d %u %x (l and ll modifiers), %p; %0Nx pads. */
void kprintf(const char *fmt, ...);
void kvprintf(const char *fmt, va_list ap);
/* Prints "panic: ..." and stops the CPU. */
void panic(const char *fmt, ...) __attribute__((noreturn));
void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
int strcmp(const char *a, const char *b);
void strlcpy_(char *d, const char *s, size_t n);

/* ---- the kernel's image (linker script symbols) ---- */
extern char _data_start[], _kernel_end[];
/* Physical address of the first byte after the kernel image (page aligned up). */
paddr_t kernel_end_phys(void);
/* 1 when physical frame f holds kernel code or read-only data. */
int frame_is_code(uint64_t frame);

/* ---- page tables (paging.c) ---- */
/* The kernel's frame allocator, as the page-table code uses it: a zeroed frame's physical address
 * (0 when out of memory), and its release. Each kernel sets both after its allocator is ready;
 * until then tables come from a pool in the kernel's .bss. */
extern paddr_t (*table_alloc)(void);
extern void (*table_free)(paddr_t);
/* A kernel pointer to physical page `pa`: through the direct map, or window `slot` (0..3). */
void *phys_page(paddr_t pa, int slot);
/* Builds the kernel's own tables (image + direct map or window), loads them; returns the root. */
paddr_t kmap_init(void);
extern paddr_t kernel_root;
/* A new address space: a root holding the kernel's top-level entries. 0 when out of memory. */
paddr_t space_create(void);
/* Maps va -> pa with flags (PTE_W, PTE_U, PTE_NX; P is added). 0 on success, -1 out of memory. */
int space_map(paddr_t root, vaddr_t va, paddr_t pa, pte_t flags);
/* Maps va with the raw leaf entry `entry` (a planted fault may set any bit). */
int space_map_raw(paddr_t root, vaddr_t va, pte_t entry);
/* Removes va's mapping; returns the physical address it mapped, or (paddr_t)-1 when none. */
paddr_t space_unmap(paddr_t root, vaddr_t va);
/* The physical address va maps to in root, (paddr_t)-1 when none. */
paddr_t space_lookup(paddr_t root, vaddr_t va);
/* The physical address of the last-level table holding va's entry, 0 when none. */
paddr_t space_table_of(paddr_t root, vaddr_t va);
/* Frees the tables of root that the kernel root does not share, and root itself (not the
 * leaf frames: unmap and free those first). */
void space_destroy(paddr_t root);
/* Clears the window's entries (no-op with a direct map): nothing stays mapped there by chance. */
void window_clear(void);
/* Loads CR3. */
void space_switch(paddr_t root);
paddr_t read_cr3(void);
/* How many table pages space_create/space_map took from table_alloc over the run, minus freed. */
extern uint32_t tables_live;

/* ---- planted faults (plant.c) ---- */
#define MAX_PLANTED 8
/* Records a planted fault for the dump: "mm planted <kind> <k1>=0x<v1> [<k2>=0x<v2>]" (k2 may be 0). */
void planted(const char *kind, const char *k1, uint64_t v1, const char *k2, uint64_t v2);
/* Plants the level-0 fault of the variant (BREAK_WX, BREAK_USER_KERNEL_ALIAS, ...) into the
 * kernel's own tables (so every address space made later shares it). Needs table_alloc ready. */
void plant_level0(void);

/* ---- the dump (dump.c) ---- */
/* Starts the dump of checkpoint seq: header lines, the current pid and CR3. */
void dump_begin(unsigned seq, int current_pid);
void dump_process(int pid, const char *name, const char *state, paddr_t directory, const void *address);
void dump_allocator(const char *name, const char *shape, uint32_t first, uint32_t count);
/* Prints the runs of `count` frames from `first` in the states state(frame) gives (0 free, 1 used, 2 reserved). */
void dump_frames(const char *allocator, uint32_t first, uint32_t count, int (*state)(uint32_t frame));
void dump_counter(const char *allocator, const char *name, uint64_t value);
void dump_line(const char *fmt, ...);
/* Prints the planted faults and the end line. */
void dump_end(unsigned seq);
/* Where a debugger stops: called after the dump of checkpoint seq, with the structures as dumped. */
void mm_checkpoint(unsigned seq);
/* The end of the run: prints "mm done" and halts. */
void mm_done(void) __attribute__((noreturn));

/* ---- a heap of block headers (heap.c) ---- */
struct heap_block {
  uint32_t size;               /* bytes after the header */
  uint32_t used;               /* 1 when allocated */
  struct heap_block *next;     /* the next block in address order, 0 at the end */
};
extern struct heap_block *heap_head;
void heap_init(void *base, size_t bytes);
/* Returns a block of at least n bytes, 0 when none is free. */
void *kmalloc(size_t n);
void kmfree(void *p);
void dump_heap(const char *name);

#endif
