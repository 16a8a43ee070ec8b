/* Internal: standard base64 (RFC 4648 alphabet, '=' padding), the encoding
 * of Go's base64.StdEncoding. None of the project's dependencies has one. */
#ifndef VMUTILS_BASE64_H
#define VMUTILS_BASE64_H

#include <stddef.h>

#include "vmutils/base.h"

/* Appends the encoding of `len` bytes. 0, or -1 when memory runs out (or the
 * encoded length would not fit in a size_t). */
int vmu_base64_encode(const void *data, size_t len, vmu_buf *out);

#endif
