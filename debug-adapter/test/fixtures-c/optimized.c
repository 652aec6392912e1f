/* Optimised fixture (built with -O2): parameters that move between registers give location
   lists, and small static functions get inlined, giving DW_TAG_inlined_subroutine. */
typedef unsigned int u32;

volatile u32 port;
u32 blocks[32];

static u32 block_index(u32 addr) {
  return (addr >> 14) & 31;
}

static void mark_used(u32 addr, u32 owner) {
  u32 i = block_index(addr);
  blocks[i] = owner | 0x80000000u;
}

__attribute__((noinline)) u32 count_used(const u32 *table, int n) {
  u32 used = 0;
  for (int i = 0; i < n; i++) {
    u32 e = table[i];
    if (e & 0x80000000u)
      used++;
    port = e;
  }
  return used;
}

__attribute__((noinline)) void fill(u32 start, u32 count, u32 owner) {
  for (u32 k = 0; k < count; k++) {
    mark_used(start + (k << 14), owner + k);
    port = k;
  }
}

void _start(void) {
  fill(port, 8, port);
  port = count_used(blocks, 32);
  for (;;) {
  }
}
