/* Throughput of the log formatters on GCS-like records, and of the float
 * formatting they depend on. Prints ns per record, output MB/s and ns per
 * float; not a test (timings depend on the machine).
 *
 * Build and run after `make`:
 *   cc -O2 -std=c11 -D_GNU_SOURCE -Icore/include bench/log_format_bench.c \
 *      build/libvmutils.a -ldouble-conversion -lm -pthread -o build/log_format_bench
 *   build/log_format_bench [records]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vmutils.h"

static double seconds_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

typedef int (*format_fn)(const vmu_log_record *, vmu_buf *);

/* Formats `count` records (cycling through `records`) into one reused
 * buffer, as the forwarder does; returns ns per record and sets *bytes. */
static double time_format(format_fn format, const vmu_log_record *records, size_t n_records,
                          long count, double *bytes)
{
    vmu_buf out;
    vmu_buf_init(&out);
    double total = 0;
    double start = seconds_now();
    for (long i = 0; i < count; i++) {
        vmu_buf_reset(&out);
        if (format(&records[(size_t)i % n_records], &out) != 0) {
            fprintf(stderr, "format failed\n");
            exit(1);
        }
        total += (double)out.len;
    }
    double elapsed = seconds_now() - start;
    vmu_buf_free(&out);
    *bytes = total;
    return elapsed * 1e9 / (double)count;
}

static double time_floats(const double *values, size_t n, long rounds)
{
    vmu_buf out;
    vmu_buf_init(&out);
    double start = seconds_now();
    for (long r = 0; r < rounds; r++) {
        vmu_buf_reset(&out);
        for (size_t i = 0; i < n; i++)
            vmu_format_float_json(values[i], &out);
    }
    double elapsed = seconds_now() - start;
    vmu_buf_free(&out);
    return elapsed * 1e9 / ((double)rounds * (double)n);
}

int main(int argc, char **argv)
{
    long count = argc > 1 ? atol(argv[1]) : 1000000;
    if (count <= 0)
        count = 1000000;

    /* Ten fields as a Linux guest's GCS sends them, two of them floats. */
    enum { VARIANTS = 64 };
    static vmu_field fields[VARIANTS][10];
    static vmu_log_record records[VARIANTS];
    static char cids[VARIANTS][65];
    vmu_time host = {1709647629, 0, 0, false};
    srand(1);
    for (int v = 0; v < VARIANTS; v++) {
        for (int i = 0; i < 64; i++)
            cids[v][i] = "0123456789abcdef"[rand() % 16];
        cids[v][64] = '\0';
        vmu_field *f = fields[v];
        f[0] = vmu_field_str("uvm-id", "6d2a1f7c-bench-vm");
        f[1].key = "vm.time";
        f[1].key_len = 7;
        f[1].value.kind = VMU_VALUE_TIME;
        f[1].value.as.time = (vmu_time){1709647629 + v, 123456789 + v, 0, true};
        f[2] = vmu_field_str("cid", cids[v]);
        f[3] = vmu_field_int("pid", 1000 + v);
        f[4] = vmu_field_float("duration-ms", (double)(rand() % 100000) / 1000.0);
        f[5] = vmu_field_float("ratio", (double)rand() / RAND_MAX);
        f[6] = vmu_field_str("Source", "GCS");
        f[7] = vmu_field_str("path", "/run/gcs/c/6d2a1f7c/rootfs/bin/containerd-shim");
        f[8] = vmu_field_str("error", "context deadline exceeded while waiting for <init>");
        f[9] = vmu_field_bool("stdout", v % 2 == 0);
        records[v].time = host;
        records[v].level = VMU_LEVEL_INFO;
        records[v].msg = "Received request to start container process";
        records[v].msg_len = strlen(records[v].msg);
        records[v].fields = f;
        records[v].field_count = 10;
    }

    double bytes;
    double json_ns = time_format(vmu_log_format_json, records, VARIANTS, count, &bytes);
    printf("json: %7.1f ns/record  %7.1f MB/s  (%.0f bytes/record)\n", json_ns,
           bytes / (json_ns * (double)count) * 1e3, bytes / (double)count);
    double text_ns = time_format(vmu_log_format_text, records, VARIANTS, count / 2, &bytes);
    printf("text: %7.1f ns/record  %7.1f MB/s  (%.0f bytes/record)\n", text_ns,
           bytes / (text_ns * (double)(count / 2)) * 1e3, bytes / (double)(count / 2));

    enum { FLOATS = 4096 };
    static double short_values[FLOATS], long_values[FLOATS];
    for (int i = 0; i < FLOATS; i++) {
        short_values[i] = (double)(rand() % 1000000) / 1000.0; /* 12.345 */
        long_values[i] = (double)rand() / RAND_MAX * 1000.0;    /* 16-17 digits */
    }
    long rounds = count / FLOATS > 0 ? count / FLOATS : 1;
    printf("float, few digits:   %6.1f ns\n", time_floats(short_values, FLOATS, rounds));
    printf("float, 17 digits:    %6.1f ns\n", time_floats(long_values, FLOATS, rounds));
    return 0;
}
