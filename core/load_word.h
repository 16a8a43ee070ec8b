/* Unaligned loads of a word of bytes, for the hot paths that match short
 * keys and level names a word at a time (the GCS decoder, the log levels,
 * the JSON formatter's record shapes).
 * Internal to the core. */
#ifndef VMUTILS_LOAD_WORD_H
#define VMUTILS_LOAD_WORD_H

#include <stdint.h>
#include <string.h>

/* The 4 bytes at s as a host-order word (s need not be aligned). */
static inline uint32_t vmu_load32(const char *s)
{
    uint32_t v;
    memcpy(&v, s, 4);
    return v;
}

/* The 8 bytes at s as a host-order word. */
static inline uint64_t vmu_load64(const char *s)
{
    uint64_t v;
    memcpy(&v, s, 8);
    return v;
}

#endif
