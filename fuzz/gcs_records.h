/* Shared by the GCS fuzz targets: a logger sink that keeps every record the
 * decoder logs, so that runs can be compared record for record.
 *
 * A record is kept twice: as a canonical byte string (level, message and
 * every field, nested values included, host time left out; object members
 * sorted by key with a repeated key's last value, which is what formatters
 * and Go maps show) for equality,
 * and as the few parts the byte-coverage walk needs (the "entry", "stderr"
 * and "size" fields, and whether it is a forwarded entry: those carry
 * "vm.time"). Header-only, plain malloc. */
#ifndef VMUTILS_FUZZ_GCS_RECORDS_H
#define VMUTILS_FUZZ_GCS_RECORDS_H

#include <stdbool.h>

#include "fuzz_input.h"
#include "vmutils.h"

typedef struct kept_record {
    char *canonical;
    size_t canonical_len;
    char msg[32]; /* enough for the decoder's own messages */
    bool is_entry;
    char *entry, *stderr_text, *uvm, *error; /* copies of those fields, or NULL */
    size_t entry_len, stderr_len, uvm_len, error_len;
    int64_t size; /* -1 when absent */
} kept_record;

typedef struct record_log {
    kept_record *items;
    size_t count, cap;
} record_log;

static inline void grow(char **buf, size_t *len, size_t *cap, const void *data, size_t n)
{
    if (*len + n > *cap) {
        size_t next = *cap ? *cap * 2 : 256;
        while (next < *len + n)
            next *= 2;
        *buf = realloc(*buf, next);
        FUZZ_REQUIRE(*buf, "realloc");
        *cap = next;
    }
    if (n)
        memcpy(*buf + *len, data, n);
    *len += n;
}

typedef struct canon {
    char *buf;
    size_t len, cap;
} canon;

static inline void canon_count(canon *c, size_t n)
{
    uint64_t n64 = n;
    grow(&c->buf, &c->len, &c->cap, &n64, sizeof n64);
}

static inline void canon_bytes(canon *c, const void *p, size_t n)
{
    canon_count(c, n);
    grow(&c->buf, &c->len, &c->cap, p, n);
}

static inline void canon_members(canon *c, const vmu_field *members, size_t count);

static inline void canon_value(canon *c, const vmu_value *v)
{
    uint8_t kind = (uint8_t)v->kind;
    grow(&c->buf, &c->len, &c->cap, &kind, 1);
    switch (v->kind) {
    case VMU_VALUE_NULL:
        break;
    case VMU_VALUE_BOOL: {
        uint8_t b = v->as.b;
        grow(&c->buf, &c->len, &c->cap, &b, 1);
        break;
    }
    case VMU_VALUE_INT:
        grow(&c->buf, &c->len, &c->cap, &v->as.i, sizeof v->as.i);
        break;
    case VMU_VALUE_UINT:
        grow(&c->buf, &c->len, &c->cap, &v->as.u, sizeof v->as.u);
        break;
    case VMU_VALUE_FLOAT:
        grow(&c->buf, &c->len, &c->cap, &v->as.f, sizeof v->as.f);
        break;
    case VMU_VALUE_STRING:
        canon_bytes(c, v->as.str.ptr, v->as.str.len);
        break;
    case VMU_VALUE_TIME: {
        int64_t parts[4] = {v->as.time.unix_sec, v->as.time.nsec, v->as.time.utc_offset,
                            v->as.time.utc};
        grow(&c->buf, &c->len, &c->cap, parts, sizeof parts);
        break;
    }
    case VMU_VALUE_ARRAY:
        canon_count(c, v->as.array.count);
        for (size_t i = 0; i < v->as.array.count; i++)
            canon_value(c, &v->as.array.items[i]);
        break;
    case VMU_VALUE_OBJECT:
        canon_members(c, v->as.object.members, v->as.object.count);
        break;
    }
}

static int compare_member_order(const void *pa, const void *pb)
{
    const vmu_field *a = *(const vmu_field *const *)pa, *b = *(const vmu_field *const *)pb;
    size_t n = a->key_len < b->key_len ? a->key_len : b->key_len;
    int k = n ? memcmp(a->key, b->key, n) : 0;
    if (k == 0 && a->key_len != b->key_len)
        k = a->key_len < b->key_len ? -1 : 1;
    if (k == 0) /* the same key: keep input order, so the last one is last */
        k = a < b ? -1 : a > b;
    return k;
}

/* Members as an observer sees them (a formatter, a Go map): sorted by key,
 * a repeated key holding its last value. */
static inline void canon_members(canon *c, const vmu_field *members, size_t count)
{
    const vmu_field **order = malloc((count ? count : 1) * sizeof *order);
    FUZZ_REQUIRE(order, "malloc");
    for (size_t i = 0; i < count; i++)
        order[i] = &members[i];
    qsort(order, count, sizeof *order, compare_member_order);
    size_t kept = 0;
    for (size_t i = 0; i < count; i++)
        if (i + 1 == count || order[i]->key_len != order[i + 1]->key_len ||
            memcmp(order[i]->key, order[i + 1]->key, order[i]->key_len) != 0)
            order[kept++] = order[i];
    canon_count(c, kept);
    for (size_t i = 0; i < kept; i++) {
        canon_bytes(c, order[i]->key, order[i]->key_len);
        canon_value(c, &order[i]->value);
    }
    free(order);
}

static inline char *copy_of(const char *s, size_t n)
{
    char *p = malloc(n + 1);
    FUZZ_REQUIRE(p, "malloc");
    if (n)
        memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

static inline bool key_is(const vmu_field *f, const char *key)
{
    return f->key_len == strlen(key) && memcmp(f->key, key, f->key_len) == 0;
}

static inline void keep_record(void *user, const vmu_log_record *r)
{
    record_log *log = user;
    if (log->count == log->cap) {
        log->cap = log->cap ? log->cap * 2 : 16;
        log->items = realloc(log->items, log->cap * sizeof *log->items);
        FUZZ_REQUIRE(log->items, "realloc");
    }
    kept_record *k = &log->items[log->count++];
    memset(k, 0, sizeof *k);
    k->size = -1;
    canon c = {NULL, 0, 0};
    uint8_t level = (uint8_t)r->level;
    grow(&c.buf, &c.len, &c.cap, &level, 1);
    canon_bytes(&c, r->msg, r->msg_len);
    canon_members(&c, r->fields, r->field_count);
    for (size_t i = 0; i < r->field_count; i++) {
        const vmu_field *f = &r->fields[i];
        bool str = f->value.kind == VMU_VALUE_STRING;
        /* A key may repeat (an entry's own "uvm-id" before the host's):
         * the last one counts, as in the formatters and in a Go map. */
        if (key_is(f, "vm.time")) {
            k->is_entry = true;
        } else if (key_is(f, "uvm-id") && str) {
            free(k->uvm);
            k->uvm = copy_of(f->value.as.str.ptr, f->value.as.str.len);
            k->uvm_len = f->value.as.str.len;
        } else if (key_is(f, "entry") && str) {
            free(k->entry);
            k->entry = copy_of(f->value.as.str.ptr, f->value.as.str.len);
            k->entry_len = f->value.as.str.len;
        } else if (key_is(f, "stderr") && str) {
            free(k->stderr_text);
            k->stderr_text = copy_of(f->value.as.str.ptr, f->value.as.str.len);
            k->stderr_len = f->value.as.str.len;
        } else if (key_is(f, "error") && str) {
            free(k->error);
            k->error = copy_of(f->value.as.str.ptr, f->value.as.str.len);
            k->error_len = f->value.as.str.len;
        } else if (key_is(f, "size") && f->value.kind == VMU_VALUE_INT) {
            k->size = f->value.as.i;
        }
    }
    k->canonical = c.buf;
    k->canonical_len = c.len;
    snprintf(k->msg, sizeof k->msg, "%.*s", (int)(r->msg_len < 31 ? r->msg_len : 31), r->msg);
}

static inline void record_log_clear(record_log *log)
{
    for (size_t i = 0; i < log->count; i++) {
        free(log->items[i].canonical);
        free(log->items[i].entry);
        free(log->items[i].stderr_text);
        free(log->items[i].uvm);
        free(log->items[i].error);
    }
    log->count = 0;
}

static inline void record_log_free(record_log *log)
{
    record_log_clear(log);
    free(log->items);
    log->items = NULL;
    log->cap = 0;
}

/* The index of the first record that differs, or SIZE_MAX when equal. */
static inline size_t first_different_record(const record_log *a, const record_log *b)
{
    size_t n = a->count < b->count ? a->count : b->count;
    for (size_t i = 0; i < n; i++)
        if (a->items[i].canonical_len != b->items[i].canonical_len ||
            memcmp(a->items[i].canonical, b->items[i].canonical, a->items[i].canonical_len) != 0)
            return i;
    return a->count == b->count ? SIZE_MAX : n;
}

#endif
