/* `vmutils policy [OPTIONS] POLICY.lua [REQUEST.json | -]`: the command-line
 * face of the embedding API. Exit 0 with the document on stdout; 1 when the
 * job fails: the policy rejects the request (its message on stderr), the
 * request is malformed, the policy does not load or fails (a script error,
 * a limit reached), or a read or write fails; 2 for usage errors, a missing
 * or unreadable file among them. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "vmutils_policy.h"
#include "policy_read.h"

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

/* Milliseconds, or a count with an ms or s suffix. */
static int parse_duration_ms(const char *text, uint64_t *out)
{
    if (!text || *text < '0' || *text > '9')
        return -1;
    errno = 0;
    char *end;
    unsigned long long n = strtoull(text, &end, 10);
    if (errno)
        return -1;
    if (strcmp(end, "s") == 0) {
        if (n > UINT64_MAX / 1000)
            return -1;
        n *= 1000;
    } else if (*end != '\0' && strcmp(end, "ms") != 0) {
        return -1;
    }
    *out = n;
    return 0;
}

/* Reads the request, no more than `cap` bytes of it: the Lua state's
 * limits do not exist yet, so this is what bounds the memory it takes.
 * Returns 0, or the exit status of the failure (its message printed): a
 * request that cannot be used as given (missing, a directory, too large)
 * is a usage error, a failing read the job failing. */
static int read_request(const char *path, size_t cap, vmu_buf *out)
{
    if (!path)
        return vmu_buf_puts(out, "{}") == 0 ? 0 : VMU_EXIT_FAILED;
    int from_stdin = strcmp(path, "-") == 0;
    if (!from_stdin && vmu_cli_check_input(path) != VMU_EXIT_OK)
        return VMU_EXIT_USAGE;
    int error = 0;
    vmu_read_status status = from_stdin ? vmu_read_fd_capped(STDIN_FILENO, cap, out, &error)
                                         : vmu_read_file_capped(path, cap, out, &error);
    const char *name = from_stdin ? "the request from stdin" : path;
    switch (status) {
    case VMU_READ_OK:
        return 0;
    case VMU_READ_OPEN_FAILED:
        vmu_cli_error("cannot open %s: %s", path, strerror(error));
        return VMU_EXIT_USAGE;
    case VMU_READ_FAILED:
        vmu_cli_error("cannot read %s: %s", name, strerror(error));
        return VMU_EXIT_FAILED;
    case VMU_READ_TOO_LARGE:
        vmu_cli_error("cannot read %s: larger than %zu bytes (--max-request-bytes)", name, cap);
        return VMU_EXIT_USAGE;
    case VMU_READ_NO_MEMORY:
        vmu_cli_error("cannot read %s: not enough memory", name);
        return VMU_EXIT_FAILED;
    }
    return VMU_EXIT_FAILED;
}

/* The document and a newline on stdout; every failure is reported. */
static int write_document(const char *document, size_t len)
{
    errno = 0;
    if (fwrite(document, 1, len, stdout) == len && fputc('\n', stdout) != EOF &&
        fflush(stdout) == 0)
        return VMU_EXIT_OK;
    int error = errno;
    vmu_cli_error("write stdout: %s", strerror(error ? error : EIO));
    return VMU_EXIT_FAILED;
}

/* A failed evaluation or load: a request or policy that cannot be used as
 * given (not a strict JSON object, too large) is a usage error; anything
 * else is the job failing. */
static int failure_status(const char *message)
{
    if (strncmp(message, "request: ", 9) == 0 || strncmp(message, "policy larger than ", 19) == 0)
        return VMU_EXIT_USAGE;
    return VMU_EXIT_FAILED;
}

/* The size options: each sets one field of the config (0: no cap). */
static size_t *size_option(vmu_policy_config *config, const char *name)
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
    vmu_policy_config config;
    vmu_policy_config_init(&config);
    config.json_indent = 2;
    const char *positional[2] = {NULL, NULL};
    int npositional = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--instructions") == 0 || strcmp(a, "--memory") == 0) {
            uint64_t value;
            if (i + 1 >= argc || parse_size(argv[i + 1], &value) < 0)
                return vmu_cli_usage_error("%s needs a number (K, M, G suffixes allowed)", a);
            if (a[2] == 'i')
                config.instruction_budget = value ? value : UINT64_MAX;
            else
                config.memory_limit = value ? (value > SIZE_MAX ? SIZE_MAX : (size_t)value) : SIZE_MAX;
            i++;
        } else if (strcmp(a, "--timeout") == 0) {
            uint64_t ms;
            if (i + 1 >= argc || parse_duration_ms(argv[i + 1], &ms) < 0)
                return vmu_cli_usage_error("%s needs a CPU time in milliseconds (or with ms, s)", a);
            config.time_limit_ms = ms ? ms : UINT64_MAX;
            i++;
        } else if (strcmp(a, "--open-files") == 0) {
            uint64_t n;
            if (i + 1 >= argc || parse_size(argv[i + 1], &n) < 0)
                return vmu_cli_usage_error("%s needs a number", a);
            config.max_open_files = n ? (n > SIZE_MAX ? SIZE_MAX : (size_t)n) : SIZE_MAX;
            i++;
        } else if (size_option(&config, a)) {
            uint64_t value;
            if (i + 1 >= argc || parse_size(argv[i + 1], &value) < 0)
                return vmu_cli_usage_error("%s needs a number (K, M, G suffixes allowed)", a);
            *size_option(&config, a) = value && value < SIZE_MAX ? (size_t)value : SIZE_MAX;
            i++;
        } else if (strcmp(a, "--compact") == 0) {
            config.json_indent = 0;
        } else if (vmu_cli_is_help(a)) {
            return vmu_cli_help();
        } else if (strcmp(a, "--") == 0) {
            for (i++; i < argc; i++) {
                if (npositional == 2)
                    return vmu_cli_usage_error("unexpected argument '%s'", argv[i]);
                positional[npositional++] = argv[i];
            }
        } else if (a[0] == '-' && a[1] != '\0') {
            return vmu_cli_bad_option(a);
        } else {
            if (npositional == 2)
                return vmu_cli_usage_error("unexpected argument '%s'", a);
            positional[npositional++] = a;
        }
    }
    if (npositional == 0)
        return vmu_cli_usage_error("missing POLICY.lua");
    if (vmu_cli_check_input(positional[0]) != VMU_EXIT_OK)
        return VMU_EXIT_USAGE;

    vmu_buf request;
    vmu_buf_init(&request);
    int exit_status = read_request(positional[1], config.max_request_bytes, &request);
    if (exit_status != VMU_EXIT_OK) {
        vmu_buf_free(&request);
        return exit_status;
    }
    vmu_err err = {{0}};
    vmu_policy *rt = vmu_policy_new(&config, &err);
    if (!rt) {
        vmu_cli_error("%s", err.msg);
        vmu_buf_free(&request);
        return VMU_EXIT_FAILED;
    }
    exit_status = VMU_EXIT_FAILED;
    if (vmu_policy_load_file(rt, positional[0]) != VMU_POLICY_OK) {
        vmu_cli_error("%s", vmu_policy_error(rt));
        exit_status = failure_status(vmu_policy_error(rt));
    } else {
        const char *document;
        size_t len;
        switch (vmu_policy_evaluate(rt, request.data ? request.data : "", request.len, &document,
                                    &len)) {
        case VMU_POLICY_OK:
            exit_status = write_document(document, len);
            break;
        case VMU_POLICY_REJECTED:
            vmu_cli_error("%s", vmu_policy_error(rt));
            break;
        case VMU_POLICY_ERROR:
            vmu_cli_error("%s", vmu_policy_error(rt));
            exit_status = failure_status(vmu_policy_error(rt));
            break;
        }
    }
    vmu_policy_free(rt);
    vmu_buf_free(&request);
    return exit_status;
}
