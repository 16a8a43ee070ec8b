/* The allocation-failure walk: every public function that allocates is run
 * with vmu_alloc_fail_after(n) for n = 0, 1, 2, ... until a run needs no
 * more than n allocations, so that each of its allocation points is the
 * first to fail once. Every run must end cleanly: the full result (the same
 * as without failures), or a failure that says "out of memory" and leaves
 * nothing half-done (outputs NULL, buffers as they were, records only a
 * prefix of the real ones). Leaks show up under make sanitize (LeakSanitizer)
 * and make memcheck (valgrind), which run this test like every other.
 *
 * Whether a run hit the limit is seen by one more allocation after it: if
 * that probe still succeeds, no allocation of the run failed, and the run
 * must have given the full result. */
#include <fcntl.h>
#include <sys/stat.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "../core/test_hooks.h"
#include "../fuzz/gcs_records.h"
#include "vmutils.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define ROW_TEST(fn, row) {(row).name, fn, NULL, reset_failures, (void *)&(row)}
/* No function here comes near this many allocations; a walk that gets
 * there is a loop that never finishes. */
#define WALK_LIMIT 200000

static int reset_failures(void **state)
{
    (void)state;
    vmu_alloc_fail_after(-1);
    return 0;
}

/* One run under the current limit: 1 when it gave the full result, 0 when
 * it failed cleanly (the attempt asserts which). Right after the call under
 * test it calls end_of_run(), so that checking the result can allocate. */
typedef int (*attempt_fn)(const void *row);

static bool run_hit_limit;
/* The limit of the current run, for attempts that allocate set-up memory
 * first and then apply it. */
static long walk_limit_now;

static void end_of_run(void)
{
    void *probe = vmu_malloc(1);
    vmu_alloc_fail_after(-1);
    vmu_free(probe);
    run_hit_limit = probe == NULL;
}

/* Walks n up; returns the number of allocations a full run needs. */
static long walk(attempt_fn attempt, const void *row, const char *name)
{
    for (long n = 0; n <= WALK_LIMIT; n++) {
        run_hit_limit = true;
        walk_limit_now = n;
        vmu_alloc_fail_after(n);
        int matched = attempt(row);
        vmu_alloc_fail_after(-1);
        if (!run_hit_limit) {
            assert_true(matched);
            printf("# %s: %ld allocation points walked\n", name, n);
            return n;
        }
    }
    fail_msg("%s: no end after %d allocations", name, WALK_LIMIT);
    return -1;
}

static bool says_out_of_memory(const char *msg)
{
    return strstr(msg, "out of memory") != NULL || strstr(msg, "memory") != NULL;
}

/* ---- GCS entries ------------------------------------------------------- */

typedef struct entry_row {
    const char *name;
    const char *json;
    /* Filled in by the reference run. */
    int rc;
    record_log canonical; /* the entry as a record, when rc == 0 */
    char error[600];
} entry_row;

static entry_row entry_rows[] = {
    {"entry: fields, nesting, repeated key",
     "{\"time\":\"2024-01-15T10:30:00.123456789+02:00\",\"level\":\"warning\",\"msg\":\"hello\","
     "\"a\":1,\"b\":[1,2.5,{\"c\":null,\"d\":[true,false]}],\"e\":{\"f\":\"g\\u00e9\"},\"a\":2}",
     0, {0}, ""},
    {"entry: ETW message, fatal clamped", "{\"Source\":\"ETW\",\"Message\":\"etw\",\"level\":\"fatal\",\"n\":1500.0}",
     0, {0}, ""},
    {"entry: unknown level", "{\"level\":\"nope\",\"x\":[1,2,3]}", 0, {0}, ""},
    {"entry: number as msg, bad UTF-8", "{\"msg\":5,\"x\":\"\xff\xfe\",\"y\":{\"z\":\"\xc3\"}}", 0, {0}, ""},
    {"entry: syntax error", "{\"a\":[1,2", 0, {0}, ""},
    {"entry: null", "null", 0, {0}, ""},
};

static void entry_as_record(const vmu_gcs_entry *e, record_log *into)
{
    vmu_log_record r = {e->time, e->level, e->msg, e->msg_len, e->fields, e->field_count};
    keep_record(into, &r);
}

static int attempt_entry(const void *p)
{
    entry_row *row = (entry_row *)p;
    vmu_gcs_entry e;
    vmu_err err = {{0}};
    int rc = vmu_gcs_decode_entry(row->json, strlen(row->json), &e, &err);
    end_of_run();
    int matched;
    if (rc == 0) {
        record_log got = {0};
        entry_as_record(&e, &got);
        assert_int_equal(row->rc, 0);
        assert_int_equal(first_different_record(&got, &row->canonical), SIZE_MAX);
        record_log_free(&got);
        matched = 1;
    } else {
        assert_int_equal(rc, -1);
        assert_non_null(e.error);
        matched = row->rc == -1 && strcmp(err.msg, row->error) == 0;
        if (!matched)
            assert_true(says_out_of_memory(err.msg));
    }
    vmu_gcs_entry_free(&e);
    return matched;
}

static void test_entry_walk(void **state)
{
    entry_row *row = *state;
    vmu_gcs_entry e;
    vmu_err err = {{0}};
    row->rc = vmu_gcs_decode_entry(row->json, strlen(row->json), &e, &err);
    if (row->rc == 0)
        entry_as_record(&e, &row->canonical);
    else
        snprintf(row->error, sizeof row->error, "%s", err.msg);
    vmu_gcs_entry_free(&e);
    walk(attempt_entry, row, row->name);
    record_log_free(&row->canonical);
}

/* ---- GCS streams --------------------------------------------------------- */

typedef struct stream_row {
    const char *name;
    bool resync;
    size_t max_entry_bytes; /* 0: the default */
    size_t chunk; /* 0: vmu_gcs_decode_stream; SIZE_MAX: vmu_gcs_forward; else fed in chunks */
    record_log reference;
} stream_row;

static char *stream_text;
static size_t stream_len;

/* Good entries from examples/gcs.log, then a bad entry, text, an oversized
 * entry, more entries, a trailing block. */
static void build_stream(void)
{
    if (stream_text)
        return;
    static const char tail[] =
        "{\"level\":\"nope\",\"msg\":\"bad level\"}\n"
        "this is not json\npanic: something\n"
        "{\"msg\":\"after text\",\"k\":[1,2,3]}\n"
        "{\"msg\":\"an entry too large for a small limit\",\"pad\":\"0123456789012345678901234567890123456789"
        "0123456789012345678901234567890123456789012345678901234567890123456789\"}\n"
        "{\"msg\":\"last\"} 42 {\"msg\":\"after a number\"}\n"
        "goroutine 1 [running]:\nmain.main()\n";
    FILE *f = fopen("examples/gcs.log", "rb");
    assert_non_null(f);
    char head[16000];
    size_t n = fread(head, 1, sizeof head, f);
    fclose(f);
    while (n > 0 && head[n - 1] != '\n') /* whole lines only */
        n--;
    stream_text = malloc(n + sizeof tail);
    assert_non_null(stream_text);
    memcpy(stream_text, head, n);
    memcpy(stream_text + n, tail, sizeof tail);
    stream_len = n + sizeof tail - 1;
}

static stream_row stream_rows[] = {
    {"stream: Go mode, whole", false, 0, 0, {0}},
    {"stream: resync, whole", true, 0, 0, {0}},
    {"stream: resync, small max_entry_bytes, 7-byte chunks", true, 100, 7, {0}},
    {"stream: Go mode, 64-byte chunks", false, 0, 64, {0}},
    {"stream: vmu_gcs_forward from a read function, resync", true, 0, SIZE_MAX, {0}},
};

static vmu_logger *stream_logger;

/* vmu_gcs_forward's source: the stream in reads of at most 100 bytes. */
typedef struct memory_source {
    size_t at;
} memory_source;

static ptrdiff_t read_memory(void *user, void *buf, size_t cap)
{
    memory_source *m = user;
    size_t n = stream_len - m->at;
    if (n > cap)
        n = cap;
    if (n > 100)
        n = 100;
    memcpy(buf, stream_text + m->at, n);
    m->at += n;
    return (ptrdiff_t)n;
}

static int decode_rows_stream(const stream_row *row, record_log *into)
{
    vmu_gcs_options opts;
    vmu_gcs_options_init(&opts);
    opts.resync = row->resync;
    if (row->max_entry_bytes)
        opts.max_entry_bytes = row->max_entry_bytes;
    vmu_logger_set_sink(stream_logger, keep_record, into);
    if (row->chunk == SIZE_MAX) {
        memory_source source = {0};
        return vmu_gcs_forward("walk-vm", read_memory, &source, "memory", &opts, stream_logger, NULL);
    }
    if (!row->chunk)
        return vmu_gcs_decode_stream("walk-vm", stream_text, stream_len, &opts, stream_logger, NULL);
    vmu_gcs_decoder *d = vmu_gcs_decoder_new("walk-vm", 7, &opts, stream_logger);
    if (!d)
        return -1;
    int rc = 0;
    for (size_t at = 0; at < stream_len && rc == 0; at += row->chunk)
        rc = vmu_gcs_decoder_feed(d, stream_text + at,
                                  stream_len - at < row->chunk ? stream_len - at : row->chunk);
    if (rc == 0)
        rc = vmu_gcs_decoder_finish(d);
    vmu_gcs_decoder_free(d);
    return rc;
}

static int attempt_stream(const void *p)
{
    const stream_row *row = p;
    record_log got = {0};
    int rc = decode_rows_stream(row, &got);
    end_of_run();
    assert_true(rc == 0 || rc == -1);
    /* What was logged before memory ran out is what a full run logs first:
     * no record is garbled or invented. */
    size_t differs = first_different_record(&got, &row->reference);
    if (!(differs == SIZE_MAX || differs == got.count))
        fprintf(stderr, "# limit %ld: record %zu: got '%s' stderr '%s' entry '%s', want '%s' stderr '%s' entry '%s'\n",
                walk_limit_now, differs, got.items[differs].msg, got.items[differs].stderr_text,
                got.items[differs].entry, row->reference.items[differs].msg,
                row->reference.items[differs].stderr_text, row->reference.items[differs].entry);
    assert_true(differs == SIZE_MAX || differs == got.count);
    int matched = rc == 0;
    if (matched)
        assert_int_equal(got.count, row->reference.count);
    record_log_free(&got);
    return matched;
}

static void test_stream_walk(void **state)
{
    stream_row *row = *state;
    build_stream();
    stream_logger = vmu_logger_new();
    assert_non_null(stream_logger);
    vmu_logger_set_level(stream_logger, VMU_LEVEL_TRACE);
    assert_int_equal(decode_rows_stream(row, &row->reference), 0);
    printf("# %s: %zu records\n", row->name, row->reference.count);
    assert_true(row->reference.count >= 10); /* entries and the error records */
    walk(attempt_stream, row, row->name);
    record_log_free(&row->reference);
    vmu_logger_free(stream_logger);
    free(stream_text);
    stream_text = NULL;
}

/* ---- runtime options ------------------------------------------------------- */

typedef struct options_row {
    const char *name;
    int what; /* which function */
    vmu_buf message;  /* Options bytes */
    vmu_buf any;      /* the Any holding them */
    vmu_buf expected; /* the reference output (encoding or JSON) */
} options_row;

enum { OPT_DECODE, OPT_UNMARSHAL_ANY, OPT_ENCODE, OPT_MARSHAL, OPT_FORMAT_JSON };

static options_row options_rows[] = {
    {"options: decode", OPT_DECODE, {0}, {0}, {0}},
    {"options: unmarshal an Any", OPT_UNMARSHAL_ANY, {0}, {0}, {0}},
    {"options: encode", OPT_ENCODE, {0}, {0}, {0}},
    {"options: marshal", OPT_MARSHAL, {0}, {0}, {0}},
    {"options: protojson", OPT_FORMAT_JSON, {0}, {0}, {0}},
};

static vmu_runtime_options *reference_options;

/* Options with every kind of field set, annotations out of order. */
static void build_options(options_row *row)
{
    static const vmu_annotation annotations[] = {
        {{"zeta", 4}, {"last", 4}},
        {{"alpha", 5}, {"first", 5}},
        {{"mid\xc3\xa9", 5}, {"v", 1}},
    };
    vmu_runtime_options o;
    vmu_runtime_options_init(&o);
    o.debug = true;
    o.debug_type = VMU_DEBUG_TYPE_ETW;
    o.registry_root = (vmu_options_string){"HKLM\\Software", 13};
    o.sandbox_image = (vmu_options_string){"mcr.microsoft.com/pause", 23};
    o.sandbox_isolation = 7; /* an unnamed enum value */
    o.boot_files_root_path = (vmu_options_string){"C:\\boot", 7};
    o.vm_processor_count = 4;
    o.vm_memory_size_in_mb = 2048;
    o.log_level = (vmu_options_string){"debug", 5};
    o.annotations = annotations;
    o.annotation_count = ARRAY_LEN(annotations);
    o.has_scrub_logs = true;
    o.scrub_logs = true;
    vmu_err err;
    vmu_buf_init(&row->message);
    vmu_buf_init(&row->any);
    vmu_buf_init(&row->expected);
    assert_int_equal(vmu_runtime_options_encode(&o, &row->message, &err), 0);
    /* An unknown field and a mistyped known one (debug as a string), which
     * make the decoder drop a field and re-pack the rest. */
    static const uint8_t extra[] = {0xa2, 0x06, 0x03, 'x', 'y', 'z', 0x0a, 0x01, 'q'};
    assert_int_equal(vmu_buf_append(&row->message, extra, sizeof extra), 0);
    assert_int_equal(vmu_marshal_runtime_options(&o, &row->any, &err), 0);
    reference_options = vmu_runtime_options_decode((const uint8_t *)row->message.data,
                                                   row->message.len, &err);
    assert_non_null(reference_options);
    switch (row->what) {
    case OPT_ENCODE:
        assert_int_equal(vmu_runtime_options_encode(reference_options, &row->expected, &err), 0);
        break;
    case OPT_MARSHAL:
        assert_int_equal(vmu_marshal_runtime_options(reference_options, &row->expected, &err), 0);
        break;
    default:
        assert_int_equal(vmu_runtime_options_format_json(reference_options, &row->expected), 0);
        break;
    }
}

static int same_bytes(const vmu_buf *a, const vmu_buf *b)
{
    return a->len == b->len && (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
}

static int attempt_options(const void *p)
{
    const options_row *row = p;
    vmu_err err = {{0}};
    vmu_buf out;
    vmu_buf_init(&out);
    int matched = 0;
    if (row->what == OPT_DECODE || row->what == OPT_UNMARSHAL_ANY) {
        vmu_runtime_options *o =
            row->what == OPT_DECODE
                ? vmu_runtime_options_decode((const uint8_t *)row->message.data, row->message.len, &err)
                : vmu_unmarshal_runtime_options_bytes(NULL, (const uint8_t *)row->any.data,
                                                      row->any.len, &err);
        end_of_run();
        if (o) {
            /* Compared through the JSON rendering. */
            vmu_buf a, b;
            vmu_buf_init(&a);
            vmu_buf_init(&b);
            assert_int_equal(vmu_runtime_options_format_json(o, &a), 0);
            assert_int_equal(vmu_runtime_options_format_json(reference_options, &b), 0);
            assert_true(same_bytes(&a, &b));
            vmu_buf_free(&a);
            vmu_buf_free(&b);
            vmu_runtime_options_free(o);
            return 1;
        }
        assert_true(says_out_of_memory(err.msg));
        return 0;
    }
    int rc;
    if (row->what == OPT_ENCODE)
        rc = vmu_runtime_options_encode(reference_options, &out, &err);
    else if (row->what == OPT_MARSHAL)
        rc = vmu_marshal_runtime_options(reference_options, &out, &err);
    else
        rc = vmu_runtime_options_format_json(reference_options, &out);
    end_of_run();
    if (rc == 0) {
        assert_true(same_bytes(&out, &row->expected));
        matched = 1;
    } else {
        assert_int_equal(rc, -1);
        assert_int_equal(out.len, 0);
        if (row->what != OPT_FORMAT_JSON)
            assert_true(says_out_of_memory(err.msg));
    }
    vmu_buf_free(&out);
    return matched;
}

static void test_options_walk(void **state)
{
    options_row *row = *state;
    build_options(row);
    walk(attempt_options, row, row->name);
    vmu_runtime_options_free(reference_options);
    reference_options = NULL;
    vmu_buf_free(&row->message);
    vmu_buf_free(&row->any);
    vmu_buf_free(&row->expected);
}

/* ---- vNUMA ----------------------------------------------------------------- */

/* Formatted records land here (plain malloc: outside the walk's limit). */
typedef struct text_sink {
    char *data;
    size_t len, cap;
    size_t writes;
} text_sink;

static int write_to_sink(void *user, const char *data, size_t len)
{
    text_sink *s = user;
    grow(&s->data, &s->len, &s->cap, data, len);
    s->writes++;
    return 0;
}

typedef struct numa_row {
    const char *name;
    vmu_numa_config config;
    vmu_log_level level;
    char expected[1024]; /* numa JSON, then processors JSON */
} numa_row;

static const uint32_t preferred[] = {0, 1};
static const uint32_t mapped[] = {0, 1, 1};
static const uint32_t procs[] = {2, 2, 4};
static const uint64_t blocks[] = {1024, 1024, 2048};

static numa_row numa_rows[] = {
    {"numa: implicit, debug record", {4, 4096, preferred, 2, NULL, 0, NULL, 0, NULL, 0}, VMU_LEVEL_DEBUG, ""},
    {"numa: explicit, debug record", {0, 0, preferred, 2, mapped, 3, procs, 3, blocks, 3}, VMU_LEVEL_DEBUG, ""},
    {"numa: incomplete, warnings", {0, 512, preferred, 2, NULL, 0, procs, 3, blocks, 3}, VMU_LEVEL_TRACE, ""},
};

static int describe(const vmu_numa *numa, const vmu_numa_processors *p, char *out, size_t cap)
{
    vmu_buf b;
    vmu_buf_init(&b);
    int rc = 0;
    if (numa)
        rc |= vmu_numa_format_json(numa, &b);
    vmu_buf_putc(&b, '|');
    if (p)
        rc |= vmu_numa_processors_format_json(p, &b);
    snprintf(out, cap, "%.*s", (int)b.len, b.data ? b.data : "");
    rc |= b.failed ? -1 : 0;
    vmu_buf_free(&b);
    return rc;
}

static vmu_logger *numa_logger;
static text_sink numa_text;

static int attempt_numa(const void *p)
{
    const numa_row *row = p;
    vmu_numa *numa = NULL;
    vmu_numa_processors *processors = NULL;
    vmu_err err = {{0}};
    numa_text.len = 0;
    int rc = vmu_prepare_vnuma_topology(numa_logger, &row->config, -1, &numa, &processors, &err);
    end_of_run();
    if (rc != 0) {
        assert_null(numa);
        assert_null(processors);
        assert_true(says_out_of_memory(err.msg));
        return 0;
    }
    char got[1024];
    assert_int_equal(describe(numa, processors, got, sizeof got), 0);
    assert_string_equal(got, row->expected);
    vmu_numa_free(numa);
    vmu_numa_processors_free(processors);
    return 1;
}

static void test_numa_walk(void **state)
{
    numa_row *row = *state;
    numa_logger = vmu_logger_new();
    assert_non_null(numa_logger);
    vmu_logger_set_level(numa_logger, row->level);
    vmu_logger_set_format(numa_logger, VMU_LOG_JSON);
    vmu_logger_set_writer(numa_logger, write_to_sink, &numa_text);
    vmu_numa *numa = NULL;
    vmu_numa_processors *processors = NULL;
    assert_int_equal(vmu_prepare_vnuma_topology(numa_logger, &row->config, -1, &numa, &processors, NULL), 0);
    assert_true(numa_text.writes > 0); /* the records are part of what is walked */
    assert_int_equal(describe(numa, processors, row->expected, sizeof row->expected), 0);
    vmu_numa_free(numa);
    vmu_numa_processors_free(processors);
    walk(attempt_numa, row, row->name);
    vmu_logger_free(numa_logger);
    free(numa_text.data);
    memset(&numa_text, 0, sizeof numa_text);
}

/* ---- log formatting ---------------------------------------------------------- */

typedef struct format_row {
    const char *name;
    vmu_log_format format;
    bool through_logger; /* vmu_log_at on a logger with a writer */
    text_sink expected;
} format_row;

static format_row format_rows[] = {
    {"log: text formatter", VMU_LOG_TEXT, false, {0}},
    {"log: JSON formatter", VMU_LOG_JSON, false, {0}},
    {"log: text through a logger", VMU_LOG_TEXT, true, {0}},
    {"log: JSON through a logger", VMU_LOG_JSON, true, {0}},
};

/* A record with every kind of value, more fields than the formatters sort
 * on the stack, and a repeated key. */
static vmu_field record_fields[40];
static vmu_value nested_items[3];
static vmu_field nested_members[2];
static vmu_log_record sample_record;

static void build_record(void)
{
    static char keys[40][16];
    for (int i = 0; i < 36; i++) {
        snprintf(keys[i], sizeof keys[i], "k%02d", 35 - i);
        record_fields[i] = vmu_field_int(keys[i], i * 1000003LL);
    }
    record_fields[36] = vmu_field_str("quote", "needs \"quoting\" <and> escaping\n\xff");
    record_fields[37] = vmu_field_float("f", 1.0e21);
    nested_members[0] = vmu_field_str("inner", "value");
    nested_members[1] = vmu_field_bool("flag", true);
    nested_items[0].kind = VMU_VALUE_OBJECT;
    nested_items[0].as.object.members = nested_members;
    nested_items[0].as.object.count = 2;
    nested_items[1].kind = VMU_VALUE_NULL;
    nested_items[2].kind = VMU_VALUE_TIME;
    nested_items[2].as.time = (vmu_time){1700000000, 123456789, 3600, false};
    record_fields[38].key = "nested";
    record_fields[38].key_len = 6;
    record_fields[38].value.kind = VMU_VALUE_ARRAY;
    record_fields[38].value.as.array.items = nested_items;
    record_fields[38].value.as.array.count = 3;
    record_fields[39] = vmu_field_str("k00", "the last k00 wins");
    static const char msg[] = "a message with \"quotes\"";
    sample_record = (vmu_log_record){{1700000000, 5, 0, true}, VMU_LEVEL_WARN, msg, sizeof msg - 1,
                                     record_fields, ARRAY_LEN(record_fields)};
}

static vmu_logger *format_logger;
static text_sink format_text;

static int format_once(const format_row *row, vmu_buf *out)
{
    if (row->through_logger) {
        format_text.len = 0;
        return vmu_log_at(format_logger, &sample_record.time, sample_record.level, sample_record.msg,
                          sample_record.msg_len, sample_record.fields, sample_record.field_count);
    }
    return row->format == VMU_LOG_JSON ? vmu_log_format_json(&sample_record, out)
                                       : vmu_log_format_text(&sample_record, out);
}

static int attempt_format(const void *p)
{
    const format_row *row = p;
    /* The buffer may hold earlier text, which a failure must leave alone;
     * it is made before the limit applies. */
    static const char before[] = "kept: ";
    vmu_alloc_fail_after(-1);
    vmu_buf out;
    vmu_buf_init(&out);
    assert_int_equal(vmu_buf_append(&out, before, sizeof before - 1), 0);
    format_text.len = 0;
    /* A fresh logger, whose line buffer is not grown yet. */
    vmu_logger_free(format_logger);
    format_logger = vmu_logger_new();
    assert_non_null(format_logger);
    vmu_logger_set_format(format_logger, row->format);
    vmu_logger_set_writer(format_logger, write_to_sink, &format_text);
    vmu_alloc_fail_after(walk_limit_now);
    int rc = format_once(row, &out);
    end_of_run();
    const char *got = row->through_logger ? format_text.data : out.data + sizeof before - 1;
    size_t got_len = row->through_logger ? format_text.len : out.len - (sizeof before - 1);
    if (rc == 0) {
        assert_int_equal(got_len, row->expected.len);
        assert_memory_equal(got, row->expected.data, got_len);
    } else {
        assert_int_equal(rc, -1);
        assert_int_equal(got_len, 0); /* nothing half-written */
        if (!row->through_logger) {
            assert_false(out.failed);
            assert_memory_equal(out.data, before, sizeof before - 1);
        }
    }
    vmu_buf_free(&out);
    return rc == 0;
}

static void test_format_walk(void **state)
{
    format_row *row = *state;
    build_record();
    format_logger = vmu_logger_new();
    assert_non_null(format_logger);
    vmu_logger_set_format(format_logger, row->format);
    vmu_logger_set_writer(format_logger, write_to_sink, &format_text);
    vmu_buf out;
    vmu_buf_init(&out);
    assert_int_equal(format_once(row, &out), 0);
    if (row->through_logger)
        grow(&row->expected.data, &row->expected.len, &row->expected.cap, format_text.data,
             format_text.len);
    else
        grow(&row->expected.data, &row->expected.len, &row->expected.cap, out.data, out.len);
    vmu_buf_free(&out);
    walk(attempt_format, row, row->name);
    free(row->expected.data);
    memset(&row->expected, 0, sizeof row->expected);
    free(format_text.data);
    memset(&format_text, 0, sizeof format_text);
    vmu_logger_free(format_logger);
}

/* ---- reference info ---------------------------------------------------------- */

static char refinfo_dir[64];
static vmu_buf refinfo_expected;

static int attempt_refinfo(const void *p)
{
    (void)p;
    vmu_buf out;
    vmu_buf_init(&out);
    vmu_err err = {{0}};
    int rc = vmu_parse_uvm_reference_info(NULL, refinfo_dir, "dir/../ref.cose", &out, &err);
    end_of_run();
    int matched = rc == 0;
    if (rc == 0)
        assert_true(same_bytes(&out, &refinfo_expected));
    else
        assert_true(says_out_of_memory(err.msg) && out.len == 0);
    vmu_buf_free(&out);
    return matched;
}

static void test_refinfo_walk(void **state)
{
    (void)state;
    snprintf(refinfo_dir, sizeof refinfo_dir, "/tmp/vmutils-walk-XXXXXX");
    assert_non_null(mkdtemp(refinfo_dir));
    char path[128];
    snprintf(path, sizeof path, "%s/ref.cose", refinfo_dir);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    for (int i = 0; i < 5000; i++)
        fputc(i * 7, f);
    fclose(f);
    snprintf(path, sizeof path, "%s/dir", refinfo_dir);
    assert_int_equal(mkdir(path, 0755), 0);
    vmu_buf_init(&refinfo_expected);
    assert_int_equal(vmu_parse_uvm_reference_info(NULL, refinfo_dir, "dir/../ref.cose", &refinfo_expected, NULL), 0);
    assert_int_equal(refinfo_expected.len, 6668); /* 5000 bytes in base64 */
    walk(attempt_refinfo, NULL, "refinfo: parse_uvm_reference_info");
    vmu_buf_free(&refinfo_expected);
    rmdir(path);
    snprintf(path, sizeof path, "%s/ref.cose", refinfo_dir);
    unlink(path);
    rmdir(refinfo_dir);
}

/* ---- constructors ---------------------------------------------------------------- */

static int attempt_constructors(const void *p)
{
    (void)p;
    vmu_logger *logger = vmu_logger_new();
    vmu_gcs_decoder *d = logger ? vmu_gcs_decoder_new("vm", 2, NULL, logger) : NULL;
    end_of_run();
    int matched = logger && d;
    vmu_gcs_decoder_free(d);
    vmu_logger_free(logger);
    return matched;
}

static void test_constructors_walk(void **state)
{
    (void)state;
    walk(attempt_constructors, NULL, "constructors: logger, GCS decoder");
}

int main(void)
{
    struct CMUnitTest tests[ARRAY_LEN(entry_rows) + ARRAY_LEN(stream_rows) + ARRAY_LEN(options_rows) +
                            ARRAY_LEN(numa_rows) + ARRAY_LEN(format_rows) + 2];
    size_t n = 0;
    for (size_t i = 0; i < ARRAY_LEN(entry_rows); i++)
        tests[n++] = (struct CMUnitTest)ROW_TEST(test_entry_walk, entry_rows[i]);
    for (size_t i = 0; i < ARRAY_LEN(stream_rows); i++)
        tests[n++] = (struct CMUnitTest)ROW_TEST(test_stream_walk, stream_rows[i]);
    for (size_t i = 0; i < ARRAY_LEN(options_rows); i++)
        tests[n++] = (struct CMUnitTest)ROW_TEST(test_options_walk, options_rows[i]);
    for (size_t i = 0; i < ARRAY_LEN(numa_rows); i++)
        tests[n++] = (struct CMUnitTest)ROW_TEST(test_numa_walk, numa_rows[i]);
    for (size_t i = 0; i < ARRAY_LEN(format_rows); i++)
        tests[n++] = (struct CMUnitTest)ROW_TEST(test_format_walk, format_rows[i]);
    tests[n++] = (struct CMUnitTest){"refinfo: parse_uvm_reference_info", test_refinfo_walk, NULL,
                                     reset_failures, NULL};
    tests[n++] = (struct CMUnitTest){"constructors: logger, GCS decoder", test_constructors_walk,
                                     NULL, reset_failures, NULL};
    return _cmocka_run_group_tests("alloc_walk", tests, n, NULL, NULL);
}
