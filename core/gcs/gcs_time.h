/* time.Time.UnmarshalJSON of Go 1.19, RFC 3339 layout (gcs_time.c). A leaf:
 * it depends on nothing else of the decoder. */
#ifndef VMUTILS_GCS_TIME_H
#define VMUTILS_GCS_TIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmutils.h"

/* time.Time.UnmarshalJSON (Go 1.19) of the raw JSON value text: 1 for
 * "null" (time left alone), 0 with *out set, -1 with the ParseError text
 * appended to err, -2 when err could not grow. */
int gcs_time_unmarshal_json(const uint8_t *raw, size_t len, vmu_time *out, vmu_buf *err);
/* The last date, hour and minute gcs_time_fast_cached decoded: entries of
 * a stream mostly share them, so only the seconds and the rest are read
 * again. */
typedef struct gcs_time_cache {
    uint8_t prefix[16]; /* "YYYY-MM-DDTHH:MM" */
    int64_t minute_sec; /* its Unix time (as UTC) */
    bool valid;
} gcs_time_cache;
/* gcs_time_unmarshal_json for the usual shape only
 * ("YYYY-MM-DDTHH:MM:SS[.fraction]Z" or a "+hh:mm" offset, fields in
 * range), with a cache (zero-initialised before the first use): 0 with
 * *out set, or -1 when the text needs the general parser (which then gives
 * the same time or Go's error). */
int gcs_time_fast_cached(gcs_time_cache *cache, const uint8_t *raw, size_t len, vmu_time *out);
/* The zero time.Time (0001-01-01 00:00:00 UTC). */
vmu_time gcs_time_zero(void);

#endif
