/* vmu_gcs_decode_entry (hcsshim's GCSLogEntry.UnmarshalJSON on one whole
 * text): Go's validity check, then the value builder and the entry rules on
 * the one value, its fields kept until vmu_gcs_entry_free. */
#include <stdlib.h>
#include <string.h>

#include "gcs_builder.h"
#include "gcs_json_scan.h"

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
    gcs_parser_entry(p, &st->result);
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
    /* An entry without members ({} or null) may never have grown the node
     * array: no offset from a null pointer. */
    vmu_field *members = gcs_parser_members(&st->parser);
    vmu_field *fields = members ? members + r->field_start : NULL;
    if (unique_keys(fields, &count) != 0)
        return entry_failed(out, st, err);
    out->time = r->time;
    out->level = r->level;
    out->msg = r->msg;
    out->msg_len = r->msg_len;
    out->fields = fields;
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
