/* Growable byte buffer and error holder: the two pieces of plumbing every
 * other file of the core uses. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "vmutils.h"

const char *vmu_version(void) { return VMU_VERSION_STRING; }

int vmu_err_set(vmu_err *err, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return -1;
}

void vmu_buf_init(vmu_buf *b)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->failed = 0;
}

void vmu_buf_free(vmu_buf *b)
{
    vmu_free(b->data);
    vmu_buf_init(b);
}

int vmu_buf_reserve(vmu_buf *b, size_t extra)
{
    if (b->failed)
        return -1;
    if (extra <= b->cap - b->len)
        return 0;
    if (extra > SIZE_MAX / 2 - b->len) {
        b->failed = 1;
        return -1;
    }
    size_t want = b->len + extra;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < want)
        cap *= 2;
    char *grown = vmu_realloc(b->data, cap);
    if (!grown) {
        b->failed = 1;
        return -1;
    }
    b->data = grown;
    b->cap = cap;
    return 0;
}

int vmu_buf_append(vmu_buf *b, const void *data, size_t len)
{
    if (len == 0)
        return b->failed ? -1 : 0;
    if (vmu_buf_reserve(b, len) != 0)
        return -1;
    memcpy(b->data + b->len, data, len);
    b->len += len;
    return 0;
}

int vmu_buf_putc(vmu_buf *b, char c)
{
    if (vmu_buf_reserve(b, 1) != 0)
        return -1;
    b->data[b->len++] = c;
    return 0;
}

int vmu_buf_puts(vmu_buf *b, const char *s) { return vmu_buf_append(b, s, strlen(s)); }

int vmu_buf_printf(vmu_buf *b, const char *fmt, ...)
{
    char small[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->failed = 1;
        return -1;
    }
    if ((size_t)n < sizeof small)
        return vmu_buf_append(b, small, (size_t)n);
    if (vmu_buf_reserve(b, (size_t)n + 1) != 0)
        return -1;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}
