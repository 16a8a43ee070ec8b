/* Internal: the pieces of Go's fmt, strconv, time and encoding/json output
 * that the log formatters are made of, written into caller-provided space so
 * that the hot paths never allocate. Public wrappers that append to a vmu_buf
 * are declared in <vmutils/log.h>. */
#ifndef VMUTILS_GOFMT_H
#define VMUTILS_GOFMT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmutils.h"

/* Longest text of a float64 in either Go format, sign included. */
#define VMU_GO_FLOAT_MAX 32
/* Longest RFC 3339 text of a vmu_time (a 12-digit year at the extremes). */
#define VMU_GO_RFC3339_MAX 64
/* Longest time.String() text (zone names are cut at 32 bytes). */
#define VMU_GO_TIME_STRING_MAX 112
/* Longest decimal text of a 64-bit integer, sign included. */
#define VMU_GO_INT_MAX 21

/* "00" "01" ... "99": two digits at a time for the number and time units. */
extern const char vmu_go_digit_pairs[201];

/* A float64 as encoding/json writes it ("null" for NaN and infinities, which
 * encoding/json refuses). Returns the length written to dst. */
size_t vmu_go_float_json(double value, char *dst);
/* A float64 as fmt's %v writes it (strconv 'g' with the shortest digits). */
size_t vmu_go_float_v(double value, char *dst);

size_t vmu_go_int(int64_t value, char *dst);
size_t vmu_go_uint(uint64_t value, char *dst);

/* time.Format(time.RFC3339) (nano: RFC3339Nano) of t in its own zone. */
size_t vmu_go_rfc3339(const vmu_time *t, bool nano, char *dst);
/* time.String() without a monotonic reading: "2006-01-02 15:04:05.999999999
 * -0700 MST", the zone named as Go names the location the time was parsed
 * into (UTC, Local when the offset is the host's at that instant, else none). */
size_t vmu_go_time_string(const vmu_time *t, char *dst);

/* utf8.DecodeRune: the rune at s and its size; invalid or truncated input
 * gives U+FFFD with size 1. len must be > 0. */
size_t vmu_go_decode_rune(const unsigned char *s, size_t len, uint32_t *rune);
/* utf8.Valid: shortest forms only, no surrogates, nothing past U+10FFFF. */
bool vmu_go_utf8_valid(const unsigned char *s, size_t len);
/* strconv.IsPrint. */
bool vmu_go_is_print(uint32_t rune);

/* logrus TextFormatter.needsQuoting (default options). */
bool vmu_go_needs_quoting(const char *s, size_t len);
/* Worst-case growth of vmu_go_quote_into: every byte may become \xNN. */
#define VMU_GO_QUOTE_MAX(len) ((len) * 4 + 2)
/* strconv.Quote of s into dst (which has room for VMU_GO_QUOTE_MAX(len)).
 * Returns the length written. */
size_t vmu_go_quote_into(const char *s, size_t len, char *dst);

/* Whether encoding/json (HTML escaping on) writes s as it is, in quotes. */
bool vmu_go_json_is_plain(const char *s, size_t len);

/* Appends s as encoding/json writes a string with HTML escaping on, as Go
 * 1.19 (logrus' anchors) does: backspace and form feed as \u0008, \u000c. */
int vmu_go_json_string(vmu_buf *out, const char *s, size_t len);
/* The same as Go 1.22 and later write it: backspace and form feed as \b, \f
 * (the runtime's documents). */
int vmu_go_json_string_go122(vmu_buf *out, const char *s, size_t len);

#endif
