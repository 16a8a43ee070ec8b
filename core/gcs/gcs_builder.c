/* The value builder of the GCS decoder: yajl's SAX callbacks turn each
 * top-level JSON value of the stream into vmu_values in a reused arena, tell
 * the entry rules (gcs_entry.h) of the entry's keys and standard members as
 * they arrive, and hand the finished value to the caller (gcs_builder.h).
 *
 * yajl is fed the stream in slices as it arrives and validates it as Go's
 * scanner does (same grammar; the two differences, \v and \f as white space
 * and no depth limit, are handled by the caller and by the depth check
 * here). Positions come from yajl_get_bytes_consumed inside a callback,
 * which is the offset just past the token being reported. The raw bytes of
 * the value in progress are kept ("carry") only when it spans slices, so
 * that Go's rules that look at raw text (time parsing, the raw entry of a
 * bad entry) see exactly the input bytes.
 *
 * Strings: yajl passes an unescaped string that lies within the slice as a
 * pointer into it; those are checked for UTF-8 and copied. Anything else
 * (escapes, or a token spanning slices) is decoded again from its raw bytes
 * by Go's unquote rules, because yajl's own decoding of lone surrogates
 * differs from Go's. */
#include <string.h>

#include "gcs_builder.h"
#include "gcs_json_scan.h"
#include "gcs_number.h"
#include "gcs_text.h"

/* Node stack entries kept between entries. */
#define NODES_KEPT 16384u

static inline uint64_t consumed_pos(const gcs_parser *p)
{
    return p->win.feed_off + yajl_get_bytes_consumed(p->yajl);
}

uint64_t gcs_parser_value_start(gcs_parser *p, size_t upto)
{
    if (p->win.carry.len > 0)
        return p->win.carry_off;
    size_t from = p->win.scan_pos > p->win.feed_off ? (size_t)(p->win.scan_pos - p->win.feed_off) : 0;
    for (size_t i = from; i < upto; i++)
        if (!gcs_json_space(p->win.feed[i]))
            return p->win.feed_off + i;
    return UINT64_MAX;
}

const uint8_t *gcs_parser_raw(gcs_parser *p, uint64_t from, size_t upto)
{
    if (p->win.carry.len == 0)
        return p->win.feed + (from - p->win.feed_off);
    if (upto > p->win.carry_synced) {
        if (vmu_buf_append(&p->win.carry, p->win.feed + p->win.carry_synced,
                           upto - p->win.carry_synced) != 0)
            return NULL;
        p->win.carry_synced = upto;
    }
    return (const uint8_t *)p->win.carry.data + (from - p->win.carry_off);
}

static bool in_feed(const gcs_parser *p, const char *s)
{
    return (const uint8_t *)s >= p->win.feed && (const uint8_t *)s < p->win.feed + p->win.feed_len;
}


/* The feed is about to go: strings of the open value that point into it
 * move to the arena. Only nodes on the stack can hold such strings (nested
 * values are copied when built). */
static int relocate_strings(gcs_parser *p)
{
    size_t from = p->val.reloc_mark < p->val.node_count ? p->val.reloc_mark : p->val.node_count;
    for (size_t i = from; i < p->val.node_count; i++) {
        vmu_field *f = &p->val.nodes[i];
        if (f->key && in_feed(p, f->key) && !(f->key = gcs_arena_copy(&p->arena, f->key, f->key_len)))
            return -1;
        vmu_value *v = &f->value;
        if (v->kind == VMU_VALUE_STRING && v->as.str.len && in_feed(p, v->as.str.ptr) &&
            !(v->as.str.ptr = gcs_arena_copy(&p->arena, v->as.str.ptr, v->as.str.len)))
            return -1;
    }
    /* The last member may still be waiting for its value. */
    p->val.reloc_mark = p->val.node_count ? p->val.node_count - 1 : 0;
    return 0;
}

int gcs_parser_carry_tail(gcs_parser *p)
{
    uint64_t vs = gcs_parser_value_start(p, p->win.feed_len);
    if (vs == UINT64_MAX)
        return 0;
    if (p->zero_copy && relocate_strings(p) != 0)
        return -1;
    size_t from;
    if (p->win.carry.len == 0) {
        p->win.carry_off = vs;
        from = (size_t)(vs - p->win.feed_off);
    } else {
        from = p->win.carry_synced;
    }
    if (p->win.feed_len > from &&
        vmu_buf_append(&p->win.carry, p->win.feed + from, p->win.feed_len - from) != 0)
        return -1;
    p->win.carry_synced = p->win.feed_len;
    return 0;
}

static void clear_value(gcs_parser *p)
{
    p->val.depth = 0;
    p->val.reloc_mark = 0;
    p->val.top = GCS_TOP_NONE;
    p->val.node_count = 0;
    p->val.item_count = 0;
    gcs_entry_reset(&p->entry);
    p->val.scalar_error = NULL;
    gcs_arena_reset(&p->arena);
}

void gcs_parser_drop_value(gcs_parser *p, uint64_t new_scan_pos)
{
    clear_value(p);
    p->win.scan_pos = new_scan_pos;
    p->win.carry.len = 0;
    p->win.carry.failed = 0;
    p->win.carry_synced = 0;
    /* A huge value must not pin its copy for the stream's lifetime. */
    if (p->win.carry.cap > 256u * 1024u)
        vmu_buf_free(&p->win.carry);
    if (p->val.node_cap > NODES_KEPT) {
        vmu_free(p->val.nodes);
        p->val.nodes = NULL;
        p->val.node_cap = 0;
    }
    if (p->val.item_cap > NODES_KEPT) {
        vmu_free(p->val.items);
        p->val.items = NULL;
        p->val.item_cap = 0;
    }
}


/* A large container, once closed, is in the arena: the stack that held
 * its children shrinks back, so that the stack and the copy do not both
 * stay for the rest of the entry (and its record). */
static void shrink_stack(void **ptr, size_t *cap, size_t count, size_t elem)
{
    size_t n = count * 2 > NODES_KEPT ? count * 2 : NODES_KEPT;
    void *q = vmu_realloc(*ptr, n * elem);
    if (q) { /* else the larger stack stays: nothing is lost */
        *ptr = q;
        *cap = n;
    }
}

static int stop(gcs_parser *p, int why)
{
    p->stop = why;
    return 0;
}

/* A new node on the stack, for a member (key set) or an array item. */
static inline vmu_field *push_node(gcs_parser *p)
{
    if (__builtin_expect(p->val.node_count == p->val.node_cap, 0) &&
        gcs_grow((void **)&p->val.nodes, &p->val.node_cap, p->val.node_count + 1,
                 sizeof *p->val.nodes) != 0)
        return NULL;
    vmu_field *f = &p->val.nodes[p->val.node_count++];
    f->key = NULL;
    f->key_len = 0;
    f->value.kind = VMU_VALUE_NULL;
    return f;
}

vmu_field *gcs_parser_push_nodes(gcs_parser *p, size_t n)
{
    if (p->val.node_cap - p->val.node_count < n &&
        gcs_grow((void **)&p->val.nodes, &p->val.node_cap, p->val.node_count + n,
                 sizeof *p->val.nodes) != 0)
        return NULL;
    vmu_field *first = &p->val.nodes[p->val.node_count];
    p->val.node_count += n;
    return first;
}

/* Values of arrays below the top level sit on their own stack, of bare
 * values (no key): an array of a million small values costs a value each
 * on the stack and in the arena. A slot with ITEM_SLOT set is on it. */
#define ITEM_SLOT ((SIZE_MAX >> 1) + 1)

static inline vmu_value *slot_value(gcs_parser *p, size_t slot)
{
    return slot & ITEM_SLOT ? &p->val.items[slot & ~ITEM_SLOT] : &p->val.nodes[slot].value;
}

static __attribute__((noinline)) size_t item_slot_grown(gcs_parser *p)
{
    if (gcs_grow((void **)&p->val.items, &p->val.item_cap, p->val.item_count + 1,
                 sizeof *p->val.items) != 0)
        return SIZE_MAX;
    return p->val.item_count++ | ITEM_SLOT;
}

/* The slot that receives a value in the innermost open container: the
 * member whose key came last, or a new array item. SIZE_MAX on OOM. */
static inline size_t value_slot(gcs_parser *p)
{
    if (p->val.frames[p->val.depth - 1].is_object)
        return p->val.node_count - 1;
    if (__builtin_expect(p->val.item_count == p->val.item_cap, 0))
        return item_slot_grown(p);
    return p->val.item_count++ | ITEM_SLOT;
}

/* The position of the opening quote of the string whose closing quote is
 * raw[len-1]: the nearest quote before it not escaped by an odd run of
 * backslashes (inside a valid string every quote is escaped). */
static size_t open_quote(const uint8_t *raw, size_t len)
{
    size_t j = len - 1;
    for (;;) {
        const uint8_t *q = memrchr(raw, '"', j);
        j = (size_t)(q - raw);
        size_t k = j;
        while (k > 0 && raw[k - 1] == '\\')
            k--;
        if (((j - k) & 1) == 0)
            return j;
    }
}

/* Whether a string lying in the feed is valid UTF-8. Strings come in
 * order, so knowing where the next non-ASCII byte is settles most of them
 * with one comparison; the scans for it cover the feed once. */
static bool feed_string_valid(gcs_parser *p, const unsigned char *s, size_t len)
{
    uintptr_t a = (uintptr_t)s, b = a + len;
    if (b <= p->win.high_at)
        return true;
    if (a > p->win.high_at) {
        size_t rest = p->win.feed_len - (size_t)(s - p->win.feed);
        p->win.high_at = a + gcs_ascii_prefix(s, rest);
        if (b <= p->win.high_at)
            return true;
    }
    return gcs_utf8_valid(s, len);
}

/* Decodes the string yajl reports (s, len) into the arena, Go's way, and
 * gives its raw token (quotes included). 0, or -1 on OOM. */
static int take_string(gcs_parser *p, const unsigned char *s, size_t len, const char **out,
                       size_t *out_len, const uint8_t **raw, size_t *raw_len)
{
    if (s >= p->win.feed && s + len <= p->win.feed + p->win.feed_len) {
        *raw = s - 1;
        *raw_len = len + 2;
        if (feed_string_valid(p, s, len)) {
            /* A member of the entry itself: used in place (see reloc_mark). */
            if (p->zero_copy && p->val.depth == 1) {
                *out = (const char *)s;
                *out_len = len;
                return 0;
            }
            *out = gcs_arena_copy(&p->arena, (const char *)s, len);
            *out_len = len;
            return *out ? 0 : -1;
        }
        char *dst = gcs_arena_alloc(&p->arena, len * 3);
        if (!dst)
            return -1;
        *out_len = gcs_utf8_repair(dst, s, len);
        *out = dst;
        return 0;
    }
    uint64_t end = consumed_pos(p);
    uint64_t vs = gcs_parser_value_start(p, (size_t)(end - p->win.feed_off));
    const uint8_t *value = gcs_parser_raw(p, vs, (size_t)(end - p->win.feed_off));
    if (!value)
        return -1;
    size_t value_len = (size_t)(end - vs);
    size_t q = open_quote(value, value_len);
    size_t body_len = value_len - q - 2;
    char *dst = gcs_arena_alloc(&p->arena, body_len * 3 + 1);
    if (!dst)
        return -1;
    *out_len = gcs_json_unquote(dst, value + q + 1, body_len);
    *out = dst;
    *raw = value + q;
    *raw_len = value_len - q;
    return 0;
}

/* A member of the entry itself got its value (in slot; raw: its text, or
 * NULL for a container not given to the time): the entry rules hear of it
 * when its key feeds a standard field. A callback result. */
static inline int member_done(gcs_parser *p, size_t slot, const uint8_t *raw, size_t raw_len)
{
    if (!gcs_entry_awaits_value(&p->entry))
        return 1;
    if (gcs_entry_value(&p->entry, &p->arena, slot, &p->val.nodes[slot].value, raw, raw_len) != 0)
        return stop(p, GCS_STOP_NOMEM);
    return 1;
}

static int finish_top(gcs_parser *p)
{
    uint64_t end = consumed_pos(p);
    uint64_t vs = gcs_parser_value_start(p, (size_t)(end - p->win.feed_off));
    const uint8_t *raw = gcs_parser_raw(p, vs, (size_t)(end - p->win.feed_off));
    if (!raw)
        return stop(p, GCS_STOP_NOMEM);
    int why = p->on_value(p->user, p, raw, (size_t)(end - vs));
    if (p->keep_value)
        return stop(p, GCS_STOP_AFTER_VALUE);
    gcs_parser_drop_value(p, end);
    if (why != GCS_STOP_NONE) {
        p->stop_off = end;
        return stop(p, why);
    }
    return 1;
}

void gcs_parser_entry(gcs_parser *p, gcs_entry_result *out)
{
    if (p->val.top == GCS_TOP_OBJECT || p->val.top == GCS_TOP_NULL) {
        /* null decodes into an empty entry: level info, no time, no fields. */
        gcs_entry_apply(&p->entry, p->val.nodes, p->val.node_count, out);
        return;
    }
    memset(out, 0, sizeof *out);
    out->error = p->val.scalar_error;
    out->error_len = strlen(p->val.scalar_error);
}

static int top_scalar(gcs_parser *p, const char *type_error)
{
    p->val.top = type_error ? GCS_TOP_SCALAR : GCS_TOP_NULL;
    p->val.scalar_error = type_error;
    return finish_top(p);
}

static int cb_null(void *ctx)
{
    gcs_parser *p = ctx;
    if (p->val.depth == 0)
        return top_scalar(p, NULL);
    if (p->val.top == GCS_TOP_ARRAY)
        return 1;
    size_t slot = value_slot(p);
    if (slot == SIZE_MAX)
        return stop(p, GCS_STOP_NOMEM);
    slot_value(p, slot)->kind = VMU_VALUE_NULL;
    return p->val.depth == 1 ? member_done(p, slot, (const uint8_t *)"null", 4) : 1;
}

static int cb_boolean(void *ctx, int b)
{
    gcs_parser *p = ctx;
    if (p->val.depth == 0)
        return top_scalar(p, gcs_type_error_bool);
    if (p->val.top == GCS_TOP_ARRAY)
        return 1;
    size_t slot = value_slot(p);
    if (slot == SIZE_MAX)
        return stop(p, GCS_STOP_NOMEM);
    vmu_value *v = slot_value(p, slot);
    v->kind = VMU_VALUE_BOOL;
    v->as.b = b != 0;
    if (p->val.depth != 1)
        return 1;
    return b ? member_done(p, slot, (const uint8_t *)"true", 4)
             : member_done(p, slot, (const uint8_t *)"false", 5);
}

static int cb_number(void *ctx, const char *s, size_t len)
{
    gcs_parser *p = ctx;
    if (p->val.depth == 0)
        return top_scalar(p, gcs_type_error_number);
    if (p->val.top == GCS_TOP_ARRAY)
        return 1;
    size_t slot = value_slot(p);
    if (slot == SIZE_MAX)
        return stop(p, GCS_STOP_NOMEM);
    bool overflow;
    double d = gcs_number_parse(s, len, &overflow);
    /* The map decode of the entry saves this error and goes on. */
    if (overflow && gcs_entry_number_out_of_range(&p->entry, &p->arena, s, len) != 0)
        return stop(p, GCS_STOP_NOMEM);
    vmu_value *v = slot_value(p, slot);
    if (p->val.depth != 1) {
        v->kind = VMU_VALUE_FLOAT;
        v->as.f = d;
        return 1;
    }
    /* A whole number among the entry's own fields becomes an int64, as
     * the entry rules want: float64(int64(d)) == d on amd64, where
     * out-of-range conversions give INT64_MIN, so whole numbers in
     * [-2^63, 2^63). (To a standard member's rules, either is a number.) */
    if (d >= -9223372036854775808.0 && d < 9223372036854775808.0 && (double)(int64_t)d == d) {
        v->kind = VMU_VALUE_INT;
        v->as.i = (int64_t)d;
    } else {
        v->kind = VMU_VALUE_FLOAT;
        v->as.f = d;
    }
    return member_done(p, slot, (const uint8_t *)s, len);
}

/* A string yajl passes in place, of a member of the entry itself, that can
 * stay where it is: the common case, kept short. */
static inline bool in_place(gcs_parser *p, const unsigned char *s, size_t len)
{
    uintptr_t a = (uintptr_t)s, b = a + len;
    return a >= p->win.place_lo && b <= p->win.place_hi &&
           (b <= p->win.high_at || feed_string_valid(p, s, len));
}

/* in_place without the UTF-8 look: a string before the next non-ASCII
 * byte of the feed. The callbacks' short path, which needs no call. */
static inline bool in_place_ascii(const gcs_parser *p, const unsigned char *s, size_t len)
{
    uintptr_t a = (uintptr_t)s, b = a + len;
    return a >= p->win.place_lo && b <= p->win.place_hi && b <= p->win.high_at;
}

static __attribute__((noinline)) int string_slow(gcs_parser *p, const unsigned char *s, size_t len);

/* A string of the entry's own member, used where it lies in the feed: at
 * depth 1 the value belongs to the member whose key came last. */
static inline int member_string_in_place(gcs_parser *p, const unsigned char *s, size_t len)
{
    size_t slot = p->val.node_count - 1;
    vmu_value *v = &p->val.nodes[slot].value;
    v->kind = VMU_VALUE_STRING;
    v->as.str.ptr = (const char *)s;
    v->as.str.len = len;
    return member_done(p, slot, s - 1, len + 2);
}

static int cb_string(void *ctx, const unsigned char *s, size_t len)
{
    gcs_parser *p = ctx;
    if (p->val.depth == 1 && p->val.top == GCS_TOP_OBJECT && in_place_ascii(p, s, len))
        return member_string_in_place(p, s, len);
    return string_slow(p, s, len);
}

static int string_slow(gcs_parser *p, const unsigned char *s, size_t len)
{
    if (p->val.depth == 1 && p->val.top == GCS_TOP_OBJECT && in_place(p, s, len))
        return member_string_in_place(p, s, len);
    if (p->val.depth == 0)
        return top_scalar(p, gcs_type_error_string);
    if (p->val.top == GCS_TOP_ARRAY)
        return 1;
    size_t slot = value_slot(p);
    if (slot == SIZE_MAX)
        return stop(p, GCS_STOP_NOMEM);
    const char *text;
    size_t text_len;
    const uint8_t *raw;
    size_t raw_len;
    if (take_string(p, s, len, &text, &text_len, &raw, &raw_len) != 0)
        return stop(p, GCS_STOP_NOMEM);
    vmu_value *v = slot_value(p, slot);
    v->kind = VMU_VALUE_STRING;
    v->as.str.ptr = text;
    v->as.str.len = text_len;
    return p->val.depth == 1 ? member_done(p, slot, raw, raw_len) : 1;
}

/* A key of the entry itself, to the entry rules: only keys of 3 to 7 bytes
 * matter to them. A callback result. */
static inline __attribute__((always_inline)) int note_top_key(gcs_parser *p, const char *k, size_t len)
{
    if (len - 3 > 4)
        return 1;
    return gcs_entry_key(&p->entry, p->val.node_count - 1, k, len) == 0 ? 1 : stop(p, GCS_STOP_NOMEM);
}

static __attribute__((noinline)) int map_key_slow(gcs_parser *p, const unsigned char *s, size_t len)
{
    vmu_field *f;
    if (p->val.depth == 1 && in_place(p, s, len)) {
        if (!(f = push_node(p)))
            return stop(p, GCS_STOP_NOMEM);
        f->key = (const char *)s;
        f->key_len = len;
    } else {
        if (p->val.top == GCS_TOP_ARRAY)
            return 1;
        if (!(f = push_node(p)))
            return stop(p, GCS_STOP_NOMEM);
        const uint8_t *raw;
        size_t raw_len;
        if (take_string(p, s, len, &f->key, &f->key_len, &raw, &raw_len) != 0)
            return stop(p, GCS_STOP_NOMEM);
        if (p->val.depth != 1)
            return 1;
    }
    return note_top_key(p, f->key, f->key_len);
}

static int cb_map_key(void *ctx, const unsigned char *s, size_t len)
{
    gcs_parser *p = ctx;
    /* A key at depth 1 is one of the entry itself (a top-level array holds
     * its objects deeper). The usual one stays in place on the node stack
     * as it is. */
    if (p->val.depth == 1 && in_place_ascii(p, s, len) && p->val.node_count < p->val.node_cap) {
        vmu_field *f = &p->val.nodes[p->val.node_count++];
        f->key = (const char *)s;
        f->key_len = len;
        f->value.kind = VMU_VALUE_NULL;
        return note_top_key(p, f->key, len);
    }
    return map_key_slow(p, s, len);
}

static int open_container(gcs_parser *p, bool is_object)
{
    if (p->val.depth == 0) {
        p->val.top = is_object ? GCS_TOP_OBJECT : GCS_TOP_ARRAY;
        p->val.depth = 1;
        if (is_object) {
            if (!p->val.frames &&
                gcs_grow((void **)&p->val.frames, &p->val.frame_cap, 16, sizeof *p->val.frames) != 0)
                return stop(p, GCS_STOP_NOMEM);
            p->val.frames[0].children_start = 0;
            p->val.frames[0].slot = SIZE_MAX;
            p->val.frames[0].is_object = true;
        }
        return 1;
    }
    if (p->val.depth >= GCS_MAX_DEPTH)
        return stop(p, GCS_STOP_DEPTH);
    if (p->val.top == GCS_TOP_ARRAY) {
        p->val.depth++;
        return 1;
    }
    size_t slot = value_slot(p);
    if (slot == SIZE_MAX)
        return stop(p, GCS_STOP_NOMEM);
    if (p->val.depth == 1 && gcs_entry_awaits_time(&p->entry))
        p->val.std_value_start = consumed_pos(p) - 1;
    if (gcs_grow((void **)&p->val.frames, &p->val.frame_cap, p->val.depth + 1, sizeof *p->val.frames) != 0)
        return stop(p, GCS_STOP_NOMEM);
    gcs_frame *f = &p->val.frames[p->val.depth++];
    f->children_start = is_object ? p->val.node_count : p->val.item_count;
    f->slot = slot;
    f->is_object = is_object;
    /* The container's own value is filled in when it closes. */
    slot_value(p, slot)->kind = is_object ? VMU_VALUE_OBJECT : VMU_VALUE_ARRAY;
    return 1;
}

static int close_container(gcs_parser *p, bool is_object)
{
    if (p->val.depth == 1) {
        if (!is_object)
            p->val.scalar_error = gcs_type_error_array;
        return finish_top(p);
    }
    if (p->val.top == GCS_TOP_ARRAY) {
        p->val.depth--;
        return 1;
    }
    gcs_frame *f = &p->val.frames[--p->val.depth];
    vmu_value *v = slot_value(p, f->slot);
    if (is_object) {
        size_t count = p->val.node_count - f->children_start;
        vmu_field *members = gcs_arena_alloc(&p->arena, count * sizeof *members + 1);
        if (!members)
            return stop(p, GCS_STOP_NOMEM);
        if (count)
            memcpy(members, p->val.nodes + f->children_start, count * sizeof *members);
        v->as.object.members = members;
        v->as.object.count = count;
        p->val.node_count = f->children_start;
        if (p->val.node_cap > NODES_KEPT && p->val.node_count < p->val.node_cap / 4)
            shrink_stack((void **)&p->val.nodes, &p->val.node_cap, p->val.node_count, sizeof *p->val.nodes);
        if (p->val.reloc_mark > p->val.node_count)
            p->val.reloc_mark = p->val.node_count;
    } else {
        size_t count = p->val.item_count - f->children_start;
        vmu_value *items = gcs_arena_alloc(&p->arena, count * sizeof *items + 1);
        if (!items)
            return stop(p, GCS_STOP_NOMEM);
        if (count)
            memcpy(items, p->val.items + f->children_start, count * sizeof *items);
        v->as.array.items = items;
        v->as.array.count = count;
        p->val.item_count = f->children_start;
        if (p->val.item_cap > NODES_KEPT && p->val.item_count < p->val.item_cap / 4)
            shrink_stack((void **)&p->val.items, &p->val.item_cap, p->val.item_count, sizeof *p->val.items);
    }
    size_t slot = f->slot;
    if (p->val.depth != 1 || !gcs_entry_awaits_time(&p->entry))
        return p->val.depth == 1 ? member_done(p, slot, NULL, 0) : 1;
    uint64_t end = consumed_pos(p);
    const uint8_t *raw = gcs_parser_raw(p, p->val.std_value_start, (size_t)(end - p->win.feed_off));
    if (!raw)
        return stop(p, GCS_STOP_NOMEM);
    return member_done(p, slot, raw, (size_t)(end - p->val.std_value_start));
}

static int cb_start_map(void *ctx) { return open_container(ctx, true); }
static int cb_end_map(void *ctx) { return close_container(ctx, true); }
static int cb_start_array(void *ctx) { return open_container(ctx, false); }
static int cb_end_array(void *ctx) { return close_container(ctx, false); }

static const yajl_callbacks callbacks = {
    .yajl_null = cb_null,
    .yajl_boolean = cb_boolean,
    .yajl_number = cb_number,
    .yajl_string = cb_string,
    .yajl_start_map = cb_start_map,
    .yajl_map_key = cb_map_key,
    .yajl_end_map = cb_end_map,
    .yajl_start_array = cb_start_array,
    .yajl_end_array = cb_end_array,
};

static yajl_handle new_yajl(gcs_parser *p)
{
    /* yajl's default allocator: it does not survive a failed allocation,
     * so it stays out of the core's failure injection. */
    yajl_handle h = yajl_alloc(&callbacks, NULL, p);
    if (!h)
        return NULL;
    yajl_config(h, yajl_allow_multiple_values, 1);
    /* Go accepts any bytes in strings and repairs them; so do we. */
    yajl_config(h, yajl_dont_validate_strings, 1);
    return h;
}

int gcs_parser_init(gcs_parser *p, gcs_value_fn on_value, void *user)
{
    memset(p, 0, sizeof *p);
    p->on_value = on_value;
    p->user = user;
    p->zero_copy = true;
    gcs_entry_init(&p->entry);
    vmu_buf_init(&p->win.carry);
    p->yajl = new_yajl(p);
    return p->yajl ? 0 : -1;
}

void gcs_parser_free(gcs_parser *p)
{
    if (p->yajl)
        yajl_free(p->yajl);
    p->yajl = NULL;
    vmu_buf_free(&p->win.carry);
    vmu_free(p->val.nodes);
    vmu_free(p->val.items);
    vmu_free(p->val.frames);
    gcs_entry_free(&p->entry);
    gcs_arena_free(&p->arena);
    p->val.nodes = NULL;
    p->val.items = NULL;
    p->val.frames = NULL;
    p->val.node_cap = p->val.item_cap = p->val.frame_cap = 0;
}

int gcs_parser_restart(gcs_parser *p)
{
    if (p->yajl)
        yajl_free(p->yajl);
    p->yajl = new_yajl(p);
    clear_value(p);
    p->win.carry.len = 0;
    p->win.carry.failed = 0;
    p->win.carry_synced = 0;
    p->stop = GCS_STOP_NONE;
    return p->yajl ? 0 : -1;
}

yajl_status gcs_parser_feed(gcs_parser *p, const uint8_t *data, size_t len, uint64_t off)
{
    p->win.feed = data;
    p->win.feed_len = len;
    p->win.feed_off = off;
    p->win.high_at = (uintptr_t)data;
    p->win.place_lo = p->zero_copy ? (uintptr_t)data : 1;
    p->win.place_hi = p->zero_copy ? (uintptr_t)data + len : 0;
    p->win.carry_synced = 0;
    p->stop = GCS_STOP_NONE;
    return yajl_parse(p->yajl, data, len);
}

yajl_status gcs_parser_feed_token(gcs_parser *p, const uint8_t *data, size_t len, uint64_t off)
{
    p->win.feed = data;
    p->win.feed_len = len;
    p->win.feed_off = off;
    p->win.high_at = (uintptr_t)data;
    p->win.place_lo = 1; /* nothing is used in place */
    p->win.place_hi = 0;
    p->win.carry_synced = len; /* the bytes are the carry's own */
    p->stop = GCS_STOP_NONE;
    return yajl_parse(p->yajl, data, len);
}
