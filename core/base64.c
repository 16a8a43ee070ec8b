/* Standard base64 encoding into a vmu_buf, and its decoding. */
#include <stdint.h>

#include "base64.h"
#include "vmutils.h"

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int vmu_base64_encode(const void *data, size_t len, vmu_buf *out)
{
    if (len > (SIZE_MAX / 4 - 1) * 3) {
        out->failed = 1;
        return -1;
    }
    /* Nothing to write, and an empty buffer may have no data pointer to
     * offset (NULL + 0 is undefined in C; clang's UBSan stops on it). */
    if (len == 0)
        return 0;
    size_t encoded_len = (len + 2) / 3 * 4;
    if (vmu_buf_reserve(out, encoded_len) != 0)
        return -1;
    const unsigned char *in = data;
    char *dst = out->data + out->len;
    size_t i = 0;
    for (; len - i >= 3; i += 3) {
        uint32_t group = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        *dst++ = alphabet[group >> 18 & 63];
        *dst++ = alphabet[group >> 12 & 63];
        *dst++ = alphabet[group >> 6 & 63];
        *dst++ = alphabet[group & 63];
    }
    if (len - i == 1) {
        uint32_t group = (uint32_t)in[i] << 16;
        *dst++ = alphabet[group >> 18 & 63];
        *dst++ = alphabet[group >> 12 & 63];
        *dst++ = '=';
        *dst++ = '=';
    } else if (len - i == 2) {
        uint32_t group = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
        *dst++ = alphabet[group >> 18 & 63];
        *dst++ = alphabet[group >> 12 & 63];
        *dst++ = alphabet[group >> 6 & 63];
        *dst++ = '=';
    }
    out->len += encoded_len;
    return 0;
}

/* The 6-bit value of an alphabet character, or -1. */
static int sextet(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

static int bad_input(size_t *bad_at, size_t offset)
{
    if (bad_at)
        *bad_at = offset;
    return -1;
}

int vmu_base64_decode(const char *text, size_t len, unsigned char *out, size_t *out_len,
                      size_t *bad_at)
{
    if (out_len)
        *out_len = 0;
    size_t end = len;
    /* At most two '=', only at the end, only completing a group of four. */
    if (end > 0 && text[end - 1] == '=')
        end--;
    if (end > 0 && text[end - 1] == '=')
        end--;
    if (end != len && len % 4 != 0)
        return bad_input(bad_at, end);
    uint32_t bits = 0;
    int bit_count = 0;
    size_t n = 0;
    for (size_t i = 0; i < end; i++) {
        int v = sextet((unsigned char)text[i]);
        if (v < 0)
            return bad_input(bad_at, i);
        bits = bits << 6 | (uint32_t)v;
        bit_count += 6;
        if (bit_count >= 8) {
            bit_count -= 8;
            out[n++] = (unsigned char)(bits >> bit_count);
            bits &= (1u << bit_count) - 1;
        }
    }
    /* A lone character in the last group (length 1 mod 4), or leftover bits
     * that are not zero, mean the text was cut or altered. */
    if (end % 4 == 1 || bits != 0)
        return bad_input(bad_at, end > 0 ? end - 1 : 0);
    if (out_len)
        *out_len = n;
    return 0;
}
