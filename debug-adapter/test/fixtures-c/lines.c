/* Lines fixture: loops, branches, calls and an inline function from a header, so that the
   line table has many rows, several files and lines without code (comments, blank lines). */
#include "lines.h"

typedef unsigned int u32;

volatile u32 sink;
u32 counters[16];

static u32 mix(u32 a, u32 b) {
  u32 r = a ^ (b << 3);

  /* a comment line without code */
  r += b >> 2;
  return r;
}

u32 sum_table(const u32 *t, int n) {
  u32 total = 0;
  for (int i = 0; i < n; i++) {
    total += t[i];
    if (total > 1000)
      total = clamp((int)total, 0, 999);
  }
  return total;
}

int classify(int x) {
  switch (x) {
  case 0:
    return 10;
  case 1:
  case 2:
    return 20;
  default:
    break;
  }
  {
    int local_in_block = x * 3;
    sink = local_in_block;
  }
  return -1;
}

void _start(void) {
  for (int i = 0; i < 16; i++)
    counters[i] = mix(i, sink);
  sink = sum_table(counters, 16);
  sink += classify(sink & 3);
  for (;;) {
  }
}
