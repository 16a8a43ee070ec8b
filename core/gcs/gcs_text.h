/* Go's text rules the decoder needs (gcs_text.c): string unquoting, UTF-8
 * repair and checks, bytes.TrimSpace, syscall.Errno texts. A leaf: it
 * depends on nothing else of the decoder. */
#ifndef VMUTILS_GCS_TEXT_H
#define VMUTILS_GCS_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmutils.h"

/* Copies s, each byte that is not part of valid UTF-8 replaced by U+FFFD
 * (as Go's unquote does). dst has room for 3 * len. Returns the length. */
size_t gcs_utf8_repair(char *dst, const uint8_t *s, size_t len);
/* Whether s is valid UTF-8 (Go's definition: no surrogates, no overlongs). */
bool gcs_utf8_valid(const uint8_t *s, size_t len);
/* The length of the ASCII prefix of s. */
size_t gcs_ascii_prefix(const uint8_t *s, size_t len);
/* Go's unquote of a JSON string body (between the quotes, already valid to
 * the scanner): escapes, surrogate pairs, U+FFFD for lone surrogates and
 * invalid UTF-8. dst has room for 3 * len. Returns the length. */
size_t gcs_json_unquote(char *dst, const uint8_t *body, size_t len);
/* bytes.TrimSpace (Unicode white space). */
void gcs_trim_space(const uint8_t *s, size_t len, size_t *start, size_t *out_len);
/* The length of the longest prefix of s[0..len) that is at most max bytes
 * and does not end inside a valid UTF-8 sequence; with 0 < max < len, never
 * 0 (a character longer than max is split). The verdict on a sequence that
 * crosses max needs up to 3 bytes past it: a sequence cut short by len is
 * invalid. */
size_t gcs_utf8_cut(const uint8_t *s, size_t len, size_t max);
/* The text Go's syscall.Errno.Error() gives errnum. */
void gcs_errno_text(int errnum, vmu_buf *out);

#endif
