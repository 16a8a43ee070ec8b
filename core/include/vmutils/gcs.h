/* vmutils: the GCS log pipeline (hcsshim's gcs_logs.go: ParseGCSLogrus and
 * GCSLogEntry.UnmarshalJSON). Included through <vmutils.h>.
 *
 * A Linux utility VM's guest agent (GCS) writes its logs to the host as a
 * stream of logrus JSON objects. The decoder reads that stream in chunks of
 * any size and logs each entry on a vmu_logger (NULL: the default logger)
 * with the VM's id, exactly as a Go host does: the same records in the same
 * bytes, including what Go does with bad entries and with the text after a
 * crash (see docs/gcs.md for the list of rules).
 *
 * Records logged:
 * - each entry, at its level, with its message, its fields, "uvm-id" and
 *   "vm.time" (the entry's time);
 * - "gcs log read" (error) when an entry cannot be decoded, with "error"
 *   (Go's error text) and, in resync mode, "entry" (the raw entry);
 * - "gcs terminated" (error) with "stderr": what follows the point where
 *   forwarding stopped, trimmed; also the text after a syntax error;
 * - resync mode only: "gcs output" (error) with "stderr" for non-JSON text
 *   between entries;
 * - an entry over max_entry_bytes: "gcs log read" with "error", "entry" (its
 *   first VMU_GCS_ENTRY_HEAD_BYTES bytes) and "size" (its length).
 *
 * Memory is bounded whatever the guest writes: no entry is buffered beyond
 * max_entry_bytes, and text is logged in records of at most that size.
 * A decoder is used by one thread at a time; decoders on different threads
 * may share a logger. */
#ifndef VMUTILS_GCS_H
#define VMUTILS_GCS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base.h"
#include "log.h"
#include "export.h"

#ifdef __cplusplus
extern "C" {
#endif

VMU_API_BEGIN

#define VMU_GCS_DEFAULT_MAX_ENTRY_BYTES ((size_t)1 << 20)
/* How much of an oversized entry its record shows. */
#define VMU_GCS_ENTRY_HEAD_BYTES 4096
/* The largest max_entry_bytes accepted. */
#define VMU_GCS_MAX_ENTRY_BYTES_LIMIT ((size_t)1 << 30)

typedef struct vmu_gcs_options {
    /* false: stop forwarding at the first bad entry, as Go does, and log
     * the rest of the stream as "gcs terminated".
     * true: log a bad entry ("gcs log read" with the raw entry) and go on;
     * non-JSON text between entries becomes "gcs output" records, and
     * decoding picks up again at the next line that starts with '{'. */
    bool resync;
    /* Entries larger than this are reported, not decoded. 0: the default. */
    size_t max_entry_bytes;
} vmu_gcs_options;

/* resync off, max_entry_bytes 1 MiB. */
void vmu_gcs_options_init(vmu_gcs_options *opts);

typedef struct vmu_gcs_stats {
    uint64_t entries; /* entries decoded and forwarded (before level filtering) */
    uint64_t bytes;   /* bytes read from the source */
} vmu_gcs_stats;

typedef struct vmu_gcs_decoder vmu_gcs_decoder;

/* A push decoder for one VM's stream. vm_id is copied; opts may be NULL
 * (defaults); logger NULL means the default logger. NULL on OOM or when
 * max_entry_bytes is over VMU_GCS_MAX_ENTRY_BYTES_LIMIT. */
vmu_gcs_decoder *vmu_gcs_decoder_new(const char *vm_id, size_t vm_id_len,
                                     const vmu_gcs_options *opts, vmu_logger *logger);
void vmu_gcs_decoder_free(vmu_gcs_decoder *dec);
/* Decodes len more bytes of the stream; records are logged during the call.
 * Returns 0, or -1 when the decoder ran out of memory (it then stops) or
 * was already finished. */
int vmu_gcs_decoder_feed(vmu_gcs_decoder *dec, const void *data, size_t len);
/* The source failed with `error` (Go's error text, e.g. "read /dev/stdin:
 * input/output error"). A disconnect (ECONNRESET, ECONNABORTED) ends the
 * stream quietly, like EOF; any other failure is logged as "gcs log read"
 * first. Either way, what was buffered and whatever is fed after this call
 * (a Go host reads the source to its end) is logged as "gcs terminated" by
 * finish. */
int vmu_gcs_decoder_fail(vmu_gcs_decoder *dec, const char *error, size_t error_len,
                         bool disconnect);
/* End of stream: logs what is left (an entry cut off, trailing text).
 * Returns 0, or -1 as feed. Feeding after finish fails. */
int vmu_gcs_decoder_finish(vmu_gcs_decoder *dec);
void vmu_gcs_decoder_stats(const vmu_gcs_decoder *dec, vmu_gcs_stats *out);

/* The whole stream in one call: new, feed, finish, free. The entry point
 * for fuzzing. Returns 0 or -1 (OOM); stats may be NULL. */
int vmu_gcs_decode_stream(const char *vm_id, const void *data, size_t len,
                          const vmu_gcs_options *opts, vmu_logger *logger, vmu_gcs_stats *stats);

/* A source for the forwarder: reads up to cap bytes into buf and returns
 * the count, 0 at the end, or -1 with errno set. */
typedef ptrdiff_t (*vmu_gcs_read_fn)(void *user, void *buf, size_t cap);

/* Reads the rest of the stream from `read` into the decoder and finishes
 * it: what vmu_gcs_forward does, on a decoder made by the caller. */
int vmu_gcs_decoder_read_from(vmu_gcs_decoder *dec, vmu_gcs_read_fn read, void *user,
                              const char *source_name);

/* Forwards a stream until it ends (ParseGCSLogrus's handler): reads with
 * `read` and logs as the decoder does. EINTR is retried; ECONNRESET and
 * ECONNABORTED end the stream like EOF; any other error is logged ("gcs log
 * read", text "read <source_name>: <Go errno text>") and the source is read
 * on to its end, as Go does. Returns 0, or -1 on OOM. */
int vmu_gcs_forward(const char *vm_id, vmu_gcs_read_fn read, void *user, const char *source_name,
                    const vmu_gcs_options *opts, vmu_logger *logger, vmu_gcs_stats *stats);
/* The same over a file descriptor; a non-blocking one is waited for with
 * poll(2) (Go's runtime poller does the same). */
int vmu_gcs_forward_fd(const char *vm_id, int fd, const char *source_name,
                       const vmu_gcs_options *opts, vmu_logger *logger, vmu_gcs_stats *stats);

/* One decoded entry (GCSLogEntry after UnmarshalJSON). */
typedef struct vmu_gcs_entry {
    vmu_time time; /* the zero time (year 1, UTC) when the entry has none */
    vmu_log_level level;
    const char *msg;
    size_t msg_len;
    const vmu_field *fields; /* every field but the standard ones; keys unique */
    size_t field_count;
    const char *error; /* failure: Go's error text */
    size_t error_len;
    void *storage; /* owned memory; release with vmu_gcs_entry_free */
} vmu_gcs_entry;

/* json.Unmarshal of one entry: 0 with *out filled, or -1 with out->error
 * (and err, cut to its size) set: a syntax error in Go's words, or the
 * entry's decoding error. Either way free *out with vmu_gcs_entry_free. */
int vmu_gcs_decode_entry(const char *json, size_t len, vmu_gcs_entry *out, vmu_err *err);
void vmu_gcs_entry_free(vmu_gcs_entry *entry);

VMU_API_END

#ifdef __cplusplus
}
#endif
#endif
