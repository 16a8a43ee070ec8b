/* The fast paths of the log formatters checked against plain oracles
 * written here: the JSON string scanner at every length and every position
 * of a byte to escape (each string in a heap block of its exact size, so
 * that a read past its end shows under valgrind and ASan), the key order
 * (prefix compare, short keys read as overlapping loads, keys with NUL
 * bytes, repeated keys, renamed clashes, the record's own keys merged in),
 * and the RFC 3339 text with its per-thread date cache (against gmtime_r,
 * days visited out of order, on two threads at once). */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "../core/test_hooks.h"
#include "vmutils.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static void assert_buf_bytes(const vmu_buf *b, const char *want, size_t want_len)
{
    if (b->len != want_len || memcmp(b->data, want, want_len) != 0)
        fail_msg("got [%.*s]\nwant [%.*s]", (int)b->len, b->data, (int)want_len, want);
}

/* ---- JSON strings ---- */

/* A piece of input and what encoding/json (HTML-safe, Go 1.19) makes of it. */
typedef struct escape_case {
    const char *name;
    const char *in;
    size_t in_len;
    const char *out;
} escape_case;

static const escape_case escape_cases[] = {
    {"quote", "\"", 1, "\\\""},
    {"backslash", "\\", 1, "\\\\"},
    {"less", "<", 1, "\\u003c"},
    {"greater", ">", 1, "\\u003e"},
    {"ampersand", "&", 1, "\\u0026"},
    {"newline", "\n", 1, "\\n"},
    {"tab", "\t", 1, "\\t"},
    {"backspace", "\b", 1, "\\u0008"},
    {"control 01", "\x01", 1, "\\u0001"},
    {"control 1f", "\x1f", 1, "\\u001f"},
    {"NUL", "\0", 1, "\\u0000"},
    {"DEL is plain", "\x7f", 1, "\x7f"},
    {"space is plain", " ", 1, " "},
    {"e acute", "\xc3\xa9", 2, "\xc3\xa9"},
    {"euro sign", "\xe2\x82\xac", 3, "\xe2\x82\xac"},
    {"emoji", "\xf0\x9f\x98\x80", 4, "\xf0\x9f\x98\x80"},
    {"line separator", "\xe2\x80\xa8", 3, "\\u2028"},
    {"paragraph separator", "\xe2\x80\xa9", 3, "\\u2029"},
    {"invalid byte", "\xff", 1, "\\ufffd"},
    {"lone continuation", "\x80", 1, "\\ufffd"},
    {"overlong", "\xc0\xaf", 2, "\\ufffd\\ufffd"},
    {"surrogate", "\xed\xa0\x80", 3, "\\ufffd\\ufffd\\ufffd"},
    {"two escapes", "<>", 2, "\\u003c\\u003e"},
    /* Neighbours of the escaped bytes (one bit away): all plain. */
    {"plain neighbours", "=?$'#%*.[]^`|~{}!,;@", 20, "=?$'#%*.[]^`|~{}!,;@"},
    {"last plain ASCII", "~\x7f !", 4, "~\x7f !"},
};

/* Plain filler bytes that differ by position, so a misplaced copy shows. */
static char filler(size_t i)
{
    static const char plain[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:/";
    return plain[i % (sizeof plain - 1)];
}

/* `total` bytes: filler with the case's input at `at`. */
static void check_escape_at(const escape_case *c, size_t total, size_t at)
{
    char *in = malloc(total ? total : 1);
    char *want = malloc(2 * total + 16 + 6 * c->in_len);
    assert_non_null(in);
    assert_non_null(want);
    size_t w = 0;
    want[w++] = '"';
    for (size_t i = 0; i < at; i++)
        want[w++] = in[i] = filler(i);
    memcpy(in + at, c->in, c->in_len);
    memcpy(want + w, c->out, strlen(c->out));
    w += strlen(c->out);
    for (size_t i = at + c->in_len; i < total; i++)
        want[w++] = in[i] = filler(i);
    want[w++] = '"';

    vmu_buf b;
    vmu_buf_init(&b);
    assert_int_equal(vmu_format_json_string(in, total, &b), 0);
    if (b.len != w || memcmp(b.data, want, w) != 0)
        fail_msg("%s: %zu bytes, at %zu: got [%.*s] want [%.*s]", c->name, total, at,
                 (int)b.len, b.data, (int)w, want);
    vmu_buf_free(&b);
    free(in);
    free(want);
}

static void test_json_string_every_position(void **state)
{
    (void)state;
    for (size_t k = 0; k < ARRAY_LEN(escape_cases); k++) {
        const escape_case *c = &escape_cases[k];
        for (size_t total = c->in_len; total <= 70; total++)
            for (size_t at = 0; at + c->in_len <= total; at++)
                check_escape_at(c, total, at);
    }
}

static void test_json_string_plain_lengths(void **state)
{
    (void)state;
    for (size_t total = 0; total <= 100; total++) {
        char *in = malloc(total ? total : 1);
        assert_non_null(in);
        for (size_t i = 0; i < total; i++)
            in[i] = filler(i * 7 + total);
        vmu_buf b;
        vmu_buf_init(&b);
        /* A non-empty buffer: the string goes after what is there. */
        assert_int_equal(vmu_buf_append(&b, "x", 1), 0);
        assert_int_equal(vmu_format_json_string(in, total, &b), 0);
        assert_int_equal(b.len, total + 3);
        assert_memory_equal(b.data, "x\"", 2);
        assert_memory_equal(b.data + 2, in, total);
        assert_int_equal(b.data[total + 2], '"');
        vmu_buf_free(&b);
        free(in);
    }
}

/* Truncated sequences at the very end of the string: each byte a U+FFFD. */
static void test_json_string_truncated_tail(void **state)
{
    (void)state;
    static const struct {
        const char *tail;
        size_t len;
        const char *out;
    } tails[] = {
        {"\xe2\x80", 2, "\\ufffd\\ufffd"},
        {"\xf0\x9f\x98", 3, "\\ufffd\\ufffd\\ufffd"},
        {"\xc3", 1, "\\ufffd"},
    };
    for (size_t k = 0; k < ARRAY_LEN(tails); k++) {
        for (size_t lead = 0; lead <= 40; lead++) {
            size_t total = lead + tails[k].len;
            char *in = malloc(total);
            assert_non_null(in);
            char want[128];
            size_t w = 0;
            want[w++] = '"';
            for (size_t i = 0; i < lead; i++)
                want[w++] = in[i] = filler(i);
            memcpy(in + lead, tails[k].tail, tails[k].len);
            memcpy(want + w, tails[k].out, strlen(tails[k].out));
            w += strlen(tails[k].out);
            want[w++] = '"';
            vmu_buf b;
            vmu_buf_init(&b);
            assert_int_equal(vmu_format_json_string(in, total, &b), 0);
            assert_buf_bytes(&b, want, w);
            vmu_buf_free(&b);
            free(in);
        }
    }
}

/* ---- key order ---- */

/* One field of the oracle: its key after logrus' renaming, its rank (input
 * position; renamed clashes after every input) and its JSON value. */
typedef struct oracle_member {
    char key[32];
    size_t key_len;
    size_t rank;
    char json[48];
} oracle_member;

static int oracle_compare(const void *pa, const void *pb)
{
    const oracle_member *a = pa, *b = pb;
    size_t n = a->key_len < b->key_len ? a->key_len : b->key_len;
    int c = memcmp(a->key, b->key, n);
    if (c != 0)
        return c;
    if (a->key_len != b->key_len)
        return a->key_len < b->key_len ? -1 : 1;
    return a->rank < b->rank ? -1 : a->rank > b->rank;
}

/* Appends s as a JSON string; the test keys need only \u00XX for bytes
 * below 0x20. */
static size_t oracle_json_key(char *dst, const char *s, size_t len)
{
    size_t n = 0;
    dst[n++] = '"';
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20)
            n += (size_t)sprintf(dst + n, "\\u%04x", c);
        else
            dst[n++] = (char)c;
    }
    dst[n++] = '"';
    return n;
}

/* The JSON record logrus writes for these keys, each field's value its
 * input position. */
static size_t oracle_record(const char *const *keys, const size_t *lens, size_t count,
                            char *out)
{
    static const char *const renamed[][2] = {
        {"time", "fields.time"}, {"msg", "fields.msg"}, {"level", "fields.level"},
        {"logrus_error", "fields.logrus_error"}};
    oracle_member m[64];
    size_t n = 0;
    for (size_t i = 0; i < count; i++, n++) {
        const char *key = keys[i];
        size_t len = lens[i];
        m[n].rank = i;
        for (size_t r = 0; r < ARRAY_LEN(renamed); r++) {
            if (len == strlen(renamed[r][0]) && memcmp(key, renamed[r][0], len) == 0) {
                key = renamed[r][1];
                len = strlen(key);
                m[n].rank = count + i;
            }
        }
        memcpy(m[n].key, key, len);
        m[n].key_len = len;
        snprintf(m[n].json, sizeof m[n].json, "%zu", i);
    }
    static const char *const own[][2] = {{"level", "\"info\""},
                                         {"msg", "\"m\""},
                                         {"time", "\"2024-03-05T14:07:09Z\""}};
    for (size_t r = 0; r < ARRAY_LEN(own); r++, n++) {
        m[n].key_len = strlen(own[r][0]);
        memcpy(m[n].key, own[r][0], m[n].key_len);
        m[n].rank = 3 * count + r;
        snprintf(m[n].json, sizeof m[n].json, "%s", own[r][1]);
    }
    qsort(m, n, sizeof m[0], oracle_compare);
    size_t w = 0;
    out[w++] = '{';
    bool first = true;
    for (size_t i = 0; i < n; i++) {
        if (i + 1 < n && m[i].key_len == m[i + 1].key_len &&
            memcmp(m[i].key, m[i + 1].key, m[i].key_len) == 0)
            continue; /* a repeated key keeps its last value */
        if (!first)
            out[w++] = ',';
        first = false;
        w += oracle_json_key(out + w, m[i].key, m[i].key_len);
        out[w++] = ':';
        w += (size_t)sprintf(out + w, "%s", m[i].json);
    }
    out[w++] = '}';
    out[w++] = '\n';
    return w;
}

/* Keys chosen around the prefix compare: lengths 0..12, shared first 8
 * bytes, NUL bytes inside and at the end, keys that are prefixes of one
 * another and of the record's own keys, the clashing keys and a field
 * already named like a renamed clash. */
static const struct {
    const char *key;
    size_t len;
} key_pool[] = {
    {"", 0},           {"a", 1},           {"ab", 2},          {"abc", 3},
    {"abcd", 4},       {"abcde", 5},       {"abcdef", 6},      {"abcdefg", 7},
    {"abcdefgh", 8},   {"abcdefghi", 9},   {"abcdefghX", 9},   {"abcdefgh\0", 9},
    {"abcdefgh\0\0", 10}, {"abc\0", 4},    {"ab\0c", 4},       {"lev", 3},
    {"level\0", 6},    {"levels", 6},      {"levek", 5},       {"ms", 2},
    {"msg\0", 4},      {"msga", 4},        {"tim", 3},         {"time\0", 5},
    {"timf", 4},       {"time", 4},        {"msg", 3},         {"level", 5},
    {"logrus_error", 12}, {"fields.level", 12}, {"fields.msg", 10}, {"vm.time", 7},
    {"startTime", 9},  {"startTimf", 9},   {"z", 1},           {"\x01", 1},
};

/* A deterministic generator (not rand(): other code may reseed it). */
static uint32_t next_random(uint32_t *state)
{
    *state = *state * 1664525u + 1013904223u;
    return *state >> 8;
}

/* Formats a record of these keys (each copied into a heap block of its
 * exact size, so that a read past a key's end shows under valgrind and
 * ASan; each value its input position) and compares it with the oracle.
 * No cmocka asserts: threads call it too. */
static bool key_order_ok(const char *const *keys, const size_t *lens, size_t count)
{
    vmu_field fields[64];
    char *copies[64];
    for (size_t i = 0; i < count; i++) {
        copies[i] = malloc(lens[i] ? lens[i] : 1);
        if (!copies[i])
            return false;
        memcpy(copies[i], keys[i], lens[i]);
        fields[i] = vmu_field_int("", (int64_t)i);
        fields[i].key = copies[i];
        fields[i].key_len = lens[i];
    }
    vmu_log_record r = {0};
    r.time = (vmu_time){1709647629, 0, 0, true};
    r.level = VMU_LEVEL_INFO;
    r.msg = "m";
    r.msg_len = 1;
    r.fields = fields;
    r.field_count = count;
    char want[8192];
    size_t want_len = oracle_record(keys, lens, count, want);
    vmu_buf b;
    vmu_buf_init(&b);
    bool ok = vmu_log_format_json(&r, &b) == 0 && b.len == want_len &&
              memcmp(b.data, want, want_len) == 0;
    if (!ok)
        print_error("got [%.*s]\nwant [%.*s]\n", (int)b.len, b.data ? b.data : "",
                    (int)want_len, want);
    vmu_buf_free(&b);
    for (size_t i = 0; i < count; i++)
        free(copies[i]);
    return ok;
}

static void check_key_order(const char *const *keys, const size_t *lens, size_t count)
{
    assert_true(key_order_ok(keys, lens, count));
}

static void test_key_order_against_oracle(void **state)
{
    (void)state;
    uint32_t seed = 12345;
    const char *keys[64];
    size_t lens[64];
    /* Every pool key alone, then random draws (with repeats) of up to 40
     * keys, across the insertion sort's and the heapsort's sizes. */
    for (size_t k = 0; k < ARRAY_LEN(key_pool); k++) {
        keys[0] = key_pool[k].key;
        lens[0] = key_pool[k].len;
        check_key_order(keys, lens, 1);
    }
    for (int round = 0; round < 2000; round++) {
        size_t count = next_random(&seed) % 41;
        for (size_t i = 0; i < count; i++) {
            size_t k = next_random(&seed) % ARRAY_LEN(key_pool);
            keys[i] = key_pool[k].key;
            lens[i] = key_pool[k].len;
        }
        check_key_order(keys, lens, count);
    }
}

/* ---- record shapes ----
 *
 * The JSON formatter keeps, per thread, the sorted order of the key
 * sequences it has seen; a record whose keys equal a kept sequence byte for
 * byte is written from it. Each sequence below is formatted more than once
 * (the first time sorted, then from the kept shape) against the oracle,
 * beside sequences that differ from it only where a cheap compare might not
 * look. */

typedef struct key_seq {
    const char *keys[24];
    size_t count;
} key_seq;

/* Sequences that pair up: same lengths and same first 8 bytes, differing
 * late in a long key, in the middle of a short one, by order alone, by a
 * repeat, by a clash, by one key more. */
static const key_seq shape_seqs[] = {
    {{"cid", "pid", "path"}, 3},
    {{"cid", "pid", "patH"}, 3},
    {{"cid", "pId", "path"}, 3},
    {{"pid", "cid", "path"}, 3},
    {{"cid", "pid", "path", "exitCode"}, 4},
    {{"cid", "pid", "path", "error"}, 4},
    {{"name", "traceID", "spanID", "startTime", "duration", "cid"}, 6},
    {{"name", "traceID", "spanID", "startTimf", "duration", "cid"}, 6},
    {{"name", "traceID", "spanID", "startTime", "duratiom", "cid"}, 6},
    {{"a_rather_long_key_number_1", "b"}, 2},
    {{"a_rather_long_key_number_2", "b"}, 2},
    {{"a_rather_long_kez_number_1", "b"}, 2},
    {{"twelve_bytes", "sixteen_bytes_ab"}, 2},
    {{"twelve_bytez", "sixteen_bytes_ab"}, 2},
    {{"twelve_bytes", "sixteen_bytes_ac"}, 2},
    {{"twelve_bytes", "sixteen_bytez_ab"}, 2},
    {{"abcde", "xyz"}, 2},
    {{"abXde", "xyz"}, 2},
    {{"abcde", "xYz"}, 2},
    {{"cid", "cid", "pid"}, 3},
    {{"cid", "pid", "cid"}, 3},
    {{"pid", "cid", "cid"}, 3},
    {{"time", "msg", "level", "logrus_error"}, 4},
    {{"time", "fields.time", "msg"}, 3},
    {{"fields.time", "time", "msg"}, 3},
    {{"tim", "msg", "levek"}, 3},
    {{"", "a", ""}, 3},
    {{"", "b", ""}, 3},
    {{0}, 0},
    /* Not kept: a key to escape, more fields than a shape holds, more key
     * bytes than it holds. Still written right, again and again. */
    {{"cid", "\x01", "pid"}, 3},
    {{"k01", "k02", "k03", "k04", "k05", "k06", "k07", "k08", "k09", "k10", "k11", "k12",
      "k13", "k14", "k15", "k16", "k17", "k18", "k19", "k20"}, 20},
    {{"key_number_one_of_many_abcd", "key_number_two_of_many_abcd", "key_number_three_of_many_a",
      "key_number_four_of_many_ab", "key_number_five_of_many_ab", "key_number_six_of_many_abc",
      "key_number_seven_of_many_a", "key_number_eight_of_many_a", "key_number_nine_of_many_ab",
      "key_number_ten_of_many_abc"}, 10},
};

static bool seq_ok(const key_seq *q)
{
    size_t lens[24];
    for (size_t i = 0; i < q->count; i++)
        lens[i] = strlen(q->keys[i]);
    return key_order_ok(q->keys, lens, q->count);
}

static void test_shapes_same_sequence_again(void **state)
{
    (void)state;
    for (size_t k = 0; k < ARRAY_LEN(shape_seqs); k++)
        for (int again = 0; again < 3; again++)
            assert_true(seq_ok(&shape_seqs[k]));
}

/* Neighbouring sequences one after the other, both ways round, and all of
 * them in turn: more sequences than there are kept shapes, so shapes are
 * dropped and kept again. */
static void test_shapes_alternating(void **state)
{
    (void)state;
    for (size_t k = 0; k + 1 < ARRAY_LEN(shape_seqs); k++)
        for (int round = 0; round < 3; round++) {
            assert_true(seq_ok(&shape_seqs[k]));
            assert_true(seq_ok(&shape_seqs[k + 1]));
        }
    for (int round = 0; round < 4; round++)
        for (size_t k = 0; k < ARRAY_LEN(shape_seqs); k++)
            assert_true(seq_ok(&shape_seqs[(k * 7 + (size_t)round) % ARRAY_LEN(shape_seqs)]));
}

/* Keys drawn from a small pool, so that sequences recur, and mostly plain
 * so that their shapes are kept. */
static void test_shapes_random_recurring(void **state)
{
    (void)state;
    static const char *const pool[] = {"cid", "pid", "path", "time", "msg", "level",
                                       "fields.msg", "startTime", "startTimf", "abcdefgh",
                                       "abcdefgh\0", "x", ""};
    static const size_t pool_lens[] = {3, 4, 4, 4, 3, 5, 10, 9, 9, 8, 9, 1, 0};
    uint32_t seed = 777;
    const char *keys[24];
    size_t lens[24];
    for (int round = 0; round < 3000; round++) {
        uint32_t shape_seed = next_random(&seed) % 40; /* one of 40 sequences */
        size_t count = shape_seed % 9;
        for (size_t i = 0; i < count; i++) {
            size_t k = (shape_seed * 31 + i * 17 + (shape_seed >> 2) * i) % ARRAY_LEN(pool);
            keys[i] = pool[k];
            lens[i] = pool_lens[k];
        }
        assert_true(key_order_ok(keys, lens, count));
    }
}

/* A key buffer reused with other bytes: the kept shape is found by the
 * keys' bytes, never by where they are. */
static void test_shapes_key_rewritten_in_place(void **state)
{
    (void)state;
    char key[] = "startTime";
    vmu_field fields[2] = {vmu_field_int("cid", 1), vmu_field_int("", 2)};
    fields[1].key = key;
    fields[1].key_len = 9;
    vmu_log_record r = {0};
    r.time = (vmu_time){1709647629, 0, 0, true};
    r.level = VMU_LEVEL_WARN;
    r.fields = fields;
    r.field_count = 2;
    static const struct {
        const char *key;
        const char *want;
    } cases[] = {
        {"startTime", "{\"cid\":1,\"level\":\"warning\",\"msg\":\"\",\"startTime\":2,"
                      "\"time\":\"2024-03-05T14:07:09Z\"}\n"},
        {"startTime", "{\"cid\":1,\"level\":\"warning\",\"msg\":\"\",\"startTime\":2,"
                      "\"time\":\"2024-03-05T14:07:09Z\"}\n"},
        {"aaaaaaaaa", "{\"aaaaaaaaa\":2,\"cid\":1,\"level\":\"warning\",\"msg\":\"\","
                      "\"time\":\"2024-03-05T14:07:09Z\"}\n"},
        {"startTimf", "{\"cid\":1,\"level\":\"warning\",\"msg\":\"\",\"startTimf\":2,"
                      "\"time\":\"2024-03-05T14:07:09Z\"}\n"},
        {"startTime", "{\"cid\":1,\"level\":\"warning\",\"msg\":\"\",\"startTime\":2,"
                      "\"time\":\"2024-03-05T14:07:09Z\"}\n"},
        {"tim\0\0\0\0\0\0", "{\"cid\":1,\"level\":\"warning\",\"msg\":\"\","
                      "\"tim\\u0000\\u0000\\u0000\\u0000\\u0000\\u0000\":2,"
                      "\"time\":\"2024-03-05T14:07:09Z\"}\n"},
    };
    for (size_t c = 0; c < ARRAY_LEN(cases); c++) {
        memcpy(key, cases[c].key, 9);
        vmu_buf b;
        vmu_buf_init(&b);
        assert_int_equal(vmu_log_format_json(&r, &b), 0);
        assert_buf_bytes(&b, cases[c].want, strlen(cases[c].want));
        vmu_buf_free(&b);
    }
}

/* A record written from a kept shape into a buffer that cannot grow fails
 * and leaves the buffer as it was, at every allocation it makes. */
static void test_shapes_failed_growth(void **state)
{
    (void)state;
    vmu_field fields[3] = {vmu_field_str("cid", "c9e9c616612e7696a6cecc1b78e51061"),
                           vmu_field_int("pid", 33274), vmu_field_str("path", "/tmp/x")};
    vmu_log_record r = {0};
    r.time = (vmu_time){1709647629, 0, 0, true};
    r.level = VMU_LEVEL_INFO;
    r.msg = "a message long enough to need room of its own";
    r.msg_len = strlen(r.msg);
    r.fields = fields;
    r.field_count = 3;
    vmu_buf want;
    vmu_buf_init(&want);
    assert_int_equal(vmu_log_format_json(&r, &want), 0); /* keeps the shape */
    for (long n = 0; n < 8; n++) {
        vmu_buf b;
        vmu_buf_init(&b);
        assert_int_equal(vmu_buf_append(&b, "x", 1), 0);
        vmu_alloc_fail_after(n);
        int rc = vmu_log_format_json(&r, &b);
        vmu_alloc_fail_after(-1);
        if (n == 0)
            assert_int_not_equal(rc, 0);
        if (rc == 0) {
            assert_int_equal(b.len, want.len + 1);
            assert_memory_equal(b.data + 1, want.data, want.len);
        } else {
            assert_int_equal(b.len, 1);
            assert_int_equal(b.data[0], 'x');
            assert_int_equal(b.failed, 0);
        }
        vmu_buf_free(&b);
    }
    vmu_buf_free(&want);
}

/* Each thread keeps its own shapes: two threads writing sequences that
 * differ only late in a key, at once. */
static void *format_shapes(void *arg)
{
    size_t first = *(const size_t *)arg;
    for (int i = 0; i < 3000; i++)
        if (!seq_ok(&shape_seqs[(first + (size_t)(i % 3)) % ARRAY_LEN(shape_seqs)]))
            return (void *)1;
    return NULL;
}

static void test_shapes_per_thread(void **state)
{
    (void)state;
    size_t firsts[2] = {9, 12}; /* the long keys, and the 12- and 16-byte ones */
    pthread_t threads[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&threads[i], NULL, format_shapes, &firsts[i]), 0);
    for (int i = 0; i < 2; i++) {
        void *result;
        assert_int_equal(pthread_join(threads[i], &result), 0);
        assert_null(result);
    }
}

/* ---- times ---- */

/* RFC3339Nano of a UTC time from gmtime_r: the oracle for years 1..9999. */
static size_t oracle_rfc3339_nano(int64_t sec, int32_t nsec, char *out)
{
    time_t when = (time_t)sec;
    struct tm tm;
    assert_non_null(gmtime_r(&when, &tm));
    int n = sprintf(out, "%04d-%02d-%02dT%02d:%02d:%02d", tm.tm_year + 1900, tm.tm_mon + 1,
                    tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    if (nsec) {
        char frac[16];
        sprintf(frac, "%09d", (int)nsec);
        size_t f = 9;
        while (frac[f - 1] == '0')
            f--;
        n += sprintf(out + n, ".%.*s", (int)f, frac);
    }
    out[n++] = 'Z';
    return (size_t)n;
}

static void check_rfc3339(int64_t sec, int32_t nsec)
{
    vmu_time t = {sec, nsec, 0, true};
    char want[64];
    size_t want_len = oracle_rfc3339_nano(sec, nsec, want);
    vmu_buf b;
    vmu_buf_init(&b);
    assert_int_equal(vmu_format_time_rfc3339(&t, true, &b), 0);
    assert_buf_bytes(&b, want, want_len);
    vmu_buf_free(&b);
}

static void test_rfc3339_days_out_of_order(void **state)
{
    (void)state;
    uint32_t seed = 777;
    /* 0001-01-01 to 9999-12-31, visiting days at random so that the date
     * cache is both hit and replaced; each day's last second and the next
     * day's first. */
    const int64_t first = -62135596800LL, last = 253402300799LL;
    for (int i = 0; i < 20000; i++) {
        uint64_t span = (uint64_t)(last - first);
        uint64_t r = (uint64_t)next_random(&seed) << 24 ^ next_random(&seed);
        int64_t sec = first + (int64_t)(r % span);
        int32_t nsec = (int32_t)(next_random(&seed) % 1000000000u);
        check_rfc3339(sec, nsec);
        check_rfc3339(sec, nsec); /* the same day again, from the cache */
        int64_t midnight = sec - ((sec % 86400) + 86400) % 86400;
        check_rfc3339(midnight - 1, 0);
        check_rfc3339(midnight, 999999999);
    }
}

static void test_rfc3339_nanos_every_width(void **state)
{
    (void)state;
    /* One significant digit at each of the nine places, and all nine. */
    int32_t nsec = 100000000;
    for (int place = 0; place < 9; place++, nsec /= 10) {
        check_rfc3339(1709647629, nsec);
        check_rfc3339(1709647629, nsec * 9);
    }
    check_rfc3339(1709647629, 123456789);
    check_rfc3339(1709647629, 100000001);
    check_rfc3339(1709647629, 999999999);
}

/* The offset zone, the negative year and the go string share the cache. */
static void test_time_texts_share_date_cache(void **state)
{
    (void)state;
    vmu_buf b;
    vmu_buf_init(&b);
    vmu_time plus2 = {1709596800, 5000, 7200, false}; /* 2024-03-05T02:00 +02:00 */
    vmu_time utc = {1709596800 - 1, 0, 0, true};      /* 2024-03-04T23:59:59Z */
    vmu_time year0 = {-62167219200LL, 0, 0, true};   /* 0000-01-01 */
    vmu_time minus1 = {-62198755200LL, 0, 0, true};  /* -0001-01-01 */
    for (int round = 0; round < 3; round++) {
        vmu_buf_reset(&b);
        assert_int_equal(vmu_format_time_rfc3339(&plus2, true, &b), 0);
        assert_buf_bytes(&b, "2024-03-05T02:00:00.000005+02:00", 32);
        vmu_buf_reset(&b);
        assert_int_equal(vmu_format_time_rfc3339(&utc, false, &b), 0);
        assert_buf_bytes(&b, "2024-03-04T23:59:59Z", 20);
        vmu_buf_reset(&b);
        assert_int_equal(vmu_format_time_go_string(&utc, &b), 0);
        assert_buf_bytes(&b, "2024-03-04 23:59:59 +0000 UTC", 29);
        vmu_buf_reset(&b);
        assert_int_equal(vmu_format_time_rfc3339(&year0, false, &b), 0);
        assert_buf_bytes(&b, "0000-01-01T00:00:00Z", 20);
        vmu_buf_reset(&b);
        assert_int_equal(vmu_format_time_rfc3339(&minus1, false, &b), 0);
        assert_buf_bytes(&b, "-0001-01-01T00:00:00Z", 21);
    }
    vmu_buf_free(&b);
}

/* Each thread formats its own days; a cache shared between threads would
 * hand one thread the other's date. */
static void *format_days(void *arg)
{
    int64_t base = *(const int64_t *)arg;
    for (int i = 0; i < 20000; i++) {
        int64_t sec = base + (int64_t)(i % 3) * 86400 + i;
        vmu_time t = {sec, 0, 0, true};
        char want[64], got[64];
        size_t want_len = oracle_rfc3339_nano(sec, 0, want);
        vmu_buf b;
        vmu_buf_init(&b);
        int rc = vmu_format_time_rfc3339(&t, true, &b);
        size_t got_len = b.len < sizeof got ? b.len : sizeof got;
        memcpy(got, b.data, got_len);
        vmu_buf_free(&b);
        if (rc != 0 || got_len != want_len || memcmp(got, want, want_len) != 0)
            return (void *)1;
    }
    return NULL;
}

static void test_date_cache_per_thread(void **state)
{
    (void)state;
    int64_t bases[2] = {1709596800, 946684800}; /* 2024-03-05, 2000-01-01 */
    pthread_t threads[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&threads[i], NULL, format_days, &bases[i]), 0);
    for (int i = 0; i < 2; i++) {
        void *result;
        assert_int_equal(pthread_join(threads[i], &result), 0);
        assert_null(result);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_string_every_position),
        cmocka_unit_test(test_json_string_plain_lengths),
        cmocka_unit_test(test_json_string_truncated_tail),
        cmocka_unit_test(test_key_order_against_oracle),
        cmocka_unit_test(test_shapes_same_sequence_again),
        cmocka_unit_test(test_shapes_alternating),
        cmocka_unit_test(test_shapes_random_recurring),
        cmocka_unit_test(test_shapes_key_rewritten_in_place),
        cmocka_unit_test(test_shapes_failed_growth),
        cmocka_unit_test(test_shapes_per_thread),
        cmocka_unit_test(test_rfc3339_days_out_of_order),
        cmocka_unit_test(test_rfc3339_nanos_every_width),
        cmocka_unit_test(test_time_texts_share_date_cache),
        cmocka_unit_test(test_date_cache_per_thread),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
