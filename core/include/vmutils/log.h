/* vmutils: the log system.
 *
 * Shaped like logrus, because the records it prints must be byte-compatible
 * with what a Go host using logrus 1.9 prints for the same entry: the same
 * levels, the same TextFormatter and JSONFormatter output (key order, quoting,
 * Go's float and time formatting). A vmu_logger holds a level, a format, an
 * output and an optional sink; functions of the core that warn (the
 * normalize_* and vNUMA functions, the GCS forwarder) take a logger, the way
 * Go code takes a context, and NULL means the process-wide default logger.
 * Loggers are thread-safe: one record is formatted and written whole under the
 * logger's lock, so records from concurrent forwarders never interleave. */
#ifndef VMUTILS_LOG_H
#define VMUTILS_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "base.h"
#include "export.h"

#ifdef __cplusplus
extern "C" {
#endif

VMU_API_BEGIN

/* logrus's numbering: lower is more severe. */
typedef enum vmu_log_level {
    VMU_LEVEL_PANIC = 0,
    VMU_LEVEL_FATAL = 1,
    VMU_LEVEL_ERROR = 2,
    VMU_LEVEL_WARN = 3,
    VMU_LEVEL_INFO = 4,
    VMU_LEVEL_DEBUG = 5,
    VMU_LEVEL_TRACE = 6
} vmu_log_level;

/* "panic" ... "trace" (logrus's Level.String(): WARN is "warning"). */
const char *vmu_log_level_name(vmu_log_level level);
/* logrus.ParseLevel: the name lower-cased as Go's strings.ToLower does (so
 * "İNFO", with U+0130, is "info"; invalid UTF-8 matches nothing), then
 * exactly one of the names above or "warn". The one level parser of the
 * library: the log system, the GCS decoder and the program all use it.
 * Returns 0 and sets *out, or -1 for an unknown name (or NULL). */
int vmu_log_level_parse(const char *name, size_t len, vmu_log_level *out);

/* A field value: the subset of Go values that log records carry. Strings are
 * byte ranges (not NUL-terminated, may hold any bytes). Arrays and objects
 * point into memory owned by whoever built the record; object members keep
 * their input order and may repeat a key: formatters sort them as Go sorts a
 * map and keep the last value of a repeated key, as decoding into a Go map
 * does. */
typedef enum vmu_value_kind {
    VMU_VALUE_NULL,
    VMU_VALUE_BOOL,
    VMU_VALUE_INT,    /* Go int64 (and the smaller signed types) */
    VMU_VALUE_UINT,   /* Go uint64 (and the smaller unsigned types) */
    VMU_VALUE_FLOAT,  /* Go float64 */
    VMU_VALUE_STRING, /* Go string; also an error's text (logrus prints error.Error()) */
    VMU_VALUE_TIME,   /* Go time.Time: JSON as RFC3339Nano, text as time.String() */
    VMU_VALUE_ARRAY,  /* Go []interface{} */
    VMU_VALUE_OBJECT  /* Go map[string]interface{} */
} vmu_value_kind;

typedef struct vmu_time {
    int64_t unix_sec;   /* seconds since the epoch, UTC */
    int32_t nsec;       /* 0..999999999 */
    int32_t utc_offset; /* seconds east of UTC of the zone the time was written in */
    bool utc;           /* written with "Z": Go's UTC location ("UTC" in String()) */
} vmu_time;

struct vmu_field;

typedef struct vmu_value {
    vmu_value_kind kind;
    union {
        bool b;
        int64_t i;
        uint64_t u;
        double f;
        struct { const char *ptr; size_t len; } str;
        vmu_time time;
        struct { const struct vmu_value *items; size_t count; } array;
        struct { const struct vmu_field *members; size_t count; } object;
    } as;
} vmu_value;

typedef struct vmu_field {
    const char *key;
    size_t key_len;
    vmu_value value;
} vmu_field;

/* Convenience constructors for fields (key must be NUL-terminated). */
vmu_field vmu_field_str(const char *key, const char *value);
vmu_field vmu_field_strn(const char *key, const char *value, size_t len);
vmu_field vmu_field_int(const char *key, int64_t value);
vmu_field vmu_field_uint(const char *key, uint64_t value);
vmu_field vmu_field_float(const char *key, double value);
vmu_field vmu_field_bool(const char *key, bool value);

/* One log record, as handed to a sink or a formatter. */
typedef struct vmu_log_record {
    vmu_time time; /* the host time when it was logged (local zone); vmu_log reads
                      the clock's last tick, milliseconds coarse, as records print
                      whole seconds */
    vmu_log_level level;
    const char *msg;
    size_t msg_len;
    const vmu_field *fields;
    size_t field_count;
} vmu_log_record;

typedef enum vmu_log_format {
    VMU_LOG_TEXT = 0, /* logrus TextFormatter{DisableColors: true} */
    VMU_LOG_JSON = 1  /* logrus JSONFormatter{} */
} vmu_log_format;

/* Values nested deeper than this are refused: encoding/json's decoder (and
 * so a Go host) never holds deeper ones, and the formatters recurse. */
#define VMU_LOG_MAX_DEPTH 10000

/* Appends the record as logrus would print it, newline included. Returns 0,
 * or -1 when an allocation failed or a value nests deeper than
 * VMU_LOG_MAX_DEPTH (the buffer is then left as it was). JSON has no NaN or
 * infinity: encoding/json refuses them (and logrus drops the record), these
 * write null instead. */
int vmu_log_format_text(const vmu_log_record *record, vmu_buf *out);
int vmu_log_format_json(const vmu_log_record *record, vmu_buf *out);

/* Receives each record that passes the level, instead of the formatter. */
typedef void (*vmu_log_sink_fn)(void *user, const vmu_log_record *record);
/* Receives formatted bytes; returns 0, or -1 on a write error. */
typedef int (*vmu_log_write_fn)(void *user, const char *data, size_t len);

typedef struct vmu_logger vmu_logger;

/* A new logger: level info, text format, output stderr, no sink. NULL on OOM. */
vmu_logger *vmu_logger_new(void);
void vmu_logger_free(vmu_logger *logger);
/* The process-wide logger used wherever a function is passed NULL. */
vmu_logger *vmu_default_logger(void);

void vmu_logger_set_level(vmu_logger *logger, vmu_log_level level);
vmu_log_level vmu_logger_get_level(const vmu_logger *logger);
bool vmu_logger_enabled(const vmu_logger *logger, vmu_log_level level);
void vmu_logger_set_format(vmu_logger *logger, vmu_log_format format);
vmu_log_format vmu_logger_get_format(const vmu_logger *logger);
/* Formatted records go to `stream` (NULL: stderr). */
void vmu_logger_set_stream(vmu_logger *logger, FILE *stream);
/* Formatted records go to `write` (NULL: back to the stream). */
void vmu_logger_set_writer(vmu_logger *logger, vmu_log_write_fn write, void *user);
/* NULL sink: back to formatted output. */
void vmu_logger_set_sink(vmu_logger *logger, vmu_log_sink_fn sink, void *user);
/* Formats the record and writes it to the logger's stream or writer, past
 * its level and its sink: for a sink that could not take a record (a Lua
 * handler that raised) and hands it back. Returns 0, or -1 (OOM, write). */
int vmu_logger_write_record(vmu_logger *logger, const vmu_log_record *record);

/* Logs one record at the current host time. A NULL logger means the default
 * one. Fields are read only during the call. Returns 0, or -1 when formatting
 * ran out of memory or the output failed. */
int vmu_log(vmu_logger *logger, vmu_log_level level, const char *msg, size_t msg_len,
            const vmu_field *fields, size_t field_count);
/* The same with an explicit host time (tests, replays). */
int vmu_log_at(vmu_logger *logger, const vmu_time *host_time, vmu_log_level level,
               const char *msg, size_t msg_len, const vmu_field *fields, size_t field_count);

/* The current time in the local zone, as logrus takes time.Now(). */
vmu_time vmu_time_now(void);

/* Go formatting pieces the formatters are made of, public because the GCS
 * decoder and the bindings need the same texts. Each appends to `out`. */
/* time.Format(time.RFC3339) / RFC3339Nano / time.String(). */
int vmu_format_time_rfc3339(const vmu_time *t, bool nano, vmu_buf *out);
int vmu_format_time_go_string(const vmu_time *t, vmu_buf *out);
/* A float64 as encoding/json writes it (NaN and infinities: null). */
int vmu_format_float_json(double value, vmu_buf *out);
/* A float64 as fmt's %v writes it. */
int vmu_format_float_go(double value, vmu_buf *out);
/* A Go string as encoding/json writes it with HTML escaping on (quotes
 * included; invalid UTF-8 becomes \ufffd). */
int vmu_format_json_string(const char *s, size_t len, vmu_buf *out);
/* A Go string as fmt's %q writes it (strconv.Quote). */
int vmu_format_go_quote(const char *s, size_t len, vmu_buf *out);

VMU_API_END

#ifdef __cplusplus
}
#endif
#endif
