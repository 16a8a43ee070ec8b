/* The asynchronous sink (log_async.h): what reaches the writer is exactly
 * what the synchronous formatters print for the same records, in order,
 * whatever the records hold (nesting, odd keys, records bigger than a
 * block), and failures (a writer error, no memory, too deep a value) are
 * reported without losing the records around them. Run under TSan by make
 * tsan and under valgrind by make memcheck. */
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "../core/test_hooks.h"
#include "vmutils.h"

/* ---- a writer that keeps what it is given ---- */

/* Plain malloc, not the core's allocator: the allocation-failure test
 * fails only the sink's allocations. */
typedef struct capture {
    pthread_mutex_t lock;
    pthread_cond_t grew;
    struct {
        char *data;
        size_t len;
    } text;
    size_t calls;
    size_t fail_at_call; /* 0: never fail */
} capture;

static void capture_init(capture *c)
{
    pthread_mutex_init(&c->lock, NULL);
    pthread_cond_init(&c->grew, NULL);
    c->text.data = NULL;
    c->text.len = 0;
    c->calls = 0;
    c->fail_at_call = 0;
}

static void capture_free(capture *c)
{
    free(c->text.data);
    pthread_cond_destroy(&c->grew);
    pthread_mutex_destroy(&c->lock);
}

static int capture_write(void *user, const char *data, size_t len)
{
    capture *c = user;
    pthread_mutex_lock(&c->lock);
    int rc = -1;
    char *grown = realloc(c->text.data, c->text.len + len);
    if (++c->calls != c->fail_at_call && grown) {
        memcpy(grown + c->text.len, data, len);
        c->text.len += len;
        rc = 0;
    }
    if (grown)
        c->text.data = grown;
    pthread_cond_broadcast(&c->grew);
    pthread_mutex_unlock(&c->lock);
    return rc;
}

/* Waits until the writer has been called `calls` times; the deadline
 * guards against a hang, it is not a timing. */
static size_t wait_for_calls(capture *c, size_t calls)
{
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += 60;
    pthread_mutex_lock(&c->lock);
    while (c->calls < calls)
        if (pthread_cond_timedwait(&c->grew, &c->lock, &deadline) != 0)
            break;
    size_t got = c->calls;
    pthread_mutex_unlock(&c->lock);
    return got;
}

/* ---- records ---- */

#define T0 {1700000000, 123456789, 3600, false}

static vmu_log_record record_of(vmu_log_level level, const char *msg, const vmu_field *fields,
                                size_t count)
{
    vmu_log_record r = {T0, level, msg, msg ? strlen(msg) : 0, fields, count};
    return r;
}

/* Formats the records one by one, as a logger without the sink would. */
static void format_all(vmu_log_format format, const vmu_log_record *records, size_t n,
                       vmu_buf *out)
{
    for (size_t i = 0; i < n; i++) {
        int rc = format == VMU_LOG_JSON ? vmu_log_format_json(&records[i], out)
                                        : vmu_log_format_text(&records[i], out);
        assert_int_equal(rc, 0);
    }
}

/* Sends the records through a new vmu_log_async and checks the writer got
 * the synchronous bytes; returns close's result. */
static int through_async(vmu_log_format format, const vmu_log_record *records, size_t n)
{
    capture c;
    capture_init(&c);
    vmu_log_async *a = vmu_log_async_new(format, capture_write, &c);
    assert_non_null(a);
    for (size_t i = 0; i < n; i++)
        vmu_log_async_sink(a, &records[i]);
    int rc = vmu_log_async_close(a);

    vmu_buf want;
    vmu_buf_init(&want);
    format_all(format, records, n, &want);
    assert_int_equal(c.text.len, want.len);
    assert_memory_equal(c.text.data, want.data, want.len);
    vmu_buf_free(&want);
    capture_free(&c);
    return rc;
}

/* Every kind of value, nested, with the oddities the formatters handle:
 * NULL keys and strings, repeated and clashing keys, bytes that need
 * escaping. */
static void test_every_kind_of_value(void **state)
{
    (void)state;
    static const char line[] = "x\u2028y\ttab\n";
    static const vmu_value items[] = {
        {VMU_VALUE_INT, {.i = -7}},
        {VMU_VALUE_STRING, {.str = {"a\"b<c>\xff", 8}}},
        {VMU_VALUE_NULL, {.b = false}},
    };
    vmu_field inner[] = {
        {"z", 1, {VMU_VALUE_FLOAT, {.f = 1.5}}},
        {"a", 1, {VMU_VALUE_ARRAY, {.array = {items, 3}}}},
        {NULL, 0, {VMU_VALUE_STRING, {.str = {NULL, 0}}}},
        {"a", 1, {VMU_VALUE_BOOL, {.b = true}}},
    };
    vmu_field fields[] = {
        vmu_field_str("name", "guest::createContainer"),
        {"nested", 6, {VMU_VALUE_OBJECT, {.object = {inner, 4}}}},
        {"empty", 5, {VMU_VALUE_OBJECT, {.object = {NULL, 0}}}},
        {"none", 4, {VMU_VALUE_ARRAY, {.array = {NULL, 0}}}},
        vmu_field_uint("big", UINT64_MAX),
        vmu_field_float("nan", NAN),
        vmu_field_float("dur", 152.456016),
        vmu_field_str("msg", "a clashing key"),
        vmu_field_str("fields.msg", "replaced by the clash"),
        {"when", 4, {VMU_VALUE_TIME, {.time = {1600000000, 5, -18000, false}}}},
        {"line", 4, {VMU_VALUE_STRING, {.str = {line, sizeof line - 1}}}},
    };
    vmu_log_record records[] = {
        record_of(VMU_LEVEL_INFO, "Span", fields, sizeof fields / sizeof fields[0]),
        record_of(VMU_LEVEL_ERROR, NULL, NULL, 0),
        record_of(VMU_LEVEL_TRACE, "", fields, 3),
        record_of(VMU_LEVEL_WARN, "no fields", NULL, 5),
    };
    size_t n = sizeof records / sizeof records[0];
    assert_int_equal(through_async(VMU_LOG_JSON, records, n), 0);
    assert_int_equal(through_async(VMU_LOG_TEXT, records, n), 0);
}

/* Many records of varied sizes: they fill and cycle every block of the
 * pool, and order must hold across blocks. */
static void test_many_records_in_order(void **state)
{
    (void)state;
    enum { N = 20000 };
    vmu_log_record *records = calloc(N, sizeof *records);
    vmu_field *fields = calloc(N * 3, sizeof *fields);
    char *payload = malloc(4096);
    assert_non_null(records);
    assert_non_null(fields);
    assert_non_null(payload);
    for (size_t i = 0; i < 4096; i++)
        payload[i] = (char)('a' + i % 26);
    uint32_t seed = 12345;
    for (size_t i = 0; i < N; i++) {
        seed = seed * 1103515245u + 12345u;
        fields[3 * i] = vmu_field_int("seq", (int64_t)i);
        fields[3 * i + 1] = vmu_field_strn("payload", payload, (seed >> 8) % 4096);
        fields[3 * i + 2] = vmu_field_float("ratio", (double)seed / 7.0);
        records[i] = record_of((vmu_log_level)(i % 7), "record", &fields[3 * i], 3);
    }
    assert_int_equal(through_async(VMU_LOG_JSON, records, N), 0);
    assert_int_equal(through_async(VMU_LOG_TEXT, records, N), 0);
    free(payload);
    free(fields);
    free(records);
}

/* Keys and values of every short length: the copy moves short strings in
 * fixed-size pieces. */
static void test_every_short_length(void **state)
{
    (void)state;
    char text[41];
    for (size_t i = 0; i < sizeof text; i++)
        text[i] = (char)('A' + i);
    vmu_field fields[41];
    vmu_log_record records[41];
    for (size_t len = 0; len <= 40; len++) {
        fields[len].key = text + 40 - len;
        fields[len].key_len = len;
        fields[len].value.kind = VMU_VALUE_STRING;
        fields[len].value.as.str.ptr = text;
        fields[len].value.as.str.len = len;
        records[len] = record_of(VMU_LEVEL_INFO, "lengths", fields, len + 1);
    }
    assert_int_equal(through_async(VMU_LOG_JSON, records, 41), 0);
    assert_int_equal(through_async(VMU_LOG_TEXT, records, 41), 0);
}

/* Records bigger than a block, between small ones: each gets a block of
 * its size, and the small ones after them still fit (the block shrinks). */
static void test_records_bigger_than_a_block(void **state)
{
    (void)state;
    static const size_t sizes[] = {3u << 20, 200u << 10, 129u << 10, 10};
    char *big = malloc(sizes[0]);
    assert_non_null(big);
    memset(big, 'x', sizes[0]);
    big[1000] = '<'; /* escaped: the formatted text is longer than the input */
    vmu_field fields[8];
    vmu_log_record records[8];
    size_t n = 0;
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        fields[n] = vmu_field_strn("small", "s", 1);
        records[n] = record_of(VMU_LEVEL_INFO, "before", &fields[n], 1);
        n++;
        fields[n] = vmu_field_strn("big", big, sizes[i]);
        records[n] = record_of(VMU_LEVEL_INFO, "big", &fields[n], 1);
        n++;
    }
    assert_int_equal(through_async(VMU_LOG_JSON, records, n), 0);
    assert_int_equal(through_async(VMU_LOG_TEXT, records, n), 0);
    free(big);
}

/* The record's memory may change as soon as the sink returns. */
static void test_the_record_is_copied(void **state)
{
    (void)state;
    capture c;
    capture_init(&c);
    vmu_log_async *a = vmu_log_async_new(VMU_LOG_JSON, capture_write, &c);
    assert_non_null(a);
    char text[] = "first";
    vmu_field field = vmu_field_strn("k", text, 5);
    vmu_log_record r = record_of(VMU_LEVEL_INFO, "m", &field, 1);
    vmu_log_async_sink(a, &r);
    memcpy(text, "later", 5);
    field.key = "changed";
    field.key_len = 7;
    assert_int_equal(vmu_log_async_close(a), 0);

    vmu_field original = vmu_field_strn("k", "first", 5);
    vmu_log_record want_record = record_of(VMU_LEVEL_INFO, "m", &original, 1);
    vmu_buf want;
    vmu_buf_init(&want);
    format_all(VMU_LOG_JSON, &want_record, 1, &want);
    assert_int_equal(c.text.len, want.len);
    assert_memory_equal(c.text.data, want.data, want.len);
    vmu_buf_free(&want);
    capture_free(&c);
}

/* After a flush the records are written while the producer goes on
 * holding the sink open (a live stream waiting for input). */
static void test_flush_writes_without_close(void **state)
{
    (void)state;
    capture c;
    capture_init(&c);
    vmu_log_async *a = vmu_log_async_new(VMU_LOG_TEXT, capture_write, &c);
    assert_non_null(a);
    vmu_field field = vmu_field_str("vm", "uvm-1");
    vmu_log_record r = record_of(VMU_LEVEL_WARN, "live", &field, 1);
    vmu_log_async_sink(a, &r);
    vmu_log_async_flush(a);

    vmu_buf want;
    vmu_buf_init(&want);
    format_all(VMU_LOG_TEXT, &r, 1, &want);
    assert_int_equal(wait_for_calls(&c, 1), 1);
    pthread_mutex_lock(&c.lock);
    assert_int_equal(c.text.len, want.len);
    assert_memory_equal(c.text.data, want.data, want.len);
    pthread_mutex_unlock(&c.lock);

    assert_int_equal(vmu_log_async_close(a), 0);
    assert_int_equal(c.text.len, want.len);
    vmu_buf_free(&want);
    capture_free(&c);
}

/* A writer that fails: reported, seen by vmu_log_async_failed, and no
 * write is tried after it. */
static void test_a_failing_writer(void **state)
{
    (void)state;
    capture c;
    capture_init(&c);
    c.fail_at_call = 2;
    vmu_log_async *a = vmu_log_async_new(VMU_LOG_JSON, capture_write, &c);
    assert_non_null(a);
    assert_false(vmu_log_async_failed(a));
    char payload[1000];
    memset(payload, 'p', sizeof payload);
    vmu_field field = vmu_field_strn("p", payload, sizeof payload);
    vmu_log_record r = record_of(VMU_LEVEL_INFO, "m", &field, 1);
    /* Two flushed batches: two writes, the second fails. */
    for (int batch = 1; batch <= 2; batch++) {
        vmu_log_async_sink(a, &r);
        vmu_log_async_flush(a);
        assert_int_equal(wait_for_calls(&c, (size_t)batch), batch);
    }
    /* The flag follows the failed write at once; a bounded wait for it. */
    for (int i = 0; i < 60000 && !vmu_log_async_failed(a); i++)
        nanosleep(&(struct timespec){0, 1000000}, NULL);
    assert_true(vmu_log_async_failed(a));
    for (int i = 0; i < 2000; i++) {
        vmu_log_async_sink(a, &r);
        vmu_log_async_flush(a);
    }
    assert_int_equal(vmu_log_async_close(a), VMU_LOG_ASYNC_WRITE);
    assert_int_equal(c.calls, 2);
    capture_free(&c);
}

/* A value nested past VMU_LOG_MAX_DEPTH is refused as the formatters
 * refuse it; the records around it are written. */
static void test_too_deep_a_value(void **state)
{
    (void)state;
    size_t depth = VMU_LOG_MAX_DEPTH + 5;
    vmu_value *chain = calloc(depth, sizeof *chain);
    assert_non_null(chain);
    for (size_t i = 0; i + 1 < depth; i++) {
        chain[i].kind = VMU_VALUE_ARRAY;
        chain[i].as.array.items = &chain[i + 1];
        chain[i].as.array.count = 1;
    }
    chain[depth - 1].kind = VMU_VALUE_INT;
    vmu_field deep = {"deep", 4, chain[0]};
    vmu_field ok = vmu_field_str("ok", "yes");
    vmu_log_record around[] = {
        record_of(VMU_LEVEL_INFO, "before", &ok, 1),
        record_of(VMU_LEVEL_INFO, "after", &ok, 1),
    };
    vmu_buf sync;
    vmu_buf_init(&sync);
    vmu_log_record bad = record_of(VMU_LEVEL_INFO, "deep", &deep, 1);
    assert_int_equal(vmu_log_format_json(&bad, &sync), -1);
    assert_int_equal(sync.len, 0);

    capture c;
    capture_init(&c);
    vmu_log_async *a = vmu_log_async_new(VMU_LOG_JSON, capture_write, &c);
    assert_non_null(a);
    vmu_log_async_sink(a, &around[0]);
    vmu_log_async_sink(a, &bad);
    vmu_log_async_sink(a, &around[1]);
    assert_int_equal(vmu_log_async_close(a), VMU_LOG_ASYNC_NOMEM);
    format_all(VMU_LOG_JSON, around, 2, &sync);
    assert_int_equal(c.text.len, sync.len);
    assert_memory_equal(c.text.data, sync.data, sync.len);

    /* Just within the limit, it goes through. */
    size_t start = depth - VMU_LOG_MAX_DEPTH;
    vmu_field deepest = {"deep", 4, chain[start]};
    vmu_log_record fits = record_of(VMU_LEVEL_INFO, "deep", &deepest, 1);
    assert_int_equal(through_async(VMU_LOG_JSON, &fits, 1), 0);
    vmu_buf_free(&sync);
    capture_free(&c);
    free(chain);
}

/* Through a logger: the level filters before the sink, and vmu_log's
 * records reach the writer as the logger would have printed them. */
static void test_behind_a_logger(void **state)
{
    (void)state;
    capture c;
    capture_init(&c);
    vmu_log_async *a = vmu_log_async_new(VMU_LOG_JSON, capture_write, &c);
    assert_non_null(a);
    vmu_logger *logger = vmu_logger_new();
    assert_non_null(logger);
    vmu_logger_set_level(logger, VMU_LEVEL_WARN);
    vmu_logger_set_sink(logger, vmu_log_async_sink, a);
    vmu_field field = vmu_field_int("n", 1);
    vmu_time t = T0;
    assert_int_equal(vmu_log_at(logger, &t, VMU_LEVEL_INFO, "dropped", 7, &field, 1), 0);
    assert_int_equal(vmu_log_at(logger, &t, VMU_LEVEL_ERROR, "kept", 4, &field, 1), 0);
    assert_int_equal(vmu_log(logger, VMU_LEVEL_DEBUG, "dropped", 7, NULL, 0), 0);
    assert_int_equal(vmu_log_async_close(a), 0);
    vmu_logger_free(logger);

    vmu_log_record kept = record_of(VMU_LEVEL_ERROR, "kept", &field, 1);
    vmu_buf want;
    vmu_buf_init(&want);
    format_all(VMU_LOG_JSON, &kept, 1, &want);
    assert_int_equal(c.text.len, want.len);
    assert_memory_equal(c.text.data, want.data, want.len);
    vmu_buf_free(&want);
    capture_free(&c);
}

static void test_arguments(void **state)
{
    (void)state;
    assert_null(vmu_log_async_new(VMU_LOG_JSON, NULL, NULL));
    assert_int_equal(vmu_log_async_close(NULL), 0);
    assert_false(vmu_log_async_failed(NULL));
    vmu_log_async_flush(NULL);
    vmu_log_record r = record_of(VMU_LEVEL_INFO, "m", NULL, 0);
    vmu_log_async_sink(NULL, &r);
    capture c;
    capture_init(&c);
    vmu_log_async *a = vmu_log_async_new(VMU_LOG_JSON, capture_write, &c);
    assert_non_null(a);
    vmu_log_async_sink(a, NULL);
    vmu_log_async_flush(a); /* nothing taken: nothing to hand on */
    assert_int_equal(vmu_log_async_close(a), 0);
    assert_int_equal(c.calls, 0);
    capture_free(&c);
}

/* Each allocation failing in turn: new gives NULL or a working sink; a
 * record that could not be copied or formatted is reported, never a
 * crash or a leak (valgrind and ASan check the leaks). */
static void test_allocation_failures(void **state)
{
    (void)state;
    char big[200 * 1024];
    memset(big, 'b', sizeof big);
    vmu_field fields[] = {vmu_field_str("a", "b"), vmu_field_strn("big", big, sizeof big)};
    vmu_log_record records[] = {
        record_of(VMU_LEVEL_INFO, "small", fields, 1),
        record_of(VMU_LEVEL_INFO, "big", fields, 2),
        record_of(VMU_LEVEL_INFO, "small", fields, 1),
    };
    vmu_buf want;
    vmu_buf_init(&want);
    format_all(VMU_LOG_JSON, records, 3, &want);
    bool completed = false, refused = false, lost = false;
    for (long n = 0; n < 200 && !completed; n++) {
        capture c;
        capture_init(&c);
        vmu_alloc_fail_after(n);
        vmu_log_async *a = vmu_log_async_new(VMU_LOG_JSON, capture_write, &c);
        int rc = -1;
        if (a) {
            for (size_t i = 0; i < 3; i++)
                vmu_log_async_sink(a, &records[i]);
            rc = vmu_log_async_close(a);
        }
        vmu_alloc_fail_after(-1);
        if (rc == 0) {
            assert_int_equal(c.text.len, want.len);
            assert_memory_equal(c.text.data, want.data, want.len);
            completed = true;
        } else if (a) {
            assert_int_equal(rc, VMU_LOG_ASYNC_NOMEM);
            assert_true(c.text.len < want.len);
            lost = true;
        } else {
            refused = true;
        }
        capture_free(&c);
    }
    assert_true(refused);
    assert_true(lost);
    assert_true(completed);
    vmu_buf_free(&want);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_kind_of_value),
        cmocka_unit_test(test_many_records_in_order),
        cmocka_unit_test(test_every_short_length),
        cmocka_unit_test(test_records_bigger_than_a_block),
        cmocka_unit_test(test_the_record_is_copied),
        cmocka_unit_test(test_flush_writes_without_close),
        cmocka_unit_test(test_a_failing_writer),
        cmocka_unit_test(test_too_deep_a_value),
        cmocka_unit_test(test_behind_a_logger),
        cmocka_unit_test(test_arguments),
        cmocka_unit_test(test_allocation_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
