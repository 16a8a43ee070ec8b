/* Policy evaluations per second through the embedding API, in one process:
 * one runtime, the policy loaded once, the same request evaluated again and
 * again (the request decoded, prepared, evaluated and the document encoded
 * each time, as a host would).
 *
 *   policy_bench POLICY.lua REQUEST.json [SECONDS]
 *
 * Prints "evaluations N seconds S per_second R". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vmutils_policy.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    vmu_buf b;
    vmu_buf_init(&b);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        vmu_buf_append(&b, chunk, n);
    fclose(f);
    vmu_buf_putc(&b, '\0');
    *len = b.len - 1;
    return b.data;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fputs("usage: policy_bench POLICY.lua REQUEST.json [SECONDS]\n", stderr);
        return 2;
    }
    double seconds = argc > 3 ? atof(argv[3]) : 2.0;
    size_t request_len;
    char *request = read_file(argv[2], &request_len);
    if (!request) {
        perror(argv[2]);
        return 2;
    }
    vmu_err err;
    vmu_policy *rt = vmu_policy_new(NULL, &err);
    if (!rt) {
        fprintf(stderr, "%s\n", err.msg);
        return 2;
    }
    if (vmu_policy_load_file(rt, argv[1]) != VMU_POLICY_OK) {
        fprintf(stderr, "%s\n", vmu_policy_error(rt));
        return 2;
    }
    /* Warm up, and make sure the request is one the policy accepts. */
    for (int i = 0; i < 100; i++) {
        const char *doc;
        if (vmu_policy_evaluate(rt, request, request_len, &doc, NULL) != VMU_POLICY_OK) {
            fprintf(stderr, "%s\n", vmu_policy_error(rt));
            return 2;
        }
    }
    long evaluations = 0;
    double start = now(), elapsed;
    do {
        for (int i = 0; i < 256; i++) {
            const char *doc;
            if (vmu_policy_evaluate(rt, request, request_len, &doc, NULL) != VMU_POLICY_OK) {
                fprintf(stderr, "%s\n", vmu_policy_error(rt));
                return 2;
            }
        }
        evaluations += 256;
        elapsed = now() - start;
    } while (elapsed < seconds);
    printf("evaluations %ld seconds %.3f per_second %.0f\n", evaluations, elapsed,
           (double)evaluations / elapsed);
    vmu_policy_free(rt);
    free(request);
    return 0;
}
