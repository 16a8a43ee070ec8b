/* The string handling of the GCS decoder, as Go does it: encoding/json's
 * unquote (escapes, surrogate pairs, U+FFFD for anything that is not valid
 * UTF-8), bytes.TrimSpace with Unicode white space, and errno texts. */
#include <errno.h>
#include <locale.h>
#include <pthread.h>
#include <string.h>

#include "gcs_text.h"
#include "../log/gofmt.h"

static const char replacement[3] = {(char)0xef, (char)0xbf, (char)0xbd};

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* Eight bytes without a high bit: ASCII, valid as they are. */
static inline bool ascii8(const uint8_t *s)
{
    uint64_t w;
    memcpy(&w, s, 8);
    return (w & 0x8080808080808080ull) == 0;
}

/* The length of the ASCII prefix of s (most strings are all ASCII). */
size_t gcs_ascii_prefix(const uint8_t *s, size_t len)
{
    size_t i = 0;
#if defined(__SSE2__)
    /* Long runs (the scan ahead over a whole feed): 64 bytes a step. */
    for (; i + 64 <= len; i += 64) {
        __m128i any = _mm_or_si128(
            _mm_or_si128(_mm_loadu_si128((const __m128i *)(s + i)),
                         _mm_loadu_si128((const __m128i *)(s + i + 16))),
            _mm_or_si128(_mm_loadu_si128((const __m128i *)(s + i + 32)),
                         _mm_loadu_si128((const __m128i *)(s + i + 48))));
        if (_mm_movemask_epi8(any))
            break;
    }
    for (; i + 16 <= len; i += 16) {
        int mask = _mm_movemask_epi8(_mm_loadu_si128((const __m128i *)(s + i)));
        if (mask)
            return i + (size_t)__builtin_ctz((unsigned)mask);
    }
#endif
    for (; i + 8 <= len && ascii8(s + i); i += 8)
        ;
    while (i < len && s[i] < 0x80)
        i++;
    return i;
}

bool gcs_utf8_valid(const uint8_t *s, size_t len)
{
    size_t i = gcs_ascii_prefix(s, len);
    return vmu_go_utf8_valid(s + i, len - i);
}

size_t gcs_utf8_repair(char *dst, const uint8_t *s, size_t len)
{
    size_t i = 0, w = 0;
    while (i < len) {
        if (i + 8 <= len && ascii8(s + i)) {
            memcpy(dst + w, s + i, 8);
            i += 8;
            w += 8;
            continue;
        }
        if (s[i] < 0x80) {
            dst[w++] = (char)s[i++];
            continue;
        }
        uint32_t rune;
        size_t size = vmu_go_decode_rune(s + i, len - i, &rune);
        if (rune == 0xfffd && size == 1) {
            memcpy(dst + w, replacement, 3);
            w += 3;
        } else {
            memcpy(dst + w, s + i, size);
            w += size;
        }
        i += size;
    }
    return w;
}

static int hex_value(uint8_t c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* getu4: the code unit of a \uXXXX at s, or -1. */
static int32_t getu4(const uint8_t *s, size_t len)
{
    if (len < 6 || s[0] != '\\' || s[1] != 'u')
        return -1;
    int32_t r = 0;
    for (int i = 2; i < 6; i++) {
        int h = hex_value(s[i]);
        if (h < 0)
            return -1;
        r = r * 16 + h;
    }
    return r;
}

static size_t put_rune(char *dst, uint32_t r)
{
    if (r < 0x80) {
        dst[0] = (char)r;
        return 1;
    }
    if (r < 0x800) {
        dst[0] = (char)(0xc0 | (r >> 6));
        dst[1] = (char)(0x80 | (r & 0x3f));
        return 2;
    }
    if (r < 0x10000) {
        dst[0] = (char)(0xe0 | (r >> 12));
        dst[1] = (char)(0x80 | ((r >> 6) & 0x3f));
        dst[2] = (char)(0x80 | (r & 0x3f));
        return 3;
    }
    dst[0] = (char)(0xf0 | (r >> 18));
    dst[1] = (char)(0x80 | ((r >> 12) & 0x3f));
    dst[2] = (char)(0x80 | ((r >> 6) & 0x3f));
    dst[3] = (char)(0x80 | (r & 0x3f));
    return 4;
}

size_t gcs_json_unquote(char *dst, const uint8_t *s, size_t len)
{
    size_t r = 0, w = 0;
    while (r < len) {
        uint8_t c = s[r];
        if (c == '\\') {
            if (r + 1 >= len)
                break;
            uint8_t e = s[r + 1];
            char plain = 0;
            switch (e) {
            case '"':
            case '\\':
            case '/':
            case '\'':
                plain = (char)e;
                break;
            case 'b':
                plain = '\b';
                break;
            case 'f':
                plain = '\f';
                break;
            case 'n':
                plain = '\n';
                break;
            case 'r':
                plain = '\r';
                break;
            case 't':
                plain = '\t';
                break;
            case 'u': {
                int32_t rr = getu4(s + r, len - r);
                if (rr < 0)
                    return w; /* the scanner rejects this; nothing sensible to do */
                r += 6;
                if (rr >= 0xd800 && rr < 0xe000) {
                    int32_t rr1 = getu4(s + r, len - r);
                    if (rr < 0xdc00 && rr1 >= 0xdc00 && rr1 < 0xe000) {
                        r += 6;
                        w += put_rune(dst + w,
                                      0x10000 + (((uint32_t)rr - 0xd800) << 10) + ((uint32_t)rr1 - 0xdc00));
                        continue;
                    }
                    /* A lone or mispaired half: U+FFFD, the next escape read afresh. */
                    rr = 0xfffd;
                }
                w += put_rune(dst + w, (uint32_t)rr);
                continue;
            }
            default:
                return w;
            }
            dst[w++] = plain;
            r += 2;
            continue;
        }
        if (c < 0x80) {
            dst[w++] = (char)c;
            r++;
            continue;
        }
        uint32_t rune;
        size_t size = vmu_go_decode_rune(s + r, len - r, &rune);
        if (rune == 0xfffd && size == 1) {
            memcpy(dst + w, replacement, 3);
            w += 3;
        } else {
            memcpy(dst + w, s + r, size);
            w += size;
        }
        r += size;
    }
    return w;
}

/* unicode.IsSpace. */
static bool unicode_space(uint32_t r)
{
    switch (r) {
    case '\t':
    case '\n':
    case '\v':
    case '\f':
    case '\r':
    case ' ':
    case 0x85:
    case 0xa0:
    case 0x1680:
    case 0x2028:
    case 0x2029:
    case 0x202f:
    case 0x205f:
    case 0x3000:
        return true;
    }
    return r >= 0x2000 && r <= 0x200a;
}

/* utf8.DecodeLastRune: the rune ending at s[len-1] and its size. */
static size_t decode_last_rune(const uint8_t *s, size_t len, uint32_t *rune)
{
    ptrdiff_t end = (ptrdiff_t)len;
    ptrdiff_t start = end - 1;
    if (s[start] < 0x80) {
        *rune = s[start];
        return 1;
    }
    /* Go looks back at most UTFMax bytes for a start byte. */
    ptrdiff_t lim = end - 4;
    if (lim < 0)
        lim = 0;
    for (start--; start >= lim; start--)
        if ((s[start] & 0xc0) != 0x80)
            break;
    if (start < 0)
        start = 0;
    uint32_t r;
    size_t size = vmu_go_decode_rune(s + start, (size_t)(end - start), &r);
    if (start + (ptrdiff_t)size != end) {
        *rune = 0xfffd;
        return 1;
    }
    *rune = r;
    return size;
}

void gcs_trim_space(const uint8_t *s, size_t len, size_t *out_start, size_t *out_len)
{
    size_t start = 0;
    while (start < len) {
        uint32_t r;
        size_t size = vmu_go_decode_rune(s + start, len - start, &r);
        if ((r == 0xfffd && size == 1) || !unicode_space(r))
            break;
        start += size;
    }
    size_t stop = len;
    while (stop > start) {
        uint32_t r;
        size_t size = decode_last_rune(s + start, stop - start, &r);
        if (!unicode_space(r) || (r == 0xfffd && size == 1))
            break;
        stop -= size;
    }
    *out_start = start;
    *out_len = stop - start;
}

size_t gcs_utf8_cut(const uint8_t *s, size_t len, size_t max)
{
    if (len <= max)
        return len;
    /* Back over the continuation bytes at the cut to the start byte of the
     * sequence, and keep that sequence out when it is valid and was cut
     * (unless it is the whole prefix: a cut always moves forward). */
    size_t cut = max;
    size_t back = cut;
    while (back > 0 && cut - back < 3 && (s[back] & 0xc0) == 0x80)
        back--;
    if (back > 0 && back < cut && s[back] >= 0xc0) {
        uint32_t r;
        size_t size = vmu_go_decode_rune(s + back, len - back, &r);
        if (!(r == 0xfffd && size == 1) && back + size > cut)
            return back;
    }
    return cut;
}

static locale_t c_locale;
static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;

static void c_locale_init(void) { c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0); }

void gcs_errno_text(int errnum, vmu_buf *out)
{
    /* Go's errno texts are glibc's C-locale ones with a lower-case first
     * letter ("input/output error"). */
    pthread_once(&c_locale_once, c_locale_init);
    const char *text = c_locale ? strerror_l(errnum, c_locale) : strerror(errnum);
    size_t start = out->len;
    if (vmu_buf_puts(out, text) == 0 && out->len > start && out->data[start] >= 'A' &&
        out->data[start] <= 'Z')
        out->data[start] = (char)(out->data[start] - 'A' + 'a');
}
