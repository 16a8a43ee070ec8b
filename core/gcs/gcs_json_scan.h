/* Go's encoding/json scanner, byte by byte (gcs_json_scan.c): the exact
 * syntax errors and value ends of Go, used off the hot path. A leaf: it
 * depends on nothing else of the decoder. */
#ifndef VMUTILS_GCS_JSON_SCAN_H
#define VMUTILS_GCS_JSON_SCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmutils.h"

/* encoding/json's maxNestingDepth. */
#define GCS_MAX_DEPTH 10000

enum {
    GCS_SCAN_CONTINUE,
    GCS_SCAN_BEGIN_LITERAL,
    GCS_SCAN_BEGIN_OBJECT,
    GCS_SCAN_OBJECT_KEY,
    GCS_SCAN_OBJECT_VALUE,
    GCS_SCAN_END_OBJECT,
    GCS_SCAN_BEGIN_ARRAY,
    GCS_SCAN_ARRAY_VALUE,
    GCS_SCAN_END_ARRAY,
    GCS_SCAN_SKIP_SPACE,
    GCS_SCAN_END,  /* the top-level value ended before this byte */
    GCS_SCAN_ERROR
};

typedef struct gcs_json_scanner {
    uint8_t step;
    bool end_top;
    uint32_t depth;
    uint8_t err_byte;    /* the byte the error is about */
    uint8_t err_context; /* which message; 0 = no error */
    uint64_t bytes;      /* bytes stepped, as scanner.bytes */
    uint8_t parse_state[GCS_MAX_DEPTH + 1];
} gcs_json_scanner;

void gcs_scan_reset(gcs_json_scanner *s);
int gcs_scan_step(gcs_json_scanner *s, uint8_t c);
/* scanner.eof(): GCS_SCAN_END or GCS_SCAN_ERROR. */
int gcs_scan_eof(gcs_json_scanner *s);
/* SyntaxError.Error() of the scanner's error. */
int gcs_scan_error_text(const gcs_json_scanner *s, vmu_buf *out);
/* json.Valid-style check of a whole document (checkValid). 0 when valid,
 * else -1 with Go's message appended to msg (when msg is not NULL). */
int gcs_json_check_valid(const uint8_t *data, size_t len, gcs_json_scanner *s, vmu_buf *msg);
/* Whether c is white space to encoding/json. */
static inline bool gcs_json_space(uint8_t c)
{
    return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

#endif
