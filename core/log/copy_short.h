/* Short copies without a call to memcpy, for the hot paths that copy keys
 * and identifiers of a few bytes (the JSON string writer, the async log
 * sink's record copy). Internal to the core. */
#ifndef VMUTILS_COPY_SHORT_H
#define VMUTILS_COPY_SHORT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Copies n bytes with a few fixed-size moves when n is under 16 (they may
 * overlap each other but stay inside [dst, dst + n) and [src, src + n)),
 * with memcpy otherwise. */
static inline void vmu_copy_short(char *dst, const void *source, size_t n)
{
    const unsigned char *src = source;
    if (n >= 16) {
        memcpy(dst, src, n);
    } else if (n >= 8) {
        uint64_t a, b;
        memcpy(&a, src, 8);
        memcpy(&b, src + n - 8, 8);
        memcpy(dst, &a, 8);
        memcpy(dst + n - 8, &b, 8);
    } else if (n >= 4) {
        uint32_t a, b;
        memcpy(&a, src, 4);
        memcpy(&b, src + n - 4, 4);
        memcpy(dst, &a, 4);
        memcpy(dst + n - 4, &b, 4);
    } else if (n > 0) {
        dst[0] = (char)src[0];
        dst[n / 2] = (char)src[n / 2];
        dst[n - 1] = (char)src[n - 1];
    }
}

#endif
