/* The value builder of the GCS decoder: yajl's SAX callbacks turn each
 * top-level JSON value of the stream into vmu_values in a reused arena, and
 * hand the finished value to the stream decoder.
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
#include <errno.h>
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "gcs_internal.h"
#include "../log/gofmt.h"
#include "../load_word.h"

/* ---- arena ---- */

#define ARENA_BLOCK (64u * 1024u)

void *gcs_arena_alloc(gcs_arena *a, size_t size)
{
    size = (size + (sizeof(max_align_t) - 1)) & ~(sizeof(max_align_t) - 1);
    gcs_arena_block *b = a->current;
    if (b && b->size - b->used >= size) {
        void *p = (char *)b->data + b->used;
        b->used += size;
        return p;
    }
    /* Next block in the chain, if one is big enough; else a new one. */
    if (b && b->next && b->next->size >= size) {
        b = b->next;
        b->used = size;
        a->current = b;
        return b->data;
    }
    size_t want = size > ARENA_BLOCK ? size : ARENA_BLOCK;
    if (want > SIZE_MAX - sizeof(gcs_arena_block))
        return NULL;
    gcs_arena_block *nb = vmu_malloc(sizeof(gcs_arena_block) + want);
    if (!nb)
        return NULL;
    nb->size = want;
    nb->used = size;
    if (!b) {
        nb->next = NULL;
        a->first = nb;
    } else {
        nb->next = b->next;
        b->next = nb;
    }
    a->current = nb;
    return nb->data;
}

void gcs_arena_reset(gcs_arena *a)
{
    if (!a->first)
        return;
    /* Keep the first block for the next entry; blocks that only a large
     * entry needed go back, so memory follows the typical entry. */
    gcs_arena_block *b = a->first->next;
    while (b) {
        gcs_arena_block *next = b->next;
        vmu_free(b);
        b = next;
    }
    a->first->next = NULL;
    a->first->used = 0;
    a->current = a->first;
}

void gcs_arena_free(gcs_arena *a)
{
    gcs_arena_block *b = a->first;
    while (b) {
        gcs_arena_block *next = b->next;
        vmu_free(b);
        b = next;
    }
    a->first = a->current = NULL;
}

static char *arena_copy(gcs_arena *a, const char *s, size_t len)
{
    char *p = gcs_arena_alloc(a, len ? len : 1);
    if (p && len)
        memcpy(p, s, len);
    return p;
}

/* ---- numbers ---- */

static locale_t c_locale;
static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;

static void c_locale_init(void) { c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0); }

static const double exact_pow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                     1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                     1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* strconv.ParseFloat(s, 64) of a JSON number (yajl has checked its
 * syntax), when one IEEE operation gives it exactly rounded (Clinger's
 * fast path): a mantissa of at most 2^53 and a power of ten of at most 22.
 * false when the text needs parse_number_exact. */
static inline bool parse_number_fast(const char *s, size_t len, double *out)
{
    size_t i = 0;
    bool neg = s[0] == '-';
    i += neg;
    uint64_t mant = 0;
    size_t start = i;
    for (; i < len && (unsigned)(s[i] - '0') <= 9; i++)
        mant = mant * 10 + (uint64_t)(s[i] - '0');
    size_t digits = i - start;
    int exp10 = 0;
    if (i < len && s[i] == '.') {
        size_t frac = ++i;
        for (; i < len && (unsigned)(s[i] - '0') <= 9; i++)
            mant = mant * 10 + (uint64_t)(s[i] - '0');
        exp10 = -(int)(i - frac);
        digits += i - frac;
    }
    /* 19 digits cannot wrap the mantissa; an exponent goes the long way. */
    if (i != len || digits > 19 || mant > (uint64_t)1 << 53 || exp10 < -22)
        return false;
    double d = (double)mant;
    if (mant == 0)
        d = 0.0;
    else if (exp10 < 0)
        d /= exact_pow10[-exp10];
    *out = neg ? -d : d;
    return true;
}

/* strconv.ParseFloat(s, 64) of any JSON number: strtod in the C locale,
 * correctly rounded. *overflow is set when Go would report ErrRange
 * (infinite). */
static __attribute__((noinline)) double parse_number_exact(const char *s, size_t len, bool *overflow)
{
    *overflow = false;
    pthread_once(&c_locale_once, c_locale_init);
    char stack[64];
    char *text = len < sizeof stack ? stack : vmu_malloc(len + 1);
    if (!text) {
        /* Without memory for a copy the value cannot be read exactly; a
         * finite stand-in keeps the entry (the text is still in the input). */
        return 0.0;
    }
    memcpy(text, s, len);
    text[len] = '\0';
    double d = c_locale ? strtod_l(text, NULL, c_locale) : strtod(text, NULL);
    if (text != stack)
        vmu_free(text);
    *overflow = isinf(d);
    return d;
}

/* ---- the parser ---- */

/* Node stack entries kept between entries. */
#define NODES_KEPT 16384u

static inline uint64_t consumed_pos(const gcs_parser *p)
{
    return p->feed_off + yajl_get_bytes_consumed(p->yajl);
}

uint64_t gcs_parser_value_start(gcs_parser *p, size_t upto)
{
    if (p->carry.len > 0)
        return p->carry_off;
    size_t from = p->scan_pos > p->feed_off ? (size_t)(p->scan_pos - p->feed_off) : 0;
    for (size_t i = from; i < upto; i++)
        if (!gcs_json_space(p->feed[i]))
            return p->feed_off + i;
    return UINT64_MAX;
}

const uint8_t *gcs_parser_raw(gcs_parser *p, uint64_t from, size_t upto)
{
    if (p->carry.len == 0)
        return p->feed + (from - p->feed_off);
    if (upto > p->carry_synced) {
        if (vmu_buf_append(&p->carry, p->feed + p->carry_synced, upto - p->carry_synced) != 0)
            return NULL;
        p->carry_synced = upto;
    }
    return (const uint8_t *)p->carry.data + (from - p->carry_off);
}

static bool in_feed(const gcs_parser *p, const char *s)
{
    return (const uint8_t *)s >= p->feed && (const uint8_t *)s < p->feed + p->feed_len;
}


/* The feed is about to go: strings of the open value that point into it
 * move to the arena. Only nodes on the stack can hold such strings (nested
 * values are copied when built). */
static int relocate_strings(gcs_parser *p)
{
    size_t from = p->reloc_mark < p->node_count ? p->reloc_mark : p->node_count;
    for (size_t i = from; i < p->node_count; i++) {
        vmu_field *f = &p->nodes[i];
        if (f->key && in_feed(p, f->key) && !(f->key = arena_copy(&p->arena, f->key, f->key_len)))
            return -1;
        vmu_value *v = &f->value;
        if (v->kind == VMU_VALUE_STRING && v->as.str.len && in_feed(p, v->as.str.ptr) &&
            !(v->as.str.ptr = arena_copy(&p->arena, v->as.str.ptr, v->as.str.len)))
            return -1;
    }
    /* The last member may still be waiting for its value. */
    p->reloc_mark = p->node_count ? p->node_count - 1 : 0;
    return 0;
}

int gcs_parser_carry_tail(gcs_parser *p)
{
    uint64_t vs = gcs_parser_value_start(p, p->feed_len);
    if (vs == UINT64_MAX)
        return 0;
    if (p->zero_copy && relocate_strings(p) != 0)
        return -1;
    size_t from;
    if (p->carry.len == 0) {
        p->carry_off = vs;
        from = (size_t)(vs - p->feed_off);
    } else {
        from = p->carry_synced;
    }
    if (p->feed_len > from && vmu_buf_append(&p->carry, p->feed + from, p->feed_len - from) != 0)
        return -1;
    p->carry_synced = p->feed_len;
    return 0;
}

static void clear_value(gcs_parser *p)
{
    p->depth = 0;
    p->reloc_mark = 0;
    p->top = GCS_TOP_NONE;
    p->node_count = 0;
    p->item_count = 0;
    p->std.set = 0;
    p->std.failed = 0;
    p->pending_std = GCS_STD_NONE;
    p->map_error = NULL;
    p->map_error_len = 0;
    p->mark_count = 0;
    p->source_member = p->lower_message_member = p->upper_message_member = SIZE_MAX;
    p->scalar_error = NULL;
    gcs_arena_reset(&p->arena);
}

void gcs_parser_drop_value(gcs_parser *p, uint64_t new_scan_pos)
{
    clear_value(p);
    p->scan_pos = new_scan_pos;
    p->carry.len = 0;
    p->carry.failed = 0;
    p->carry_synced = 0;
    /* A huge value must not pin its copy for the stream's lifetime. */
    if (p->carry.cap > 256u * 1024u)
        vmu_buf_free(&p->carry);
    if (p->node_cap > NODES_KEPT) {
        vmu_free(p->nodes);
        p->nodes = NULL;
        p->node_cap = 0;
    }
    if (p->item_cap > NODES_KEPT) {
        vmu_free(p->items);
        p->items = NULL;
        p->item_cap = 0;
    }
}

static int grow(void **ptr, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t n = *cap ? *cap * 2 : 64;
    while (n < need)
        n *= 2;
    void *q = vmu_realloc(*ptr, n * elem);
    if (!q)
        return -1;
    *ptr = q;
    *cap = n;
    return 0;
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
    if (__builtin_expect(p->node_count == p->node_cap, 0) &&
        grow((void **)&p->nodes, &p->node_cap, p->node_count + 1, sizeof *p->nodes) != 0)
        return NULL;
    vmu_field *f = &p->nodes[p->node_count++];
    f->key = NULL;
    f->key_len = 0;
    f->value.kind = VMU_VALUE_NULL;
    return f;
}

vmu_field *gcs_parser_push_nodes(gcs_parser *p, size_t n)
{
    if (p->node_cap - p->node_count < n &&
        grow((void **)&p->nodes, &p->node_cap, p->node_count + n, sizeof *p->nodes) != 0)
        return NULL;
    vmu_field *first = &p->nodes[p->node_count];
    p->node_count += n;
    return first;
}

/* Values of arrays below the top level sit on their own stack, of bare
 * values (no key): an array of a million small values costs a value each
 * on the stack and in the arena. A slot with ITEM_SLOT set is on it. */
#define ITEM_SLOT ((SIZE_MAX >> 1) + 1)

static inline vmu_value *slot_value(gcs_parser *p, size_t slot)
{
    return slot & ITEM_SLOT ? &p->items[slot & ~ITEM_SLOT] : &p->nodes[slot].value;
}

static __attribute__((noinline)) size_t item_slot_grown(gcs_parser *p)
{
    if (grow((void **)&p->items, &p->item_cap, p->item_count + 1, sizeof *p->items) != 0)
        return SIZE_MAX;
    return p->item_count++ | ITEM_SLOT;
}

/* The slot that receives a value in the innermost open container: the
 * member whose key came last, or a new array item. SIZE_MAX on OOM. */
static inline size_t value_slot(gcs_parser *p)
{
    if (p->frames[p->depth - 1].is_object)
        return p->node_count - 1;
    if (__builtin_expect(p->item_count == p->item_cap, 0))
        return item_slot_grown(p);
    return p->item_count++ | ITEM_SLOT;
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
    if (b <= p->high_at)
        return true;
    if (a > p->high_at) {
        size_t rest = p->feed_len - (size_t)(s - p->feed);
        p->high_at = a + gcs_ascii_prefix(s, rest);
        if (b <= p->high_at)
            return true;
    }
    return gcs_utf8_valid(s, len);
}

/* Decodes the string yajl reports (s, len) into the arena, Go's way, and
 * gives its raw token (quotes included). 0, or -1 on OOM. */
static int take_string(gcs_parser *p, const unsigned char *s, size_t len, const char **out,
                       size_t *out_len, const uint8_t **raw, size_t *raw_len)
{
    if (s >= p->feed && s + len <= p->feed + p->feed_len) {
        *raw = s - 1;
        *raw_len = len + 2;
        if (feed_string_valid(p, s, len)) {
            /* A member of the entry itself: used in place (see reloc_mark). */
            if (p->zero_copy && p->depth == 1) {
                *out = (const char *)s;
                *out_len = len;
                return 0;
            }
            *out = arena_copy(&p->arena, (const char *)s, len);
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
    uint64_t vs = gcs_parser_value_start(p, (size_t)(end - p->feed_off));
    const uint8_t *value = gcs_parser_raw(p, vs, (size_t)(end - p->feed_off));
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

/* A standard member failed: the first decode ends here (FAIL_NOW), or
 * goes on with the first such error saved (FAIL_SAVED). */
static int std_fail(gcs_parser *p, uint8_t how, vmu_buf *text)
{
    gcs_std_state *st = &p->std;
    if (text->failed)
        return -1;
    if (how == GCS_OUT_FAIL_SAVED && st->failed)
        return 0;
    st->error = arena_copy(&p->arena, text->data ? text->data : "", text->len);
    st->error_len = text->len;
    st->failed = how;
    return st->error ? 0 : -1;
}

/* std_outcome for the values the short path did not settle: Go's exact
 * parsers and error texts. 0, or -1 on OOM. */
static __attribute__((noinline)) int std_outcome_slow(gcs_parser *p, uint8_t which, const vmu_value *v,
                                                      const uint8_t *raw, size_t raw_len)
{
    gcs_std_state *st = &p->std;
    vmu_buf text;
    vmu_buf_init(&text);
    int rc = 0;
    if (which == GCS_STD_TIME) {
        /* time.Time decodes itself from the raw text, whatever its type. */
        int t = gcs_time_unmarshal_json(raw, raw_len, &st->time, &text);
        if (t == -2)
            rc = -1;
        else if (t == 0)
            st->set |= 1u << GCS_STD_TIME;
        else
            rc = std_fail(p, GCS_OUT_FAIL_NOW, &text);
    } else if (v->kind == VMU_VALUE_STRING) {
        /* A level that is not a logrus name. */
        if (vmu_buf_puts(&text, "not a valid logrus Level: ") != 0 ||
            vmu_format_go_quote(v->as.str.ptr, v->as.str.len, &text) != 0)
            rc = -1;
        else
            rc = std_fail(p, GCS_OUT_FAIL_NOW, &text);
    } else if (!st->failed) {
        const char *kind = v->kind == VMU_VALUE_BOOL     ? "bool"
                           : v->kind == VMU_VALUE_OBJECT ? "object"
                           : v->kind == VMU_VALUE_ARRAY  ? "array"
                                                         : "number";
        if (vmu_buf_printf(&text, "json: cannot unmarshal %s into Go struct field standard.%s of type %s",
                           kind, which == GCS_STD_LEVEL ? "level" : "msg",
                           which == GCS_STD_LEVEL ? "logrus.Level" : "string") != 0)
            rc = -1;
        else
            rc = std_fail(p, GCS_OUT_FAIL_SAVED, &text);
    }
    vmu_buf_free(&text);
    return rc;
}

/* A member of the top-level object got its value. */
static int member_done(gcs_parser *p, size_t slot, const uint8_t *raw, size_t raw_len)
{
    uint8_t which = p->pending_std;
    if (which == GCS_STD_NONE)
        return 1;
    p->pending_std = GCS_STD_NONE;
    /* How the value decodes into the standard struct: the usual texts here,
     * the rest in std_outcome_slow. */
    gcs_std_state *st = &p->std;
    const vmu_value *v = &p->nodes[slot].value;
    /* After an error that stops it, the decode sees no more members; null
     * leaves a field alone. */
    if (st->failed == GCS_OUT_FAIL_NOW || v->kind == VMU_VALUE_NULL)
        return 1;
    if (which == GCS_STD_MSG && v->kind == VMU_VALUE_STRING) {
        st->msg_member = slot;
        st->set |= 1u << GCS_STD_MSG;
        return 1;
    }
    if (which == GCS_STD_TIME && gcs_time_fast_cached(&p->time_cache, raw, raw_len, &st->time) == 0) {
        st->set |= 1u << GCS_STD_TIME;
        return 1;
    }
    if (which == GCS_STD_LEVEL && v->kind == VMU_VALUE_STRING &&
        vmu_log_level_parse(v->as.str.ptr, v->as.str.len, &st->level) == 0) {
        st->set |= 1u << GCS_STD_LEVEL;
        return 1;
    }
    if (std_outcome_slow(p, which, v, raw, raw_len) != 0)
        return stop(p, GCS_STOP_NOMEM);
    return 1;
}

static int finish_top(gcs_parser *p)
{
    uint64_t end = consumed_pos(p);
    uint64_t vs = gcs_parser_value_start(p, (size_t)(end - p->feed_off));
    const uint8_t *raw = gcs_parser_raw(p, vs, (size_t)(end - p->feed_off));
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

static int top_scalar(gcs_parser *p, const char *type_error)
{
    p->top = type_error ? GCS_TOP_SCALAR : GCS_TOP_NULL;
    p->scalar_error = type_error;
    return finish_top(p);
}

static int cb_null(void *ctx)
{
    gcs_parser *p = ctx;
    if (p->depth == 0)
        return top_scalar(p, NULL);
    if (p->top == GCS_TOP_ARRAY)
        return 1;
    size_t slot = value_slot(p);
    if (slot == SIZE_MAX)
        return stop(p, GCS_STOP_NOMEM);
    slot_value(p, slot)->kind = VMU_VALUE_NULL;
    return p->depth == 1 ? member_done(p, slot, (const uint8_t *)"null", 4) : 1;
}

static int cb_boolean(void *ctx, int b)
{
    gcs_parser *p = ctx;
    if (p->depth == 0)
        return top_scalar(p, gcs_type_error_bool);
    if (p->top == GCS_TOP_ARRAY)
        return 1;
    size_t slot = value_slot(p);
    if (slot == SIZE_MAX)
        return stop(p, GCS_STOP_NOMEM);
    vmu_value *v = slot_value(p, slot);
    v->kind = VMU_VALUE_BOOL;
    v->as.b = b != 0;
    if (p->depth != 1)
        return 1;
    return b ? member_done(p, slot, (const uint8_t *)"true", 4)
             : member_done(p, slot, (const uint8_t *)"false", 5);
}

static int cb_number(void *ctx, const char *s, size_t len)
{
    gcs_parser *p = ctx;
    if (p->depth == 0)
        return top_scalar(p, gcs_type_error_number);
    if (p->top == GCS_TOP_ARRAY)
        return 1;
    size_t slot = value_slot(p);
    if (slot == SIZE_MAX)
        return stop(p, GCS_STOP_NOMEM);
    bool overflow = false;
    double d;
    if (!parse_number_fast(s, len, &d))
        d = parse_number_exact(s, len, &overflow);
    if (overflow && !p->map_error) {
        /* The map decode of the entry saves this error and goes on. */
        static const char head[] = "json: cannot unmarshal number ";
        static const char tail[] = " into Go value of type float64";
        size_t n = sizeof head - 1 + len + sizeof tail - 1;
        char *text = gcs_arena_alloc(&p->arena, n);
        if (!text)
            return stop(p, GCS_STOP_NOMEM);
        memcpy(text, head, sizeof head - 1);
        memcpy(text + sizeof head - 1, s, len);
        memcpy(text + sizeof head - 1 + len, tail, sizeof tail - 1);
        p->map_error = text;
        p->map_error_len = n;
    }
    vmu_value *v = slot_value(p, slot);
    if (p->depth != 1) {
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
    return a >= p->place_lo && b <= p->place_hi && (b <= p->high_at || feed_string_valid(p, s, len));
}

/* in_place without the UTF-8 look: a string before the next non-ASCII
 * byte of the feed. The callbacks' short path, which needs no call. */
static inline bool in_place_ascii(const gcs_parser *p, const unsigned char *s, size_t len)
{
    uintptr_t a = (uintptr_t)s, b = a + len;
    return a >= p->place_lo && b <= p->place_hi && b <= p->high_at;
}

static __attribute__((noinline)) int string_slow(gcs_parser *p, const unsigned char *s, size_t len);

/* A string of the entry's own member, used where it lies in the feed: at
 * depth 1 the value belongs to the member whose key came last. */
static inline int member_string_in_place(gcs_parser *p, const unsigned char *s, size_t len)
{
    size_t slot = p->node_count - 1;
    vmu_value *v = &p->nodes[slot].value;
    v->kind = VMU_VALUE_STRING;
    v->as.str.ptr = (const char *)s;
    v->as.str.len = len;
    return p->pending_std == GCS_STD_NONE ? 1 : member_done(p, slot, s - 1, len + 2);
}

static int cb_string(void *ctx, const unsigned char *s, size_t len)
{
    gcs_parser *p = ctx;
    if (p->depth == 1 && p->top == GCS_TOP_OBJECT && in_place_ascii(p, s, len))
        return member_string_in_place(p, s, len);
    return string_slow(p, s, len);
}

static int string_slow(gcs_parser *p, const unsigned char *s, size_t len)
{
    if (p->depth == 1 && p->top == GCS_TOP_OBJECT && in_place(p, s, len))
        return member_string_in_place(p, s, len);
    if (p->depth == 0)
        return top_scalar(p, gcs_type_error_string);
    if (p->top == GCS_TOP_ARRAY)
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
    return p->depth == 1 ? member_done(p, slot, raw, raw_len) : 1;
}

/* The key word of a literal (folded to a constant). */
static inline uint32_t word32(const char *lit) { return vmu_load32(lit); }

/* Callback results from here on: 1 to go on, 0 (stopped: out of memory). */
static __attribute__((noinline)) int mark_key_grown(gcs_parser *p, size_t member, uint8_t kind)
{
    if (grow((void **)&p->marks, &p->mark_cap, p->mark_count + 1, sizeof *p->marks) != 0)
        return stop(p, GCS_STOP_NOMEM);
    p->marks[p->mark_count].member = (uint32_t)member;
    p->marks[p->mark_count].kind = kind;
    p->mark_count++;
    return 1;
}

static inline int mark_key(gcs_parser *p, size_t member, uint8_t kind)
{
    if (p->mark_count == p->mark_cap)
        return mark_key_grown(p, member, kind);
    p->marks[p->mark_count].member = (uint32_t)member;
    p->marks[p->mark_count].kind = kind;
    p->mark_count++;
    return 1;
}

/* A key of the entry itself: which standard field it feeds under
 * encoding/json's case-insensitive matching (simpleLetterEqualFold: a
 * byte matches a lower-case letter when it is that letter or its upper
 * case, so OR-ing 0x20 compares a word at once), and whether the entry
 * rules may delete it (the exact lower-case standard keys, "message" and
 * "Message") or look at it ("Source"). A callback result. */
static inline __attribute__((always_inline)) int note_top_key(gcs_parser *p, const char *k, size_t len)
{
    size_t member = p->node_count - 1;
    int mark = -1;
    uint32_t w;
    switch (len) {
    case 3:
        if ((k[0] | 0x20) == 'm' && (k[1] | 0x20) == 's' && (k[2] | 0x20) == 'g') {
            p->pending_std = GCS_STD_MSG;
            if (k[0] == 'm' && k[1] == 's' && k[2] == 'g')
                mark = GCS_MARK_STD;
        }
        break;
    case 4:
        w = vmu_load32(k);
        if ((w | 0x20202020u) == word32("time")) {
            p->pending_std = GCS_STD_TIME;
            if (w == word32("time"))
                mark = GCS_MARK_STD;
        } else if ((k[0] | 0x20) == 'm' && (unsigned char)k[1] == 0xc5 &&
                   (unsigned char)k[2] == 0xbf && (k[3] | 0x20) == 'g') {
            /* "msg" has an s, so encoding/json folds it with
             * equalFoldRight, which also takes U+017F (long s) for it. */
            p->pending_std = GCS_STD_MSG;
        }
        break;
    case 5:
        w = vmu_load32(k);
        if ((w | 0x20202020u) == word32("leve") && (k[4] | 0x20) == 'l') {
            p->pending_std = GCS_STD_LEVEL;
            if (w == word32("leve") && k[4] == 'l')
                mark = GCS_MARK_STD;
        }
        break;
    case 6:
        if (vmu_load32(k) == word32("Sour") && k[4] == 'c' && k[5] == 'e')
            p->source_member = member;
        break;
    case 7:
        if (vmu_load32(k + 1) == word32("essa") && k[5] == 'g' && k[6] == 'e') {
            if (k[0] == 'm') {
                p->lower_message_member = member;
                mark = GCS_MARK_LOWER_MESSAGE;
            } else if (k[0] == 'M') {
                p->upper_message_member = member;
                mark = GCS_MARK_UPPER_MESSAGE;
            }
        }
        break;
    default:
        break;
    }
    return mark < 0 ? 1 : mark_key(p, member, (uint8_t)mark);
}

static __attribute__((noinline)) int map_key_slow(gcs_parser *p, const unsigned char *s, size_t len)
{
    vmu_field *f;
    if (p->depth == 1 && in_place(p, s, len)) {
        if (!(f = push_node(p)))
            return stop(p, GCS_STOP_NOMEM);
        f->key = (const char *)s;
        f->key_len = len;
    } else {
        if (p->top == GCS_TOP_ARRAY)
            return 1;
        if (!(f = push_node(p)))
            return stop(p, GCS_STOP_NOMEM);
        const uint8_t *raw;
        size_t raw_len;
        if (take_string(p, s, len, &f->key, &f->key_len, &raw, &raw_len) != 0)
            return stop(p, GCS_STOP_NOMEM);
        if (p->depth != 1)
            return 1;
    }
    if (f->key_len - 3 > 4)
        return 1;
    return note_top_key(p, f->key, f->key_len);
}

static int cb_map_key(void *ctx, const unsigned char *s, size_t len)
{
    gcs_parser *p = ctx;
    /* A key at depth 1 is one of the entry itself (a top-level array holds
     * its objects deeper). The usual one stays in place on the node stack
     * as it is. */
    if (p->depth == 1 && in_place_ascii(p, s, len) && p->node_count < p->node_cap) {
        vmu_field *f = &p->nodes[p->node_count++];
        f->key = (const char *)s;
        f->key_len = len;
        f->value.kind = VMU_VALUE_NULL;
        /* Only keys of 3 to 7 bytes matter to the entry rules. */
        if (len - 3 > 4)
            return 1;
        return note_top_key(p, f->key, len);
    }
    return map_key_slow(p, s, len);
}

static int open_container(gcs_parser *p, bool is_object)
{
    if (p->depth == 0) {
        p->top = is_object ? GCS_TOP_OBJECT : GCS_TOP_ARRAY;
        p->depth = 1;
        if (is_object) {
            if (!p->frames && grow((void **)&p->frames, &p->frame_cap, 16, sizeof *p->frames) != 0)
                return stop(p, GCS_STOP_NOMEM);
            p->frames[0].children_start = 0;
            p->frames[0].slot = SIZE_MAX;
            p->frames[0].is_object = true;
        }
        return 1;
    }
    if (p->depth >= GCS_MAX_DEPTH)
        return stop(p, GCS_STOP_DEPTH);
    if (p->top == GCS_TOP_ARRAY) {
        p->depth++;
        return 1;
    }
    size_t slot = value_slot(p);
    if (slot == SIZE_MAX)
        return stop(p, GCS_STOP_NOMEM);
    if (p->depth == 1 && p->pending_std == GCS_STD_TIME)
        p->std_value_start = consumed_pos(p) - 1;
    if (grow((void **)&p->frames, &p->frame_cap, p->depth + 1, sizeof *p->frames) != 0)
        return stop(p, GCS_STOP_NOMEM);
    gcs_frame *f = &p->frames[p->depth++];
    f->children_start = is_object ? p->node_count : p->item_count;
    f->slot = slot;
    f->is_object = is_object;
    /* The container's own value is filled in when it closes. */
    slot_value(p, slot)->kind = is_object ? VMU_VALUE_OBJECT : VMU_VALUE_ARRAY;
    return 1;
}

static int close_container(gcs_parser *p, bool is_object)
{
    if (p->depth == 1) {
        if (!is_object)
            p->scalar_error = gcs_type_error_array;
        return finish_top(p);
    }
    if (p->top == GCS_TOP_ARRAY) {
        p->depth--;
        return 1;
    }
    gcs_frame *f = &p->frames[--p->depth];
    vmu_value *v = slot_value(p, f->slot);
    if (is_object) {
        size_t count = p->node_count - f->children_start;
        vmu_field *members = gcs_arena_alloc(&p->arena, count * sizeof *members + 1);
        if (!members)
            return stop(p, GCS_STOP_NOMEM);
        if (count)
            memcpy(members, p->nodes + f->children_start, count * sizeof *members);
        v->as.object.members = members;
        v->as.object.count = count;
        p->node_count = f->children_start;
        if (p->node_cap > NODES_KEPT && p->node_count < p->node_cap / 4)
            shrink_stack((void **)&p->nodes, &p->node_cap, p->node_count, sizeof *p->nodes);
        if (p->reloc_mark > p->node_count)
            p->reloc_mark = p->node_count;
    } else {
        size_t count = p->item_count - f->children_start;
        vmu_value *items = gcs_arena_alloc(&p->arena, count * sizeof *items + 1);
        if (!items)
            return stop(p, GCS_STOP_NOMEM);
        if (count)
            memcpy(items, p->items + f->children_start, count * sizeof *items);
        v->as.array.items = items;
        v->as.array.count = count;
        p->item_count = f->children_start;
        if (p->item_cap > NODES_KEPT && p->item_count < p->item_cap / 4)
            shrink_stack((void **)&p->items, &p->item_cap, p->item_count, sizeof *p->items);
    }
    size_t slot = f->slot;
    if (p->depth != 1 || p->pending_std != GCS_STD_TIME)
        return p->depth == 1 ? member_done(p, slot, NULL, 0) : 1;
    uint64_t end = consumed_pos(p);
    const uint8_t *raw = gcs_parser_raw(p, p->std_value_start, (size_t)(end - p->feed_off));
    if (!raw)
        return stop(p, GCS_STOP_NOMEM);
    return member_done(p, slot, raw, (size_t)(end - p->std_value_start));
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
    p->source_member = p->lower_message_member = p->upper_message_member = SIZE_MAX;
    vmu_buf_init(&p->carry);
    p->yajl = new_yajl(p);
    return p->yajl ? 0 : -1;
}

void gcs_parser_free(gcs_parser *p)
{
    if (p->yajl)
        yajl_free(p->yajl);
    p->yajl = NULL;
    vmu_buf_free(&p->carry);
    vmu_free(p->nodes);
    vmu_free(p->items);
    vmu_free(p->frames);
    vmu_free(p->marks);
    gcs_arena_free(&p->arena);
    p->nodes = NULL;
    p->items = NULL;
    p->frames = NULL;
    p->marks = NULL;
    p->node_cap = p->item_cap = p->frame_cap = p->mark_cap = 0;
}

int gcs_parser_restart(gcs_parser *p)
{
    if (p->yajl)
        yajl_free(p->yajl);
    p->yajl = new_yajl(p);
    clear_value(p);
    p->carry.len = 0;
    p->carry.failed = 0;
    p->carry_synced = 0;
    p->stop = GCS_STOP_NONE;
    return p->yajl ? 0 : -1;
}

yajl_status gcs_parser_feed(gcs_parser *p, const uint8_t *data, size_t len, uint64_t off)
{
    p->feed = data;
    p->feed_len = len;
    p->feed_off = off;
    p->high_at = (uintptr_t)data;
    p->place_lo = p->zero_copy ? (uintptr_t)data : 1;
    p->place_hi = p->zero_copy ? (uintptr_t)data + len : 0;
    p->carry_synced = 0;
    p->stop = GCS_STOP_NONE;
    return yajl_parse(p->yajl, data, len);
}

yajl_status gcs_parser_feed_token(gcs_parser *p, const uint8_t *data, size_t len, uint64_t off)
{
    p->feed = data;
    p->feed_len = len;
    p->feed_off = off;
    p->high_at = (uintptr_t)data;
    p->place_lo = 1; /* nothing is used in place */
    p->place_hi = 0;
    p->carry_synced = len; /* the bytes are the carry's own */
    p->stop = GCS_STOP_NONE;
    return yajl_parse(p->yajl, data, len);
}
