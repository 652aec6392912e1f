/* string.h: the freestanding string and memory functions the kernel needs. */
#ifndef KSTRING_H
#define KSTRING_H
#include <stddef.h>
#include <stdint.h>

void *memset(void *dst, int c, size_t n);
void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);
char *strncpy_z(char *dst, const char *src, size_t size); /* always NUL-terminates */
/* Returns the value of "key=value" in a space-separated command line, copied into buf,
 * or NULL if absent. A bare "key" yields "". */
const char *cmdline_get(const char *cmdline, const char *key, char *buf, size_t size);
/* True if the command line contains the bare word `word`. */
int cmdline_has(const char *cmdline, const char *word);
uint32_t parse_uint(const char *s, int *ok);
/* xorshift32 pseudo-random generator; state must be non-zero. */
uint32_t rand32(uint32_t *state);
#endif
