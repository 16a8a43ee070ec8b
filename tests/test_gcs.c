/* The GCS log pipeline: every case of hcsshim's gcs_logs_test.go, json.Unmarshal
 * of single entries against Go's own results (gcs_golden.h), the stream in
 * any chunking, sources that fail mid-stream with each errno, descriptors
 * (pipes, non-blocking pipes, a TCP reset), resync mode, oversized entries
 * with a heap that stays bounded, allocation failures, and Go's scanner
 * against yajl on random input. */
#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <malloc.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <dirent.h>
#include <yajl/yajl_parse.h>

#include "../core/gcs/gcs_json_scan.h"
#include "../core/gcs/gcs_stream.h"
#include "../core/gcs/gcs_time.h"
#include "../core/test_hooks.h"
#include "gcs_golden.h"
#include "vmutils.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* ---- capturing records ---- */

/* Records as the JSON formatter prints them, with the host time fixed at
 * the epoch so that runs compare byte for byte. Test memory comes from
 * plain malloc, out of reach of the core's failure injection. */
typedef struct capture {
    vmu_logger *logger;
    char *text;
    size_t len, cap;
    size_t records;
} capture;

static void capture_add(capture *c, const char *s, size_t n)
{
    if (c->len + n + 1 > c->cap) {
        c->cap = (c->len + n + 1) * 2;
        c->text = realloc(c->text, c->cap);
        if (!c->text)
            abort();
    }
    memcpy(c->text + c->len, s, n);
    c->len += n;
    c->text[c->len] = '\0';
}

static void capture_sink(void *user, const vmu_log_record *record)
{
    capture *c = user;
    vmu_log_record r = *record;
    r.time.unix_sec = 0;
    r.time.nsec = 0;
    r.time.utc_offset = 0;
    r.time.utc = true;
    vmu_buf line;
    vmu_buf_init(&line);
    if (vmu_log_format_json(&r, &line) == 0)
        capture_add(c, line.data, line.len);
    else
        capture_add(c, "FORMAT FAILED\n", 14);
    vmu_buf_free(&line);
    c->records++;
}

static void capture_init(capture *c)
{
    memset(c, 0, sizeof *c);
    c->logger = vmu_logger_new();
    assert_non_null(c->logger);
    vmu_logger_set_level(c->logger, VMU_LEVEL_TRACE);
    vmu_logger_set_sink(c->logger, capture_sink, c);
    capture_add(c, "", 0);
}

static void capture_free(capture *c)
{
    vmu_logger_free(c->logger);
    free(c->text);
}

static size_t count_of(const char *haystack, const char *needle)
{
    size_t n = 0;
    for (const char *p = haystack; (p = strstr(p, needle)) != NULL; p++)
        n++;
    return n;
}

/* Decodes data fed in pieces: chunk 0 = one piece, 1 = single bytes, else
 * pieces of random length from the seed `chunk`. */
static void decode_chunked(capture *c, const void *data, size_t len, size_t chunk, bool resync,
                           size_t max_entry, vmu_gcs_stats *stats)
{
    vmu_gcs_options opts;
    vmu_gcs_options_init(&opts);
    opts.resync = resync;
    opts.max_entry_bytes = max_entry;
    vmu_gcs_decoder *d = vmu_gcs_decoder_new("test-vm", 7, &opts, c->logger);
    assert_non_null(d);
    const char *p = data;
    unsigned seed = (unsigned)chunk;
    size_t i = 0;
    while (i < len) {
        size_t n = chunk == 0 ? len : chunk == 1 ? 1 : 1 + (size_t)(rand_r(&seed) % 997);
        if (n > len - i)
            n = len - i;
        assert_int_equal(vmu_gcs_decoder_feed(d, p + i, n), 0);
        i += n;
    }
    assert_int_equal(vmu_gcs_decoder_finish(d), 0);
    if (stats)
        vmu_gcs_decoder_stats(d, stats);
    vmu_gcs_decoder_free(d);
}

static void decode_text(capture *c, const char *text, bool resync)
{
    decode_chunked(c, text, strlen(text), 0, resync, 0, NULL);
}

#define EPOCH "\"time\":\"1970-01-01T00:00:00Z\""

/* ---- hcsshim's TestGCSLogEntry_UnmarshalJSON and friends ---- */

typedef struct field_want {
    const char *key;
    vmu_value_kind kind;
    const char *str;
    int64_t i;
    double f;
} field_want;

typedef struct unmarshal_case {
    const char *name;
    const char *input;
    vmu_log_level level;
    const char *msg;
    field_want fields[2];
    bool want_err;
} unmarshal_case;

static const unmarshal_case unmarshal_cases[] = {
    {"basic log entry", "{\"time\":\"2024-01-15T10:30:00Z\",\"level\":\"info\",\"msg\":\"test message\"}",
     VMU_LEVEL_INFO, "test message", {{0}}, false},
    {"debug level stays debug", "{\"time\":\"2024-01-15T10:30:00Z\",\"level\":\"debug\",\"msg\":\"debug message\"}",
     VMU_LEVEL_DEBUG, "debug message", {{0}}, false},
    {"error level stays error", "{\"time\":\"2024-01-15T10:30:00Z\",\"level\":\"error\",\"msg\":\"error message\"}",
     VMU_LEVEL_ERROR, "error message", {{0}}, false},
    {"fatal level clamped to error", "{\"time\":\"2024-01-15T10:30:00Z\",\"level\":\"fatal\",\"msg\":\"fatal message\"}",
     VMU_LEVEL_ERROR, "fatal message", {{0}}, false},
    {"panic level clamped to error", "{\"time\":\"2024-01-15T10:30:00Z\",\"level\":\"panic\",\"msg\":\"panic message\"}",
     VMU_LEVEL_ERROR, "panic message", {{0}}, false},
    {"missing level defaults to info", "{\"time\":\"2024-01-15T10:30:00Z\",\"msg\":\"message without level\"}",
     VMU_LEVEL_INFO, "message without level", {{0}}, false},
    {"ETW source with message field",
     "{\"time\":\"2024-01-15T10:30:00Z\",\"level\":\"info\",\"msg\":\"\",\"Source\":\"ETW\",\"message\":\"etw message\"}",
     VMU_LEVEL_INFO, "etw message", {{"Source", VMU_VALUE_STRING, "ETW", 0, 0}}, false},
    {"ETW source with Message field",
     "{\"time\":\"2024-01-15T10:30:00Z\",\"level\":\"info\",\"msg\":\"\",\"Source\":\"ETW\",\"Message\":\"ETW capitalized message\"}",
     VMU_LEVEL_INFO, "ETW capitalized message", {{"Source", VMU_VALUE_STRING, "ETW", 0, 0}}, false},
    {"custom fields preserved",
     "{\"time\":\"2024-01-15T10:30:00Z\",\"level\":\"info\",\"msg\":\"test\",\"customField\":\"customValue\",\"numericField\":42}",
     VMU_LEVEL_INFO, "test",
     {{"customField", VMU_VALUE_STRING, "customValue", 0, 0}, {"numericField", VMU_VALUE_INT, NULL, 42, 0}},
     false},
    {"whole float becomes an integer",
     "{\"time\":\"2024-01-15T10:30:00Z\",\"level\":\"info\",\"msg\":\"test\",\"count\":100.0}",
     VMU_LEVEL_INFO, "test", {{"count", VMU_VALUE_INT, NULL, 100, 0}}, false},
    {"fraction stays a float",
     "{\"time\":\"2024-01-15T10:30:00Z\",\"level\":\"info\",\"msg\":\"test\",\"ratio\":3.14}",
     VMU_LEVEL_INFO, "test", {{"ratio", VMU_VALUE_FLOAT, NULL, 0, 3.14}}, false},
    {"invalid json", "{invalid json", VMU_LEVEL_INFO, NULL, {{0}}, true},
};

static const vmu_field *find_field(const vmu_gcs_entry *e, const char *key)
{
    for (size_t i = 0; i < e->field_count; i++)
        if (e->fields[i].key_len == strlen(key) && memcmp(e->fields[i].key, key, e->fields[i].key_len) == 0)
            return &e->fields[i];
    return NULL;
}

static void test_unmarshal_hcsshim_cases(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(unmarshal_cases); i++) {
        const unmarshal_case *c = &unmarshal_cases[i];
        vmu_gcs_entry e;
        vmu_err err;
        int rc = vmu_gcs_decode_entry(c->input, strlen(c->input), &e, &err);
        if (c->want_err) {
            assert_int_equal(rc, -1);
            assert_non_null(e.error);
            assert_string_equal(err.msg, "invalid character 'i' looking for beginning of object key string");
            vmu_gcs_entry_free(&e);
            continue;
        }
        assert_int_equal(rc, 0);
        assert_int_equal(e.level, c->level);
        assert_int_equal(e.msg_len, strlen(c->msg));
        assert_memory_equal(e.msg, c->msg, e.msg_len);
        /* The standard keys, and an ETW entry's message key, are not fields. */
        static const char *const gone[] = {"time", "level", "msg", "message", "Message"};
        for (size_t k = 0; k < ARRAY_LEN(gone); k++)
            assert_null(find_field(&e, gone[k]));
        for (size_t k = 0; k < ARRAY_LEN(c->fields) && c->fields[k].key; k++) {
            const field_want *w = &c->fields[k];
            const vmu_field *f = find_field(&e, w->key);
            assert_non_null(f);
            assert_int_equal(f->value.kind, w->kind);
            if (w->kind == VMU_VALUE_STRING) {
                assert_int_equal(f->value.as.str.len, strlen(w->str));
                assert_memory_equal(f->value.as.str.ptr, w->str, strlen(w->str));
            } else if (w->kind == VMU_VALUE_INT) {
                assert_int_equal(f->value.as.i, w->i);
            } else {
                assert_true(f->value.as.f == w->f);
            }
        }
        vmu_gcs_entry_free(&e);
    }
}

static void test_unmarshal_time(void **state)
{
    (void)state;
    const char *in = "{\"time\":\"2024-01-15T10:30:00Z\",\"level\":\"info\",\"msg\":\"test\"}";
    vmu_gcs_entry e;
    assert_int_equal(vmu_gcs_decode_entry(in, strlen(in), &e, NULL), 0);
    assert_int_equal(e.time.unix_sec, 1705314600); /* 2024-01-15 10:30:00 UTC */
    assert_int_equal(e.time.nsec, 0);
    assert_true(e.time.utc);
    vmu_gcs_entry_free(&e);
}

static void test_unmarshal_standard_warning(void **state)
{
    (void)state;
    const char *in = "{\"time\":\"2024-01-15T10:30:00Z\",\"level\":\"warning\",\"msg\":\"warning message\"}";
    vmu_gcs_entry e;
    assert_int_equal(vmu_gcs_decode_entry(in, strlen(in), &e, NULL), 0);
    assert_int_equal(e.level, VMU_LEVEL_WARN);
    assert_int_equal(e.msg_len, 15);
    assert_memory_equal(e.msg, "warning message", 15);
    vmu_gcs_entry_free(&e);
}

/* ---- json.Unmarshal against Go's own results ---- */

static int key_order(const void *a, const void *b)
{
    const vmu_field *x = *(const vmu_field *const *)a, *y = *(const vmu_field *const *)b;
    size_t n = x->key_len < y->key_len ? x->key_len : y->key_len;
    int c = n ? memcmp(x->key, y->key, n) : 0;
    return c ? c : (x->key_len > y->key_len) - (x->key_len < y->key_len);
}

static void marshal_value(vmu_buf *o, const vmu_value *v);

/* json.Marshal of a map: keys sorted, a repeated key keeps its last value. */
static void marshal_object(vmu_buf *o, const vmu_field *m, size_t n)
{
    const vmu_field **keep = malloc((n + 1) * sizeof *keep);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        size_t j = i + 1;
        while (j < n && !(m[j].key_len == m[i].key_len && memcmp(m[j].key, m[i].key, m[i].key_len) == 0))
            j++;
        if (j == n)
            keep[k++] = &m[i];
    }
    qsort(keep, k, sizeof *keep, key_order);
    vmu_buf_putc(o, '{');
    for (size_t i = 0; i < k; i++) {
        if (i)
            vmu_buf_putc(o, ',');
        vmu_format_json_string(keep[i]->key, keep[i]->key_len, o);
        vmu_buf_putc(o, ':');
        marshal_value(o, &keep[i]->value);
    }
    vmu_buf_putc(o, '}');
    free(keep);
}

static void marshal_value(vmu_buf *o, const vmu_value *v)
{
    switch (v->kind) {
    case VMU_VALUE_NULL:
        vmu_buf_puts(o, "null");
        break;
    case VMU_VALUE_BOOL:
        vmu_buf_puts(o, v->as.b ? "true" : "false");
        break;
    case VMU_VALUE_INT:
        vmu_buf_printf(o, "%lld", (long long)v->as.i);
        break;
    case VMU_VALUE_FLOAT:
        vmu_format_float_json(v->as.f, o);
        break;
    case VMU_VALUE_STRING:
        vmu_format_json_string(v->as.str.ptr, v->as.str.len, o);
        break;
    case VMU_VALUE_ARRAY:
        vmu_buf_putc(o, '[');
        for (size_t i = 0; i < v->as.array.count; i++) {
            if (i)
                vmu_buf_putc(o, ',');
            marshal_value(o, &v->as.array.items[i]);
        }
        vmu_buf_putc(o, ']');
        break;
    case VMU_VALUE_OBJECT:
        marshal_object(o, v->as.object.members, v->as.object.count);
        break;
    default:
        vmu_buf_puts(o, "?");
    }
}

/* The line the Go program printed for an entry. */
static void describe_entry(const char *json, size_t len, vmu_buf *o)
{
    vmu_gcs_entry e;
    if (vmu_gcs_decode_entry(json, len, &e, NULL) != 0) {
        vmu_buf_puts(o, "ERR ");
        vmu_format_go_quote(e.error, e.error_len, o);
    } else {
        vmu_buf_puts(o, "OK ");
        vmu_format_time_rfc3339(&e.time, true, o);
        vmu_buf_printf(o, " %s ", vmu_log_level_name(e.level));
        vmu_format_go_quote(e.msg, e.msg_len, o);
        vmu_buf_putc(o, ' ');
        marshal_object(o, e.fields, e.field_count);
    }
    vmu_gcs_entry_free(&e);
}

static void test_unmarshal_matches_go(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(gcs_unmarshal_golden); i++) {
        const gcs_golden *g = &gcs_unmarshal_golden[i];
        vmu_buf o;
        vmu_buf_init(&o);
        describe_entry(g->input, g->len, &o);
        vmu_buf_putc(&o, '\0');
        if (strcmp(o.data, g->expected) != 0)
            fail_msg("entry %zu (%.*s):\n  got  %s\n  want %s", i, (int)g->len, g->input, o.data,
                     g->expected);
        vmu_buf_free(&o);
    }
}

/* Nesting: encoding/json allows 10000 levels and not one more. */
static void test_unmarshal_nesting_limit(void **state)
{
    (void)state;
    for (int depth = 9999; depth <= 10001; depth++) {
        size_t len = 6 + 2 * (size_t)depth;
        char *in = malloc(len + 1);
        memcpy(in, "{\"d\":", 5);
        memset(in + 5, '[', (size_t)depth);
        memset(in + 5 + depth, ']', (size_t)depth);
        in[len - 1] = '}';
        vmu_gcs_entry e;
        vmu_err err;
        int rc = vmu_gcs_decode_entry(in, len, &e, &err);
        /* The object is one level, so depth arrays make depth + 1. */
        if (depth + 1 <= 10000) {
            assert_int_equal(rc, 0);
        } else {
            assert_int_equal(rc, -1);
            assert_string_equal(err.msg, "invalid character '[' exceeded max depth");
        }
        vmu_gcs_entry_free(&e);
        free(in);
    }
}

/* The RFC 3339 fast path agrees with the general Go parser wherever it
 * answers (it declines what it does not handle), both when its cache of the
 * date and minute misses (each text is new to it) and when it hits (the same
 * text again). */
static void test_time_fast_path_agrees(void **state)
{
    (void)state;
    unsigned seed = 11;
    int answered = 0;
    gcs_time_cache cache = {.valid = false};
    for (int i = 0; i < 20000; i++) {
        char raw[64];
        int year = (int)(rand_r(&seed) % 10000), month = (int)(rand_r(&seed) % 14),
            day = (int)(rand_r(&seed) % 33), hour = (int)(rand_r(&seed) % 25), min = (int)(rand_r(&seed) % 61),
            sec = (int)(rand_r(&seed) % 61);
        if (i % 4 == 0)
            year = (int)(rand_r(&seed) % 3); /* years 0, 1 and 2 */
        int n = snprintf(raw, sizeof raw, "\"%04d-%02d-%02dT%02d:%02d:%02d", year, month, day, hour, min, sec);
        int digits = (int)(rand_r(&seed) % 12);
        if (digits) {
            raw[n++] = rand_r(&seed) % 4 ? '.' : ',';
            for (int k = 0; k < digits; k++)
                raw[n++] = (char)('0' + rand_r(&seed) % 10);
        }
        switch (rand_r(&seed) % 3) {
        case 0:
            raw[n++] = 'Z';
            break;
        default:
            n += snprintf(raw + n, sizeof raw - (size_t)n, "%c%02d:%02d", rand_r(&seed) % 2 ? '+' : '-',
                          (int)(rand_r(&seed) % 30), (int)(rand_r(&seed) % 70));
        }
        raw[n++] = '"';
        vmu_time fast, general;
        vmu_buf err;
        vmu_buf_init(&err);
        int slow = gcs_time_unmarshal_json((const uint8_t *)raw, (size_t)n, &general, &err);
        vmu_buf_free(&err);
        for (int pass = 0; pass < 2; pass++) {
            if (gcs_time_fast_cached(&cache, (const uint8_t *)raw, (size_t)n, &fast) != 0) {
                if (pass == 1)
                    fail_msg("%.*s: declined on a cache hit after a miss answered", n, raw);
                break;
            }
            answered += pass;
            if (slow != 0 || fast.unix_sec != general.unix_sec || fast.nsec != general.nsec ||
                fast.utc_offset != general.utc_offset || fast.utc != general.utc)
                fail_msg("%.*s: fast %lld.%09d%+d, general %d %lld.%09d%+d", n, raw,
                         (long long)fast.unix_sec, fast.nsec, fast.utc_offset, slow,
                         (long long)general.unix_sec, general.nsec, general.utc_offset);
        }
    }
    assert_true(answered > 2000);
}

/* ---- hcsshim's TestParseGCSLogrus and friends ---- */

typedef struct parse_case {
    const char *name;
    const char *vm_id;
    const char *input;
    size_t records;
    const char *expected; /* the records, host time at the epoch */
} parse_case;

static const parse_case parse_cases[] = {
    {"single log entry", "test-vm-1",
     "{\"time\":\"2024-01-15T10:30:00Z\",\"level\":\"info\",\"msg\":\"test message\"}\n", 1,
     "{\"level\":\"info\",\"msg\":\"test message\"," EPOCH ",\"uvm-id\":\"test-vm-1\",\"vm.time\":\"2024-01-15T10:30:00Z\"}\n"},
    {"multiple log entries", "test-vm-2",
     "{\"time\":\"2024-01-15T10:30:00Z\",\"level\":\"info\",\"msg\":\"first\"}\n"
     "{\"time\":\"2024-01-15T10:30:01Z\",\"level\":\"warning\",\"msg\":\"second\"}\n",
     2,
     "{\"level\":\"info\",\"msg\":\"first\"," EPOCH ",\"uvm-id\":\"test-vm-2\",\"vm.time\":\"2024-01-15T10:30:00Z\"}\n"
     "{\"level\":\"warning\",\"msg\":\"second\"," EPOCH ",\"uvm-id\":\"test-vm-2\",\"vm.time\":\"2024-01-15T10:30:01Z\"}\n"},
    {"empty input", "test-vm-3", "", 0, ""},
    {"entry with custom fields", "test-vm-4",
     "{\"time\":\"2024-01-15T10:30:00Z\",\"level\":\"info\",\"msg\":\"test\",\"customKey\":\"customValue\"}\n", 1,
     "{\"customKey\":\"customValue\",\"level\":\"info\",\"msg\":\"test\"," EPOCH ",\"uvm-id\":\"test-vm-4\",\"vm.time\":\"2024-01-15T10:30:00Z\"}\n"},
};

static void run_stream(capture *c, const char *vm_id, const char *input, const vmu_gcs_options *opts)
{
    assert_int_equal(vmu_gcs_decode_stream(vm_id, input, strlen(input), opts, c->logger, NULL), 0);
}

static void test_parse_gcs_logrus_cases(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(parse_cases); i++) {
        const parse_case *pc = &parse_cases[i];
        capture c;
        capture_init(&c);
        run_stream(&c, pc->vm_id, pc->input, NULL);
        assert_int_equal(c.records, pc->records);
        assert_string_equal(c.text, pc->expected);
        capture_free(&c);
    }
}

static void test_parse_invalid_json(void **state)
{
    (void)state;
    capture c;
    capture_init(&c);
    run_stream(&c, "test-vm", "{\"invalid json", NULL);
    /* Cut off inside a string: Go reports the unexpected EOF, then the rest. */
    assert_string_equal(c.text,
                        "{\"error\":\"unexpected EOF\",\"level\":\"error\",\"msg\":\"gcs log read\"," EPOCH
                        ",\"uvm-id\":\"test-vm\"}\n"
                        "{\"level\":\"error\",\"msg\":\"gcs terminated\",\"stderr\":\"{\\\"invalid json\"," EPOCH
                        ",\"uvm-id\":\"test-vm\"}\n");
    capture_free(&c);
}

static void test_parse_trailing_content(void **state)
{
    (void)state;
    capture c;
    capture_init(&c);
    run_stream(&c, "test-vm",
               "{\"time\":\"2024-01-15T10:30:00Z\",\"level\":\"info\",\"msg\":\"last message\"}\n"
               "panic: something went wrong\n"
               "goroutine 1 [running]:\n"
               "main.main()\n"
               "\t/app/main.go:10 +0x45",
               NULL);
    assert_int_equal(c.records, 2);
    assert_string_equal(
        c.text,
        "{\"level\":\"info\",\"msg\":\"last message\"," EPOCH ",\"uvm-id\":\"test-vm\",\"vm.time\":\"2024-01-15T10:30:00Z\"}\n"
        "{\"level\":\"error\",\"msg\":\"gcs terminated\",\"stderr\":\"panic: something went wrong\\ngoroutine 1 "
        "[running]:\\nmain.main()\\n\\t/app/main.go:10 +0x45\"," EPOCH ",\"uvm-id\":\"test-vm\"}\n");
    capture_free(&c);
}

typedef struct time_probe {
    size_t records;
    vmu_value_kind kind;
    vmu_time time;
} time_probe;

static void time_sink(void *user, const vmu_log_record *record)
{
    time_probe *probe = user;
    probe->records++;
    for (size_t i = 0; i < record->field_count; i++) {
        const vmu_field *f = &record->fields[i];
        if (f->key_len == 7 && memcmp(f->key, "vm.time", 7) == 0) {
            probe->kind = f->value.kind;
            probe->time = f->value.as.time;
        }
    }
}

static void test_parse_vm_time_field(void **state)
{
    (void)state;
    vmu_logger *logger = vmu_logger_new();
    time_probe probe = {0, VMU_VALUE_NULL, {0}};
    vmu_logger_set_sink(logger, time_sink, &probe);
    const char *in = "{\"time\":\"2024-01-15T10:30:00Z\",\"level\":\"info\",\"msg\":\"test\"}\n";
    assert_int_equal(vmu_gcs_decode_stream("test-vm", in, strlen(in), NULL, logger, NULL), 0);
    /* vm.time is a time value (so JSON prints RFC3339Nano, text time.String()). */
    assert_int_equal(probe.records, 1);
    assert_int_equal(probe.kind, VMU_VALUE_TIME);
    assert_int_equal(probe.time.unix_sec, 1705314600);
    assert_int_equal(probe.time.nsec, 0);
    assert_true(probe.time.utc);
    vmu_logger_free(logger);
}

static void test_handler_creator(void **state)
{
    (void)state;
    vmu_gcs_decoder *d = vmu_gcs_decoder_new("test-vm", 7, NULL, NULL);
    assert_non_null(d);
    vmu_gcs_decoder_free(d);
    vmu_gcs_options opts;
    vmu_gcs_options_init(&opts);
    opts.max_entry_bytes = VMU_GCS_MAX_ENTRY_BYTES_LIMIT + 1;
    assert_null(vmu_gcs_decoder_new("test-vm", 7, &opts, NULL));
    assert_null(vmu_gcs_decoder_new(NULL, 3, NULL, NULL));
}

/* ---- the stream in any chunking ---- */

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    rewind(f);
    char *data = malloc((size_t)n + 1);
    assert_int_equal(fread(data, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return data;
}

static void test_chunking_gives_same_records(void **state)
{
    (void)state;
    DIR *dir = opendir("tests/gcs_cases");
    assert_non_null(dir);
    struct dirent *ent;
    size_t files = 0;
    static const size_t max_entries[] = {0, 64, 700};
    /* Single bytes for the small streams; the large ones (deep nesting,
     * long strings) in random pieces, which keeps the run short under
     * valgrind. */
    static const size_t chunkings[] = {1, 7, 13};
    static const size_t large_chunkings[] = {5, 7, 13};
    while ((ent = readdir(dir)) != NULL) {
        if (!strstr(ent->d_name, ".jsonl"))
            continue;
        char path[512];
        snprintf(path, sizeof path, "tests/gcs_cases/%s", ent->d_name);
        size_t len;
        char *data = read_file(path, &len);
        for (int resync = 0; resync <= 1; resync++) {
            for (size_t m = 0; m < ARRAY_LEN(max_entries); m++) {
                capture whole;
                capture_init(&whole);
                decode_chunked(&whole, data, len, 0, resync, max_entries[m], NULL);
                for (size_t k = 0; k < ARRAY_LEN(chunkings); k++) {
                    size_t chunking = len > 8192 ? large_chunkings[k] : chunkings[k];
                    capture pieces;
                    capture_init(&pieces);
                    decode_chunked(&pieces, data, len, chunking, resync, max_entries[m], NULL);
                    if (strcmp(whole.text, pieces.text) != 0)
                        fail_msg("%s resync=%d max=%zu chunking=%zu: records differ", ent->d_name,
                                 resync, max_entries[m], chunking);
                    capture_free(&pieces);
                }
                capture_free(&whole);
            }
        }
        free(data);
        files++;
    }
    closedir(dir);
    assert_true(files >= 50);
}

/* ---- failing sources ---- */

typedef struct failing_source {
    const char *data;
    size_t len, pos;
    size_t fail_at; /* offset where the error comes */
    int err;
    int failures;   /* how many reads fail before data flows again */
    size_t step;
} failing_source;

static ptrdiff_t failing_read(void *user, void *buf, size_t cap)
{
    failing_source *s = user;
    if (s->pos == s->fail_at && s->failures > 0) {
        s->failures--;
        errno = s->err;
        return -1;
    }
    size_t n = s->len - s->pos;
    if (s->pos < s->fail_at && n > s->fail_at - s->pos)
        n = s->fail_at - s->pos;
    if (n > s->step)
        n = s->step;
    if (n > cap)
        n = cap;
    memcpy(buf, s->data + s->pos, n);
    s->pos += n;
    return (ptrdiff_t)n;
}

typedef struct errno_case {
    int err;
    int failures;
    const char *expected;
} errno_case;

#define ENTRY_A "{\"msg\":\"a\"}\n"
#define REC_A "{\"level\":\"info\",\"msg\":\"a\"," EPOCH ",\"uvm-id\":\"test-vm\",\"vm.time\":\"0001-01-01T00:00:00Z\"}\n"
#define REST(text) "{\"level\":\"error\",\"msg\":\"gcs terminated\",\"stderr\":\"" text "\"," EPOCH ",\"uvm-id\":\"test-vm\"}\n"
#define READ_ERROR(text) "{\"error\":\"read src: " text "\",\"level\":\"error\",\"msg\":\"gcs log read\"," EPOCH ",\"uvm-id\":\"test-vm\"}\n"

static void test_source_errors(void **state)
{
    (void)state;
    /* The stream: one entry, then an entry cut by the failure; what follows
     * the failure is still read, as Go's io.ReadAll does. */
    const char *stream = ENTRY_A "{\"msg\":\"b\",\"x\":1}\n{\"msg\":\"c\"}\n";
    size_t fail_at = strlen(ENTRY_A) + 9; /* inside the second entry */
    const errno_case cases[] = {
        {EIO, 1, REC_A READ_ERROR("input/output error") REST("{\\\"msg\\\":\\\"b\\\",\\\"x\\\":1}\\n{\\\"msg\\\":\\\"c\\\"}")},
        {ECONNRESET, 1, REC_A REST("{\\\"msg\\\":\\\"b\\\",\\\"x\\\":1}\\n{\\\"msg\\\":\\\"c\\\"}")},
        {ECONNABORTED, 1, REC_A REST("{\\\"msg\\\":\\\"b\\\",\\\"x\\\":1}\\n{\\\"msg\\\":\\\"c\\\"}")},
        {EAGAIN, 1, REC_A READ_ERROR("resource temporarily unavailable") REST("{\\\"msg\\\":\\\"b\\\",\\\"x\\\":1}\\n{\\\"msg\\\":\\\"c\\\"}")},
        {EBADF, 1, REC_A READ_ERROR("bad file descriptor") REST("{\\\"msg\\\":\\\"b\\\",\\\"x\\\":1}\\n{\\\"msg\\\":\\\"c\\\"}")},
        /* The read after a failure fails too: io.ReadAll stops there. */
        {EIO, 2, REC_A READ_ERROR("input/output error") REST("{\\\"msg\\\":\\\"b")},
        {ECONNRESET, 2, REC_A REST("{\\\"msg\\\":\\\"b")},
        /* EINTR is retried: nothing is lost. */
        {EINTR, 3,
         REC_A "{\"level\":\"info\",\"msg\":\"b\"," EPOCH ",\"uvm-id\":\"test-vm\",\"vm.time\":\"0001-01-01T00:00:00Z\",\"x\":1}\n"
               "{\"level\":\"info\",\"msg\":\"c\"," EPOCH ",\"uvm-id\":\"test-vm\",\"vm.time\":\"0001-01-01T00:00:00Z\"}\n"},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        for (size_t step = 1; step <= 64; step *= 4) {
            capture c;
            capture_init(&c);
            failing_source src = {stream, strlen(stream), 0, fail_at, cases[i].err, cases[i].failures, step};
            vmu_gcs_stats stats;
            assert_int_equal(vmu_gcs_forward("test-vm", failing_read, &src, "src", NULL, c.logger, &stats), 0);
            if (strcmp(c.text, cases[i].expected) != 0)
                fail_msg("errno %d x%d step %zu:\n got  %s\n want %s", cases[i].err, cases[i].failures,
                         step, c.text, cases[i].expected);
            capture_free(&c);
        }
    }
}

/* A failure after a syntax error: Go is already reading the rest, and the
 * error ends that read quietly. */
static void test_source_error_after_syntax_error(void **state)
{
    (void)state;
    const char *stream = ENTRY_A "garbage here\nmore";
    capture c;
    capture_init(&c);
    failing_source src = {stream, strlen(stream), 0, strlen(stream) - 4, EIO, 1, 1000};
    assert_int_equal(vmu_gcs_forward("test-vm", failing_read, &src, "src", NULL, c.logger, NULL), 0);
    assert_string_equal(c.text, REC_A REST("garbage here\\nmore"));
    capture_free(&c);
}

/* A failure after a value that Go's scanner already rejects (a token out
 * of place that yajl has not seen end): a syntax error, not a read error. */
static void test_source_error_after_partial_bad_token(void **state)
{
    (void)state;
    const char *stream = ENTRY_A "{\"a\":1 t";
    for (int resync = 0; resync <= 1; resync++) {
        capture c;
        capture_init(&c);
        failing_source src = {stream, strlen(stream), 0, strlen(stream), EIO, 1, 1000};
        vmu_gcs_options opts;
        vmu_gcs_options_init(&opts);
        opts.resync = resync;
        assert_int_equal(vmu_gcs_forward("test-vm", failing_read, &src, "src", &opts, c.logger, NULL), 0);
        if (!resync)
            assert_string_equal(c.text, REC_A REST("{\\\"a\\\":1 t"));
        else /* resync reports the read failure it saw while gathering text */
            assert_string_equal(c.text, REC_A READ_ERROR("input/output error") REST("{\\\"a\\\":1 t"));
        capture_free(&c);
    }
}

/* ---- descriptors ---- */

typedef struct writer_job {
    int fd;
    const char *data;
    size_t len;
    bool reset; /* end with a TCP reset instead of a close */
} writer_job;

static void *writer_thread(void *arg)
{
    writer_job *job = arg;
    size_t off = 0;
    while (off < job->len) {
        size_t n = job->len - off < 3 ? job->len - off : 3;
        ssize_t w = write(job->fd, job->data + off, n);
        if (w < 0) {
            if (errno == EINTR || errno == EAGAIN)
                continue;
            break;
        }
        off += (size_t)w;
        usleep(200);
    }
    if (job->reset) {
        struct linger lg = {1, 0};
        setsockopt(job->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    }
    close(job->fd);
    return NULL;
}

static const char fd_stream[] = ENTRY_A "{\"msg\":\"b\"}\n{\"msg\":\"cut";

static const char fd_expected_eof[] =
    REC_A "{\"level\":\"info\",\"msg\":\"b\"," EPOCH ",\"uvm-id\":\"test-vm\",\"vm.time\":\"0001-01-01T00:00:00Z\"}\n"
          "{\"error\":\"unexpected EOF\",\"level\":\"error\",\"msg\":\"gcs log read\"," EPOCH ",\"uvm-id\":\"test-vm\"}\n"
          REST("{\\\"msg\\\":\\\"cut");

static void forward_from(int read_fd, writer_job *job, capture *c)
{
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, writer_thread, job), 0);
    vmu_gcs_stats stats;
    assert_int_equal(vmu_gcs_forward_fd("test-vm", read_fd, "/dev/stdin", NULL, c->logger, &stats), 0);
    pthread_join(t, NULL);
    close(read_fd);
    assert_int_equal(stats.bytes, job->len);
}

static void test_forward_pipe(void **state)
{
    (void)state;
    for (int nonblocking = 0; nonblocking <= 1; nonblocking++) {
        int fds[2];
        assert_int_equal(pipe(fds), 0);
        if (nonblocking)
            fcntl(fds[0], F_SETFL, fcntl(fds[0], F_GETFL) | O_NONBLOCK);
        capture c;
        capture_init(&c);
        writer_job job = {fds[1], fd_stream, strlen(fd_stream), false};
        forward_from(fds[0], &job, &c);
        assert_string_equal(c.text, fd_expected_eof);
        capture_free(&c);
    }
}

typedef struct socket_source {
    int fd;
    bool saw_reset;
} socket_source;

static ptrdiff_t socket_read(void *user, void *buf, size_t cap)
{
    socket_source *s = user;
    ssize_t n = read(s->fd, buf, cap);
    if (n < 0 && errno == ECONNRESET)
        s->saw_reset = true;
    return n;
}

static void test_forward_tcp_reset(void **state)
{
    (void)state;
    int listener = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(listener >= 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof addr;
    assert_int_equal(bind(listener, (struct sockaddr *)&addr, sizeof addr), 0);
    assert_int_equal(listen(listener, 1), 0);
    assert_int_equal(getsockname(listener, (struct sockaddr *)&addr, &alen), 0);
    int client = socket(AF_INET, SOCK_STREAM, 0);
    assert_int_equal(connect(client, (struct sockaddr *)&addr, sizeof addr), 0);
    int server = accept(listener, NULL, NULL);
    assert_true(server >= 0);
    close(listener);
    /* The guest side resets the connection after writing: the read gets
     * ECONNRESET, which ends the stream quietly (no "gcs log read"). */
    writer_job job = {client, fd_stream, strlen(fd_stream), true};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, writer_thread, &job), 0);
    pthread_join(t, NULL);
    capture c;
    capture_init(&c);
    socket_source src = {server, false};
    vmu_gcs_stats stats;
    assert_int_equal(vmu_gcs_forward("test-vm", socket_read, &src, "vsock", NULL, c.logger, &stats), 0);
    close(server);
    assert_true(src.saw_reset);
    assert_int_equal(count_of(c.text, "\"gcs log read\""), 0);
    /* Whatever arrived before the reset is decoded; the rest of a cut entry
     * is "gcs terminated". */
    assert_true(stats.bytes <= strlen(fd_stream));
    if (stats.bytes == strlen(fd_stream))
        assert_string_equal(c.text, REC_A "{\"level\":\"info\",\"msg\":\"b\"," EPOCH
                                          ",\"uvm-id\":\"test-vm\",\"vm.time\":\"0001-01-01T00:00:00Z\"}\n"
                                          REST("{\\\"msg\\\":\\\"cut"));
    capture_free(&c);
}

/* ---- resync mode ---- */

static void test_resync_bad_entry_goes_on(void **state)
{
    (void)state;
    capture c;
    capture_init(&c);
    decode_text(&c,
                "{\"msg\":\"a\"}\n{\"level\":\"bogus\",\"msg\":\"x\"}\n123\n{\"msg\":\"b\"}\n{\"msg\":\"c\",\"big\":1e999}\n",
                true);
    assert_string_equal(
        c.text,
        REC_A
        "{\"entry\":\"{\\\"level\\\":\\\"bogus\\\",\\\"msg\\\":\\\"x\\\"}\",\"error\":\"not a valid logrus Level: \\\"bogus\\\"\","
        "\"level\":\"error\",\"msg\":\"gcs log read\"," EPOCH ",\"uvm-id\":\"test-vm\"}\n"
        "{\"entry\":\"123\",\"error\":\"json: cannot unmarshal number into Go value of type main.standard\","
        "\"level\":\"error\",\"msg\":\"gcs log read\"," EPOCH ",\"uvm-id\":\"test-vm\"}\n"
        "{\"level\":\"info\",\"msg\":\"b\"," EPOCH ",\"uvm-id\":\"test-vm\",\"vm.time\":\"0001-01-01T00:00:00Z\"}\n"
        "{\"entry\":\"{\\\"msg\\\":\\\"c\\\",\\\"big\\\":1e999}\",\"error\":\"json: cannot unmarshal number 1e999 into Go value of type float64\","
        "\"level\":\"error\",\"msg\":\"gcs log read\"," EPOCH ",\"uvm-id\":\"test-vm\"}\n");
    capture_free(&c);
}

static void test_resync_text_blocks(void **state)
{
    (void)state;
    capture c;
    capture_init(&c);
    decode_text(&c,
                "{\"msg\":\"a\"}\n"
                "panic: boom\n\ngoroutine 1:\n  {not json\n"
                "{\"msg\":\"b\"}\n"
                "{\"msg\":\"c\",,}\n"
                "  {\"msg\":\"d\"}\n"
                "trailing text\n",
                true);
    assert_string_equal(
        c.text,
        REC_A
        "{\"level\":\"error\",\"msg\":\"gcs output\",\"stderr\":\"panic: boom\\n\\ngoroutine 1:\"," EPOCH ",\"uvm-id\":\"test-vm\"}\n"
        "{\"level\":\"error\",\"msg\":\"gcs output\",\"stderr\":\"{not json\"," EPOCH ",\"uvm-id\":\"test-vm\"}\n"
        "{\"level\":\"info\",\"msg\":\"b\"," EPOCH ",\"uvm-id\":\"test-vm\",\"vm.time\":\"0001-01-01T00:00:00Z\"}\n"
        "{\"level\":\"error\",\"msg\":\"gcs output\",\"stderr\":\"{\\\"msg\\\":\\\"c\\\",,}\"," EPOCH ",\"uvm-id\":\"test-vm\"}\n"
        "{\"level\":\"info\",\"msg\":\"d\"," EPOCH ",\"uvm-id\":\"test-vm\",\"vm.time\":\"0001-01-01T00:00:00Z\"}\n"
        "{\"level\":\"error\",\"msg\":\"gcs terminated\",\"stderr\":\"trailing text\"," EPOCH ",\"uvm-id\":\"test-vm\"}\n");
    capture_free(&c);
}

/* An entry cut by the next line: the entry on that line is kept. */
static void test_resync_error_at_line_start(void **state)
{
    (void)state;
    capture c;
    capture_init(&c);
    decode_text(&c, "{\"msg\":\"cut\",\n{\"msg\":\"a\"}\n{\"x\":\n{\"msg\":\"b\"} 5}\n", true);
    assert_string_equal(
        c.text,
        "{\"level\":\"error\",\"msg\":\"gcs output\",\"stderr\":\"{\\\"msg\\\":\\\"cut\\\",\"," EPOCH ",\"uvm-id\":\"test-vm\"}\n"
        REC_A
        "{\"level\":\"error\",\"msg\":\"gcs output\",\"stderr\":\"{\\\"x\\\":\"," EPOCH ",\"uvm-id\":\"test-vm\"}\n"
        "{\"level\":\"info\",\"msg\":\"b\"," EPOCH ",\"uvm-id\":\"test-vm\",\"vm.time\":\"0001-01-01T00:00:00Z\"}\n"
        "{\"entry\":\"5\",\"error\":\"json: cannot unmarshal number into Go value of type main.standard\","
        "\"level\":\"error\",\"msg\":\"gcs log read\"," EPOCH ",\"uvm-id\":\"test-vm\"}\n"
        "{\"level\":\"error\",\"msg\":\"gcs terminated\",\"stderr\":\"}\"," EPOCH ",\"uvm-id\":\"test-vm\"}\n");
    capture_free(&c);
}

/* Non-space characters of the JSON string values named `key` in the
 * captured records. */
static size_t quoted_non_space(const char *text, const char *key)
{
    char pattern[32];
    snprintf(pattern, sizeof pattern, "\"%s\":\"", key);
    size_t n = 0;
    for (const char *p = text; (p = strstr(p, pattern)) != NULL;) {
        p += strlen(pattern);
        for (; *p && *p != '"'; p++) {
            if (*p == '\\') {
                p++;
                if (*p == 'n' || *p == 't' || *p == 'r')
                    continue;
                if (*p == 'u')
                    p += 4;
            } else if (*p == ' ') {
                continue;
            }
            n++;
        }
    }
    return n;
}

/* Resync mode drops no byte but white space: every other byte of the
 * stream comes back, in a forwarded entry or in an "entry" or "stderr"
 * field. The pieces are chosen so that only {"msg":"ok"} can be forwarded
 * (12 non-space bytes each). */
static void test_resync_drops_only_white_space(void **state)
{
    (void)state;
    static const char *const pieces[] = {
        "{\"msg\":\"ok\"}", "garbage", "{\"level\":\"nope\"}", "[1,2]", "{\"a\":", " ", "\t",
        "\"str\"", "panic: x", "{\"msg\":\"y\",,}", "nul", "7", "\x0b", "]", ":",
    };
    unsigned seed = 42;
    for (int round = 0; round < 300; round++) {
        char stream[4096];
        size_t len = 0;
        int n = 1 + (int)(rand_r(&seed) % 24);
        for (int i = 0; i < n; i++) {
            const char *p = pieces[rand_r(&seed) % ARRAY_LEN(pieces)];
            size_t pl = strlen(p);
            memcpy(stream + len, p, pl);
            len += pl;
            if (rand_r(&seed) % 2)
                stream[len++] = '\n';
        }
        stream[len] = '\0';
        capture c;
        capture_init(&c);
        decode_chunked(&c, stream, len, (size_t)round % 5, true, 0, NULL);
        size_t want = 0;
        for (size_t i = 0; i < len; i++)
            want += !gcs_json_space((uint8_t)stream[i]);
        size_t got = quoted_non_space(c.text, "stderr") + quoted_non_space(c.text, "entry") +
                     12 * count_of(c.text, "\"vm.time\"");
        /* \v is Unicode white space: trimmed at the ends of a block. */
        size_t vt = 0;
        for (size_t i = 0; i < len; i++)
            vt += stream[i] == '\v';
        if (got > want || got + vt < want)
            fail_msg("round %d: %zu of %zu bytes came back\n%s\n%s", round, got, want, stream, c.text);
        capture_free(&c);
    }
}

/* ---- bounded memory ---- */

static size_t heap_in_use(void)
{
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;
}

/* Decodes one entry pre + size bytes of fill + post, fed in 64 KiB pieces
 * with no entry limit in the way; returns the decoder's lexing work and
 * checks the entry came out as a record. */
static uint64_t work_of_long_token(const char *pre, char fill, const char *post, size_t size)
{
    capture c;
    capture_init(&c);
    vmu_gcs_options opts;
    vmu_gcs_options_init(&opts);
    opts.max_entry_bytes = VMU_GCS_MAX_ENTRY_BYTES_LIMIT;
    vmu_gcs_decoder *d = vmu_gcs_decoder_new("test-vm", 7, &opts, c.logger);
    assert_non_null(d);
    size_t pre_len = strlen(pre), post_len = strlen(post);
    size_t len = pre_len + size + post_len;
    char *text = malloc(len);
    assert_non_null(text);
    memcpy(text, pre, pre_len);
    memset(text + pre_len, fill, size);
    memcpy(text + pre_len + size, post, post_len);
    for (size_t i = 0; i < len; i += 65536)
        assert_int_equal(vmu_gcs_decoder_feed(d, text + i, len - i < 65536 ? len - i : 65536), 0);
    assert_int_equal(vmu_gcs_decoder_finish(d), 0);
    uint64_t work = gcs_decoder_lexed_bytes(d);
    vmu_gcs_decoder_free(d);
    free(text);
    assert_int_equal(c.records, 1);
    assert_null(strstr(c.text, "\"error\""));
    /* A long string is in the record (a long number's value is 0). */
    assert_true(fill == '0' || c.len > size);
    capture_free(&c);
    return work;
}

/* A token (string, number) far longer than a piece of input: decoding
 * works on each byte a bounded number of times, so an entry twice as long
 * costs twice as much, whatever the entry limit. */
static void test_long_token_linear(void **state)
{
    (void)state;
    static const struct {
        const char *pre;
        char fill;
        const char *post;
    } shapes[] = {
        {"{\"level\":\"info\",\"msg\":\"", 'a', "\"}\n"},
        {"{\"msg\":\"x\",\"deep\":[{\"s\":\"", 'b', "\"}]}\n"},
        {"{\"msg\":\"x\",\"n\":0.", '0', "1}\n"},
        {"{\"msg\":\"x\",\"", 'k', "\":1}\n"},
    };
    const size_t n = 2u << 20;
    for (size_t i = 0; i < ARRAY_LEN(shapes); i++) {
        uint64_t w1 = work_of_long_token(shapes[i].pre, shapes[i].fill, shapes[i].post, n);
        uint64_t w2 = work_of_long_token(shapes[i].pre, shapes[i].fill, shapes[i].post, 2 * n);
        double ratio = (double)w2 / (double)w1;
        print_message("# shape %zu: work %llu for %zu bytes, %llu for %zu (ratio %.2f)\n", i,
                      (unsigned long long)w1, n, (unsigned long long)w2, 2 * n, ratio);
        assert_true(w1 >= n);
        assert_true(ratio > 1.9 && ratio < 2.1);
    }
}

/* The heap in use when the last record reached the sink, before it was
 * formatted: the decoded entry and what the decoder still holds. */
static size_t heap_at_record;

static void heap_sampling_sink(void *user, const vmu_log_record *record)
{
    heap_at_record = heap_in_use();
    capture_sink(user, record);
}

/* An entry holding an array of half a million zeros (1 MiB of text):
 * the decoder's heap, while it reads the entry and when the record goes
 * out, stays near one vmu_value (24 bytes) a value. */
static void test_array_of_small_values_heap(void **state)
{
    (void)state;
    const size_t count = 512u * 1024u;
    const char *pre = "{\"level\":\"info\",\"msg\":\"x\",\"a\":[[";
    size_t len = strlen(pre) + 2 * count + 4;
    char *text = malloc(len);
    assert_non_null(text);
    size_t n = strlen(pre);
    memcpy(text, pre, n);
    for (size_t i = 0; i < count; i++) {
        text[n++] = '0';
        text[n++] = ',';
    }
    n--; /* the last comma */
    memcpy(text + n, "]]}\n", 4);
    n += 4;
    capture c;
    capture_init(&c);
    vmu_logger_set_sink(c.logger, heap_sampling_sink, &c);
    vmu_gcs_options opts;
    vmu_gcs_options_init(&opts);
    opts.max_entry_bytes = VMU_GCS_MAX_ENTRY_BYTES_LIMIT;
    malloc_trim(0);
    size_t base = heap_in_use();
    vmu_gcs_decoder *d = vmu_gcs_decoder_new("test-vm", 7, &opts, c.logger);
    assert_non_null(d);
    size_t peak = 0;
    for (size_t i = 0; i < n; i += 65536) {
        assert_int_equal(vmu_gcs_decoder_feed(d, text + i, n - i < 65536 ? n - i : 65536), 0);
        size_t now = heap_in_use();
        if (now > peak)
            peak = now;
    }
    assert_int_equal(vmu_gcs_decoder_finish(d), 0);
    vmu_gcs_decoder_free(d);
    free(text);
    assert_int_equal(c.records, 1);
    assert_int_equal(count_of(c.text, "0,"), count - 1);
    size_t budget = count * (sizeof(vmu_value) + 8) + 2u * 1024u * 1024u;
    print_message("# heap: %zu bytes while reading, %zu at the record, for %zu values\n", peak - base,
                  heap_at_record - base, count);
    assert_true(peak - base < budget);
    assert_true(heap_at_record - base < budget);
    capture_free(&c);
}

static void test_oversized_entry_bounded(void **state)
{
    (void)state;
    for (int resync = 0; resync <= 1; resync++) {
        capture c;
        capture_init(&c);
        vmu_gcs_options opts;
        vmu_gcs_options_init(&opts);
        opts.resync = resync;
        opts.max_entry_bytes = 65536;
        vmu_gcs_decoder *d = vmu_gcs_decoder_new("test-vm", 7, &opts, c.logger);
        const char *head = "{\"msg\":\"huge\",\"blob\":\"";
        assert_int_equal(vmu_gcs_decoder_feed(d, head, strlen(head)), 0);
        char chunk[65536];
        memset(chunk, 'x', sizeof chunk);
        size_t base = heap_in_use();
        size_t peak = 0;
        /* 4 MiB in one string: the heap may not follow it. */
        for (int i = 0; i < 64; i++) {
            assert_int_equal(vmu_gcs_decoder_feed(d, chunk, sizeof chunk), 0);
            size_t now = heap_in_use();
            if (now > peak)
                peak = now;
        }
        const char *tail = "\"}\n{\"msg\":\"after\"}\n";
        assert_int_equal(vmu_gcs_decoder_feed(d, tail, strlen(tail)), 0);
        assert_int_equal(vmu_gcs_decoder_finish(d), 0);
        vmu_gcs_decoder_free(d);
        assert_true(peak < base + 1024u * 1024u);
        assert_int_equal(c.records, 2);
        size_t size = strlen(head) + 64u * 65536u + 2;
        char want[128];
        snprintf(want, sizeof want, "\"size\":%zu", size);
        assert_non_null(strstr(c.text, want));
        assert_non_null(strstr(c.text, "\"error\":\"gcs log entry exceeds max_entry_bytes (65536)\""));
        assert_non_null(strstr(c.text, "\"msg\":\"after\""));
        /* The record shows the first 4 KiB of the entry. */
        const char *entry = strstr(c.text, "\"entry\":\"");
        assert_non_null(entry);
        const char *end = entry + 9;
        while (*end != '"')
            end += *end == '\\' ? 2 : 1;
        /* 4096 bytes, of which the 7 quotes are escaped in the record. */
        assert_int_equal((size_t)(end - entry - 9), 4096 + 7);
        capture_free(&c);
    }
}

static void test_text_after_error_in_pieces(void **state)
{
    (void)state;
    for (int resync = 0; resync <= 1; resync++) {
        capture c;
        capture_init(&c);
        size_t len = 10000;
        char *text = malloc(len + 1);
        memset(text, 'z', len);
        memcpy(text, "oops ", 5);
        text[len] = '\0';
        decode_chunked(&c, text, len, 13, resync, 1000, NULL);
        /* 10 pieces of 1000 bytes, "gcs output" (resync) or "gcs terminated"
         * until the last, which is always "gcs terminated". */
        assert_int_equal(c.records, 10);
        assert_int_equal(count_of(c.text, "\"gcs terminated\""), resync ? 1 : 10);
        for (const char *p = c.text; (p = strstr(p, "\"stderr\":\"")) != NULL; p++) {
            const char *q = strchr(p + 10, '"');
            assert_int_equal((size_t)(q - p - 10), 1000);
        }
        free(text);
        capture_free(&c);
    }
}

/* A cut never splits a character. */
static void test_pieces_keep_characters_whole(void **state)
{
    (void)state;
    capture c;
    capture_init(&c);
    char text[64];
    strcpy(text, "x garbage \xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9 end");
    decode_chunked(&c, text, strlen(text), 0, false, 12, NULL);
    assert_int_equal(count_of(c.text, "\\ufffd"), 0);
    assert_int_equal(count_of(c.text, "\xc3\xa9"), 4);
    capture_free(&c);
}

/* ---- levels, stats, API edges ---- */

static void test_host_level_filters(void **state)
{
    (void)state;
    capture c;
    capture_init(&c);
    vmu_logger_set_level(c.logger, VMU_LEVEL_WARN);
    vmu_gcs_stats stats;
    const char *in = "{\"level\":\"debug\",\"msg\":\"d\"}{\"level\":\"warn\",\"msg\":\"w\"}{\"level\":\"fatal\",\"msg\":\"f\"}";
    assert_int_equal(vmu_gcs_decode_stream("vm", in, strlen(in), NULL, c.logger, &stats), 0);
    assert_int_equal(stats.entries, 3);
    assert_int_equal(stats.bytes, strlen(in));
    assert_int_equal(c.records, 2);
    assert_int_equal(count_of(c.text, "\"level\":\"error\",\"msg\":\"f\""), 1);
    capture_free(&c);
}

static void test_api_edges(void **state)
{
    (void)state;
    vmu_gcs_decoder *d = vmu_gcs_decoder_new("vm", 2, NULL, NULL);
    assert_int_equal(vmu_gcs_decoder_feed(d, NULL, 1), -1);
    assert_int_equal(vmu_gcs_decoder_feed(d, NULL, 0), 0);
    assert_int_equal(vmu_gcs_decoder_finish(d), 0);
    assert_int_equal(vmu_gcs_decoder_feed(d, "{}", 2), -1);
    assert_int_equal(vmu_gcs_decoder_finish(d), -1);
    assert_int_equal(vmu_gcs_decoder_fail(d, "x", 1, false), -1);
    vmu_gcs_decoder_free(d);
    vmu_gcs_decoder_free(NULL);
    assert_int_equal(vmu_gcs_decoder_feed(NULL, "x", 1), -1);
    vmu_gcs_entry e;
    assert_int_equal(vmu_gcs_decode_entry(NULL, 3, &e, NULL), -1);
    vmu_gcs_entry_free(&e);
    vmu_gcs_entry_free(NULL);
}

/* Duplicate keys: the decoded entry keeps the last, as a Go map. */
static void test_entry_keys_unique(void **state)
{
    (void)state;
    const char *in = "{\"a\":1,\"b\":2,\"a\":\"three\",\"b\":null,\"c\":true}";
    vmu_gcs_entry e;
    assert_int_equal(vmu_gcs_decode_entry(in, strlen(in), &e, NULL), 0);
    assert_int_equal(e.field_count, 3);
    const vmu_field *a = find_field(&e, "a");
    assert_int_equal(a->value.kind, VMU_VALUE_STRING);
    assert_int_equal(find_field(&e, "b")->value.kind, VMU_VALUE_NULL);
    vmu_gcs_entry_free(&e);
}

/* ---- allocation failures ---- */

static void test_allocation_failures(void **state)
{
    (void)state;
    const char *stream = "{\"time\":\"2024-01-15T10:30:00+01:00\",\"level\":\"warn\",\"msg\":\"caf\\u00e9\","
                         "\"o\":{\"a\":[1,2.5,{\"b\":null}]},\"n\":1e400}\n{\"level\":\"x\"}\n"
                         "garbage\n{\"msg\":\"y\"}\n";
    for (int resync = 0; resync <= 1; resync++) {
        vmu_gcs_options opts;
        vmu_gcs_options_init(&opts);
        opts.resync = resync;
        opts.max_entry_bytes = 40;
        bool succeeded = false;
        for (long n = 0; n < 400 && !succeeded; n++) {
            capture c;
            capture_init(&c);
            vmu_alloc_fail_after(n);
            int rc = vmu_gcs_decode_stream("vm", stream, strlen(stream), &opts, c.logger, NULL);
            vmu_gcs_entry e;
            int rc2 = vmu_gcs_decode_entry(stream, 100, &e, NULL);
            vmu_alloc_fail_after(-1);
            vmu_gcs_entry_free(&e);
            assert_true(rc == 0 || rc == -1);
            (void)rc2;
            succeeded = rc == 0;
            capture_free(&c);
        }
        assert_true(succeeded);
    }
}

/* ---- Go's scanner and yajl agree on what is JSON ---- */

/* The decoder relies on this: fed a stream, yajl (several values allowed)
 * reports an error exactly when Go's scanner would, after the same number
 * of complete top-level values, once the last token is complete (yajl
 * judges a token's place when it ends; the decoder asks Go's scanner about
 * an unfinished one). A newline at the end completes any token. */
typedef struct value_counter {
    int depth;
    int values;
} value_counter;

static int count_scalar(void *ctx)
{
    value_counter *v = ctx;
    if (v->depth == 0)
        v->values++;
    return 1;
}
static int count_bool(void *ctx, int b) { (void)b; return count_scalar(ctx); }
static int count_number(void *ctx, const char *s, size_t n) { (void)s; (void)n; return count_scalar(ctx); }
static int count_string(void *ctx, const unsigned char *s, size_t n) { (void)s; (void)n; return count_scalar(ctx); }
static int count_open(void *ctx) { ((value_counter *)ctx)->depth++; return 1; }
static int count_close(void *ctx)
{
    value_counter *v = ctx;
    if (--v->depth == 0)
        v->values++;
    return 1;
}
static int count_key(void *ctx, const unsigned char *s, size_t n) { (void)ctx; (void)s; (void)n; return 1; }

static const yajl_callbacks counting = {count_scalar, count_bool, NULL, NULL, count_number, count_string,
                                        count_open, count_key, count_close, count_open, count_close};

/* yajl over the stream: 1 if it failed; *values completed before. */
static int yajl_stream(const uint8_t *s, size_t n, int *values)
{
    value_counter v = {0, 0};
    yajl_handle h = yajl_alloc(&counting, NULL, &v);
    yajl_config(h, yajl_allow_multiple_values, 1);
    yajl_config(h, yajl_dont_validate_strings, 1);
    yajl_status st = yajl_parse(h, s, n);
    yajl_free(h);
    *values = v.values;
    return st != yajl_status_ok;
}

/* Go's json.Decoder over the stream, scanner only. */
static int go_stream(gcs_json_scanner *sc, const uint8_t *s, size_t n, int *values)
{
    gcs_scan_reset(sc);
    *values = 0;
    for (size_t i = 0; i < n; i++) {
        int op = gcs_scan_step(sc, s[i]);
        if (op == GCS_SCAN_END) {
            /* The value ended before this byte, which starts the next. */
            (*values)++;
            gcs_scan_reset(sc);
            op = gcs_scan_step(sc, s[i]);
        }
        if (op == GCS_SCAN_ERROR)
            return 1;
        if (sc->end_top) {
            (*values)++;
            gcs_scan_reset(sc);
        }
    }
    return 0;
}

static void test_scanner_agrees_with_yajl(void **state)
{
    (void)state;
    static const char alphabet[] = "{}[]:,\"\\ \n\t0123456789-+.eEtrufalsn\x01\xff\xc3\xa9u/bx";
    gcs_json_scanner *sc = malloc(sizeof *sc);
    unsigned seed = 7;
    size_t clean = 0, failed = 0;
    static const char *const seeds[] = {"{\"a\":[1,2.5e3,true,null,{\"b\":\"c\\u00e9\"}]}", "[] {}", "\"x\" 1",
                                        "-0.5 ", "{\"k\":false}null"};
    for (int round = 0; round < 20000; round++) {
        uint8_t buf[65];
        size_t n;
        if (round % 3 == 0) {
            /* Mutate a valid stream: most results are then near-valid. */
            const char *s = seeds[rand_r(&seed) % ARRAY_LEN(seeds)];
            n = strlen(s);
            memcpy(buf, s, n);
            int edits = 1 + (int)(rand_r(&seed) % 3);
            for (int k = 0; k < edits; k++)
                buf[rand_r(&seed) % n] = (uint8_t)alphabet[rand_r(&seed) % (sizeof alphabet - 1)];
        } else {
            n = 1 + rand_r(&seed) % 12;
            for (size_t k = 0; k < n; k++)
                buf[k] = (uint8_t)alphabet[rand_r(&seed) % (sizeof alphabet - 1)];
        }
        buf[n++] = '\n';
        int go_values, yajl_values;
        int go = go_stream(sc, buf, n, &go_values);
        int yj = yajl_stream(buf, n, &yajl_values);
        if (go != yj || go_values != yajl_values)
            fail_msg("round %d: Go error %d after %d values, yajl error %d after %d, on [%.*s]", round, go,
                     go_values, yj, yajl_values, (int)n, buf);
        clean += (size_t)!go;
        failed += (size_t)go;
    }
    assert_true(clean > 500 && failed > 500);
    free(sc);
}


/* ---- the decoder's fast paths against the general ones ---- */

/* A random JSON number text: 1..25 digits in all, with or without a
 * fraction, an exponent of -30..30 (e or E, signed or not), a leading "-";
 * some in the 0.000... form, some near 2^53. */
static size_t random_number(unsigned *seed, char *out, size_t cap)
{
    static const char *const near_2_53[] = {
        "9007199254740991", "9007199254740992", "9007199254740993", "9007199254740994",
        "9007199254740995", "9007199254740993.0", "900719925474099.3e1", "9007199254740993e0",
        "0.9007199254740993e16", "90071992547409930e-1", "9007199254740992.5", "9007199254740991.5",
        "4503599627370497.5", "18014398509481985", "9223372036854775807", "9223372036854775808",
        "9223372036854775807.0", "9223372036854774784", "9223372036854775296", "-9223372036854775808",
        "-9223372036854775809", "-9223372036855000000.0", "1e22", "1e23", "123456789012345678e-22",
        "0.0000000000000000000001", "1.0000000000000000", "1.000000000000000", "-0", "-0.0",
        "-0e5", "0E-0", "2.2250738585072011e-308", "4.9e-324", "1.7976931348623157e308"};
    size_t n = 0;
    unsigned kind = rand_r(seed) % 10;
    if (kind == 0) {
        const char *s = near_2_53[rand_r(seed) % ARRAY_LEN(near_2_53)];
        n = strlen(s);
        memcpy(out, s, n);
        out[n] = '\0';
        return n;
    }
    if (rand_r(seed) % 2)
        out[n++] = '-';
    int total = 1 + (int)(rand_r(seed) % 25);
    if (kind == 1) {
        /* 0.000ddd: leading zeros in the fraction count as digits. */
        out[n++] = '0';
        out[n++] = '.';
        int zeros = (int)(rand_r(seed) % 24);
        for (int k = 0; k < zeros; k++)
            out[n++] = '0';
        for (int k = 0; k < total; k++)
            out[n++] = (char)('0' + rand_r(seed) % 10);
    } else {
        int int_digits = 1 + (int)(rand_r(seed) % (unsigned)total);
        if (kind == 2) {
            out[n++] = '0';
            int_digits = 1;
        } else {
            out[n++] = (char)('1' + rand_r(seed) % 9);
            for (int k = 1; k < int_digits; k++)
                out[n++] = (char)('0' + rand_r(seed) % 10);
        }
        int frac_digits = total - int_digits;
        if (frac_digits > 0 && rand_r(seed) % 4 != 0) {
            out[n++] = '.';
            for (int k = 0; k < frac_digits; k++)
                out[n++] = (char)('0' + rand_r(seed) % 10);
        }
    }
    if (rand_r(seed) % 3 == 0) {
        out[n++] = rand_r(seed) % 2 ? 'e' : 'E';
        int exp = (int)(rand_r(seed) % 61) - 30;
        unsigned sign = rand_r(seed) % 3;
        n += (size_t)snprintf(out + n, cap - n, "%s%d", exp < 0 ? "-" : sign == 0 ? "+" : "", exp < 0 ? -exp : exp);
    }
    out[n] = '\0';
    return n;
}

/* What the entry rules make of a top-level number: a whole value in int64
 * range is an int64 (Go: float64(int64(d)) == d), anything else a float. */
static void expect_top_number(const char *text, double want, const vmu_value *v)
{
    if (want >= -9223372036854775808.0 && want < 9223372036854775808.0 && floor(want) == want) {
        if (v->kind != VMU_VALUE_INT || v->as.i != (int64_t)want)
            fail_msg("%s: want int %lld, got kind %d (%lld / %.17g)", text, (long long)(int64_t)want,
                     (int)v->kind, (long long)v->as.i, v->as.f);
        return;
    }
    if (v->kind != VMU_VALUE_FLOAT || memcmp(&v->as.f, &want, sizeof want) != 0)
        fail_msg("%s: want float %a, got kind %d (%a)", text, want, (int)v->kind, v->as.f);
}

static void expect_float_bits(const char *text, double want, const vmu_value *v)
{
    if (v->kind != VMU_VALUE_FLOAT || memcmp(&v->as.f, &want, sizeof want) != 0)
        fail_msg("%s (nested): want float %a, got kind %d (%a)", text, want, (int)v->kind, v->as.f);
}

/* The number "n" of each record a stream forwarded, in order. */
typedef struct number_probe {
    vmu_value values[4096];
    size_t count;
} number_probe;

static void number_sink(void *user, const vmu_log_record *record)
{
    number_probe *probe = user;
    for (size_t i = 0; i < record->field_count; i++) {
        const vmu_field *f = &record->fields[i];
        if (f->key_len == 1 && f->key[0] == 'n' && probe->count < ARRAY_LEN(probe->values))
            probe->values[probe->count++] = f->value;
    }
}

/* Numbers take an exact fast path (Clinger's) before strtod: whatever
 * path a text takes, the value is strtod's in the C locale, bit for bit,
 * in a single entry (top-level and nested) and in a stream. */
static void test_number_fast_path_is_exact(void **state)
{
    (void)state;
    locale_t c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
    assert_non_null(c_locale);
    unsigned seed = 2053;
    size_t ints = 0, floats = 0;
    enum { ROUNDS = 8, PER_STREAM = 1000 };
    static number_probe probe;
    static double wants[PER_STREAM];
    static char texts[PER_STREAM][96];
    for (int round = 0; round < ROUNDS; round++) {
        vmu_buf stream;
        vmu_buf_init(&stream);
        for (int i = 0; i < PER_STREAM; i++) {
            char *num = texts[i];
            size_t n = random_number(&seed, num, sizeof texts[i]);
            double want = strtod_l(num, NULL, c_locale);
            wants[i] = want;
            char entry[256];
            int len = snprintf(entry, sizeof entry, "{\"n\":%s,\"o\":{\"n\":%s},\"msg\":\"m\"}", num, num);
            vmu_gcs_entry e;
            vmu_err err;
            if (vmu_gcs_decode_entry(entry, (size_t)len, &e, &err) != 0)
                fail_msg("%s: %s", entry, err.msg);
            const vmu_field *top = find_field(&e, "n"), *o = find_field(&e, "o");
            assert_non_null(top);
            assert_non_null(o);
            expect_top_number(num, want, &top->value);
            assert_int_equal(o->value.kind, VMU_VALUE_OBJECT);
            assert_int_equal(o->value.as.object.count, 1);
            expect_float_bits(num, want, &o->value.as.object.members[0].value);
            ints += top->value.kind == VMU_VALUE_INT;
            floats += top->value.kind == VMU_VALUE_FLOAT;
            vmu_gcs_entry_free(&e);
            (void)n;
            vmu_buf_append(&stream, entry, (size_t)len);
            vmu_buf_putc(&stream, '\n');
        }
        /* The stream decoder uses the feed in place: the same values. */
        vmu_logger *logger = vmu_logger_new();
        assert_non_null(logger);
        vmu_logger_set_level(logger, VMU_LEVEL_TRACE);
        probe.count = 0;
        vmu_logger_set_sink(logger, number_sink, &probe);
        decode_chunked(&(capture){.logger = logger}, stream.data, stream.len, round % 2 ? 0 : 3 + (size_t)round,
                       false, 0, NULL);
        assert_int_equal(probe.count, PER_STREAM);
        for (int i = 0; i < PER_STREAM; i++)
            expect_top_number(texts[i], wants[i], &probe.values[i]);
        vmu_logger_free(logger);
        vmu_buf_free(&stream);
    }
    freelocale(c_locale);
    /* Both outcomes are well represented. */
    assert_true(ints > 1000 && floats > 1000);
}


/* One record as the time-cache test keeps it. */
typedef struct seen_record {
    vmu_log_level level;
    char msg[32];
    char error[512];
    bool has_time;
    vmu_time time;
} seen_record;

typedef struct record_list {
    seen_record *items;
    size_t count, cap;
} record_list;

static void copy_text(char *dst, size_t cap, const char *s, size_t len)
{
    size_t n = len < cap - 1 ? len : cap - 1;
    memcpy(dst, s, n);
    dst[n] = '\0';
}

static void list_sink(void *user, const vmu_log_record *record)
{
    record_list *l = user;
    if (l->count == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 256;
        l->items = realloc(l->items, l->cap * sizeof *l->items);
        if (!l->items)
            abort();
    }
    seen_record *s = &l->items[l->count++];
    memset(s, 0, sizeof *s);
    s->level = record->level;
    copy_text(s->msg, sizeof s->msg, record->msg, record->msg_len);
    for (size_t i = 0; i < record->field_count; i++) {
        const vmu_field *f = &record->fields[i];
        if (f->key_len == 7 && memcmp(f->key, "vm.time", 7) == 0 && f->value.kind == VMU_VALUE_TIME) {
            s->has_time = true;
            s->time = f->value.as.time;
        } else if (f->key_len == 5 && memcmp(f->key, "error", 5) == 0 && f->value.kind == VMU_VALUE_STRING) {
            copy_text(s->error, sizeof s->error, f->value.as.str.ptr, f->value.as.str.len);
        }
    }
}

/* The civil date of a day count since 1970-01-01. */
static void civil_from_days(int64_t z, int *year, int *month, int *day)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *day = (int)(doy - (153 * mp + 2) / 5 + 1);
    *month = (int)(mp < 10 ? mp + 3 : mp - 9);
    *year = (int)(yoe + era * 400 + (*month <= 2));
}

static bool time_equal(const vmu_time *a, const vmu_time *b)
{
    return a->unix_sec == b->unix_sec && a->nsec == b->nsec && a->utc_offset == b->utc_offset && a->utc == b->utc;
}

/* Hand-picked neighbours: each changes (or keeps) one part of the cached
 * "YYYY-MM-DDTHH:MM", and bad times follow good ones with the same or a
 * nearby prefix. The JSON text of the time value, quotes included. */
static const char *const cache_walk[] = {
    "\"2024-02-28T23:59:58Z\"",
    "\"2024-02-28T23:59:59.5Z\"",
    "\"2024-02-28T23:59:59.123456789+01:00\"",
    "\"2024-02-29T00:00:00.123456789+01:00\"",
    "\"2024-02-29T00:00:59,987654321-05:30\"",
    "\"2024-02-29T00:00:00.000000001Z\"",
    "\"2024-02-30T00:00:01Z\"",
    "\"2024-02-29T00:00:02Z\"",
    "\"2024-02-29T00:00:02.1234567891Z\"",
    "\"2024-02-29T00:00:02.12345678Z\"",
    "\"2024-02-29T00:00:02.12345678-05:30\"",
    "\"2024-02-29T00:01:00Z\"",
    "\"2024-02-29T01:01:00Z\"",
    "\"2024-02-29T24:01:00Z\"",
    "\"2024-02-29T01:01:60Z\"",
    "\"2024-02-29T01:60:00Z\"",
    "\"2024-02-29T01:01:00+01:0a\"",
    "\"2024-02-29T01:01:00+1:00\"",
    "\"2024-02-29T01:01:00+01-00\"",
    "\"2024-02-29T01:01:00.Z\"",
    "\"2024-02-29T01:01:00Zx\"",
    "\"2024-02-29T01:01:00\"",
    "\"2024-02-29T01:01:00.5\"",
    "\"2024-02-29T01:01:00+01:00:00\"",
    "\"2024-02-29T01:01:00 Z\"",
    "\"2024-02-29T01:01:00Z\"",
    "\"2023-02-29T01:01:00Z\"",
    "\"2023-02-28T01:01:00Z\"",
    "\"2024-03-01T00:00:00Z\"",
    "\"2024-04-31T00:00:00Z\"",
    "\"2024-04-30T00:00:00Z\"",
    "\"2024-13-01T00:00:00Z\"",
    "\"2024-00-01T00:00:00Z\"",
    "\"2024-04-00T00:00:00Z\"",
    "\"2024-12-31T23:59:59.999999999Z\"",
    "\"2025-01-01T00:00:00-00:00\"",
    "\"2025-01-01T00:00:00+00:00\"",
    "\"2025-01-01T00:00:00+14:00\"",
    "\"2025-01-01T00:00:00+99:99\"",
    "\"2025-01-01T00:00:00-23:59\"",
    "\"\\u0032025-01-01T00:00:00Z\"",
    "\"2025-01-01T00:00:00\\u005a\"",
    "\"2025-01-01T0:00:00Z\"",
    "\"2025-01-01T00:00:00Z\"",
    "\"2025-01-01T00:00:0Z\"",
    "\"2025-01-01T00:00Z\"",
    "\"1900-02-29T00:00:00Z\"",
    "\"2000-02-29T00:00:00Z\"",
    "\"0000-01-01T00:00:00Z\"",
    "\"0001-01-01T00:00:00Z\"",
    "\"9999-12-31T23:59:59.999999999-05:30\"",
    "\"1999-12-31T23:59:59.1+05:45\"",
    "\"1999-12-31T23:59:59,1+05:45\"",
    "\"1999-12-31T23:59:59\"",
    "2024",
    "null",
    "\"1999-12-31T23:59:58Z\"",
};

/* Appends entry number `index` with the time text `t` (NULL: none) in one
 * of several shapes: the time key spelled differently, given twice, or
 * only nested (then not the entry's time). */
static void append_time_entry(vmu_buf *stream, size_t index, const char *t, unsigned shape, const char *other)
{
    switch (shape % 6) {
    case 0:
    case 1:
        vmu_buf_printf(stream, "{\"time\":%s,\"level\":\"warning\",\"msg\":\"e%zu\"}\n", t, index);
        break;
    case 2:
        vmu_buf_printf(stream, "{\"msg\":\"e%zu\",\"x\":1,\"TIME\":%s}\n", index, t);
        break;
    case 3:
        /* Two times: the last one counts, both go through the cache. */
        vmu_buf_printf(stream, "{\"time\":%s,\"msg\":\"e%zu\",\"Time\":%s}\n", other, index, t);
        break;
    case 4:
        vmu_buf_printf(stream, "{\"level\":\"debug\",\"time\":%s,\"o\":{\"time\":%s},\"msg\":\"e%zu\"}\n", t, other,
                       index);
        break;
    default:
        vmu_buf_printf(stream, "{\"msg\":\"e%zu\",\"o\":{\"time\":%s}}\n", index, t);
        break;
    }
}

static int days_in_month(int month, int year)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    return month == 2 && leap ? 29 : days[month - 1];
}

/* A random time text near *clock: a step of nothing, a second, a minute,
 * an hour, a day or weeks (sometimes backwards), an offset from a small
 * set, 0..11 fraction digits; one in eight is made bad in one place. */
static void random_time_text(unsigned *seed, int64_t *clock, char *out, size_t cap)
{
    static const int64_t steps[] = {0, 0, 0, 1, 1, 59, 60, 61, 3600, 86400, 86399, -60, -86400};
    unsigned pick = rand_r(seed) % (ARRAY_LEN(steps) + 1);
    *clock += pick < ARRAY_LEN(steps) ? steps[pick] : (int64_t)(rand_r(seed) % (40u * 86400u));
    static const int offsets[] = {0, 0, 3600, -(5 * 3600 + 30 * 60), 0, 14 * 3600, -12 * 3600};
    unsigned zone = rand_r(seed) % ARRAY_LEN(offsets);
    int offset = offsets[zone];
    bool z = zone == 0;
    int64_t local = *clock + offset;
    int64_t days = local >= 0 ? local / 86400 : -((-local + 86399) / 86400);
    int64_t secs = local - days * 86400;
    int year, month, day, hour = (int)(secs / 3600), min = (int)(secs / 60 % 60), sec = (int)(secs % 60);
    civil_from_days(days, &year, &month, &day);
    switch (rand_r(seed) % 40) {
    case 0:
        day = days_in_month(month, year) + 1;
        break;
    case 1:
        hour = 24;
        break;
    case 2:
        min = 60;
        break;
    case 3:
        sec = 60;
        break;
    case 4:
        offset = 1, z = false; /* written below as a bad offset */
        break;
    default:
        break;
    }
    int n = snprintf(out, cap, "\"%04d-%02d-%02dT%02d:%02d:%02d", year, month, day, hour, min, sec);
    int digits = (int)(rand_r(seed) % 12);
    if (digits) {
        out[n++] = rand_r(seed) % 5 ? '.' : ',';
        for (int k = 0; k < digits; k++)
            out[n++] = (char)('0' + rand_r(seed) % 10);
    }
    if (z)
        n += snprintf(out + n, cap - (size_t)n, "Z\"");
    else if (offset == 1)
        n += snprintf(out + n, cap - (size_t)n, "+0%c:00\"", "x:-+"[rand_r(seed) % 4]);
    else
        n += snprintf(out + n, cap - (size_t)n, "%c%02d:%02d\"", offset < 0 ? '-' : '+', abs(offset) / 3600,
                      abs(offset) / 60 % 60);
}

/* The time parser keeps the last "YYYY-MM-DDTHH:MM" and its second count
 * between entries, and reads nine-digit fractions 8 digits at a time.
 * Through one decoder, every entry's record (vm.time, or the error of a
 * bad one) is what the same entry gives decoded alone, and a good time is
 * what the general parser gives for its text: no stale prefix leaks. */
static void test_time_cache_matches_fresh_decode(void **state)
{
    (void)state;
    enum { RANDOM = 2500 };
    size_t total = ARRAY_LEN(cache_walk) + RANDOM;
    char (*times)[64] = malloc(total * sizeof *times);
    unsigned *shapes = malloc(total * sizeof *shapes);
    assert_non_null(times);
    assert_non_null(shapes);
    unsigned seed = 29;
    int64_t clock = 1704067140; /* 2023-12-31T23:59:00Z */
    for (size_t i = 0; i < total; i++) {
        if (i < ARRAY_LEN(cache_walk))
            copy_text(times[i], sizeof times[i], cache_walk[i], strlen(cache_walk[i]));
        else
            random_time_text(&seed, &clock, times[i], sizeof times[i]);
        shapes[i] = i < ARRAY_LEN(cache_walk) ? (unsigned)(i % 3 == 2 ? i : 0) : (unsigned)rand_r(&seed);
    }
    vmu_buf stream;
    vmu_buf_init(&stream);
    for (size_t i = 0; i < total; i++)
        append_time_entry(&stream, i, times[i], shapes[i], times[i ? i - 1 : 0]);

    size_t good = 0, bad = 0;
    for (int pass = 0; pass < 2; pass++) {
        record_list seen = {0};
        vmu_logger *logger = vmu_logger_new();
        assert_non_null(logger);
        vmu_logger_set_level(logger, VMU_LEVEL_TRACE);
        vmu_logger_set_sink(logger, list_sink, &seen);
        /* Pass 0 whole, pass 1 in random pieces (times then cross feeds). */
        decode_chunked(&(capture){.logger = logger}, stream.data, stream.len, pass == 0 ? 0 : 41, true, 0, NULL);
        vmu_logger_free(logger);
        assert_int_equal(seen.count, total);

        const char *line = stream.data;
        for (size_t i = 0; i < total; i++) {
            const char *end = memchr(line, '\n', stream.len - (size_t)(line - stream.data));
            assert_non_null(end);
            const seen_record *s = &seen.items[i];
            vmu_gcs_entry e;
            int rc = vmu_gcs_decode_entry(line, (size_t)(end - line), &e, NULL);
            if (rc == 0) {
                char want_msg[32];
                snprintf(want_msg, sizeof want_msg, "e%zu", i);
                if (strcmp(s->msg, want_msg) != 0 || !s->has_time || !time_equal(&s->time, &e.time) ||
                    s->level != e.level)
                    fail_msg("entry %zu %.*s: stream gave \"%s\" %lld.%09d%+d%s, alone %lld.%09d%+d%s", i,
                             (int)(end - line), line, s->msg, (long long)s->time.unix_sec, s->time.nsec,
                             s->time.utc_offset, s->time.utc ? "Z" : "", (long long)e.time.unix_sec,
                             e.time.nsec, e.time.utc_offset, e.time.utc ? "Z" : "");
                /* Where the entry's time is this text, the general parser agrees. */
                if (shapes[i] % 6 != 5 && times[i][0] == '"') {
                    vmu_time general;
                    vmu_buf err;
                    vmu_buf_init(&err);
                    int g = gcs_time_unmarshal_json((const uint8_t *)times[i], strlen(times[i]), &general, &err);
                    vmu_buf_free(&err);
                    if (g != 0 || !time_equal(&general, &s->time))
                        fail_msg("entry %zu %s: general parser %d %lld.%09d%+d, stream %lld.%09d%+d", i, times[i],
                                 g, (long long)general.unix_sec, general.nsec, general.utc_offset,
                                 (long long)s->time.unix_sec, s->time.nsec, s->time.utc_offset);
                }
                good += pass == 0;
            } else {
                if (strcmp(s->msg, "gcs log read") != 0 || s->has_time ||
                    strlen(s->error) != (e.error_len < sizeof s->error ? e.error_len : sizeof s->error - 1) ||
                    memcmp(s->error, e.error, strlen(s->error)) != 0)
                    fail_msg("entry %zu %.*s: stream gave \"%s\" error \"%s\", alone error \"%.*s\"", i,
                             (int)(end - line), line, s->msg, s->error, (int)e.error_len, e.error);
                bad += pass == 0;
            }
            vmu_gcs_entry_free(&e);
            line = end + 1;
        }
        free(seen.items);
    }
    vmu_buf_free(&stream);
    free(times);
    free(shapes);
    /* Both kinds in numbers, and every hand-picked bad time among them. */
    assert_true(good > 1500 && bad > 150);
}

/* ---- resync: every text record is the next bytes of the stream ---- */

/* What the walk needs of a record. */
typedef struct walk_record {
    char msg[32];
    bool forwarded;  /* a forwarded entry (it has "vm.time") */
    char *text;      /* its "stderr" or "entry" field, or NULL */
    size_t text_len;
    int64_t size;    /* its "size" field (an oversized entry), or -1 */
} walk_record;

typedef struct walk_log {
    walk_record *items;
    size_t count, cap;
} walk_log;

static bool field_is(const vmu_field *f, const char *key)
{
    return f->key_len == strlen(key) && memcmp(f->key, key, f->key_len) == 0;
}

static void walk_sink(void *user, const vmu_log_record *record)
{
    walk_log *log = user;
    if (log->count == log->cap) {
        log->cap = log->cap ? log->cap * 2 : 32;
        log->items = realloc(log->items, log->cap * sizeof *log->items);
        if (!log->items)
            abort();
    }
    walk_record *w = &log->items[log->count++];
    memset(w, 0, sizeof *w);
    w->size = -1;
    copy_text(w->msg, sizeof w->msg, record->msg, record->msg_len);
    for (size_t i = 0; i < record->field_count; i++) {
        const vmu_field *f = &record->fields[i];
        if (field_is(f, "vm.time")) {
            w->forwarded = true;
        } else if ((field_is(f, "stderr") || field_is(f, "entry")) && f->value.kind == VMU_VALUE_STRING) {
            free(w->text);
            w->text = malloc(f->value.as.str.len + 1);
            if (!w->text)
                abort();
            memcpy(w->text, f->value.as.str.ptr, f->value.as.str.len);
            w->text_len = f->value.as.str.len;
        } else if (field_is(f, "size") && f->value.kind == VMU_VALUE_INT) {
            w->size = f->value.as.i;
        }
    }
}

static void walk_log_free(walk_log *log)
{
    for (size_t i = 0; i < log->count; i++)
        free(log->items[i].text);
    free(log->items);
}

/* The length of the character at s[i] when Go's unicode.IsSpace holds for
 * it (the white space bytes.TrimSpace removes), else 0. */
static size_t unicode_space_at(const uint8_t *s, size_t n, size_t i)
{
    static const char *const wide[] = {
        "\xc2\x85",     "\xc2\xa0",     "\xe1\x9a\x80", "\xe2\x80\x80", "\xe2\x80\x81",
        "\xe2\x80\x82", "\xe2\x80\x83", "\xe2\x80\x84", "\xe2\x80\x85", "\xe2\x80\x86",
        "\xe2\x80\x87", "\xe2\x80\x88", "\xe2\x80\x89", "\xe2\x80\x8a", "\xe2\x80\xa8",
        "\xe2\x80\xa9", "\xe2\x80\xaf", "\xe2\x81\x9f", "\xe3\x80\x80",
    };
    if (s[i] == ' ' || (s[i] >= '\t' && s[i] <= '\r'))
        return 1;
    for (size_t k = 0; k < ARRAY_LEN(wide); k++) {
        size_t len = strlen(wide[k]);
        if (len <= n - i && memcmp(s + i, wide[k], len) == 0)
            return len;
    }
    return 0;
}

static size_t after_unicode_space(const uint8_t *s, size_t n, size_t i)
{
    size_t k;
    while (i < n && (k = unicode_space_at(s, n, i)) > 0)
        i += k;
    return i;
}

/* The end of the JSON value at s[i], as Go's scanner finds it. */
static size_t json_value_end(const uint8_t *s, size_t n, size_t i)
{
    static gcs_json_scanner sc;
    gcs_scan_reset(&sc);
    for (; i < n; i++) {
        int op = gcs_scan_step(&sc, s[i]);
        if (op == GCS_SCAN_END || op == GCS_SCAN_ERROR)
            return i;
        if (sc.end_top)
            return i + 1;
    }
    return n;
}

/* Decodes the stream in resync mode (chunking as decode_chunked takes it)
 * and walks it along the records: each forwarded entry is the next JSON
 * value, each "stderr" text and "entry" field the next bytes, and only
 * white space lies between them and after the last. */
static void expect_records_cover_stream(const uint8_t *s, size_t n, size_t max_entry, size_t chunk,
                                        const char *what)
{
    capture c;
    capture_init(&c);
    walk_log log = {NULL, 0, 0};
    vmu_logger_set_sink(c.logger, walk_sink, &log);
    decode_chunked(&c, s, n, chunk, true, max_entry, NULL);
    size_t at = 0;
    for (size_t r = 0; r < log.count; r++) {
        const walk_record *w = &log.items[r];
        at = after_unicode_space(s, n, at);
        if (w->forwarded) {
            at = json_value_end(s, n, at);
            continue;
        }
        if (!w->text)
            fail_msg("%s, chunking %zu: record %zu (%s) holds no text", what, chunk, r, w->msg);
        size_t span = w->size >= 0 ? (size_t)w->size : w->text_len;
        if (w->text_len > n - at || span > n - at || span < w->text_len ||
            memcmp(s + at, w->text, w->text_len) != 0)
            fail_msg("%s, chunking %zu: record %zu (%s) is not the next bytes (offset %zu)", what,
                     chunk, r, w->msg, at);
        at += span;
    }
    at = after_unicode_space(s, n, at);
    if (at != n)
        fail_msg("%s, chunking %zu: bytes from offset %zu of %zu are in no record", what, chunk, at,
                 n);
    walk_log_free(&log);
    capture_free(&c);
}

/* A text piece that reaches max_entry_bytes in the middle of a character
 * ends before that character, even when the piece is full before the
 * character's last bytes have been read: otherwise a space character
 * (here U+2003, right at the cut after a run of \r) falls apart into bytes
 * that are not white space, and the piece no longer trims to the text
 * between the white space around it. */
static void test_resync_text_pieces_are_next_bytes(void **state)
{
    (void)state;
    static const size_t chunkings[] = {0, 1, 7, 13};
    uint8_t stream[256];
    size_t n = 0;
    memcpy(stream, "oops", 4);
    n += 4;
    memset(stream + n, 'x', 60);
    n += 60;
    memset(stream + n, '\r', 63);
    n += 63;
    static const char tail[] = "\xe2\x80\x83tail\n{\"msg\":\"ok\"}\n";
    memcpy(stream + n, tail, sizeof tail - 1);
    n += sizeof tail - 1;
    for (size_t k = 0; k < ARRAY_LEN(chunkings); k++)
        expect_records_cover_stream(stream, n, 64, chunkings[k], "U+2003 at the cut");

    /* The input fuzz_gcs_stream found: a flag byte (bits 0-1 = 1:
     * max_entry_bytes 64), four chunk sizes, then the stream: \r runs,
     * U+00A0, U+2003 and U+3000 among NULs and '(' runs. */
    size_t len;
    char *data = read_file("fuzz/regressions/fuzz_gcs_stream/resync-space-character-split-at-piece-cut",
                           &len);
    assert_true(len > 5);
    assert_int_equal(data[0] & 3, 1);
    for (size_t k = 0; k < ARRAY_LEN(chunkings); k++)
        expect_records_cover_stream((const uint8_t *)data + 5, len - 5, 64, chunkings[k],
                                    "fuzz input");
    free(data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unmarshal_hcsshim_cases),
        cmocka_unit_test(test_unmarshal_time),
        cmocka_unit_test(test_unmarshal_standard_warning),
        cmocka_unit_test(test_unmarshal_matches_go),
        cmocka_unit_test(test_unmarshal_nesting_limit),
        cmocka_unit_test(test_time_fast_path_agrees),
        cmocka_unit_test(test_parse_gcs_logrus_cases),
        cmocka_unit_test(test_parse_invalid_json),
        cmocka_unit_test(test_parse_trailing_content),
        cmocka_unit_test(test_parse_vm_time_field),
        cmocka_unit_test(test_handler_creator),
        cmocka_unit_test(test_chunking_gives_same_records),
        cmocka_unit_test(test_source_errors),
        cmocka_unit_test(test_source_error_after_syntax_error),
        cmocka_unit_test(test_source_error_after_partial_bad_token),
        cmocka_unit_test(test_forward_pipe),
        cmocka_unit_test(test_forward_tcp_reset),
        cmocka_unit_test(test_resync_bad_entry_goes_on),
        cmocka_unit_test(test_resync_text_blocks),
        cmocka_unit_test(test_resync_error_at_line_start),
        cmocka_unit_test(test_resync_drops_only_white_space),
        cmocka_unit_test(test_oversized_entry_bounded),
        cmocka_unit_test(test_long_token_linear),
        cmocka_unit_test(test_array_of_small_values_heap),
        cmocka_unit_test(test_text_after_error_in_pieces),
        cmocka_unit_test(test_pieces_keep_characters_whole),
        cmocka_unit_test(test_resync_text_pieces_are_next_bytes),
        cmocka_unit_test(test_host_level_filters),
        cmocka_unit_test(test_api_edges),
        cmocka_unit_test(test_entry_keys_unique),
        cmocka_unit_test(test_allocation_failures),
        cmocka_unit_test(test_scanner_agrees_with_yajl),
        cmocka_unit_test(test_number_fast_path_is_exact),
        cmocka_unit_test(test_time_cache_matches_fresh_decode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
