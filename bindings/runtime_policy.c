/* `vmutils policy [OPTIONS] POLICY.lua [REQUEST.json | -]`: the command-line
 * face of the embedding API. Exit 0 with the document on stdout, 1 when the
 * policy rejects the request (its message on stderr), 2 for usage errors and
 * failures (bad request, script error, a limit reached). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime_cli.h"
#include "vmutils_runtime.h"
#include "vmutils_runtime_read.h"

#define EXIT_REJECTED 1
#define EXIT_FAILED 2
/* A request or policy that cannot be used as given (unreadable, too large,
 * not a strict JSON object) is a usage error; a failed write of the
 * document is the job failing. */
#define EXIT_BAD_INPUT 2
#define EXIT_WRITE_FAILED 1

static int usage_error(const char *fmt, const char *what)
{
    fputs("vmutils policy: ", stderr);
    fprintf(stderr, fmt, what);
    fputs("\nusage: vmutils policy [--instructions N] [--memory SIZE] [--max-document-bytes SIZE]\n"
          "       [--max-request-bytes SIZE] [--max-policy-bytes SIZE] [--compact] POLICY.lua "
          "[REQUEST.json | -]\n",
          stderr);
    return EXIT_FAILED;
}

/* A count with an optional K, M or G (powers of 1024) suffix. */
static int parse_size(const char *text, uint64_t *out)
{
    if (!text || *text < '0' || *text > '9')
        return -1;
    errno = 0;
    char *end;
    unsigned long long n = strtoull(text, &end, 10);
    if (errno)
        return -1;
    unsigned shift = 0;
    if (*end == 'K' || *end == 'k')
        shift = 10, end++;
    else if (*end == 'M' || *end == 'm')
        shift = 20, end++;
    else if (*end == 'G' || *end == 'g')
        shift = 30, end++;
    if (*end == 'i' && shift)
        end++;
    if ((*end == 'B' || *end == 'b') && shift)
        end++;
    if (*end != '\0' || (shift && n > (UINT64_MAX >> shift)))
        return -1;
    *out = (uint64_t)n << shift;
    return 0;
}

/* Reads the request, no more than `cap` bytes of it: the Lua state's
 * limits do not exist yet, so this is what bounds the memory it takes. */
static int read_request(const char *path, size_t cap, vmu_buf *out)
{
    if (!path)
        return vmu_buf_puts(out, "{}");
    int from_stdin = strcmp(path, "-") == 0;
    int error = 0;
    vmu_read_status status = from_stdin ? vmu_read_fd_capped(STDIN_FILENO, cap, out, &error)
                                         : vmu_read_file_capped(path, cap, out, &error);
    const char *name = from_stdin ? "the request from stdin" : path;
    switch (status) {
    case VMU_READ_OK:
        return 0;
    case VMU_READ_OPEN_FAILED:
        fprintf(stderr, "vmutils policy: cannot open %s: %s\n", path, strerror(error));
        break;
    case VMU_READ_FAILED:
        fprintf(stderr, "vmutils policy: cannot read %s: %s\n", name, strerror(error));
        break;
    case VMU_READ_TOO_LARGE:
        fprintf(stderr,
                "vmutils policy: cannot read %s: larger than %zu bytes (--max-request-bytes)\n",
                name, cap);
        break;
    case VMU_READ_NO_MEMORY:
        fprintf(stderr, "vmutils policy: cannot read %s: not enough memory\n", name);
        break;
    }
    return -1;
}

/* The document and a newline on stdout; every failure is reported. */
static int write_document(const char *document, size_t len)
{
    errno = 0;
    if (fwrite(document, 1, len, stdout) == len && fputc('\n', stdout) != EOF &&
        fflush(stdout) == 0)
        return 0;
    int error = errno;
    fprintf(stderr, "vmutils policy: write stdout: %s\n", strerror(error ? error : EIO));
    return EXIT_WRITE_FAILED;
}

/* A failed evaluation or load: what the message blames. */
static int failure_status(const char *message)
{
    if (strncmp(message, "request: ", 9) == 0 || strncmp(message, "policy larger than ", 19) == 0)
        return EXIT_BAD_INPUT;
    return EXIT_FAILED;
}

/* The size options: each sets one field of the config (0: no cap). */
static size_t *size_option(vmu_runtime_config *config, const char *name)
{
    if (strcmp(name, "--max-document-bytes") == 0)
        return &config->max_document_bytes;
    if (strcmp(name, "--max-request-bytes") == 0)
        return &config->max_request_bytes;
    if (strcmp(name, "--max-policy-bytes") == 0)
        return &config->max_policy_bytes;
    return NULL;
}

int vmu_cmd_policy(int argc, char **argv)
{
    vmu_runtime_config config;
    vmu_runtime_config_init(&config);
    config.json_indent = 2;
    const char *positional[2] = {NULL, NULL};
    int npositional = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--instructions") == 0 || strcmp(a, "--memory") == 0) {
            uint64_t value;
            if (i + 1 >= argc || parse_size(argv[i + 1], &value) < 0)
                return usage_error("%s needs a number (K, M, G suffixes allowed)", a);
            if (a[2] == 'i')
                config.instruction_budget = value ? value : UINT64_MAX;
            else
                config.memory_limit = value ? (value > SIZE_MAX ? SIZE_MAX : (size_t)value) : SIZE_MAX;
            i++;
        } else if (size_option(&config, a)) {
            uint64_t value;
            if (i + 1 >= argc || parse_size(argv[i + 1], &value) < 0)
                return usage_error("%s needs a number (K, M, G suffixes allowed)", a);
            *size_option(&config, a) = value && value < SIZE_MAX ? (size_t)value : SIZE_MAX;
            i++;
        } else if (strcmp(a, "--compact") == 0) {
            config.json_indent = 0;
        } else if (strcmp(a, "--") == 0) {
            for (i++; i < argc; i++) {
                if (npositional == 2)
                    return usage_error("unexpected argument '%s'", argv[i]);
                positional[npositional++] = argv[i];
            }
        } else if (a[0] == '-' && a[1] != '\0') {
            return usage_error("unknown option '%s'", a);
        } else {
            if (npositional == 2)
                return usage_error("unexpected argument '%s'", a);
            positional[npositional++] = a;
        }
    }
    if (npositional == 0)
        return usage_error("%s", "missing POLICY.lua");

    vmu_buf request;
    vmu_buf_init(&request);
    if (read_request(positional[1], config.max_request_bytes, &request) < 0) {
        vmu_buf_free(&request);
        return EXIT_BAD_INPUT;
    }
    vmu_err err = {{0}};
    vmu_runtime *rt = vmu_runtime_new(&config, &err);
    if (!rt) {
        fprintf(stderr, "vmutils policy: %s\n", err.msg);
        vmu_buf_free(&request);
        return EXIT_FAILED;
    }
    int exit_status = EXIT_FAILED;
    if (vmu_runtime_load_policy_file(rt, positional[0]) != VMU_RUNTIME_OK) {
        fprintf(stderr, "vmutils policy: %s\n", vmu_runtime_error(rt));
        exit_status = failure_status(vmu_runtime_error(rt));
    } else {
        const char *document;
        size_t len;
        switch (vmu_runtime_evaluate(rt, request.data ? request.data : "", request.len, &document,
                                     &len)) {
        case VMU_RUNTIME_OK:
            exit_status = write_document(document, len);
            break;
        case VMU_RUNTIME_REJECTED:
            fprintf(stderr, "%s\n", vmu_runtime_error(rt));
            exit_status = EXIT_REJECTED;
            break;
        case VMU_RUNTIME_ERROR:
            fprintf(stderr, "vmutils policy: %s\n", vmu_runtime_error(rt));
            exit_status = failure_status(vmu_runtime_error(rt));
            break;
        }
    }
    vmu_runtime_free(rt);
    vmu_buf_free(&request);
    return exit_status;
}
