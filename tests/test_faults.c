/* Sources that fail at every byte offset. vmu_gcs_forward_fd reads a GCS
 * log stream from a pipe whose read(2) this test replaces (the definition
 * below takes precedence over the C library's for the whole program): at
 * offset k it fails once with an errno, or every read is cut to one byte.
 * For every k, in Go mode and in resync mode, the records must be exactly
 * what Go's ParseGCSLogrus logs for that source:
 *
 *   EAGAIN (non-blocking fd), EINTR, 1-byte reads  the whole stream, as
 *                                                  without a fault
 *   ECONNRESET, ECONNABORTED (then EOF)            the entries complete
 *                                                  before k, then the cut
 *                                                  entry as "gcs terminated"
 *   EIO once (then the rest of the data)           the entries before k,
 *                                                  "gcs log read" with
 *                                                  "read pipe: input/output
 *                                                  error", the rest as
 *                                                  "gcs terminated"
 *   EIO from k on                                  the same, the rest being
 *                                                  only what was read
 *
 * So no entry that was complete before the fault is lost, and nothing after
 * it is forwarded as an entry. The expected records are built from a clean
 * decode of the stream (its entry records) and Go's rules, not from the
 * forwarder. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cmocka.h>

#include "../fuzz/gcs_records.h"
#include "vmutils.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define ENTRIES 12

/* ---- the fault injector ------------------------------------------------- */

typedef enum fault_kind {
    FAULT_EAGAIN,
    FAULT_EINTR,
    FAULT_ONE_BYTE_READS,
    FAULT_ECONNRESET,
    FAULT_ECONNABORTED,
    FAULT_EIO_ONCE,
    FAULT_EIO_ON
} fault_kind;

static struct {
    int fd;          /* the source; -1: no injection */
    fault_kind kind;
    size_t at;       /* stream offset of the fault */
    size_t delivered;
    bool injected;
} fault = {-1, FAULT_EAGAIN, 0, 0, false};

static ssize_t real_read(int fd, void *buf, size_t count)
{
    return (ssize_t)syscall(SYS_read, fd, buf, count);
}

ssize_t read(int fd, void *buf, size_t count)
{
    if (fd != fault.fd || count == 0)
        return real_read(fd, buf, count);
    if (fault.kind == FAULT_ONE_BYTE_READS)
        count = 1;
    else if (fault.delivered < fault.at && count > fault.at - fault.delivered)
        count = fault.at - fault.delivered; /* reads stop at the offset */
    if (fault.delivered == fault.at && fault.kind != FAULT_ONE_BYTE_READS) {
        bool again = fault.injected;
        fault.injected = true;
        switch (fault.kind) {
        case FAULT_EAGAIN:
            if (!again) return errno = EAGAIN, -1;
            break;
        case FAULT_EINTR:
            if (!again) return errno = EINTR, -1;
            break;
        case FAULT_ECONNRESET:
            if (!again) return errno = ECONNRESET, -1;
            return 0; /* a reset socket reads as EOF afterwards */
        case FAULT_ECONNABORTED:
            if (!again) return errno = ECONNABORTED, -1;
            return 0;
        case FAULT_EIO_ONCE:
            if (!again) return errno = EIO, -1;
            break;
        case FAULT_EIO_ON:
            return errno = EIO, -1;
        default:
            break;
        }
    }
    ssize_t n = real_read(fd, buf, count);
    if (n > 0)
        fault.delivered += (size_t)n;
    return n;
}

/* ---- the stream and what a clean decode logs ------------------------------ */

static char stream[4096];
static size_t stream_len;
static size_t entry_end[ENTRIES]; /* offset just past each entry's '}' */
static record_log clean;          /* a clean decode: ENTRIES entry records */

static void build_stream(void)
{
    if (stream_len)
        return;
    static const char *const levels[] = {"info", "warning", "debug", "error"};
    for (int i = 0; i < ENTRIES; i++) {
        int n = snprintf(stream + stream_len, sizeof stream - stream_len,
                         "%s{\"time\":\"2024-01-15T10:30:%02d.5Z\",\"level\":\"%s\",\"msg\":\"entry %d\","
                         "\"n\":%d,\"nested\":{\"a\":[1,\"two\",null]}}%s",
                         i % 3 == 1 ? "  " : "", i, levels[i % 4], i, i * 7, i % 4 == 2 ? " " : "\n");
        assert_true(n > 0 && (size_t)n < sizeof stream - stream_len);
        entry_end[i] = stream_len + (size_t)n - 1; /* before the space or newline */
        stream_len += (size_t)n;
    }
}

static vmu_logger *logger;

static int setup(void **state)
{
    (void)state;
    build_stream();
    logger = vmu_logger_new();
    assert_non_null(logger);
    vmu_logger_set_level(logger, VMU_LEVEL_TRACE);
    vmu_logger_set_sink(logger, keep_record, &clean);
    assert_int_equal(vmu_gcs_decode_stream("fault-vm", stream, stream_len, NULL, logger, NULL), 0);
    assert_int_equal(clean.count, ENTRIES);
    printf("# a %zu-byte stream of %d entries, each fault at every offset\n", stream_len, ENTRIES);
    for (size_t i = 0; i < clean.count; i++)
        assert_true(clean.items[i].is_entry);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    record_log_free(&clean);
    vmu_logger_free(logger);
    return 0;
}

/* ---- expected records ---------------------------------------------------- */

static void push_copy(record_log *into, const kept_record *k)
{
    /* Through keep_record's storage: a record with the same canonical form
     * is rebuilt by copying the bytes. */
    if (into->count == into->cap) {
        into->cap = into->cap ? into->cap * 2 : 16;
        into->items = realloc(into->items, into->cap * sizeof *into->items);
        assert_non_null(into->items);
    }
    kept_record *c = &into->items[into->count++];
    memset(c, 0, sizeof *c);
    c->canonical = copy_of(k->canonical, k->canonical_len);
    c->canonical_len = k->canonical_len;
    snprintf(c->msg, sizeof c->msg, "%s", k->msg);
    c->is_entry = k->is_entry;
    c->size = -1;
}

static void push_error_record(record_log *into, const char *msg, const char *key, const char *value,
                              size_t len)
{
    vmu_field fields[2] = {vmu_field_str("uvm-id", "fault-vm"), vmu_field_strn(key, value, len)};
    vmu_log_record r = {vmu_time_now(), VMU_LEVEL_ERROR, msg, strlen(msg), fields, 2};
    keep_record(into, &r);
}

/* "gcs terminated" with stream[from, to) trimmed, if anything is left. */
static void push_terminated(record_log *into, size_t from, size_t to)
{
    while (from < to && strchr(" \t\r\n", stream[from]))
        from++;
    while (to > from && strchr(" \t\r\n", stream[to - 1]))
        to--;
    if (to > from)
        push_error_record(into, "gcs terminated", "stderr", stream + from, to - from);
}

static void expected_records(fault_kind kind, size_t k, record_log *into)
{
    if (kind == FAULT_EAGAIN || kind == FAULT_EINTR || kind == FAULT_ONE_BYTE_READS) {
        for (size_t i = 0; i < clean.count; i++)
            push_copy(into, &clean.items[i]);
        return;
    }
    size_t complete = 0, last_end = 0;
    while (complete < ENTRIES && entry_end[complete] <= k)
        last_end = entry_end[complete++];
    for (size_t i = 0; i < complete; i++)
        push_copy(into, &clean.items[i]);
    if (kind == FAULT_ECONNRESET || kind == FAULT_ECONNABORTED) {
        push_terminated(into, last_end, k);
        return;
    }
    static const char eio[] = "read pipe: input/output error";
    push_error_record(into, "gcs log read", "error", eio, sizeof eio - 1);
    push_terminated(into, last_end, kind == FAULT_EIO_ONCE ? stream_len : k);
}

/* ---- the walk over every offset --------------------------------------------- */

typedef struct fault_row {
    const char *name;
    fault_kind kind;
    bool resync;
} fault_row;

static const fault_row rows[] = {
    {"EAGAIN on a non-blocking pipe, Go mode", FAULT_EAGAIN, false},
    {"EAGAIN on a non-blocking pipe, resync", FAULT_EAGAIN, true},
    {"EINTR, Go mode", FAULT_EINTR, false},
    {"1-byte reads, Go mode", FAULT_ONE_BYTE_READS, false},
    {"1-byte reads, resync", FAULT_ONE_BYTE_READS, true},
    {"ECONNRESET then EOF, Go mode", FAULT_ECONNRESET, false},
    {"ECONNRESET then EOF, resync", FAULT_ECONNRESET, true},
    {"ECONNABORTED then EOF, Go mode", FAULT_ECONNABORTED, false},
    {"EIO once, the data going on, Go mode", FAULT_EIO_ONCE, false},
    {"EIO once, the data going on, resync", FAULT_EIO_ONCE, true},
    {"EIO from the offset on, Go mode", FAULT_EIO_ON, false},
    {"EIO from the offset on, resync", FAULT_EIO_ON, true},
};

static void forward_with_fault(const fault_row *row, size_t k, record_log *got, vmu_gcs_stats *stats)
{
    int p[2];
    assert_int_equal(pipe(p), 0);
    /* The stream fits in the pipe: written whole before forwarding. */
    assert_int_equal(write(p[1], stream, stream_len), (ssize_t)stream_len);
    assert_int_equal(close(p[1]), 0);
    if (row->kind == FAULT_EAGAIN)
        assert_int_equal(fcntl(p[0], F_SETFL, fcntl(p[0], F_GETFL) | O_NONBLOCK), 0);
    vmu_gcs_options opts;
    vmu_gcs_options_init(&opts);
    opts.resync = row->resync;
    vmu_logger_set_sink(logger, keep_record, got);
    fault.fd = p[0];
    fault.kind = row->kind;
    fault.at = k;
    fault.delivered = 0;
    fault.injected = false;
    int rc = vmu_gcs_forward_fd("fault-vm", p[0], "pipe", &opts, logger, stats);
    fault.fd = -1;
    assert_int_equal(rc, 0);
    close(p[0]);
}

static void test_fault_at_every_offset(void **state)
{
    const fault_row *row = *state;
    size_t last = row->kind == FAULT_ONE_BYTE_READS ? 0 : stream_len;
    for (size_t k = 0; k <= last; k++) {
        record_log got = {0}, want = {0};
        vmu_gcs_stats stats;
        forward_with_fault(row, k, &got, &stats);
        expected_records(row->kind, k, &want);
        size_t at = first_different_record(&got, &want);
        if (at != SIZE_MAX)
            fail_msg("fault at offset %zu: record %zu differs: got %zu records ('%s'), want %zu ('%s')",
                     k, at, got.count, at < got.count ? got.items[at].msg : "-", want.count,
                     at < want.count ? want.items[at].msg : "-");
        if (row->kind != FAULT_ONE_BYTE_READS)
            assert_true(fault.injected || k == stream_len);
        size_t read_bytes = row->kind == FAULT_ECONNRESET || row->kind == FAULT_ECONNABORTED ||
                                    row->kind == FAULT_EIO_ON
                                ? k
                                : stream_len;
        assert_int_equal(stats.bytes, read_bytes);
        record_log_free(&got);
        record_log_free(&want);
    }
}

int main(void)
{
    struct CMUnitTest tests[ARRAY_LEN(rows)];
    for (size_t i = 0; i < ARRAY_LEN(rows); i++) {
        struct CMUnitTest t = {rows[i].name, test_fault_at_every_offset, NULL, NULL, (void *)&rows[i]};
        tests[i] = t;
    }
    return _cmocka_run_group_tests("faults", tests, ARRAY_LEN(rows), setup, teardown);
}
