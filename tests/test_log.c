/* The log system: level names, the Go formatting pieces and both logrus
 * formats checked against output captured from real Go (log_golden.h), a
 * property check of the shortest float digits, NULL handling, loggers,
 * sinks, writers, write failures and allocation failures. */
#include <math.h>
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

typedef struct golden_float {
    uint64_t bits;
    const char *text_v; /* fmt %v */
    const char *json;   /* encoding/json */
} golden_float;

typedef struct golden_string {
    const char *in;
    size_t len;
    const char *text;   /* logrus text value: bare or %q */
    const char *quoted; /* %q */
    const char *json;   /* encoding/json */
} golden_string;

typedef struct golden_time {
    vmu_time t;
    const char *string; /* time.String() */
    const char *rfc3339;
    const char *rfc3339_nano;
} golden_time;

typedef struct golden_record {
    const char *name;
    int level;
    const char *msg;
    size_t msg_len;
    const vmu_field *fields;
    size_t field_count;
    const char *text;
    const char *json;
} golden_record;

#include "log_golden.h"

/* The zone log_golden.h was generated in (Go used Europe/Berlin; this POSIX
 * rule is the same for the dates used, and needs no tzdata). */
#define GOLDEN_TZ "CET-1CEST,M3.5.0,M10.5.0/3"

static double f64_from_bits(uint64_t bits)
{
    double d;
    memcpy(&d, &bits, sizeof d);
    return d;
}

/* Compares a buffer with the expected text, printing both on mismatch. */
static void assert_buf_text(vmu_buf *b, const char *expected)
{
    assert_int_equal(vmu_buf_reserve(b, 1), 0);
    b->data[b->len] = '\0';
    assert_string_equal(b->data, expected);
    assert_int_equal(b->len, strlen(expected));
}

static vmu_log_record golden_record_of(const golden_record *g)
{
    vmu_log_record r;
    r.time = golden_host_time;
    r.level = (vmu_log_level)g->level;
    r.msg = g->msg;
    r.msg_len = g->msg_len;
    r.fields = g->fields;
    r.field_count = g->field_count;
    return r;
}

/* ---- levels ---- */

static void test_level_names(void **state)
{
    (void)state;
    static const char *const names[] = {"panic", "fatal", "error", "warning",
                                        "info",  "debug", "trace"};
    for (int i = 0; i < 7; i++)
        assert_string_equal(vmu_log_level_name((vmu_log_level)i), names[i]);
    assert_string_equal(vmu_log_level_name((vmu_log_level)7), "unknown");
    assert_string_equal(vmu_log_level_name((vmu_log_level)-1), "unknown");
}

static void test_level_parse(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        int expected; /* -1: rejected */
    } cases[] = {
        {"panic", VMU_LEVEL_PANIC}, {"fatal", VMU_LEVEL_FATAL}, {"error", VMU_LEVEL_ERROR},
        {"warning", VMU_LEVEL_WARN}, {"warn", VMU_LEVEL_WARN},  {"WARN", VMU_LEVEL_WARN},
        {"Info", VMU_LEVEL_INFO},   {"debug", VMU_LEVEL_DEBUG}, {"TRACE", VMU_LEVEL_TRACE},
        {"", -1},                   {"inf", -1},                {"warnings", -1},
        {"information", -1},        {" info", -1},              {"unknown", -1},
        /* strings.ToLower: U+0130 lower-cases to 'i', the dotless U+0131
         * and invalid UTF-8 to nothing ASCII. */
        {"\xc4\xb0NFO", VMU_LEVEL_INFO}, {"wARN\xc4\xb0NG", VMU_LEVEL_WARN},
        {"PAN\xc4\xb0" "C", VMU_LEVEL_PANIC}, {"warn\xc4\xb1ng", -1}, {"\xc4NFO", -1},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        vmu_log_level level = VMU_LEVEL_TRACE;
        int rc = vmu_log_level_parse(cases[i].name, strlen(cases[i].name), &level);
        if (cases[i].expected < 0) {
            assert_int_equal(rc, -1);
        } else {
            assert_int_equal(rc, 0);
            assert_int_equal(level, cases[i].expected);
        }
    }
    vmu_log_level level;
    assert_int_equal(vmu_log_level_parse(NULL, 4, &level), -1);
    /* Only the given length counts: "infoX" cut at 4 is "info". */
    assert_int_equal(vmu_log_level_parse("infoX", 4, &level), 0);
    assert_int_equal(level, VMU_LEVEL_INFO);
}

/* ---- Go formatting pieces ---- */

static void test_golden_floats(void **state)
{
    (void)state;
    vmu_buf b;
    vmu_buf_init(&b);
    for (size_t i = 0; i < ARRAY_LEN(golden_floats); i++) {
        double v = f64_from_bits(golden_floats[i].bits);
        vmu_buf_reset(&b);
        assert_int_equal(vmu_format_float_go(v, &b), 0);
        assert_buf_text(&b, golden_floats[i].text_v);
        vmu_buf_reset(&b);
        assert_int_equal(vmu_format_float_json(v, &b), 0);
        assert_buf_text(&b, golden_floats[i].json);
    }
    vmu_buf_free(&b);
}

/* Shortest digits, checked without Go on many floats: the output reads back
 * as the same float, and no decimal with one digit fewer does. */
static bool reads_back_with_digits(double v, int digits)
{
    char text[64];
    snprintf(text, sizeof text, "%.*e", digits - 1, v);
    if (strtod(text, NULL) == v)
        return true;
    /* The neighbours in the last place (the interval can be lopsided). */
    char mantissa[32];
    int exp10;
    char *e = strchr(text, 'e');
    exp10 = atoi(e + 1);
    int n = 0;
    for (char *p = text; p < e; p++)
        if (*p >= '0' && *p <= '9')
            mantissa[n++] = *p;
    mantissa[n] = '\0';
    long long m = atoll(mantissa);
    for (int d = -1; d <= 1; d += 2) {
        snprintf(text, sizeof text, "%llde%d", m + d, exp10 - (n - 1));
        if (strtod(text, NULL) == v)
            return true;
    }
    return false;
}

static int significant_digits(const char *text)
{
    int n = 0, leading = 1;
    for (const char *p = text; *p && *p != 'e'; p++) {
        if (*p < '0' || *p > '9')
            continue;
        if (leading && *p == '0')
            continue;
        leading = 0;
        n++;
    }
    /* Trailing zeros of an integer are not significant. */
    const char *end = strchr(text, 'e');
    if (!end)
        end = text + strlen(text);
    if (!strchr(text, '.'))
        for (const char *p = end - 1; p > text && *p == '0' && n > 1; p--)
            n--;
    return n;
}

static void test_float_shortest_property(void **state)
{
    (void)state;
    uint64_t seed = 0x9e3779b97f4a7c15ULL;
    vmu_buf b;
    vmu_buf_init(&b);
    for (int i = 0; i < 20000; i++) {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        double v = f64_from_bits(seed);
        if (!isfinite(v) || v == 0)
            continue;
        if (i % 2) /* half of them in the range logs mostly carry */
            v = ldexp(frexp(v, &(int){0}), (int)(seed % 120) - 60);
        vmu_buf_reset(&b);
        assert_int_equal(vmu_format_float_json(v, &b), 0);
        assert_int_equal(vmu_buf_putc(&b, '\0'), 0);
        assert_true(strtod(b.data, NULL) == v);
        int digits = significant_digits(b.data);
        if (digits > 1 && reads_back_with_digits(v, digits - 1))
            fail_msg("%s is not the shortest text of %.17g", b.data, v);
    }
    vmu_buf_free(&b);
}

static void test_golden_strings(void **state)
{
    (void)state;
    vmu_buf b;
    vmu_buf_init(&b);
    static const char prefix[] = "time=\"2024-03-05T14:07:09+01:00\" level=info k=";
    for (size_t i = 0; i < ARRAY_LEN(golden_strings); i++) {
        const golden_string *g = &golden_strings[i];
        vmu_buf_reset(&b);
        assert_int_equal(vmu_format_go_quote(g->in, g->len, &b), 0);
        assert_buf_text(&b, g->quoted);
        vmu_buf_reset(&b);
        assert_int_equal(vmu_format_json_string(g->in, g->len, &b), 0);
        assert_buf_text(&b, g->json);

        /* As a field of a text record: bare or quoted, as logrus decides. */
        vmu_field f = vmu_field_strn("k", g->in, g->len);
        vmu_log_record r = {golden_host_time, VMU_LEVEL_INFO, "", 0, &f, 1};
        vmu_buf_reset(&b);
        assert_int_equal(vmu_log_format_text(&r, &b), 0);
        char expected[512];
        snprintf(expected, sizeof expected, "%s%s\n", prefix, g->text);
        assert_buf_text(&b, expected);
    }
    vmu_buf_free(&b);
}

static void test_golden_times(void **state)
{
    (void)state;
    vmu_buf b;
    vmu_buf_init(&b);
    for (size_t i = 0; i < ARRAY_LEN(golden_times); i++) {
        const golden_time *g = &golden_times[i];
        vmu_buf_reset(&b);
        assert_int_equal(vmu_format_time_go_string(&g->t, &b), 0);
        assert_buf_text(&b, g->string);
        vmu_buf_reset(&b);
        assert_int_equal(vmu_format_time_rfc3339(&g->t, false, &b), 0);
        assert_buf_text(&b, g->rfc3339);
        vmu_buf_reset(&b);
        assert_int_equal(vmu_format_time_rfc3339(&g->t, true, &b), 0);
        assert_buf_text(&b, g->rfc3339_nano);
    }
    vmu_buf_free(&b);
}

/* Times Go cannot parse from RFC 3339 but a C caller can build. */
static void test_time_extremes(void **state)
{
    (void)state;
    static const struct {
        vmu_time t;
        const char *rfc3339_nano;
    } cases[] = {
        {{INT64_C(-62167219200), 0, 0, true}, "0000-01-01T00:00:00Z"},
        {{INT64_C(-62198755200), 0, 0, true}, "-0001-01-01T00:00:00Z"},
        {{INT64_C(253402300800), 0, 0, true}, "10000-01-01T00:00:00Z"},
        {{INT64_C(0), 1500000000, 0, true}, "1970-01-01T00:00:01.5Z"},
        {{INT64_C(0), -1, 0, true}, "1969-12-31T23:59:59.999999999Z"},
        {{INT64_C(0), 0, 90000, false}, "1970-01-02T01:00:00+25:00"},
    };
    vmu_buf b;
    vmu_buf_init(&b);
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        vmu_buf_reset(&b);
        assert_int_equal(vmu_format_time_rfc3339(&cases[i].t, true, &b), 0);
        assert_buf_text(&b, cases[i].rfc3339_nano);
    }
    /* The far ends are clamped, never overflowing. */
    vmu_time far[] = {{INT64_MAX, 999999999, INT32_MAX, false}, {INT64_MIN, 0, INT32_MIN, false}};
    for (size_t i = 0; i < ARRAY_LEN(far); i++) {
        vmu_buf_reset(&b);
        assert_int_equal(vmu_format_time_rfc3339(&far[i], true, &b), 0);
        assert_int_equal(vmu_format_time_go_string(&far[i], &b), 0);
        assert_true(b.len > 20);
    }
    vmu_buf_free(&b);
}

/* ---- the two formats ---- */

static void test_golden_record_text(void **state)
{
    const golden_record *g = *state;
    vmu_log_record r = golden_record_of(g);
    vmu_buf b;
    vmu_buf_init(&b);
    assert_int_equal(vmu_log_format_text(&r, &b), 0);
    assert_buf_text(&b, g->text);
    vmu_buf_free(&b);
}

static void test_golden_record_json(void **state)
{
    const golden_record *g = *state;
    vmu_log_record r = golden_record_of(g);
    vmu_buf b;
    vmu_buf_init(&b);
    assert_int_equal(vmu_log_format_json(&r, &b), 0);
    assert_buf_text(&b, g->json);
    vmu_buf_free(&b);
}

/* Records append: what is already in the buffer stays. */
static void test_formats_append(void **state)
{
    (void)state;
    vmu_log_record r = golden_record_of(&golden_records[0]);
    vmu_buf b;
    vmu_buf_init(&b);
    assert_int_equal(vmu_buf_puts(&b, "before|"), 0);
    assert_int_equal(vmu_log_format_json(&r, &b), 0);
    assert_int_equal(vmu_log_format_text(&r, &b), 0);
    char expected[1024];
    snprintf(expected, sizeof expected, "before|%s%s", golden_records[0].json,
             golden_records[0].text);
    assert_buf_text(&b, expected);
    vmu_buf_free(&b);
}

/* JSON has no NaN or infinity: encoding/json refuses them (logrus then
 * drops the record); vmutils writes null and keeps the record. */
static void test_json_non_finite(void **state)
{
    (void)state;
    vmu_field fields[] = {vmu_field_float("inf", INFINITY), vmu_field_float("nan", NAN)};
    vmu_log_record r = {golden_host_time, VMU_LEVEL_INFO, "m", 1, fields, 2};
    vmu_buf b;
    vmu_buf_init(&b);
    assert_int_equal(vmu_log_format_json(&r, &b), 0);
    assert_buf_text(&b, "{\"inf\":null,\"level\":\"info\",\"msg\":\"m\",\"nan\":null,"
                        "\"time\":\"2024-03-05T14:07:09+01:00\"}\n");
    vmu_buf_reset(&b);
    assert_int_equal(vmu_log_format_text(&r, &b), 0);
    assert_buf_text(&b, "time=\"2024-03-05T14:07:09+01:00\" level=info msg=m inf=+Inf nan=NaN\n");
    vmu_buf_free(&b);
}

static void test_null_arguments(void **state)
{
    (void)state;
    vmu_log_record r = golden_record_of(&golden_records[0]);
    vmu_buf b;
    vmu_buf_init(&b);
    vmu_time t = golden_host_time;
    assert_int_equal(vmu_log_format_text(NULL, &b), -1);
    assert_int_equal(vmu_log_format_json(NULL, &b), -1);
    assert_int_equal(vmu_log_format_text(&r, NULL), -1);
    assert_int_equal(vmu_log_format_json(&r, NULL), -1);
    assert_int_equal(vmu_format_time_rfc3339(NULL, true, &b), -1);
    assert_int_equal(vmu_format_time_rfc3339(&t, true, NULL), -1);
    assert_int_equal(vmu_format_time_go_string(NULL, &b), -1);
    assert_int_equal(vmu_format_time_go_string(&t, NULL), -1);
    assert_int_equal(vmu_format_float_json(1, NULL), -1);
    assert_int_equal(vmu_format_float_go(1, NULL), -1);
    assert_int_equal(vmu_format_json_string(NULL, 3, &b), -1);
    assert_int_equal(vmu_format_json_string("x", 1, NULL), -1);
    assert_int_equal(vmu_format_go_quote(NULL, 3, &b), -1);
    assert_int_equal(vmu_format_go_quote("x", 1, NULL), -1);
    assert_int_equal(b.len, 0);
    /* NULL with a zero length is the empty string. */
    assert_int_equal(vmu_format_json_string(NULL, 0, &b), 0);
    assert_int_equal(vmu_format_go_quote(NULL, 0, &b), 0);
    assert_buf_text(&b, "\"\"\"\"");

    /* NULL pieces inside a record read as empty. */
    vmu_field odd[3];
    odd[0] = vmu_field_str(NULL, "no key");
    odd[1] = vmu_field_str("nullstr", NULL);
    odd[2].key = "arr";
    odd[2].key_len = 3;
    odd[2].value.kind = VMU_VALUE_ARRAY;
    odd[2].value.as.array.items = NULL;
    odd[2].value.as.array.count = 5;
    vmu_log_record nulls = {golden_host_time, VMU_LEVEL_INFO, NULL, 7, odd, 3};
    vmu_buf_reset(&b);
    assert_int_equal(vmu_log_format_json(&nulls, &b), 0);
    assert_buf_text(&b, "{\"\":\"no key\",\"arr\":[],\"level\":\"info\",\"msg\":\"\",\"nullstr\":\"\","
                        "\"time\":\"2024-03-05T14:07:09+01:00\"}\n");
    vmu_buf_reset(&b);
    assert_int_equal(vmu_log_format_text(&nulls, &b), 0);
    assert_buf_text(&b, "time=\"2024-03-05T14:07:09+01:00\" level=info =\"no key\" arr=\"[]\" nullstr=\n");
    vmu_log_record no_fields = {golden_host_time, VMU_LEVEL_INFO, "m", 1, NULL, 4};
    vmu_buf_reset(&b);
    assert_int_equal(vmu_log_format_json(&no_fields, &b), 0);
    assert_buf_text(&b, "{\"level\":\"info\",\"msg\":\"m\",\"time\":\"2024-03-05T14:07:09+01:00\"}\n");
    vmu_buf_free(&b);
}

/* Containers nest up to VMU_LOG_MAX_DEPTH levels, the record being level
 * 1 (what Go's decoder accepts); deeper is refused, not a stack overflow. */
static void check_nesting(vmu_value *chain, size_t levels, bool objects, int expected_rc)
{
    /* chain[0] is the field's value (level 2); each holds the next. */
    size_t containers = levels - 1;
    vmu_field *members = calloc(containers, sizeof *members);
    assert_non_null(members);
    for (size_t i = 0; i < containers; i++) {
        vmu_value *next = &chain[i + 1];
        if (i + 1 == containers)
            *next = (vmu_value){.kind = VMU_VALUE_INT, .as.i = 1};
        if (objects) {
            members[i] = (vmu_field){"k", 1, *next};
            chain[i].kind = VMU_VALUE_OBJECT;
            chain[i].as.object.members = &members[i];
            chain[i].as.object.count = 1;
        } else {
            chain[i].kind = VMU_VALUE_ARRAY;
            chain[i].as.array.items = next;
            chain[i].as.array.count = 1;
        }
    }
    /* Objects copy their member's value: fill them from the innermost out. */
    if (objects)
        for (size_t i = containers; i-- > 0;)
            members[i].value = chain[i + 1];
    vmu_field f = {"deep", 4, chain[0]};
    vmu_log_record r = {golden_host_time, VMU_LEVEL_INFO, "m", 1, &f, 1};
    vmu_buf b;
    vmu_buf_init(&b);
    assert_int_equal(vmu_log_format_json(&r, &b), expected_rc);
    assert_int_equal(vmu_log_format_text(&r, &b), expected_rc);
    if (expected_rc == 0) {
        /* JSON and text both hold every level. */
        size_t opens = 0;
        for (size_t i = 0; i < b.len; i++)
            opens += b.data[i] == (objects ? '{' : '[');
        assert_int_equal(opens, objects ? containers + 1 : 2 * containers);
    } else {
        assert_int_equal(b.len, 0);
    }
    vmu_buf_free(&b);
    free(members);
}

static void test_nesting_limit(void **state)
{
    (void)state;
    size_t max = VMU_LOG_MAX_DEPTH;
    vmu_value *chain = calloc(max + 2, sizeof *chain);
    assert_non_null(chain);
    /* level 2 .. max hold containers, the scalar sits at max + 1 */
    check_nesting(chain, max, false, 0);
    check_nesting(chain, max + 1, false, -1);
    check_nesting(chain, max, true, 0);
    check_nesting(chain, max + 1, true, -1);
    free(chain);
}

/* Every allocation point fails cleanly: -1, the buffer as it was (content
 * and usability), nothing leaked (valgrind checks the last part). */
static void check_allocation_failures(const golden_record *g, bool json)
{
    vmu_log_record r = golden_record_of(g);
    const char *expected = json ? g->json : g->text;
    for (long n = 0;; n++) {
        vmu_buf b;
        vmu_buf_init(&b);
        vmu_buf_puts(&b, "keep");
        vmu_alloc_fail_after(n);
        int rc = json ? vmu_log_format_json(&r, &b) : vmu_log_format_text(&r, &b);
        vmu_alloc_fail_after(-1);
        if (rc == 0) {
            assert_int_equal(b.len, 4 + strlen(expected));
            assert_memory_equal(b.data + 4, expected, strlen(expected));
            vmu_buf_free(&b);
            return;
        }
        assert_int_equal(rc, -1);
        assert_int_equal(b.len, 4);
        assert_int_equal(b.failed, 0);
        assert_memory_equal(b.data, "keep", 4);
        vmu_buf_free(&b);
        assert_true(n < 100);
    }
}

static void test_allocation_failures(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(golden_records); i++) {
        check_allocation_failures(&golden_records[i], true);
        check_allocation_failures(&golden_records[i], false);
    }
    /* A buffer that already failed is refused, not written. */
    vmu_buf b;
    vmu_buf_init(&b);
    b.failed = 1;
    vmu_log_record r = golden_record_of(&golden_records[0]);
    assert_int_equal(vmu_log_format_json(&r, &b), -1);
    assert_int_equal(vmu_log_format_text(&r, &b), -1);
    assert_int_equal(b.len, 0);
    vmu_buf_free(&b);
}

/* ---- loggers, sinks and writers ---- */

typedef struct sink_capture {
    int calls;
    vmu_log_level level;
    char msg[64];
    size_t field_count;
    char first_key[32];
} sink_capture;

static void capture_sink(void *user, const vmu_log_record *record)
{
    sink_capture *c = user;
    c->calls++;
    c->level = record->level;
    snprintf(c->msg, sizeof c->msg, "%.*s", (int)record->msg_len, record->msg);
    c->field_count = record->field_count;
    if (record->field_count)
        snprintf(c->first_key, sizeof c->first_key, "%.*s", (int)record->fields[0].key_len,
                 record->fields[0].key);
}

typedef struct write_capture {
    vmu_buf out;
    int calls;
    bool fail;
} write_capture;

static int capture_write(void *user, const char *data, size_t len)
{
    write_capture *w = user;
    w->calls++;
    if (w->fail)
        return -1;
    return vmu_buf_append(&w->out, data, len);
}

static void test_logger_defaults_and_levels(void **state)
{
    (void)state;
    vmu_logger *logger = vmu_logger_new();
    assert_non_null(logger);
    assert_int_equal(vmu_logger_get_level(logger), VMU_LEVEL_INFO);
    assert_int_equal(vmu_logger_get_format(logger), VMU_LOG_TEXT);
    assert_true(vmu_logger_enabled(logger, VMU_LEVEL_WARN));
    assert_true(vmu_logger_enabled(logger, VMU_LEVEL_INFO));
    assert_false(vmu_logger_enabled(logger, VMU_LEVEL_DEBUG));
    vmu_logger_set_level(logger, VMU_LEVEL_TRACE);
    assert_true(vmu_logger_enabled(logger, VMU_LEVEL_TRACE));
    vmu_logger_set_level(logger, VMU_LEVEL_ERROR);
    assert_false(vmu_logger_enabled(logger, VMU_LEVEL_WARN));
    vmu_logger_set_format(logger, VMU_LOG_JSON);
    assert_int_equal(vmu_logger_get_format(logger), VMU_LOG_JSON);
    vmu_logger_free(logger);
    vmu_logger_free(NULL);
    /* The default logger is never freed. */
    vmu_logger_free(vmu_default_logger());
    assert_int_equal(vmu_logger_get_level(NULL), VMU_LEVEL_INFO);
}

static void test_logger_sink_and_writer(void **state)
{
    (void)state;
    vmu_logger *logger = vmu_logger_new();
    assert_non_null(logger);
    sink_capture sink = {0};
    write_capture w;
    vmu_buf_init(&w.out);
    w.calls = 0;
    w.fail = false;
    vmu_logger_set_writer(logger, capture_write, &w);
    vmu_logger_set_sink(logger, capture_sink, &sink);
    vmu_field f = vmu_field_int("n", 5);
    vmu_time t = golden_host_time;

    /* Below the level: nothing anywhere. */
    assert_int_equal(vmu_log_at(logger, &t, VMU_LEVEL_DEBUG, "quiet", 5, &f, 1), 0);
    assert_int_equal(vmu_log(logger, VMU_LEVEL_TRACE, "quiet", 5, &f, 1), 0);
    assert_int_equal(sink.calls, 0);

    assert_int_equal(vmu_log_at(logger, &t, VMU_LEVEL_WARN, "to sink", 7, &f, 1), 0);
    assert_int_equal(sink.calls, 1);
    assert_int_equal(sink.level, VMU_LEVEL_WARN);
    assert_string_equal(sink.msg, "to sink");
    assert_int_equal(sink.field_count, 1);
    assert_string_equal(sink.first_key, "n");
    assert_int_equal(w.calls, 0);

    /* No sink: formatted, one write per record. */
    vmu_logger_set_sink(logger, NULL, NULL);
    assert_int_equal(vmu_log_at(logger, &t, VMU_LEVEL_INFO, "text", 4, &f, 1), 0);
    vmu_logger_set_format(logger, VMU_LOG_JSON);
    assert_int_equal(vmu_log_at(logger, &t, VMU_LEVEL_ERROR, "json", 4, &f, 1), 0);
    assert_int_equal(w.calls, 2);
    assert_buf_text(&w.out, "time=\"2024-03-05T14:07:09+01:00\" level=info msg=text n=5\n"
                            "{\"level\":\"error\",\"msg\":\"json\",\"n\":5,"
                            "\"time\":\"2024-03-05T14:07:09+01:00\"}\n");

    /* A failing writer makes the call fail. */
    w.fail = true;
    assert_int_equal(vmu_log_at(logger, &t, VMU_LEVEL_INFO, "lost", 4, NULL, 0), -1);
    assert_int_equal(w.calls, 3);

    /* Formatting out of memory: -1, nothing written. */
    w.fail = false;
    vmu_logger *fresh = vmu_logger_new();
    assert_non_null(fresh);
    vmu_logger_set_writer(fresh, capture_write, &w);
    vmu_alloc_fail_after(0);
    int rc = vmu_log_at(fresh, &t, VMU_LEVEL_INFO, "oom", 3, &f, 1);
    vmu_alloc_fail_after(-1);
    assert_int_equal(rc, -1);
    assert_int_equal(w.calls, 3);
    assert_int_equal(vmu_log_at(fresh, &t, VMU_LEVEL_INFO, "ok", 2, NULL, 0), 0);
    assert_int_equal(w.calls, 4);
    vmu_logger_free(fresh);

    vmu_logger_free(logger);
    vmu_buf_free(&w.out);
}

static void test_logger_stream(void **state)
{
    (void)state;
    vmu_logger *logger = vmu_logger_new();
    assert_non_null(logger);
    FILE *f = tmpfile();
    assert_non_null(f);
    vmu_logger_set_stream(logger, f);
    vmu_time t = golden_host_time;
    vmu_field field = vmu_field_bool("ok", true);
    assert_int_equal(vmu_log_at(logger, &t, VMU_LEVEL_WARN, "to file", 7, &field, 1), 0);
    /* The writer replaces the stream and set_stream brings it back. */
    write_capture w;
    vmu_buf_init(&w.out);
    w.calls = 0;
    w.fail = false;
    vmu_logger_set_writer(logger, capture_write, &w);
    assert_int_equal(vmu_log_at(logger, &t, VMU_LEVEL_WARN, "to writer", 9, NULL, 0), 0);
    vmu_logger_set_stream(logger, f);
    assert_int_equal(vmu_log_at(logger, &t, VMU_LEVEL_ERROR, "again", 5, NULL, 0), 0);
    assert_int_equal(w.calls, 1);
    fflush(f);
    rewind(f);
    char text[256] = {0};
    size_t n = fread(text, 1, sizeof text - 1, f);
    assert_true(n > 0);
    assert_string_equal(text, "time=\"2024-03-05T14:07:09+01:00\" level=warning msg=\"to file\" ok=true\n"
                              "time=\"2024-03-05T14:07:09+01:00\" level=error msg=again\n");
    fclose(f);
    vmu_logger_free(logger);
    vmu_buf_free(&w.out);
}

static void test_logger_new_without_memory(void **state)
{
    (void)state;
    vmu_alloc_fail_after(0);
    vmu_logger *logger = vmu_logger_new();
    vmu_alloc_fail_after(-1);
    assert_null(logger);
}

static void test_time_now(void **state)
{
    (void)state;
    /* The same clock as vmu_time_now: time(2) reads the coarse clock, which
     * can still show the previous second for a few milliseconds. */
    struct timespec before, after;
    clock_gettime(CLOCK_REALTIME, &before);
    vmu_time now = vmu_time_now();
    clock_gettime(CLOCK_REALTIME, &after);
    assert_true(now.unix_sec >= before.tv_sec && now.unix_sec <= after.tv_sec);
    assert_true(now.nsec >= 0 && now.nsec < 1000000000);
    struct tm local;
    time_t secs = (time_t)now.unix_sec;
    localtime_r(&secs, &local);
    assert_int_equal(now.utc_offset, local.tm_gmtoff);
}

static void test_field_constructors(void **state)
{
    (void)state;
    vmu_field s = vmu_field_str("k", "v");
    assert_int_equal(s.key_len, 1);
    assert_int_equal(s.value.kind, VMU_VALUE_STRING);
    assert_int_equal(s.value.as.str.len, 1);
    assert_int_equal(vmu_field_uint("u", UINT64_MAX).value.as.u, UINT64_MAX);
    assert_int_equal(vmu_field_int("i", INT64_MIN).value.as.i, INT64_MIN);
    assert_true(vmu_field_float("f", 0.5).value.as.f == 0.5);
    assert_true(vmu_field_bool("b", true).value.as.b);
    vmu_field n = vmu_field_str("k", NULL);
    assert_int_equal(n.value.as.str.len, 0);
    assert_non_null(n.value.as.str.ptr);
}

int main(void)
{
    setenv("TZ", GOLDEN_TZ, 1);
    tzset();

    enum { FIXED_TESTS = 32 };
    static struct CMUnitTest tests[FIXED_TESTS + 2 * ARRAY_LEN(golden_records)];
    size_t n = 0;
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_level_names);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_level_parse);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_golden_floats);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_float_shortest_property);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_golden_strings);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_golden_times);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_time_extremes);
    for (size_t i = 0; i < ARRAY_LEN(golden_records); i++) {
        static char names[2 * ARRAY_LEN(golden_records)][96];
        snprintf(names[2 * i], sizeof names[0], "text: %s", golden_records[i].name);
        snprintf(names[2 * i + 1], sizeof names[0], "json: %s", golden_records[i].name);
        tests[n++] = (struct CMUnitTest){names[2 * i], test_golden_record_text, NULL, NULL,
                                         (void *)&golden_records[i]};
        tests[n++] = (struct CMUnitTest){names[2 * i + 1], test_golden_record_json, NULL, NULL,
                                         (void *)&golden_records[i]};
    }
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_formats_append);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_json_non_finite);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_null_arguments);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_nesting_limit);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_allocation_failures);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_logger_defaults_and_levels);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_logger_sink_and_writer);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_logger_stream);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_logger_new_without_memory);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_time_now);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_field_constructors);
    return _cmocka_run_group_tests("log", tests, n, NULL, NULL);
}
