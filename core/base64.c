/* Standard base64 encoding into a vmu_buf. */
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
     * offset (NULL + 0 is undefined in C). */
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
