/* A C host that embeds vmutils policies through bindings/policy/vmutils_policy.h:
 * loads a policy once, evaluates a request, prints the document (compact
 * JSON with sorted keys) or the reason it was refused.
 *
 *   policy_host POLICY.lua REQUEST.json
 *
 * Build against an installed tree (`make install`), which puts the policy
 * runtime's library, header and pkg-config file beside the core's:
 *
 *   cc policy_host.c $(pkg-config --cflags --libs vmutils-policy) -o policy_host
 *
 * (tests/sh/install.sh does so); from the build tree: see docs/runtime.md. */
#include <stdio.h>
#include <stdlib.h>

#include "vmutils_policy.h"

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    vmu_buf text;
    vmu_buf_init(&text);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        vmu_buf_append(&text, chunk, n);
    fclose(f);
    if (text.failed) {
        vmu_buf_free(&text);
        return NULL;
    }
    *len = text.len;
    return text.data ? text.data : calloc(1, 1);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s POLICY.lua REQUEST.json\n", argv[0]);
        return 2;
    }
    size_t request_len;
    char *request = read_file(argv[2], &request_len);
    if (!request) {
        perror(argv[2]);
        return 2;
    }

    vmu_policy_config config;
    vmu_policy_config_init(&config);      /* 50M instructions, 64 MiB */
    config.instruction_budget = 10000000;  /* this host wants a tighter budget */
    vmu_err err;
    vmu_policy *rt = vmu_policy_new(&config, &err);
    if (!rt) {
        fprintf(stderr, "cannot create the runtime: %s\n", err.msg);
        free(request);
        return 2;
    }
    /* Warnings of the policy and of vmutils go through this logger. */
    vmu_logger_set_format(vmu_policy_logger(rt), VMU_LOG_JSON);

    int status = 2;
    if (vmu_policy_load_file(rt, argv[1]) != VMU_POLICY_OK) {
        fprintf(stderr, "cannot load the policy: %s\n", vmu_policy_error(rt));
    } else {
        const char *document;
        size_t len;
        switch (vmu_policy_evaluate(rt, request, request_len, &document, &len)) {
        case VMU_POLICY_OK:
            printf("%.*s\n", (int)len, document);
            status = 0;
            break;
        case VMU_POLICY_REJECTED:
            fprintf(stderr, "refused: %s\n", vmu_policy_error(rt));
            status = 1;
            break;
        case VMU_POLICY_ERROR:
            fprintf(stderr, "failed: %s\n", vmu_policy_error(rt));
            break;
        }
    }
    vmu_policy_free(rt);
    free(request);
    return status;
}
