/* dump.c: the kernel's own account of its memory at a checkpoint, printed on COM1 in the line
 * format of docs/testing-mm-kernels.md ("mm <what> ..."), then mm_checkpoint(seq), where a
 * debugger stops to compare what it reads with what the kernel said. */
#include "mmk.h"

static unsigned lines;

void dump_line(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  kputs("mm ");
  kvprintf(fmt, ap);
  kputs("\n");
  va_end(ap);
  lines++;
}

static const char *paging_name(void) {
#if MMK_PAGING == 32
  return "x86-32";
#elif MMK_PAGING == 3
  return "pae";
#else
  return "x86-64";
#endif
}

void dump_begin(unsigned seq, int current_pid) {
  window_clear();
  lines = 0;
  dump_line("begin %u kernel=%s variant=%s", seq, MMK_KERNEL, MMK_VARIANT);
  dump_line("paging %s cr3=0x%llx ram=0x%llx", paging_name(), (unsigned long long)read_cr3(), (unsigned long long)RAM_BYTES);
  dump_line("current %d", current_pid);
}

void dump_process(int pid, const char *name, const char *state, paddr_t directory, const void *address) {
  dump_line("process %d %s %s dir=0x%llx struct=0x%llx", pid, name, state, (unsigned long long)directory, (unsigned long long)(uintptr_t)address);
}

void dump_allocator(const char *name, const char *shape, uint32_t first, uint32_t count) {
  dump_line("allocator %s %s unit=4096 first=%u count=%u", name, shape, first, count);
}

static const char *const state_names[] = {"free", "used", "reserved"};

void dump_frames(const char *allocator, uint32_t first, uint32_t count, int (*state)(uint32_t frame)) {
  uint32_t run = first;
  int s = count ? state(first) : 0;
  for (uint32_t f = first + 1; f <= first + count; f++) {
    int t = f < first + count ? state(f) : -1;
    if (t != s) {
      dump_line("frames %s %u %u %s", allocator, run, f - run, state_names[s]);
      run = f;
      s = t;
    }
  }
}

void dump_counter(const char *allocator, const char *name, uint64_t value) {
  dump_line("counter %s %s %llu", allocator, name, (unsigned long long)value);
}

struct planted_fault {
  const char *kind, *k1, *k2;
  uint64_t v1, v2;
};
static struct planted_fault faults[MAX_PLANTED];
static unsigned nfaults;

void planted(const char *kind, const char *k1, uint64_t v1, const char *k2, uint64_t v2) {
  if (nfaults == MAX_PLANTED) panic("dump: too many planted faults");
  faults[nfaults++] = (struct planted_fault){kind, k1, k2, v1, v2};
  kprintf("planted %s\n", kind);
}

void dump_end(unsigned seq) {
  for (unsigned i = 0; i < nfaults; i++) {
    struct planted_fault *p = &faults[i];
    if (p->k2)
      dump_line("planted %s %s=0x%llx %s=0x%llx", p->kind, p->k1, (unsigned long long)p->v1, p->k2, (unsigned long long)p->v2);
    else
      dump_line("planted %s %s=0x%llx", p->kind, p->k1, (unsigned long long)p->v1);
  }
  dump_line("end %u lines=%u", seq, lines + 1);
}

volatile unsigned mm_checkpoint_seq;

__attribute__((noinline, noipa)) void mm_checkpoint(unsigned seq) {
  mm_checkpoint_seq = seq;
  __asm__ volatile("" : : : "memory");
}

void mm_done(void) {
  kputs("mm done\n");
  for (;;) __asm__ volatile("cli; hlt");
}
