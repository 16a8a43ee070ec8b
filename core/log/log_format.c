/* The two record formats of logrus 1.9, byte for byte: TextFormatter with
 * DisableColors and JSONFormatter, both with default options.
 *
 * What logrus does, and so what this does:
 * - Field keys that clash with the record's own keys (time, msg, level,
 *   logrus_error) are renamed "fields.<key>" (formatter.go,
 *   prefixFieldClashes); the renamed value replaces a field already called
 *   "fields.<key>".
 * - Keys are sorted by bytes (sort.Strings in the text format, map order in
 *   encoding/json). Fields are a Go map there, so a repeated key keeps its
 *   last value; nested objects likewise.
 * - Text: time (RFC 3339), level, msg when not empty, then the fields, each
 *   key=value, the value as fmt.Sprint prints it and %q-quoted when it holds
 *   anything beyond [A-Za-z0-9-._/@^+].
 * - JSON: one object, the fields and "level", "msg", "time" sorted together,
 *   strings with encoding/json's HTML-safe escaping, a newline at the end.
 *
 * The JSON formatter is the hot path of the GCS log forwarder: in the steady
 * state it allocates nothing (keys are sorted as an array of pointers on the
 * stack; only records or objects with very many fields use the heap), and
 * numbers and strings go straight into the output buffer. Each thread keeps
 * the sorted order and key text of the last few key sequences it wrote
 * ("shapes", below), so a record shaped like a recent one is not sorted. */
#include <string.h>

#include "../load_word.h"
#include "gofmt.h"

/* One field of a record or object. The fields are gathered in input order
 * and sorted as an array of pointers to them, so that a move in the sort is
 * one pointer, and most comparisons one integer compare. */
typedef struct sorted_member {
    uint64_t prefix; /* the key's first 8 bytes, big-endian, zero-padded */
    const char *key;
    size_t key_len;
    const vmu_value *value;
    size_t rank; /* input position; a renamed clash ranks after every input */
} sorted_member;

typedef const sorted_member *member_ref;

/* Members sorted on the stack before the heap is needed: a GCS entry has a
 * dozen fields, nested objects fewer. */
#define RECORD_STACK_MEMBERS 64
#define NESTED_STACK_MEMBERS 16

static const struct {
    const char *key;
    size_t key_len;
    const char *renamed;
    size_t renamed_len;
} clashing_keys[] = {
    {"time", 4, "fields.time", 11},
    {"msg", 3, "fields.msg", 10},
    {"level", 5, "fields.level", 12},
    {"logrus_error", 12, "fields.logrus_error", 19},
};

static int key_compare(const char *a, size_t a_len, const char *b, size_t b_len)
{
    size_t n = a_len < b_len ? a_len : b_len;
    int c = n ? memcmp(a, b, n) : 0;
    if (c != 0)
        return c;
    return a_len < b_len ? -1 : a_len > b_len;
}

static inline uint64_t load_be64(const unsigned char *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    return v;
#else
    return __builtin_bswap64(v);
#endif
}

static inline uint64_t load_be32(const unsigned char *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    return v;
#else
    return __builtin_bswap32(v);
#endif
}

/* Comparing the prefixes as integers orders keys as their bytes do, so most
 * comparisons never reach memcmp. Short keys are read as two loads that
 * overlap (the same bytes land on the same positions), never past the
 * key's end. */
static inline uint64_t key_prefix(const char *key, size_t len)
{
    const unsigned char *k = (const unsigned char *)key;
    if (len >= 8)
        return load_be64(k);
    if (len >= 4)
        return load_be32(k) << 32 | load_be32(k + len - 4) << (8 * (8 - len));
    if (len == 0)
        return 0;
    return (uint64_t)k[0] << 56 | (uint64_t)k[len / 2] << (8 * (7 - len / 2)) |
           (uint64_t)k[len - 1] << (8 * (8 - len));
}

/* Could the key be one of clashing_keys? A cheap first look. */
static bool may_clash(const char *key, size_t len)
{
    switch (len) {
    case 3:
        return key[0] == 'm';
    case 4:
        return key[0] == 't';
    case 5:
    case 12:
        return key[0] == 'l';
    default:
        return false;
    }
}

static int member_key_compare(const sorted_member *a, const sorted_member *b)
{
    if (a->prefix != b->prefix)
        return a->prefix < b->prefix ? -1 : 1;
    return key_compare(a->key, a->key_len, b->key, b->key_len);
}

static inline bool member_before(const sorted_member *a, const sorted_member *b)
{
    if (a->prefix != b->prefix)
        return a->prefix < b->prefix;
    int c = key_compare(a->key, a->key_len, b->key, b->key_len);
    return c < 0 || (c == 0 && a->rank < b->rank);
}

static void sift_down(member_ref *m, size_t root, size_t n)
{
    for (;;) {
        size_t child = 2 * root + 1;
        if (child >= n)
            return;
        if (child + 1 < n && member_before(m[child], m[child + 1]))
            child++;
        if (!member_before(m[root], m[child]))
            return;
        member_ref t = m[root];
        m[root] = m[child];
        m[child] = t;
        root = child;
    }
}

/* (key, rank) is a total order, so an unstable sort is deterministic:
 * insertion sort for the usual handful, heapsort (no extra memory, no
 * worst case) for large objects. */
static void sort_members(member_ref *m, size_t n)
{
    if (n <= 24) {
        for (size_t i = 1; i < n; i++) {
            member_ref t = m[i];
            size_t j = i;
            for (; j > 0 && member_before(t, m[j - 1]); j--)
                m[j] = m[j - 1];
            m[j] = t;
        }
        return;
    }
    for (size_t i = n / 2; i-- > 0;)
        sift_down(m, i, n);
    for (size_t end = n - 1; end > 0; end--) {
        member_ref t = m[0];
        m[0] = m[end];
        m[end] = t;
        sift_down(m, 0, end);
    }
}

/* Room for sorting `cap` members: the members and the order. */
typedef struct member_space {
    sorted_member *members;
    member_ref *order;
} member_space;

/* Gathers the fields into `stack` (or the heap when there are more than
 * stack_cap), sorts them into out->order and drops all but the last of each
 * repeated key. Returns the member count, or -1 on OOM; the caller frees
 * out->members when it is not stack->members (one block holds both). */
static ptrdiff_t sorted_members(const vmu_field *fields, size_t count, bool rename_clashes,
                                const member_space *stack, size_t stack_cap, member_space *out)
{
    if (!fields)
        count = 0;
    sorted_member *m;
    member_ref *order;
    if (count > stack_cap) {
        if (count > SIZE_MAX / (sizeof *m + sizeof *order))
            return -1;
        m = vmu_malloc(count * (sizeof *m + sizeof *order));
        if (!m)
            return -1;
        order = (member_ref *)(void *)(m + count);
    } else {
        m = stack->members;
        order = stack->order;
    }
    for (size_t i = 0; i < count; i++) {
        const vmu_field *f = &fields[i];
        const char *key = f->key ? f->key : "";
        size_t key_len = f->key ? f->key_len : 0;
        size_t rank = i;
        if (rename_clashes && may_clash(key, key_len)) {
            for (size_t c = 0; c < sizeof clashing_keys / sizeof clashing_keys[0]; c++) {
                if (key_len == clashing_keys[c].key_len &&
                    memcmp(key, clashing_keys[c].key, key_len) == 0) {
                    key = clashing_keys[c].renamed;
                    key_len = clashing_keys[c].renamed_len;
                    rank = count + i;
                    break;
                }
            }
        }
        m[i].prefix = key_prefix(key, key_len);
        m[i].key = key;
        m[i].key_len = key_len;
        m[i].value = &f->value;
        m[i].rank = rank;
        order[i] = &m[i];
    }
    sort_members(order, count);
    /* Repeated keys are neighbours now, with equal prefixes; most records
     * have none, and are left as they are. */
    size_t i = 1;
    while (i < count && order[i - 1]->prefix != order[i]->prefix)
        i++;
    size_t kept = i - (i == count ? 0 : 1);
    for (i = kept; i < count; i++) {
        if (i + 1 < count && order[i]->prefix == order[i + 1]->prefix &&
            member_key_compare(order[i], order[i + 1]) == 0)
            continue;
        order[kept++] = order[i];
    }
    out->members = m;
    out->order = order;
    return (ptrdiff_t)kept;
}

/* Appends without a call into buf.c while there is room. */
static inline int put_bytes(vmu_buf *out, const void *data, size_t len)
{
    if (len == 0)
        return 0;
    if (out->cap - out->len < len && vmu_buf_reserve(out, len) != 0)
        return -1;
    memcpy(out->data + out->len, data, len);
    out->len += len;
    return 0;
}

static inline int put_char(vmu_buf *out, char c)
{
    if (out->cap == out->len && vmu_buf_reserve(out, 1) != 0)
        return -1;
    out->data[out->len++] = c;
    return 0;
}

#define PUT_LITERAL(out, s) put_bytes((out), (s), sizeof(s) - 1)

/* Makes room for `len` more bytes, for text written in place. */
static inline int make_room(vmu_buf *out, size_t len)
{
    if (out->cap - out->len < len && vmu_buf_reserve(out, len) != 0)
        return -1;
    return 0;
}

/* Restores the caller's buffer after a failure ("left as it was"). */
static int fail_restoring(vmu_buf *out, size_t len)
{
    out->len = len;
    out->failed = 0;
    return -1;
}

/* Recursion: containers nest up to VMU_LOG_MAX_DEPTH levels (the record is
 * level 1), so the recursive functions keep small frames: scalars are
 * formatted out of line, and only the first few levels sort on the stack. */
#define VMU_NOINLINE __attribute__((noinline))
#define SHALLOW_LEVELS 4

/* ---- the walk both formats share ---- */

/* What tells encoding/json's output from fmt.Sprint's (%v) for nested
 * values: how scalars and keys are written, and the punctuation. Both sort
 * object keys; arrays open with '[' and close with ']' in both. */
typedef struct value_style {
    int (*scalar)(vmu_buf *out, const vmu_value *v);
    int (*key)(vmu_buf *out, const char *key, size_t len);
    const char *object_open;
    size_t object_open_len;
    char object_close;
    char separator; /* between members and between items */
} value_style;

static int walk_value(vmu_buf *out, const vmu_value *v, int level, const value_style *style);

static int walk_members(vmu_buf *out, const member_ref *m, size_t n, int level,
                        const value_style *style)
{
    if (put_bytes(out, style->object_open, style->object_open_len) != 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if ((i > 0 && put_char(out, style->separator) != 0) ||
            style->key(out, m[i]->key, m[i]->key_len) != 0 || put_char(out, ':') != 0 ||
            walk_value(out, m[i]->value, level + 1, style) != 0)
            return -1;
    }
    return put_char(out, style->object_close);
}

static VMU_NOINLINE int walk_object_shallow(vmu_buf *out, const vmu_value *v, int level,
                                            const value_style *style)
{
    sorted_member members[NESTED_STACK_MEMBERS];
    member_ref order[NESTED_STACK_MEMBERS];
    const member_space stack = {members, order};
    member_space sorted;
    ptrdiff_t n = sorted_members(v->as.object.members, v->as.object.count, false, &stack,
                                 NESTED_STACK_MEMBERS, &sorted);
    if (n < 0)
        return -1;
    int rc = walk_members(out, sorted.order, (size_t)n, level, style);
    if (sorted.members != members)
        vmu_free(sorted.members);
    return rc;
}

static int walk_object_deep(vmu_buf *out, const vmu_value *v, int level,
                            const value_style *style)
{
    const member_space none = {NULL, NULL};
    member_space sorted;
    ptrdiff_t n = sorted_members(v->as.object.members, v->as.object.count, false, &none, 0,
                                 &sorted);
    if (n < 0)
        return -1;
    int rc = walk_members(out, sorted.order, (size_t)n, level, style);
    vmu_free(sorted.members);
    return rc;
}

/* `level` is v's nesting level (a field's value is at level 2). */
static int walk_value(vmu_buf *out, const vmu_value *v, int level, const value_style *style)
{
    if (v->kind == VMU_VALUE_OBJECT) {
        if (level > VMU_LOG_MAX_DEPTH)
            return -1;
        return level <= SHALLOW_LEVELS ? walk_object_shallow(out, v, level, style)
                                       : walk_object_deep(out, v, level, style);
    }
    if (v->kind != VMU_VALUE_ARRAY)
        return style->scalar(out, v);
    if (level > VMU_LOG_MAX_DEPTH || put_char(out, '[') != 0)
        return -1;
    const vmu_value *items = v->as.array.items;
    size_t count = items ? v->as.array.count : 0;
    for (size_t i = 0; i < count; i++)
        if ((i > 0 && put_char(out, style->separator) != 0) ||
            walk_value(out, &items[i], level + 1, style) != 0)
            return -1;
    return put_char(out, ']');
}

/* ---- JSON ---- */

/* Numbers and times are written straight into the buffer. */
static VMU_NOINLINE int json_scalar(vmu_buf *out, const vmu_value *v)
{
    switch (v->kind) {
    case VMU_VALUE_BOOL:
        return v->as.b ? PUT_LITERAL(out, "true") : PUT_LITERAL(out, "false");
    case VMU_VALUE_INT:
        if (make_room(out, VMU_GO_INT_MAX) != 0)
            return -1;
        out->len += vmu_go_int(v->as.i, out->data + out->len);
        return 0;
    case VMU_VALUE_UINT:
        if (make_room(out, VMU_GO_INT_MAX) != 0)
            return -1;
        out->len += vmu_go_uint(v->as.u, out->data + out->len);
        return 0;
    case VMU_VALUE_FLOAT:
        if (make_room(out, VMU_GO_FLOAT_MAX) != 0)
            return -1;
        out->len += vmu_go_float_json(v->as.f, out->data + out->len);
        return 0;
    case VMU_VALUE_STRING:
        return vmu_go_json_string(out, v->as.str.ptr ? v->as.str.ptr : "",
                                  v->as.str.ptr ? v->as.str.len : 0);
    case VMU_VALUE_TIME: {
        /* time.Time.MarshalJSON: RFC3339Nano in quotes, nothing to escape. */
        if (make_room(out, VMU_GO_RFC3339_MAX + 2) != 0)
            return -1;
        char *text = out->data + out->len;
        text[0] = '"';
        size_t n = vmu_go_rfc3339(&v->as.time, true, text + 1);
        text[n + 1] = '"';
        out->len += n + 2;
        return 0;
    }
    default:
        return PUT_LITERAL(out, "null");
    }
}

static int json_key(vmu_buf *out, const char *key, size_t len)
{
    return vmu_go_json_string(out, key, len);
}

static const value_style json_style = {json_scalar, json_key, "{", 1, '}', ','};

/* The host time of a record is printed to the second and changes once a
 * second, while a forwarder prints hundreds of thousands of records a second:
 * each thread keeps the last text it formatted. */
static size_t host_time_text(const vmu_time *t, char *text)
{
    static _Thread_local struct {
        int64_t unix_sec;
        int32_t utc_offset;
        bool utc, valid;
        size_t len;
        char text[VMU_GO_RFC3339_MAX];
    } last;
    if (!last.valid || last.unix_sec != t->unix_sec || last.utc_offset != t->utc_offset ||
        last.utc != t->utc) {
        last.len = vmu_go_rfc3339(t, false, last.text);
        last.unix_sec = t->unix_sec;
        last.utc_offset = t->utc_offset;
        last.utc = t->utc;
        last.valid = true;
    }
    /* text has room for VMU_GO_RFC3339_MAX bytes: a fixed-size copy of the
     * usual length is one move instead of a call. */
    if (last.len <= 24)
        memcpy(text, last.text, 24);
    else
        memcpy(text, last.text, last.len);
    return last.len;
}

/* The record's own keys in sorted order; no renamed field can equal them. */
enum { FIXED_LEVEL, FIXED_MSG, FIXED_TIME, FIXED_COUNT };

/* key_prefix of "level", "msg" and "time". Each is shorter than 8 bytes and
 * no field key equals it, so a field key whose prefix is at least the fixed
 * key's sorts after it: an equal prefix means the field key is the fixed
 * key followed by NUL bytes. */
static const uint64_t fixed_prefixes[FIXED_COUNT] = {
    (uint64_t)'l' << 56 | (uint64_t)'e' << 48 | (uint64_t)'v' << 40 | (uint64_t)'e' << 32 |
        (uint64_t)'l' << 24,
    (uint64_t)'m' << 56 | (uint64_t)'s' << 48 | (uint64_t)'g' << 40,
    (uint64_t)'t' << 56 | (uint64_t)'i' << 48 | (uint64_t)'m' << 40 | (uint64_t)'e' << 32,
};

static int json_fixed(vmu_buf *out, const vmu_log_record *record, int which)
{
    switch (which) {
    case FIXED_LEVEL: {
        const char *name = vmu_log_level_name(record->level);
        return PUT_LITERAL(out, "\"level\":\"") || put_bytes(out, name, strlen(name)) ||
               put_char(out, '"');
    }
    case FIXED_MSG:
        return PUT_LITERAL(out, "\"msg\":") ||
               vmu_go_json_string(out, record->msg ? record->msg : "",
                                  record->msg ? record->msg_len : 0);
    default: {
        if (make_room(out, VMU_GO_RFC3339_MAX + 9) != 0)
            return -1;
        char *d = out->data + out->len;
        memcpy(d, "\"time\":\"", 8);
        size_t n = host_time_text(&record->time, d + 8);
        d[8 + n] = '"';
        out->len += n + 9;
        return 0;
    }
    }
}

/* A field's value at the record's level: strings (most values) without the
 * walk's indirect call. */
static int json_field_value(vmu_buf *out, const vmu_value *v)
{
    switch (v->kind) {
    case VMU_VALUE_STRING:
        return vmu_go_json_string(out, v->as.str.ptr ? v->as.str.ptr : "",
                                  v->as.str.ptr ? v->as.str.len : 0);
    case VMU_VALUE_OBJECT:
    case VMU_VALUE_ARRAY:
        return walk_value(out, v, 2, &json_style);
    default:
        return json_scalar(out, v);
    }
}

static int json_record(vmu_buf *out, const vmu_log_record *record, const member_ref *m,
                       size_t n)
{
    if (put_char(out, '{') != 0)
        return -1;
    int fixed = 0;
    bool first = true;
    for (size_t i = 0; i <= n; i++) {
        while (fixed < FIXED_COUNT && (i == n || fixed_prefixes[fixed] <= m[i]->prefix)) {
            if ((!first && put_char(out, ',') != 0) || json_fixed(out, record, fixed) != 0)
                return -1;
            first = false;
            fixed++;
        }
        if (i == n)
            break;
        if ((!first && put_char(out, ',') != 0) ||
            vmu_go_json_string(out, m[i]->key, m[i]->key_len) != 0 || put_char(out, ':') != 0 ||
            json_field_value(out, m[i]->value) != 0)
            return -1;
        first = false;
    }
    return PUT_LITERAL(out, "}\n");
}


/* ---- text ---- */

static VMU_NOINLINE int sprint_scalar(vmu_buf *out, const vmu_value *v)
{
    char text[VMU_GO_TIME_STRING_MAX];
    switch (v->kind) {
    case VMU_VALUE_BOOL:
        return v->as.b ? PUT_LITERAL(out, "true") : PUT_LITERAL(out, "false");
    case VMU_VALUE_INT:
        return put_bytes(out, text, vmu_go_int(v->as.i, text));
    case VMU_VALUE_UINT:
        return put_bytes(out, text, vmu_go_uint(v->as.u, text));
    case VMU_VALUE_FLOAT:
        return put_bytes(out, text, vmu_go_float_v(v->as.f, text));
    case VMU_VALUE_STRING:
        return put_bytes(out, v->as.str.ptr, v->as.str.ptr ? v->as.str.len : 0);
    case VMU_VALUE_TIME:
        return put_bytes(out, text, vmu_go_time_string(&v->as.time, text));
    default:
        return PUT_LITERAL(out, "<nil>");
    }
}

static int sprint_key(vmu_buf *out, const char *key, size_t len)
{
    return put_bytes(out, key, len);
}

/* fmt.Sprint of a field value (%v): strings bare at every depth, slices as
 * "[a b]", maps as "map[k:v]" with sorted keys, nil as "<nil>". */
static const value_style sprint_style = {sprint_scalar, sprint_key, "map[", 4, ']', ' '};

/* TextFormatter.appendValue for a string: bare or %q. */
static int text_string(vmu_buf *out, const char *s, size_t len)
{
    if (!vmu_go_needs_quoting(s, len))
        return put_bytes(out, s, len);
    if (len > (SIZE_MAX - 2) / 4 || vmu_buf_reserve(out, VMU_GO_QUOTE_MAX(len)) != 0)
        return -1;
    out->len += vmu_go_quote_into(s, len, out->data + out->len);
    return 0;
}

/* TextFormatter.appendValue: fmt.Sprint, then the same quoting rule on the
 * whole text. The text is built in place and, when it needs quotes, quoted
 * behind itself and moved back. */
static int text_value(vmu_buf *out, const vmu_value *v)
{
    if (v->kind == VMU_VALUE_STRING)
        return text_string(out, v->as.str.ptr ? v->as.str.ptr : "",
                           v->as.str.ptr ? v->as.str.len : 0);
    size_t start = out->len;
    if (walk_value(out, v, 2, &sprint_style) != 0)
        return -1;
    size_t len = out->len - start;
    if (!vmu_go_needs_quoting(out->data + start, len))
        return 0;
    if (len > (SIZE_MAX - 2) / 4 || vmu_buf_reserve(out, VMU_GO_QUOTE_MAX(len)) != 0)
        return -1;
    size_t quoted = vmu_go_quote_into(out->data + start, len, out->data + out->len);
    memmove(out->data + start, out->data + out->len, quoted);
    out->len = start + quoted;
    return 0;
}

static int text_record(vmu_buf *out, const vmu_log_record *record, const member_ref *m,
                       size_t n)
{
    /* The timestamp always needs quotes (it has ':') and never escapes. */
    char text[VMU_GO_RFC3339_MAX];
    size_t time_len = host_time_text(&record->time, text);
    const char *level = vmu_log_level_name(record->level);
    if (PUT_LITERAL(out, "time=\"") || put_bytes(out, text, time_len) ||
        PUT_LITERAL(out, "\" level=") || put_bytes(out, level, strlen(level)))
        return -1;
    if (record->msg && record->msg_len > 0 &&
        (PUT_LITERAL(out, " msg=") || text_string(out, record->msg, record->msg_len)))
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (put_char(out, ' ') || put_bytes(out, m[i]->key, m[i]->key_len) ||
            put_char(out, '=') || text_value(out, m[i]->value))
            return -1;
    }
    return put_char(out, '\n');
}

typedef int (*record_writer)(vmu_buf *out, const vmu_log_record *record, const member_ref *m,
                             size_t n);

/* Sorts the record's fields, writes the record, and on failure leaves the
 * buffer as it was. */
static int format_record(const vmu_log_record *record, vmu_buf *out, record_writer write)
{
    if (!record || !out || out->failed)
        return -1;
    size_t start = out->len;
    sorted_member members[RECORD_STACK_MEMBERS];
    member_ref order[RECORD_STACK_MEMBERS];
    const member_space stack = {members, order};
    member_space sorted;
    ptrdiff_t n = sorted_members(record->fields, record->field_count, true, &stack,
                                 RECORD_STACK_MEMBERS, &sorted);
    if (n < 0)
        return fail_restoring(out, start);
    int rc = write(out, record, sorted.order, (size_t)n);
    if (sorted.members != members)
        vmu_free(sorted.members);
    return rc == 0 ? 0 : fail_restoring(out, start);
}

/* ---- record shapes ----
 *
 * The records of one source come in a few shapes: the same keys in the same
 * order, with other values. The sorted order of a shape, and the text of
 * its keys with their punctuation, depend on its key sequence alone, so
 * each thread keeps them for the last few sequences it saw. A record whose
 * keys equal a kept sequence, byte for byte, is written from it without a
 * sort; any other record is sorted and written by json_record, and its
 * shape kept when it fits. */

#define SHAPE_SLOTS 16
#define SHAPE_FIELDS 16
#define SHAPE_KEY_BYTES 256
#define SHAPE_TEXT_BYTES 512
/* Step texts up to this long are copied as one fixed-size move (the text
 * array is padded so that the move never reads past it). */
#define SHAPE_TEXT_COPY 32
/* A step's field at or above this is one of the record's own keys. */
#define SHAPE_FIXED 0xff00u

typedef struct shape_step {
    uint16_t text_off; /* `{"key":` or `,"key":` in text */
    uint16_t text_len;
    uint16_t field; /* the field's input position, or SHAPE_FIXED + FIXED_* */
} shape_step;

typedef struct record_shape {
    uint64_t used; /* the thread's use count when last used; 0: empty */
    size_t count;  /* input fields */
    size_t steps;
    uint16_t key_off[SHAPE_FIELDS];
    uint16_t key_len[SHAPE_FIELDS];
    shape_step step[SHAPE_FIELDS + FIXED_COUNT];
    char keys[SHAPE_KEY_BYTES];
    char text[SHAPE_TEXT_BYTES + SHAPE_TEXT_COPY];
} record_shape;

static _Thread_local struct {
    record_shape slot[SHAPE_SLOTS];
    uint64_t uses;
    unsigned last;
} shapes;

/* a is a record's key (never read outside [a, a + len)), b a kept one. */
static inline bool same_key(const char *a, const char *b, size_t len)
{
    if (len >= 8) {
        if (len > 16)
            return memcmp(a, b, len) == 0;
        return vmu_load64(a) == vmu_load64(b) && vmu_load64(a + len - 8) == vmu_load64(b + len - 8);
    }
    if (len >= 4)
        return vmu_load32(a) == vmu_load32(b) && vmu_load32(a + len - 4) == vmu_load32(b + len - 4);
    if (len == 0)
        return true;
    return a[0] == b[0] && a[len / 2] == b[len / 2] && a[len - 1] == b[len - 1];
}

static bool shape_matches(const record_shape *s, const vmu_field *fields, size_t count)
{
    if (s->used == 0 || s->count != count)
        return false;
    for (size_t i = 0; i < count; i++) {
        const vmu_field *f = &fields[i];
        size_t len = f->key ? f->key_len : 0;
        if (len != s->key_len[i] || !same_key(f->key, s->keys + s->key_off[i], len))
            return false;
    }
    return true;
}

/* The kept shape of these fields, or NULL. */
static record_shape *shape_find(const vmu_field *fields, size_t count)
{
    record_shape *s = &shapes.slot[shapes.last];
    if (!shape_matches(s, fields, count)) {
        unsigned i = 0;
        for (; i < SHAPE_SLOTS; i++)
            if (shape_matches(&shapes.slot[i], fields, count))
                break;
        if (i == SHAPE_SLOTS)
            return NULL;
        shapes.last = i;
        s = &shapes.slot[i];
    }
    s->used = ++shapes.uses;
    return s;
}

static bool shape_add_text(record_shape *s, size_t *text_len, const char *a, size_t a_len,
                           const char *b, size_t b_len, const char *c, size_t c_len)
{
    if (a_len + b_len + c_len > SHAPE_TEXT_BYTES - *text_len)
        return false;
    char *d = s->text + *text_len;
    memcpy(d, a, a_len);
    if (b_len)
        memcpy(d + a_len, b, b_len);
    memcpy(d + a_len + b_len, c, c_len);
    *text_len += a_len + b_len + c_len;
    return true;
}

static bool shape_add_step(record_shape *s, size_t *text_len, unsigned field, const char *key,
                           size_t key_len)
{
    static const struct {
        const char *text;
        size_t len;
    } fixed_text[FIXED_COUNT] = {
        {"\"level\":\"", 9},
        {"\"msg\":", 6},
        {"\"time\":\"", 8},
    };
    shape_step *st = &s->step[s->steps];
    size_t start = *text_len;
    const char *open = s->steps == 0 ? "{" : ",";
    bool fits = field >= SHAPE_FIXED
                    ? shape_add_text(s, text_len, open, 1, NULL, 0,
                                     fixed_text[field - SHAPE_FIXED].text,
                                     fixed_text[field - SHAPE_FIXED].len)
                    : shape_add_text(s, text_len, open[0] == '{' ? "{\"" : ",\"", 2, key,
                                     key_len, "\":", 2);
    if (!fits)
        return false;
    st->text_off = (uint16_t)start;
    st->text_len = (uint16_t)(*text_len - start);
    st->field = (uint16_t)field;
    s->steps++;
    return true;
}

/* Keeps the shape of these fields, sorted by sorted_members into m[0..n)
 * (members is where sorted_members gathered them), in the least recently
 * used slot, when it fits and its keys need no escape. */
static void shape_keep(const vmu_field *fields, size_t count, const sorted_member *members,
                       const member_ref *m, size_t n)
{
    if (count > SHAPE_FIELDS)
        return;
    record_shape *s = &shapes.slot[0];
    for (unsigned i = 1; i < SHAPE_SLOTS; i++)
        if (shapes.slot[i].used < s->used)
            s = &shapes.slot[i];
    s->used = 0;
    s->steps = 0;
    size_t key_bytes = 0;
    for (size_t i = 0; i < count; i++) {
        const char *key = fields[i].key;
        size_t len = key ? fields[i].key_len : 0;
        if (len > SHAPE_KEY_BYTES - key_bytes)
            return;
        if (len)
            memcpy(s->keys + key_bytes, key, len);
        s->key_off[i] = (uint16_t)key_bytes;
        s->key_len[i] = (uint16_t)len;
        key_bytes += len;
    }
    size_t text_len = 0;
    unsigned fixed = 0;
    for (size_t i = 0; i <= n; i++) {
        while (fixed < FIXED_COUNT && (i == n || fixed_prefixes[fixed] <= m[i]->prefix)) {
            if (!shape_add_step(s, &text_len, SHAPE_FIXED + fixed, NULL, 0))
                return;
            fixed++;
        }
        if (i == n)
            break;
        if (!vmu_go_json_is_plain(m[i]->key, m[i]->key_len) ||
            !shape_add_step(s, &text_len, (unsigned)(m[i] - members), m[i]->key, m[i]->key_len))
            return;
    }
    s->count = count;
    s->used = ++shapes.uses;
    shapes.last = (unsigned)(s - shapes.slot);
}

static int json_record_shaped(vmu_buf *out, const vmu_log_record *record,
                              const record_shape *s)
{
    for (size_t i = 0; i < s->steps; i++) {
        const shape_step *st = &s->step[i];
        size_t len = st->text_len;
        if (make_room(out, len > SHAPE_TEXT_COPY ? len : SHAPE_TEXT_COPY) != 0)
            return -1;
        char *d = out->data + out->len;
        if (len <= SHAPE_TEXT_COPY)
            memcpy(d, s->text + st->text_off, SHAPE_TEXT_COPY);
        else
            memcpy(d, s->text + st->text_off, len);
        out->len += len;
        int rc;
        switch (st->field) {
        case SHAPE_FIXED + FIXED_LEVEL: {
            const char *name = vmu_log_level_name(record->level);
            rc = put_bytes(out, name, strlen(name)) || put_char(out, '"');
            break;
        }
        case SHAPE_FIXED + FIXED_MSG:
            rc = vmu_go_json_string(out, record->msg ? record->msg : "",
                                    record->msg ? record->msg_len : 0);
            break;
        case SHAPE_FIXED + FIXED_TIME: {
            if (make_room(out, VMU_GO_RFC3339_MAX + 1) != 0)
                return -1;
            d = out->data + out->len;
            size_t n = host_time_text(&record->time, d);
            d[n] = '"';
            out->len += n + 1;
            rc = 0;
            break;
        }
        default:
            rc = json_field_value(out, &record->fields[st->field].value);
            break;
        }
        if (rc != 0)
            return -1;
    }
    return PUT_LITERAL(out, "}\n");
}

int vmu_log_format_json(const vmu_log_record *record, vmu_buf *out)
{
    if (!record || !out || out->failed)
        return -1;
    size_t start = out->len;
    size_t count = record->fields ? record->field_count : 0;
    const record_shape *shape = shape_find(record->fields, count);
    if (shape)
        return json_record_shaped(out, record, shape) == 0 ? 0 : fail_restoring(out, start);
    sorted_member members[RECORD_STACK_MEMBERS];
    member_ref order[RECORD_STACK_MEMBERS];
    const member_space stack = {members, order};
    member_space sorted;
    ptrdiff_t n = sorted_members(record->fields, count, true, &stack, RECORD_STACK_MEMBERS,
                                 &sorted);
    if (n < 0)
        return fail_restoring(out, start);
    shape_keep(record->fields, count, sorted.members, sorted.order, (size_t)n);
    int rc = json_record(out, record, sorted.order, (size_t)n);
    if (sorted.members != members)
        vmu_free(sorted.members);
    return rc == 0 ? 0 : fail_restoring(out, start);
}

int vmu_log_format_text(const vmu_log_record *record, vmu_buf *out)
{
    return format_record(record, out, text_record);
}
