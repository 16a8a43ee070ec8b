/* A C host that runs one forwarder per VM on its own thread, all logging on
 * one logger: 64 VMs, each with its own id and a 4 MiB GCS stream written
 * into its own pipe by a producer thread, forwarded with vmu_gcs_forward_fd.
 *
 *  - Output through a stream: the logger writes JSON to a pipe that a
 *    checker thread reads. Every line must be one whole record (valid JSON,
 *    yajl-parsed), of the VM its uvm-id names, carrying the message and
 *    payload that VM wrote, and each VM's records must arrive once each, in
 *    the order written: no record lost, repeated or interleaved.
 *  - A stalled sink: the logger's writer stops at a gate. Every producer
 *    must then find its pipe full (back-pressure reaches the guest), and no
 *    forwarder may have taken more than one read slice past what it logged:
 *    memory stays bounded while the output is blocked. Then the gate opens
 *    and everything arrives.
 *
 * Run under TSan by make tsan. Under valgrind (make memcheck) the streams
 * are 64 KiB instead of 4 MiB (256 KiB for the stalled sink, which needs
 * more than a pipe and a read slice per VM): the same threads and checks,
 * in a time valgrind can afford. VMUTILS_CONCURRENCY_STREAM_BYTES
 * overrides the size of the first test. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <valgrind/valgrind.h>

#include "vmutils.h"

#define VMS 64

/* cmocka's assertions jump back to the test, which only works on the main
 * thread; the producer, forwarder and reader threads stop the program. */
#define THREAD_REQUIRE(cond, ...)                                               \
    do {                                                                        \
        if (!(cond)) {                                                          \
            fprintf(stderr, "%s:%d: %s: ", __FILE__, __LINE__, #cond);          \
            fprintf(stderr, __VA_ARGS__);                                       \
            fputc('\n', stderr);                                                \
            abort();                                                            \
        }                                                                       \
    } while (0)
/* What one read of the forwarder takes at most (GCS_SLICE, core/gcs/gcs_stream.h). */
#define READ_SLICE (64u * 1024u)
#define PAYLOAD_LEN 120

static size_t stream_bytes(void)
{
    const char *env = getenv("VMUTILS_CONCURRENCY_STREAM_BYTES");
    if (env && *env)
        return (size_t)strtoull(env, NULL, 10);
    return RUNNING_ON_VALGRIND ? 64u * 1024u : 4u * 1024u * 1024u;
}

/* ---- what each VM writes -------------------------------------------------- */

static void vm_name(int vm, char out[16]) { snprintf(out, 16, "vm-%02d", vm); }

static void payload_of(int vm, long seq, char out[PAYLOAD_LEN + 1])
{
    static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    for (int j = 0; j < PAYLOAD_LEN; j++)
        out[j] = alphabet[(vm * 31 + seq * 7 + j) % 36];
    out[PAYLOAD_LEN] = '\0';
}

static int entry_of(int vm, long seq, char *out, size_t cap)
{
    char name[16], payload[PAYLOAD_LEN + 1];
    vm_name(vm, name);
    payload_of(vm, seq, payload);
    return snprintf(out, cap,
                    "{\"time\":\"2024-01-15T10:30:00.%09ldZ\",\"level\":\"info\",\"msg\":\"entry %ld of %s\","
                    "\"seq\":%ld,\"payload\":\"%s\"}\n",
                    seq % 1000000000, seq, name, seq, payload);
}

/* ---- one VM: a producer writing its stream and a forwarder reading it ---- */

typedef struct vm_state {
    int index;
    int pipe_fds[2];
    bool nonblocking;       /* the stalled-sink test watches for a full pipe */
    long entries;           /* written by the producer, read after joining */
    atomic_size_t written;  /* bytes the producer wrote so far */
    atomic_size_t logged;   /* input bytes of the entries the sink received */
    bool waiting;           /* the producer is waiting on a full pipe (run.lock) */
    int forward_rc;
    pthread_t producer, forwarder;
} vm_state;

typedef struct run {
    vm_state vms[VMS];
    vmu_logger *logger;
    size_t bytes_per_stream;
    /* The stalled-sink test's gate. */
    pthread_mutex_t lock;
    pthread_cond_t changed;
    bool stalled, gate_open;
    int producers_waiting;
} run;

static run *current;

/* The producer waits on a full pipe; the stalled-sink test counts them. */
static void wait_for_room(vm_state *vm)
{
    run *r = current;
    pthread_mutex_lock(&r->lock);
    vm->waiting = true;
    r->producers_waiting++;
    pthread_cond_broadcast(&r->changed);
    pthread_mutex_unlock(&r->lock);
    struct pollfd p = {.fd = vm->pipe_fds[1], .events = POLLOUT};
    poll(&p, 1, -1);
    pthread_mutex_lock(&r->lock);
    vm->waiting = false;
    r->producers_waiting--;
    pthread_mutex_unlock(&r->lock);
}

static void write_all(vm_state *vm, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = write(vm->pipe_fds[1], data, len);
        if (n > 0) {
            data += n;
            len -= (size_t)n;
            atomic_fetch_add(&vm->written, (size_t)n);
        } else if (n < 0 && errno == EAGAIN) {
            wait_for_room(vm);
        } else {
            THREAD_REQUIRE(n < 0 && errno == EINTR, "write to vm %d's pipe: %s", vm->index,
                           strerror(errno));
        }
    }
}

static void *produce(void *arg)
{
    vm_state *vm = arg;
    /* Chunks of a size of the VM's own, so that entries straddle reads
     * differently in every pipe. */
    size_t chunk = 1000 + (size_t)vm->index * 37;
    char *buf = malloc(chunk + 512);
    THREAD_REQUIRE(buf, "malloc");
    size_t used = 0, total = 0;
    long seq = 0;
    while (total < current->bytes_per_stream) {
        int n = entry_of(vm->index, seq++, buf + used, 512);
        used += (size_t)n;
        total += (size_t)n;
        if (used >= chunk) {
            write_all(vm, buf, used);
            used = 0;
        }
    }
    write_all(vm, buf, used);
    vm->entries = seq;
    free(buf);
    close(vm->pipe_fds[1]);
    return NULL;
}

static void *forward(void *arg)
{
    vm_state *vm = arg;
    char name[16];
    vm_name(vm->index, name);
    vmu_gcs_options opts;
    vmu_gcs_options_init(&opts);
    opts.resync = vm->index % 2 == 1; /* both modes forward valid entries alike */
    vmu_gcs_stats stats;
    vm->forward_rc = vmu_gcs_forward_fd(name, vm->pipe_fds[0], name, &opts, current->logger, &stats);
    close(vm->pipe_fds[0]);
    return NULL;
}

static void start_vms(run *r, bool nonblocking)
{
    for (int i = 0; i < VMS; i++) {
        vm_state *vm = &r->vms[i];
        vm->index = i;
        vm->nonblocking = nonblocking;
        atomic_init(&vm->written, 0);
        atomic_init(&vm->logged, 0);
        vm->waiting = false;
        assert_int_equal(pipe(vm->pipe_fds), 0);
        if (nonblocking)
            assert_int_equal(fcntl(vm->pipe_fds[1], F_SETFL, O_NONBLOCK), 0);
        assert_int_equal(pthread_create(&vm->producer, NULL, produce, vm), 0);
        assert_int_equal(pthread_create(&vm->forwarder, NULL, forward, vm), 0);
    }
}

static void join_vms(run *r)
{
    for (int i = 0; i < VMS; i++) {
        assert_int_equal(pthread_join(r->vms[i].producer, NULL), 0);
        assert_int_equal(pthread_join(r->vms[i].forwarder, NULL), 0);
        assert_int_equal(r->vms[i].forward_rc, 0);
    }
}

/* ---- checking one output line ---------------------------------------------- */

typedef struct line_checker {
    long next_seq[VMS];
    long lines;
} line_checker;

/* vm.time as RFC3339Nano writes it: the fraction without trailing zeros. */
static void entry_time(long seq, char out[48])
{
    char frac[16];
    snprintf(frac, sizeof frac, "%09ld", seq % 1000000000);
    size_t n = strlen(frac);
    while (n > 0 && frac[n - 1] == '0')
        n--;
    frac[n] = '\0';
    snprintf(out, 48, "2024-01-15T10:30:00%s%sZ", n ? "." : "", frac);
}

/* Checks a whole, correct record line (newline excluded); returns its VM.
 * The line must be, byte for byte, logrus's JSON for the entry the VM wrote
 * (keys sorted), the host time aside. Runs on the reader thread or under
 * the logger's lock. */
static int check_line(line_checker *c, const char *line, size_t len)
{
    static const char uvm_key[] = "\",\"uvm-id\":\"vm-";
    const char *at = memmem(line, len, uvm_key, sizeof uvm_key - 1);
    /* The line is not NUL-terminated: the two digits are read by hand. */
    const char *digits = at ? at + sizeof uvm_key - 1 : NULL;
    int vm = -1;
    if (digits && digits + 2 <= line + len && digits[0] >= '0' && digits[0] <= '9' &&
        digits[1] >= '0' && digits[1] <= '9')
        vm = (digits[0] - '0') * 10 + (digits[1] - '0');
    THREAD_REQUIRE(vm >= 0 && vm < VMS,
                   "line %ld names no VM: %.*s", c->lines, (int)(len < 300 ? len : 300), line);
    long seq = c->next_seq[vm]++;
    char payload[PAYLOAD_LEN + 1], vm_time[48], head[512], tail[128];
    payload_of(vm, seq, payload);
    entry_time(seq, vm_time);
    int head_len = snprintf(head, sizeof head,
                            "{\"level\":\"info\",\"msg\":\"entry %ld of vm-%02d\",\"payload\":\"%s\","
                            "\"seq\":%ld,\"time\":\"",
                            seq, vm, payload, seq);
    int tail_len = snprintf(tail, sizeof tail, "\",\"uvm-id\":\"vm-%02d\",\"vm.time\":\"%s\"}", vm, vm_time);
    size_t host_time = len - (size_t)head_len - (size_t)tail_len;
    THREAD_REQUIRE(len > (size_t)(head_len + tail_len) && memcmp(line, head, (size_t)head_len) == 0 &&
                       memcmp(line + len - tail_len, tail, (size_t)tail_len) == 0 &&
                       host_time >= 20 && host_time <= 35 &&
                       !memchr(line + head_len, '"', host_time),
                   "vm-%02d: record %ld is not whole, not next or altered:\n%.*s\nwanted\n%s<time>%s", vm,
                   seq, (int)(len < 600 ? len : 600), line, head, tail);
    c->lines++;
    return vm;
}

static void check_totals(run *r, line_checker *c)
{
    long total = 0;
    for (int i = 0; i < VMS; i++) {
        assert_true(r->vms[i].entries > 0);
        if (c->next_seq[i] != r->vms[i].entries)
            fail_msg("vm-%02d: %ld records arrived of %ld written", i, c->next_seq[i],
                     r->vms[i].entries);
        total += r->vms[i].entries;
    }
    assert_int_equal(c->lines, total);
}

/* ---- 64 forwarders, output through a pipe ------------------------------------ */

typedef struct reader {
    int fd;
    line_checker checker;
} reader;

static void *read_output(void *arg)
{
    reader *rd = arg;
    size_t cap = 1 << 16, have = 0;
    char *buf = malloc(cap);
    THREAD_REQUIRE(buf, "malloc");
    for (;;) {
        if (have == cap) {
            cap *= 2;
            buf = realloc(buf, cap);
            THREAD_REQUIRE(buf, "realloc");
        }
        ssize_t n = read(rd->fd, buf + have, cap - have);
        if (n < 0 && errno == EINTR)
            continue;
        THREAD_REQUIRE(n >= 0, "read: %s", strerror(errno));
        if (n == 0)
            break;
        have += (size_t)n;
        size_t start = 0;
        for (;;) {
            char *nl = memchr(buf + start, '\n', have - start);
            if (!nl)
                break;
            check_line(&rd->checker, buf + start, (size_t)(nl - (buf + start)));
            start = (size_t)(nl - buf) + 1;
        }
        memmove(buf, buf + start, have - start);
        have -= start;
    }
    THREAD_REQUIRE(have == 0, "the output ends inside a line"); 
    free(buf);
    return NULL;
}

static void test_64_forwarders_one_logger(void **state)
{
    (void)state;
    static run r;
    memset(&r, 0, sizeof r);
    current = &r;
    r.bytes_per_stream = stream_bytes();
    printf("# %d forwarders, %zu bytes each\n", VMS, r.bytes_per_stream);
    r.logger = vmu_logger_new();
    assert_non_null(r.logger);
    vmu_logger_set_format(r.logger, VMU_LOG_JSON);
    int out[2];
    assert_int_equal(pipe(out), 0);
    FILE *stream = fdopen(out[1], "w");
    assert_non_null(stream);
    vmu_logger_set_stream(r.logger, stream);
    static reader rd;
    memset(&rd, 0, sizeof rd);
    rd.fd = out[0];
    pthread_t reader_thread;
    assert_int_equal(pthread_create(&reader_thread, NULL, read_output, &rd), 0);

    start_vms(&r, false);
    join_vms(&r);
    assert_int_equal(fclose(stream), 0);
    assert_int_equal(pthread_join(reader_thread, NULL), 0);
    close(out[0]);
    check_totals(&r, &rd.checker);
    printf("# %ld records arrived whole, once, in order\n", rd.checker.lines);
    vmu_logger_free(r.logger);
}

/* ---- a stalled sink ---------------------------------------------------------- */

static line_checker gate_checker;
static long gate_at;

/* The logger's writer: runs under the logger's lock, one record a call. */
static int gated_writer(void *user, const char *data, size_t len)
{
    run *r = user;
    THREAD_REQUIRE(len > 0 && data[len - 1] == '\n' && memchr(data, '\n', len) == data + len - 1,
                   "a write is not one whole line");
    int vm = check_line(&gate_checker, data, len - 1);
    char entry[512];
    int entry_len = entry_of(vm, gate_checker.next_seq[vm] - 1, entry, sizeof entry);
    atomic_fetch_add(&r->vms[vm].logged, (size_t)entry_len);
    if (gate_checker.lines == gate_at) {
        pthread_mutex_lock(&r->lock);
        r->stalled = true;
        pthread_cond_broadcast(&r->changed);
        while (!r->gate_open)
            pthread_cond_wait(&r->changed, &r->lock);
        r->stalled = false;
        pthread_mutex_unlock(&r->lock);
    }
    return 0;
}

static void test_stalled_sink_back_pressure(void **state)
{
    (void)state;
    static run r;
    memset(&r, 0, sizeof r);
    current = &r;
    memset(&gate_checker, 0, sizeof gate_checker);
    /* Long enough that no stream can end while the sink is stalled. */
    r.bytes_per_stream = stream_bytes() < 1024 * 1024 ? 1024 * 1024 : stream_bytes();
    if (RUNNING_ON_VALGRIND) /* past a pipe and a read slice, still affordable */
        r.bytes_per_stream = 256 * 1024;
    gate_at = 200;
    pthread_mutex_init(&r.lock, NULL);
    pthread_cond_init(&r.changed, NULL);
    r.logger = vmu_logger_new();
    assert_non_null(r.logger);
    vmu_logger_set_format(r.logger, VMU_LOG_JSON);
    vmu_logger_set_writer(r.logger, gated_writer, &r);

    start_vms(&r, true);
    int pipe_capacity = fcntl(r.vms[0].pipe_fds[1], F_GETPIPE_SZ);
    assert_true(pipe_capacity > 0);

    /* Every producer must come to a full pipe while the sink is stalled. */
    pthread_mutex_lock(&r.lock);
    while (!r.stalled || r.producers_waiting < VMS)
        pthread_cond_wait(&r.changed, &r.lock);
    for (int i = 0; i < VMS; i++) {
        vm_state *vm = &r.vms[i];
        size_t written = atomic_load(&vm->written), logged = atomic_load(&vm->logged);
        /* Unlogged input: at most the pipe's content, one read slice in the
         * forwarder and the entry it was cut in. */
        size_t bound = logged + (size_t)pipe_capacity + READ_SLICE + 512;
        if (written > bound)
            fail_msg("vm-%02d: %zu bytes written with %zu logged: more than the pipe, one "
                     "read and one entry (%zu) while the sink was stalled",
                     i, written, logged, bound);
    }
    printf("# sink stalled after %ld records: all %d producers blocked on a full pipe\n",
           gate_checker.lines, VMS);
    r.gate_open = true;
    pthread_cond_broadcast(&r.changed);
    pthread_mutex_unlock(&r.lock);

    join_vms(&r);
    check_totals(&r, &gate_checker);
    vmu_logger_free(r.logger);
    pthread_cond_destroy(&r.changed);
    pthread_mutex_destroy(&r.lock);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_64_forwarders_one_logger),
        cmocka_unit_test(test_stalled_sink_back_pressure),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
