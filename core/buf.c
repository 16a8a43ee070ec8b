/* Growable byte buffer and error holder: the two pieces of plumbing every
 * other file of the core uses. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "vmutils.h"

const char *vmu_version(void) { return VMU_VERSION_STRING; }

/* Bytes of a message kept ahead of the ellipsis when it must be shortened:
 * enough for the longest fixed prefix ("failed to read UVM reference info
 * file: open ") and the start of what it quotes. */
#define ERR_HEAD_BYTES 160
static const char ellipsis[] = "...";

static int is_continuation(unsigned char c) { return (c & 0xC0) == 0x80; }

/* Fits a message of `len` bytes into err->msg. Messages put the reason last
 * ("<what failed> <the input>: <reason>") and the input (a path, a type URL)
 * is what runs long, so a message too long keeps its head and its whole
 * tail and drops the middle, at UTF-8 character boundaries, marking the cut
 * with an ellipsis. */
static void fit_message(vmu_err *err, const char *text, size_t len)
{
    size_t room = sizeof err->msg - 1;
    if (len <= room) {
        memcpy(err->msg, text, len);
        err->msg[len] = '\0';
        return;
    }
    size_t head = ERR_HEAD_BYTES;
    while (head > 0 && is_continuation((unsigned char)text[head]))
        head--;
    size_t tail_start = len - (room - head - (sizeof ellipsis - 1));
    while (tail_start < len && is_continuation((unsigned char)text[tail_start]))
        tail_start++;
    char *out = err->msg;
    memcpy(out, text, head);
    memcpy(out + head, ellipsis, sizeof ellipsis - 1);
    memcpy(out + head + sizeof ellipsis - 1, text + tail_start, len - tail_start);
    out[head + sizeof ellipsis - 1 + len - tail_start] = '\0';
}

int vmu_err_set(vmu_err *err, const char *fmt, ...)
{
    if (!err)
        return -1;
    va_list ap, again;
    va_start(ap, fmt);
    va_copy(again, ap);
    char first[sizeof err->msg];
    int n = vsnprintf(first, sizeof first, fmt, ap);
    va_end(ap);
    if (n < 0) {
        err->msg[0] = '\0';
    } else if ((size_t)n < sizeof first) {
        memcpy(err->msg, first, (size_t)n + 1);
    } else {
        char *whole = vmu_malloc((size_t)n + 1);
        if (whole && vsnprintf(whole, (size_t)n + 1, fmt, again) == n) {
            fit_message(err, whole, (size_t)n);
        } else {
            /* No memory for the whole text: the first part, without the
             * character the cut went through. */
            size_t cut = sizeof first - 1, start = cut;
            while (start > 0 && is_continuation((unsigned char)first[start - 1]))
                start--;
            if (start > 0) {
                unsigned char lead = (unsigned char)first[start - 1];
                size_t width = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
                if (start - 1 + width > cut)
                    cut = start - 1;
            }
            first[cut] = '\0';
            memcpy(err->msg, first, cut + 1);
        }
        vmu_free(whole);
    }
    va_end(again);
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
