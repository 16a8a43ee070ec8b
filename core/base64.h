/* Standard base64 (RFC 4648 alphabet, '=' padding), the encoding of Go's
 * base64.StdEncoding. None of the project's dependencies has one. Internal
 * to the project (not installed): the core encodes reference info files
 * with it, the runtime decodes the options of a request with it. */
#ifndef VMUTILS_BASE64_H
#define VMUTILS_BASE64_H

#include <stddef.h>

#include "vmutils/base.h"

/* Appends the encoding of `len` bytes. 0, or -1 when memory runs out (or the
 * encoded length would not fit in a size_t). */
int vmu_base64_encode(const void *data, size_t len, vmu_buf *out);

/* The most bytes that decoding `len` characters writes. */
#define VMU_BASE64_DECODED_MAX(len) ((len) / 4 * 3 + 3)

/* Decodes `len` characters into `out` (VMU_BASE64_DECODED_MAX(len) bytes).
 * Padding is optional, but where present it must complete the last group of
 * four; bits left over past the last byte must be zero. Returns 0 and the
 * byte count in *out_len, or -1 and the offset of the first bad character
 * in *bad_at (Go's "illegal base64 data at input byte N"). */
int vmu_base64_decode(const char *text, size_t len, unsigned char *out, size_t *out_len,
                      size_t *bad_at);

#endif
