/* Go's entry rules (gcs_entry.c): what GCSLogEntry.UnmarshalJSON makes of a
 * top-level value, behind the small interface the value builder calls as
 * the entry's members arrive:
 *
 *   gcs_entry_key          a key of the entry itself (which standard field
 *                          it feeds, whether the rules may delete it)
 *   gcs_entry_value        the value of a member whose key feeds a standard
 *                          field (gcs_entry_awaits_value says when)
 *   gcs_entry_number_out_of_range
 *                          a number of the entry that float64 cannot hold
 *   gcs_entry_apply        the whole entry, once its object is complete
 *
 * The rules depend on the time parser, the arena and Go's quoting; they
 * know nothing of yajl, of the builder or of the stream. */
#ifndef VMUTILS_GCS_ENTRY_H
#define VMUTILS_GCS_ENTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmutils.h"
#include "../load_word.h"
#include "gcs_arena.h"
#include "gcs_time.h"

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

/* What the rules know of the entry being built. Members are named by their
 * index among the entry's members. */
typedef struct gcs_entry_state {
    gcs_std_state std;
    uint8_t pending_std;    /* standard key of the member whose value is awaited */
    const char *map_error;  /* first number out of float64 range (arena) */
    size_t map_error_len;
    gcs_key_mark *marks;
    size_t mark_count, mark_cap;
    /* The last "Source", "message" and "Message" members, or SIZE_MAX. */
    size_t source_member, lower_message_member, upper_message_member;
    /* Kept between entries: their times mostly share date and minute. */
    gcs_time_cache time_cache;
} gcs_entry_state;

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

/* "json: cannot unmarshal KIND into Go value of type main.standard": the
 * error of a top-level value that is not an object. */
extern const char *const gcs_type_error_number;
extern const char *const gcs_type_error_string;
extern const char *const gcs_type_error_bool;
extern const char *const gcs_type_error_array;

/* A fresh state (zero-initialised memory). */
void gcs_entry_init(gcs_entry_state *e);
void gcs_entry_free(gcs_entry_state *e);

/* Forgets the entry (its texts were in the arena), for the next one. Inline:
 * once per entry, on the decoding thread. */
static inline void gcs_entry_reset(gcs_entry_state *e)
{
    e->std.set = 0;
    e->std.failed = 0;
    e->pending_std = GCS_STD_NONE;
    e->map_error = NULL;
    e->map_error_len = 0;
    e->mark_count = 0;
    e->source_member = e->lower_message_member = e->upper_message_member = SIZE_MAX;
}

/* Notes that member `member` is of kind GCS_MARK_*: 0, or -1 on OOM. The
 * array grows out of line. */
int gcs_entry_mark_grown(gcs_entry_state *e, size_t member, uint8_t kind);

static inline int gcs_entry_mark(gcs_entry_state *e, size_t member, uint8_t kind)
{
    if (e->mark_count == e->mark_cap)
        return gcs_entry_mark_grown(e, member, kind);
    e->marks[e->mark_count].member = (uint32_t)member;
    e->marks[e->mark_count].kind = kind;
    e->mark_count++;
    return 0;
}

/* The key word of a literal (folded to a constant). */
static inline uint32_t gcs_word32(const char *lit) { return vmu_load32(lit); }

/* A key of the entry itself (member `member`, k[0..len), len 3 to 7: no
 * other length matters to the rules): which standard field it feeds under
 * encoding/json's case-insensitive matching (simpleLetterEqualFold: a byte
 * matches a lower-case letter when it is that letter or its upper case, so
 * OR-ing 0x20 compares a word at once), and whether the rules may delete it
 * (the exact lower-case standard keys, "message" and "Message") or look at
 * it ("Source"). Inline: every such key of the stream comes through here.
 * 0, or -1 on OOM. */
static inline __attribute__((always_inline)) int gcs_entry_key(gcs_entry_state *e, size_t member,
                                                               const char *k, size_t len)
{
    int mark = -1;
    uint32_t w;
    switch (len) {
    case 3:
        if ((k[0] | 0x20) == 'm' && (k[1] | 0x20) == 's' && (k[2] | 0x20) == 'g') {
            e->pending_std = GCS_STD_MSG;
            if (k[0] == 'm' && k[1] == 's' && k[2] == 'g')
                mark = GCS_MARK_STD;
        }
        break;
    case 4:
        w = vmu_load32(k);
        if ((w | 0x20202020u) == gcs_word32("time")) {
            e->pending_std = GCS_STD_TIME;
            if (w == gcs_word32("time"))
                mark = GCS_MARK_STD;
        } else if ((k[0] | 0x20) == 'm' && (unsigned char)k[1] == 0xc5 &&
                   (unsigned char)k[2] == 0xbf && (k[3] | 0x20) == 'g') {
            /* "msg" has an s, so encoding/json folds it with
             * equalFoldRight, which also takes U+017F (long s) for it. */
            e->pending_std = GCS_STD_MSG;
        }
        break;
    case 5:
        w = vmu_load32(k);
        if ((w | 0x20202020u) == gcs_word32("leve") && (k[4] | 0x20) == 'l') {
            e->pending_std = GCS_STD_LEVEL;
            if (w == gcs_word32("leve") && k[4] == 'l')
                mark = GCS_MARK_STD;
        }
        break;
    case 6:
        if (vmu_load32(k) == gcs_word32("Sour") && k[4] == 'c' && k[5] == 'e')
            e->source_member = member;
        break;
    case 7:
        if (vmu_load32(k + 1) == gcs_word32("essa") && k[5] == 'g' && k[6] == 'e') {
            if (k[0] == 'm') {
                e->lower_message_member = member;
                mark = GCS_MARK_LOWER_MESSAGE;
            } else if (k[0] == 'M') {
                e->upper_message_member = member;
                mark = GCS_MARK_UPPER_MESSAGE;
            }
        }
        break;
    default:
        break;
    }
    return mark < 0 ? 0 : gcs_entry_mark(e, member, (uint8_t)mark);
}

/* Whether the member whose key came last feeds a standard field: its value
 * then goes to gcs_entry_value. */
static inline bool gcs_entry_awaits_value(const gcs_entry_state *e)
{
    return e->pending_std != GCS_STD_NONE;
}

/* Whether that field is the time (which decodes itself from the raw text of
 * any value: the builder then keeps a container's raw bytes). */
static inline bool gcs_entry_awaits_time(const gcs_entry_state *e)
{
    return e->pending_std == GCS_STD_TIME;
}

/* The awaited standard member `member` got its value v, whose raw JSON text
 * is raw[0..raw_len) (for the time; NULL for a container given to msg or
 * level). Error texts go to the arena. 0, or -1 on OOM. */
int gcs_entry_value(gcs_entry_state *e, gcs_arena *arena, size_t member, const vmu_value *v,
                    const uint8_t *raw, size_t raw_len);

/* A number of the entry, s[0..len), is out of float64 range: the map decode
 * saves that error (the first one) and goes on. 0, or -1 on OOM. */
int gcs_entry_number_out_of_range(gcs_entry_state *e, gcs_arena *arena, const char *s, size_t len);

/* Applies the entry rules to the complete entry whose members are
 * members[0..count) (an object, or null: no members), in place: the
 * standard struct's decode (its error first), then the deletion of the
 * lower-case standard keys and of the ETW message's key, and the level
 * clamp. (Whole floats of the top level became integers as they were
 * parsed.) The first error of decoding the members into a map (a number
 * out of float64 range) comes after the standard members' errors. */
void gcs_entry_apply(const gcs_entry_state *e, vmu_field *members, size_t count,
                     gcs_entry_result *out);

#endif
