/* GCSLogEntry.UnmarshalJSON's rules, on an object already decoded by the
 * parser.
 *
 * Go decodes each entry twice: once into the standard struct (time, level,
 * msg, matched case-insensitively, each decoded by its own type's rules)
 * and once into a map of every field. The first decode stops at a value that
 * fails to parse (a bad time or level) but only remembers a type mismatch
 * (a number given to msg) and goes on; the second fails only on a number
 * out of float64 range. Then the rules: the level is clamped to error, the
 * exact lower-case standard keys leave the fields, an ETW entry takes its
 * message from "message" or "Message", and whole floats at the top level
 * become int64. */
#include <stdlib.h>
#include <string.h>

#include "gcs_internal.h"
#include "gofmt.h"

const char *const gcs_type_error_number = "json: cannot unmarshal number into Go value of type main.standard";
const char *const gcs_type_error_string = "json: cannot unmarshal string into Go value of type main.standard";
const char *const gcs_type_error_bool = "json: cannot unmarshal bool into Go value of type main.standard";
const char *const gcs_type_error_array = "json: cannot unmarshal array into Go value of type main.standard";

/* Keys compared as integers: a load and a compare each. */
static inline uint32_t load32(const char *s)
{
    uint32_t v;
    memcpy(&v, s, 4);
    return v;
}

static inline uint32_t word32(const char *lit)
{
    uint32_t v;
    memcpy(&v, lit, 4);
    return v;
}

/* encoding/json's simpleLetterEqualFold against a lower-case name. */
static bool fold_ascii(const char *key, const char *lower, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if ((key[i] | 0x20) != lower[i])
            return false;
    return true;
}

int gcs_std_key(const char *key, size_t len)
{
    if (len == 4 && fold_ascii(key, "time", 4))
        return GCS_STD_TIME;
    if (len == 5 && fold_ascii(key, "level", 5))
        return GCS_STD_LEVEL;
    if (len == 3 && fold_ascii(key, "msg", 3))
        return GCS_STD_MSG;
    /* "msg" has an s, so encoding/json folds it with equalFoldRight, which
     * also takes U+017F (long s, C5 BF) for it. */
    if (len == 4 && (key[0] | 0x20) == 'm' && (unsigned char)key[1] == 0xc5 &&
        (unsigned char)key[2] == 0xbf && (key[3] | 0x20) == 'g')
        return GCS_STD_MSG;
    return GCS_STD_NONE;
}

int gcs_parse_level(const char *s, size_t len, vmu_log_level *out)
{
    /* strings.ToLower, then an exact match. The only runes outside ASCII
     * that lower-case into these names are U+0130 (to 'i') and the Kelvin
     * sign (to 'k', in none of them). */
    char lower[8];
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (n == sizeof lower)
            return -1;
        unsigned char c = (unsigned char)s[i];
        if (c < 0x80) {
            lower[n++] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
        } else if (c == 0xc4 && i + 1 < len && (unsigned char)s[i + 1] == 0xb0) {
            lower[n++] = 'i';
            i++;
        } else {
            return -1;
        }
    }
    switch (n) {
    case 4:
        if (memcmp(lower, "info", 4) == 0)
            return *out = VMU_LEVEL_INFO, 0;
        if (memcmp(lower, "warn", 4) == 0)
            return *out = VMU_LEVEL_WARN, 0;
        return -1;
    case 5:
        if (memcmp(lower, "debug", 5) == 0)
            return *out = VMU_LEVEL_DEBUG, 0;
        if (memcmp(lower, "error", 5) == 0)
            return *out = VMU_LEVEL_ERROR, 0;
        if (memcmp(lower, "trace", 5) == 0)
            return *out = VMU_LEVEL_TRACE, 0;
        if (memcmp(lower, "fatal", 5) == 0)
            return *out = VMU_LEVEL_FATAL, 0;
        if (memcmp(lower, "panic", 5) == 0)
            return *out = VMU_LEVEL_PANIC, 0;
        return -1;
    case 7:
        if (memcmp(lower, "warning", 7) == 0)
            return *out = VMU_LEVEL_WARN, 0;
        return -1;
    default:
        return -1;
    }
}

void gcs_entry_apply(vmu_field *members, size_t count, const gcs_std_member *std, size_t std_count,
                     const char *map_error, size_t map_error_len, gcs_entry_result *out)
{
    out->ok = false;
    out->level = VMU_LEVEL_INFO;
    out->msg = "";
    out->msg_len = 0;
    out->time = gcs_time_zero();
    out->error = NULL;
    out->error_len = 0;
    out->field_count = 0;

    const gcs_std_member *saved = NULL;
    for (size_t i = 0; i < std_count; i++) {
        const gcs_std_member *s = &std[i];
        switch (s->outcome) {
        case GCS_OUT_SET:
            if (s->which == GCS_STD_TIME) {
                out->time = s->time;
            } else if (s->which == GCS_STD_LEVEL) {
                out->level = s->level;
            } else {
                const vmu_value *v = &members[s->member].value;
                out->msg = v->as.str.ptr;
                out->msg_len = v->as.str.len;
            }
            break;
        case GCS_OUT_FAIL_NOW:
            out->error = s->error;
            out->error_len = s->error_len;
            return;
        case GCS_OUT_FAIL_SAVED:
            if (!saved)
                saved = s;
            break;
        default:
            break;
        }
    }
    if (saved) {
        out->error = saved->error;
        out->error_len = saved->error_len;
        return;
    }
    if (map_error) {
        out->error = map_error;
        out->error_len = map_error_len;
        return;
    }

    /* The guest may not raise fatal or panic on the host. */
    if (out->level < VMU_LEVEL_ERROR)
        out->level = VMU_LEVEL_ERROR;

    /* One look at each key: the last "Source", "message" and "Message". */
    const vmu_field *source = NULL, *lower_message = NULL, *upper_message = NULL;
    const uint32_t sour = word32("Sour"), essa = word32("essa");
    for (size_t i = 0; i < count; i++) {
        const vmu_field *f = &members[i];
        if (f->key_len == 6) {
            if (load32(f->key) == sour && f->key[4] == 'c' && f->key[5] == 'e')
                source = f;
        } else if (f->key_len == 7 && load32(f->key + 1) == essa && f->key[5] == 'g' && f->key[6] == 'e') {
            if (f->key[0] == 'm')
                lower_message = f;
            else if (f->key[0] == 'M')
                upper_message = f;
        }
    }
    /* ETW entries carry their text under "message" or "Message". */
    char etw_first = 0;
    if (source && source->value.kind == VMU_VALUE_STRING && source->value.as.str.len == 3 &&
        memcmp(source->value.as.str.ptr, "ETW", 3) == 0) {
        const vmu_field *text = NULL;
        if (lower_message && lower_message->value.kind == VMU_VALUE_STRING)
            text = lower_message;
        else if (upper_message && upper_message->value.kind == VMU_VALUE_STRING)
            text = upper_message;
        if (text) {
            out->msg = text->value.as.str.ptr;
            out->msg_len = text->value.as.str.len;
            etw_first = text->key[0];
        }
    }

    const uint32_t time = word32("time"), leve = word32("leve");
    size_t kept = 0;
    for (size_t i = 0; i < count; i++) {
        vmu_field *f = &members[i];
        switch (f->key_len) {
        case 3:
            if (f->key[0] == 'm' && f->key[1] == 's' && f->key[2] == 'g')
                continue;
            break;
        case 4:
            if (load32(f->key) == time)
                continue;
            break;
        case 5:
            if (load32(f->key) == leve && f->key[4] == 'l')
                continue;
            break;
        case 7:
            if (etw_first && f->key[0] == etw_first && load32(f->key + 1) == essa &&
                f->key[5] == 'g' && f->key[6] == 'e')
                continue;
            break;
        }
        /* float64(int64(d)) == d on amd64, where out-of-range conversions
         * give INT64_MIN: whole numbers in [-2^63, 2^63) become integers. */
        if (f->value.kind == VMU_VALUE_FLOAT) {
            double d = f->value.as.f;
            if (d >= -9223372036854775808.0 && d < 9223372036854775808.0 && (double)(int64_t)d == d) {
                f->value.kind = VMU_VALUE_INT;
                f->value.as.i = (int64_t)d;
            }
        }
        if (kept != i)
            members[kept] = *f;
        kept++;
    }
    out->field_count = kept;
    out->ok = true;
}

/* ---- decode_gcs_log_entry ---- */

typedef struct entry_storage {
    gcs_parser parser;
    gcs_entry_result result;
    bool decoded;
    vmu_buf error;
} entry_storage;

static int capture_value(void *user, gcs_parser *p, const uint8_t *raw, size_t raw_len)
{
    (void)raw;
    (void)raw_len;
    entry_storage *st = user;
    gcs_entry_result *r = &st->result;
    if (p->top == GCS_TOP_OBJECT) {
        gcs_entry_apply(p->nodes, p->node_count, p->std, p->std_count, p->map_error,
                        p->map_error_len, r);
    } else if (p->top == GCS_TOP_NULL) {
        gcs_entry_apply(p->nodes, 0, NULL, 0, NULL, 0, r);
    } else {
        memset(r, 0, sizeof *r);
        r->error = p->scalar_error;
        r->error_len = strlen(p->scalar_error);
    }
    st->decoded = true;
    return GCS_STOP_NONE;
}

typedef struct key_rank {
    const char *key;
    size_t len;
    size_t index;
} key_rank;

static int key_rank_cmp(const void *a, const void *b)
{
    const key_rank *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = n ? memcmp(x->key, y->key, n) : 0;
    if (c)
        return c;
    if (x->len != y->len)
        return x->len < y->len ? -1 : 1;
    return x->index < y->index ? -1 : x->index > y->index;
}

/* A Go map keeps the last value of a repeated key: so do the fields. */
static int unique_keys(vmu_field *fields, size_t *count)
{
    size_t n = *count;
    if (n < 2)
        return 0;
    key_rank *ranks = vmu_malloc(n * sizeof *ranks);
    bool *drop = vmu_calloc(n, sizeof *drop);
    if (!ranks || !drop) {
        vmu_free(ranks);
        vmu_free(drop);
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        ranks[i] = (key_rank){fields[i].key, fields[i].key_len, i};
    qsort(ranks, n, sizeof *ranks, key_rank_cmp);
    for (size_t i = 0; i + 1 < n; i++)
        if (ranks[i].len == ranks[i + 1].len &&
            (ranks[i].len == 0 || memcmp(ranks[i].key, ranks[i + 1].key, ranks[i].len) == 0))
            drop[ranks[i].index] = true;
    size_t kept = 0;
    for (size_t i = 0; i < n; i++)
        if (!drop[i])
            fields[kept++] = fields[i];
    *count = kept;
    vmu_free(ranks);
    vmu_free(drop);
    return 0;
}

static int entry_failed(vmu_gcs_entry *out, entry_storage *st, vmu_err *err)
{
    if (st && !st->error.failed && st->error.len) {
        out->error = st->error.data;
        out->error_len = st->error.len;
    } else {
        out->error = "out of memory";
        out->error_len = strlen(out->error);
    }
    vmu_err_set(err, "%.*s", (int)(out->error_len > 500 ? 500 : out->error_len), out->error);
    return -1;
}

int vmu_gcs_decode_entry(const char *json, size_t len, vmu_gcs_entry *out, vmu_err *err)
{
    memset(out, 0, sizeof *out);
    out->time = gcs_time_zero();
    out->level = VMU_LEVEL_INFO;
    out->msg = "";
    entry_storage *st = vmu_calloc(1, sizeof *st);
    if (!st)
        return entry_failed(out, NULL, err);
    out->storage = st;
    vmu_buf_init(&st->error);
    if (!json && len)
        return vmu_buf_puts(&st->error, "no input"), entry_failed(out, st, err);

    /* json.Unmarshal checks the whole text with the scanner first. */
    gcs_json_scanner *scanner = vmu_malloc(sizeof *scanner);
    if (!scanner)
        return entry_failed(out, st, err);
    int valid = gcs_json_check_valid((const uint8_t *)json, len, scanner, &st->error);
    vmu_free(scanner);
    if (valid != 0)
        return entry_failed(out, st, err);

    if (gcs_parser_init(&st->parser, capture_value, st) != 0)
        return entry_failed(out, st, err);
    st->parser.keep_value = true;
    st->parser.zero_copy = false; /* the fields outlive the caller's text */
    yajl_status status = gcs_parser_feed(&st->parser, (const uint8_t *)json, len, 0);
    if (status == yajl_status_ok && !st->decoded && gcs_parser_carry_tail(&st->parser) == 0)
        status = gcs_parser_feed(&st->parser, (const uint8_t *)" ", 1, len); /* a bare number */
    if (!st->decoded || st->parser.stop == GCS_STOP_NOMEM)
        return entry_failed(out, st, err);

    gcs_entry_result *r = &st->result;
    if (!r->ok) {
        st->error.len = 0;
        if (vmu_buf_append(&st->error, r->error, r->error_len) != 0)
            return entry_failed(out, st, err);
        return entry_failed(out, st, err);
    }
    size_t count = r->field_count;
    if (unique_keys(st->parser.nodes, &count) != 0)
        return entry_failed(out, st, err);
    out->time = r->time;
    out->level = r->level;
    out->msg = r->msg;
    out->msg_len = r->msg_len;
    out->fields = st->parser.nodes;
    out->field_count = count;
    return 0;
}

void vmu_gcs_entry_free(vmu_gcs_entry *entry)
{
    if (!entry || !entry->storage)
        return;
    entry_storage *st = entry->storage;
    gcs_parser_free(&st->parser);
    vmu_buf_free(&st->error);
    vmu_free(st);
    entry->storage = NULL;
    entry->fields = NULL;
    entry->field_count = 0;
}
