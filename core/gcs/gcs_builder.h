/* The JSON value builder (gcs_builder.c): yajl's callbacks turn each
 * top-level value of the stream into vmu_values in the arena, tell the
 * entry rules (gcs_entry.h) of the entry's keys and standard members as
 * they arrive, and hand each complete value to the caller (the stream
 * driver, or vmu_gcs_decode_entry).
 *
 * The parser's state, by owner:
 *   win    where the bytes of the value being built are (the slice yajl has
 *          now and the value's earlier bytes, the carry): the builder keeps
 *          it; the stream driver reads it to find positions and text, and
 *          changes it only through the gcs_parser_* calls below
 *   val    the value being built: the builder's alone
 *   entry  what the entry rules know of the entry (gcs_entry.h)
 *   arena  the memory of the value (gcs_arena.h) */
#ifndef VMUTILS_GCS_BUILDER_H
#define VMUTILS_GCS_BUILDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <yajl/yajl_parse.h>

#include "vmutils.h"
#include "gcs_arena.h"
#include "gcs_entry.h"

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

/* The bytes of the stream around the value being built. */
typedef struct gcs_window {
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
} gcs_window;

/* An open container of the value being built. */
typedef struct gcs_frame {
    size_t children_start; /* first child in the node stack (an object) or the item stack */
    size_t slot;           /* where the container goes (see value_slot); SIZE_MAX for the top level */
    bool is_object;
} gcs_frame;

/* The value being built. */
typedef struct gcs_value_state {
    uint32_t depth;
    uint8_t top;               /* GCS_TOP_* */
    vmu_field *nodes;          /* the members of open objects */
    size_t node_count, node_cap;
    vmu_value *items;          /* the values of deeper arrays */
    size_t item_count, item_cap;
    gcs_frame *frames;
    size_t frame_cap;
    /* Top-level keys and string values may point into the feed; those of a
     * value still open when the feed ends are copied then (nodes from
     * reloc_mark on have not been looked at yet). */
    size_t reloc_mark;
    uint64_t std_value_start;  /* stream offset of a container given to "time" */
    /* A top-level value that is not an object or null: Go's type error. */
    const char *scalar_error;
} gcs_value_state;

typedef struct gcs_parser gcs_parser;

/* Called by the parser for each complete top-level value. raw/raw_len are
 * its exact bytes. Returns 0 to go on, or a GCS_STOP_* code. */
typedef int (*gcs_value_fn)(void *user, gcs_parser *p, const uint8_t *raw, size_t raw_len);

struct gcs_parser {
    yajl_handle yajl;
    gcs_value_fn on_value;
    void *user;
    bool keep_value;   /* leave the finished value in place (decode_entry) */
    bool zero_copy;    /* strings of the entry may point into the feed */
    int stop;          /* GCS_STOP_* set by a callback that stopped yajl */
    uint64_t stop_off; /* GCS_STOP_AFTER_VALUE: end of the value */

    gcs_window win;
    gcs_value_state val;
    gcs_entry_state entry;
    gcs_arena arena;
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
/* The entry rules' verdict on the complete top-level value (from a
 * gcs_value_fn): gcs_entry_apply on an object or null, Go's type error on
 * anything else. */
void gcs_parser_entry(gcs_parser *p, gcs_entry_result *out);
/* Whether yajl is inside a container (else between top-level values, or
 * inside a top-level number or literal). */
static inline bool gcs_parser_in_container(const gcs_parser *p) { return p->val.depth > 0; }
/* The members of the top-level object (valid until the next push). */
static inline vmu_field *gcs_parser_members(gcs_parser *p) { return p->val.nodes; }
/* n more members on the node stack, left for the caller to fill (to add
 * fields to a finished entry). NULL on OOM. */
vmu_field *gcs_parser_push_nodes(gcs_parser *p, size_t n);
/* Forgets the current value (after it was reported). */
void gcs_parser_drop_value(gcs_parser *p, uint64_t new_scan_pos);

/* The driver went over the stream up to pos itself (text skipped, a value
 * too large to build): the next value is looked for from there. */
static inline void gcs_parser_skip_to(gcs_parser *p, uint64_t pos) { p->win.scan_pos = pos; }
/* Bytes that only continue the token yajl is inside, kept in the carry
 * without yajl seeing them yet (gcs_parser_feed_token hands them over
 * later). 0, or -1 on OOM. */
static inline int gcs_parser_hold(gcs_parser *p, const uint8_t *s, size_t n)
{
    return vmu_buf_append(&p->win.carry, s, n);
}
/* At the end of the stream: the carry becomes the last slice fed, so that
 * positions are read from it alone. */
static inline void gcs_parser_carry_is_feed(gcs_parser *p)
{
    p->win.feed_off = p->win.carry_off + p->win.carry.len;
}
/* Takes the carry away from the parser, which is left without one; the
 * caller frees it. */
static inline vmu_buf gcs_parser_take_carry(gcs_parser *p)
{
    vmu_buf carry = p->win.carry;
    vmu_buf_init(&p->win.carry);
    return carry;
}

#endif
