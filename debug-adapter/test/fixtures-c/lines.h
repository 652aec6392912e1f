/* Lines fixture header: a static inline function whose code lands in the including file. */
static inline int clamp(int v, int lo, int hi) {
  if (v < lo)
    return lo;
  if (v > hi)
    return hi;
  return v;
}
