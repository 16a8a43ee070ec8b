/* Internal: the pieces of the GCS log pipeline shared between its files.
 *
 *   gcs_json_scan.c  Go's encoding/json scanner, byte by byte (exact syntax
 *                    errors and value ends, used off the hot path)
 *   gcs_text.c       Go's string unquoting, UTF-8 repair, bytes.TrimSpace
 *   gcs_time.c       time.Time.UnmarshalJSON of Go 1.19 (RFC 3339 layout)
 *   gcs_entry.c      GCSLogEntry.UnmarshalJSON's rules on a decoded object
 *   gcs_parse.c      yajl callbacks that build each top-level value
 *   gcs_logs.c       the stream decoder (Go mode and resync), the forwarders
 */
#ifndef VMUTILS_GCS_INTERNAL_H
#define VMUTILS_GCS_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <yajl/yajl_parse.h>

#include "vmutils.h"

/* ---- gcs_json_scan.c ---- */

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

/* ---- gcs_text.c ---- */

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

/* ---- gcs_time.c ---- */

/* time.Time.UnmarshalJSON (Go 1.19) of the raw JSON value text: 1 for
 * "null" (time left alone), 0 with *out set, -1 with the ParseError text
 * appended to err, -2 when err could not grow. */
int gcs_time_unmarshal_json(const uint8_t *raw, size_t len, vmu_time *out, vmu_buf *err);
/* The same for the usual shape only ("YYYY-MM-DDTHH:MM:SS[.fraction]Z" or
 * a "+hh:mm" offset, fields in range): 0 with *out set, or -1 when the text
 * needs the general parser (which then gives the same time or Go's error). */
int gcs_time_fast(const uint8_t *raw, size_t len, vmu_time *out);
/* The last date, hour and minute gcs_time_fast_cached decoded: entries of
 * a stream mostly share them, so only the seconds and the rest are read
 * again. */
typedef struct gcs_time_cache {
    uint8_t prefix[16]; /* "YYYY-MM-DDTHH:MM" */
    int64_t minute_sec; /* its Unix time (as UTC) */
    bool valid;
} gcs_time_cache;
/* gcs_time_fast with a cache (zero-initialised before the first use). */
int gcs_time_fast_cached(gcs_time_cache *cache, const uint8_t *raw, size_t len, vmu_time *out);
/* The zero time.Time (0001-01-01 00:00:00 UTC). */
vmu_time gcs_time_zero(void);

/* ---- gcs_entry.c ---- */

/* The standard keys of GCSLogEntryStandard. */
enum { GCS_STD_NONE = 0, GCS_STD_TIME, GCS_STD_LEVEL, GCS_STD_MSG };

/* How one standard member came out of the first json.Unmarshal: it set the
 * field, was ignored (null), or failed at once (a decoding error that
 * stops the Unmarshal) or later (a type error Unmarshal saves). */
enum { GCS_OUT_SET, GCS_OUT_IGNORED, GCS_OUT_FAIL_NOW, GCS_OUT_FAIL_SAVED };

/* The first json.Unmarshal (into the standard struct) so far, updated as
 * each standard member's value arrives, in input order. */
typedef struct gcs_std_state {
    uint8_t set;        /* bits 1 << GCS_STD_* of the fields set */
    uint8_t failed;     /* 0, GCS_OUT_FAIL_NOW (the rest is not decoded) or
                           GCS_OUT_FAIL_SAVED (the first saved error) */
    vmu_log_level level;
    vmu_time time;
    size_t msg_member;  /* the member whose string msg holds */
    const char *error;  /* failed: Go's error text (arena) */
    size_t error_len;
} gcs_std_state;

/* Members of the top-level object that gcs_entry_apply may delete: the
 * exact lower-case standard keys, and "message" or "Message" (one of them
 * goes when the entry is an ETW one). Marked as the keys arrive, in member
 * order. */
enum { GCS_MARK_STD, GCS_MARK_LOWER_MESSAGE, GCS_MARK_UPPER_MESSAGE };

typedef struct gcs_key_mark {
    uint32_t member;
    uint8_t kind; /* GCS_MARK_* */
} gcs_key_mark;

/* The result of GCSLogEntry.UnmarshalJSON on one top-level value. */
typedef struct gcs_entry_result {
    bool ok;
    vmu_log_level level;
    const char *msg;
    size_t msg_len;
    vmu_time time;
    const char *error; /* !ok: Go's error text */
    size_t error_len;
    /* The fields kept: members[field_start, field_start + field_count),
     * compacted towards the end of the members so that a usual entry,
     * whose standard keys come first, moves nothing. */
    size_t field_start;
    size_t field_count;
} gcs_entry_result;

typedef struct gcs_parser gcs_parser;

/* Applies the entry rules to the top-level value the parser holds (an
 * object, or null: no members), in place: the standard struct's decode
 * (its error first), then the deletion of the lower-case standard keys and of
 * the ETW message's key, and the level clamp. (Whole floats of the top
 * level became integers as they were parsed.) The first error of decoding
 * the members into a map (a number out of float64 range) comes after the
 * standard members' errors. */
void gcs_entry_apply(gcs_parser *p, gcs_entry_result *out);

/* "json: cannot unmarshal KIND into Go value of type main.standard": the
 * error of a top-level value that is not an object. */
extern const char *const gcs_type_error_number;
extern const char *const gcs_type_error_string;
extern const char *const gcs_type_error_bool;
extern const char *const gcs_type_error_array;

/* ---- gcs_parse.c ---- */

/* A bump allocator in blocks that are kept between entries, so decoding
 * allocates nothing once the blocks have grown to the largest entry. */
typedef struct gcs_arena_block {
    struct gcs_arena_block *next;
    size_t size;
    size_t used;
    max_align_t data[];
} gcs_arena_block;

typedef struct gcs_arena {
    gcs_arena_block *first;
    gcs_arena_block *current;
} gcs_arena;

void *gcs_arena_alloc(gcs_arena *a, size_t size);
void gcs_arena_reset(gcs_arena *a);
void gcs_arena_free(gcs_arena *a);

/* An open container of the value being built. */
typedef struct gcs_frame {
    size_t children_start; /* first child in the node stack (an object) or the item stack */
    size_t slot;           /* where the container goes (see value_slot); SIZE_MAX for the top level */
    bool is_object;
} gcs_frame;

/* What ended the value being parsed, when a callback stops yajl. */
enum {
    GCS_STOP_NONE,
    GCS_STOP_AFTER_VALUE, /* Go mode: an entry failed, the rest is "gcs terminated" */
    GCS_STOP_DEPTH,       /* nesting past encoding/json's limit: a syntax error */
    GCS_STOP_NOMEM
};

/* The kind of top-level value being parsed: an object (an entry), null (an
 * empty entry), or one of the kinds Go refuses (scalar_error says which). */
enum { GCS_TOP_NONE, GCS_TOP_OBJECT, GCS_TOP_ARRAY, GCS_TOP_NULL, GCS_TOP_SCALAR };

/* Called by the parser for each complete top-level value. raw/raw_len are
 * its exact bytes. Returns 0 to go on, or a GCS_STOP_* code. */
typedef int (*gcs_value_fn)(void *user, gcs_parser *p, const uint8_t *raw, size_t raw_len);

/* The value builder: yajl and the state of the top-level value it is in. */
struct gcs_parser {
    yajl_handle yajl;
    gcs_value_fn on_value;
    void *user;

    /* The bytes handed to yajl now, and where they sit in the stream. */
    const uint8_t *feed;
    size_t feed_len;
    uint64_t feed_off;
    /* Where strings of the entry itself may be used in place: the feed,
     * or nothing when !zero_copy (addresses as integers). */
    uintptr_t place_lo, place_hi;
    uintptr_t high_at; /* the first byte >= 0x80 at or after the last string looked at */

    /* End of the last complete top-level value (stream offset). */
    uint64_t scan_pos;
    /* Raw bytes of the current top-level value that came before `feed`:
     * stream bytes [carry_off, feed_off + carry_synced). */
    vmu_buf carry;
    uint64_t carry_off;
    size_t carry_synced;

    /* The value being built. */
    uint32_t depth;
    uint8_t top;
    vmu_field *nodes;          /* the members of open objects */
    size_t node_count, node_cap;
    vmu_value *items;          /* the values of deeper arrays */
    size_t item_count, item_cap;
    gcs_frame *frames;
    size_t frame_cap;
    gcs_std_state std;
    uint8_t pending_std;      /* standard key of the member whose value is awaited */
    uint64_t std_value_start; /* stream offset of a container given to "time" */
    const char *map_error;    /* first number out of float64 range */
    size_t map_error_len;
    gcs_key_mark *marks;
    size_t mark_count, mark_cap;
    /* The last "Source", "message" and "Message" members, or SIZE_MAX. */
    size_t source_member, lower_message_member, upper_message_member;
    gcs_time_cache time_cache;
    gcs_arena arena;

    bool keep_value;         /* leave the finished value in place (decode_entry) */
    /* Top-level keys and string values may point into the feed; those of a
     * value still open when the feed ends are copied then (nodes from
     * reloc_mark on have not been looked at yet). */
    bool zero_copy;
    size_t reloc_mark;
    int stop;                /* GCS_STOP_* set by a callback that stopped yajl */
    uint64_t stop_off;       /* GCS_STOP_AFTER_VALUE: end of the value */
    /* A top-level value that is not an object or null: Go's type error. */
    const char *scalar_error;
};

int gcs_parser_init(gcs_parser *p, gcs_value_fn on_value, void *user);
void gcs_parser_free(gcs_parser *p);
/* A fresh yajl handle (after a syntax error or a stop). 0 or -1 (OOM). */
int gcs_parser_restart(gcs_parser *p);
/* Feeds bytes at stream offset off to yajl. Returns the yajl status. */
yajl_status gcs_parser_feed(gcs_parser *p, const uint8_t *data, size_t len, uint64_t off);
/* The stream offset of the first byte of the current top-level value, or
 * UINT64_MAX when only white space follows the last value. Considers the
 * bytes fed so far, up to feed offset `upto`. */
uint64_t gcs_parser_value_start(gcs_parser *p, size_t upto);
/* Contiguous raw bytes [from, feed_off + upto) of the current value; from
 * must not precede the value's first byte. NULL on OOM. */
const uint8_t *gcs_parser_raw(gcs_parser *p, uint64_t from, size_t upto);
/* Feeds yajl the carry's last len bytes (stream offset off), which only
 * continue the token yajl is inside: no callback comes, the carry stays. */
yajl_status gcs_parser_feed_token(gcs_parser *p, const uint8_t *data, size_t len, uint64_t off);
/* Keeps the unfinished value's bytes of the current feed for the next one. */
int gcs_parser_carry_tail(gcs_parser *p);
/* n more members on the node stack, left for the caller to fill (to add
 * fields to a finished entry). NULL on OOM. */
vmu_field *gcs_parser_push_nodes(gcs_parser *p, size_t n);
/* Forgets the current value (after it was reported). */
void gcs_parser_drop_value(gcs_parser *p, uint64_t new_scan_pos);

/* ---- gcs_logs.c ---- */

/* The bytes yajl's lexer has gone over so far, a token cut by a slice
 * counted again each time yajl lexes it again: the decoder's work, which
 * tests check grows linearly with the input. */
uint64_t gcs_decoder_lexed_bytes(const vmu_gcs_decoder *d);

#endif
