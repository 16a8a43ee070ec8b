/* `vmutils gcs-logs`: forwards a GCS log stream from a file or stdin and
 * prints the records on stdout, the bytes the Go anchor prints (the host
 * "time" aside). Records are formatted on a second thread (vmu_log_async)
 * while this one decodes; output goes out 64 KiB at a time, as through the
 * anchor's bufio.Writer, with write(2). Unlike the anchor, what is buffered
 * is also written before the command waits for more input, so a live
 * stream's records are not held back. Where no thread can be started, the
 * records are formatted here, between reads, to the same bytes. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime.h"
#include "vmutils.h"

#define OUT_BUFFER (64u * 1024u)

static const char usage[] =
    "usage: vmutils gcs-logs [--vm-id ID] [--format text|json] [--level L] [--resync]\n"
    "                        [--max-entry-bytes N] [FILE|-]\n"
    "Forwards a GCS (guest compute service) log stream, a sequence of logrus JSON\n"
    "entries, as a Go container host does, and prints the records on stdout.\n"
    "  --vm-id ID            value of the uvm-id field (default \"bench-vm\")\n"
    "  --format text|json    logrus text or JSON records (default json)\n"
    "  --level L             least severe level printed: panic fatal error warn(ing)\n"
    "                        info debug trace (default trace)\n"
    "  --resync              log a bad entry or non-JSON text and go on, instead of\n"
    "                        stopping as Go does\n"
    "  --max-entry-bytes N   entries over N bytes are reported, not decoded\n"
    "                        (default 1048576)\n"
    "  FILE                  the stream (default, or \"-\": stdin)\n"
    "The defaults are those of the Go anchor (go-gcslogs).\n";

typedef struct out_buffer {
    int fd;
    bool failed;
    int write_errno; /* why it failed: errno is the writing thread's own */
    vmu_log_format format;
    bool format_failed;
    vmu_buf text; /* formatted records not yet written */
} out_buffer;

static int write_all(out_buffer *out, const char *data, size_t len)
{
    while (len > 0 && !out->failed) {
        ssize_t n = write(out->fd, data, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            out->failed = true;
            out->write_errno = errno;
            break;
        }
        data += n;
        len -= (size_t)n;
    }
    return out->failed ? -1 : 0;
}

static int flush_out(out_buffer *out)
{
    int rc = write_all(out, out->text.data, out->text.len);
    out->text.len = 0;
    return rc;
}

/* The logger's sink: each record is formatted straight onto the pending
 * output (no line buffer to copy from), which is written OUT_BUFFER bytes
 * at a time. */
static void format_record(void *user, const vmu_log_record *record)
{
    out_buffer *out = user;
    if (out->failed)
        return;
    int rc = out->format == VMU_LOG_JSON ? vmu_log_format_json(record, &out->text)
                                         : vmu_log_format_text(record, &out->text);
    if (rc != 0)
        out->format_failed = true;
    if (out->text.len >= OUT_BUFFER)
        flush_out(out);
}

/* The worker's writer. */
static int write_text(void *user, const char *data, size_t len)
{
    return write_all(user, data, len);
}

typedef struct source {
    int fd;
    out_buffer *out;
    vmu_log_async *async; /* NULL: records are formatted by format_record */
} source;

/* Reads the stream once the records so far are handed on; stops early (as
 * at EOF) once stdout is gone. */
static ptrdiff_t read_source(void *user, void *buf, size_t cap)
{
    source *src = user;
    if (src->async) {
        vmu_log_async_flush(src->async);
        if (vmu_log_async_failed(src->async))
            return 0;
    } else if (flush_out(src->out) != 0) {
        return 0;
    }
    return read(src->fd, buf, cap);
}

/* "--name VALUE", "--name=VALUE" (one dash works too, as in Go's flag). */
static const char *option_value(int argc, char **argv, int *i, const char *name, bool *bad)
{
    const char *arg = argv[*i];
    arg += arg[1] == '-' ? 2 : 1;
    size_t n = strlen(name);
    if (strncmp(arg, name, n) != 0)
        return NULL;
    if (arg[n] == '=')
        return arg + n + 1;
    if (arg[n] != '\0')
        return NULL;
    if (*i + 1 >= argc) {
        fprintf(stderr, "vmutils gcs-logs: option --%s needs a value\n", name);
        *bad = true;
        return NULL;
    }
    return argv[++*i];
}

static bool is_flag(const char *arg, const char *name)
{
    arg += arg[1] == '-' ? 2 : 1;
    return strcmp(arg, name) == 0;
}

int vmu_cmd_gcs_logs(int argc, char **argv)
{
    if (vmu_gcs_listen_requested(argc, argv))
        return vmu_cmd_gcs_listen(argc, argv);
    const char *vm_id = "bench-vm";
    const char *path = NULL;
    vmu_log_format format = VMU_LOG_JSON;
    vmu_log_level level = VMU_LEVEL_TRACE;
    vmu_gcs_options opts;
    vmu_gcs_options_init(&opts);

    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        const char *value;
        bool bad = false;
        if (arg[0] != '-' || strcmp(arg, "-") == 0) {
            if (path) {
                fprintf(stderr, "vmutils gcs-logs: more than one input given\n%s", usage);
                return 2;
            }
            path = arg;
        } else if (is_flag(arg, "help") || is_flag(arg, "h")) {
            fputs(usage, stdout);
            return 0;
        } else if (is_flag(arg, "resync")) {
            opts.resync = true;
        } else if ((value = option_value(argc, argv, &i, "vm-id", &bad)) != NULL) {
            vm_id = value;
        } else if ((value = option_value(argc, argv, &i, "format", &bad)) != NULL) {
            if (strcmp(value, "json") == 0) {
                format = VMU_LOG_JSON;
            } else if (strcmp(value, "text") == 0) {
                format = VMU_LOG_TEXT;
            } else {
                fprintf(stderr, "vmutils gcs-logs: --format must be text or json, not \"%s\"\n",
                        value);
                return 2;
            }
        } else if ((value = option_value(argc, argv, &i, "level", &bad)) != NULL) {
            if (vmu_log_level_parse(value, strlen(value), &level) != 0) {
                vmu_buf quoted;
                vmu_buf_init(&quoted);
                vmu_format_go_quote(value, strlen(value), &quoted);
                fprintf(stderr, "not a valid logrus Level: %.*s\n", (int)quoted.len,
                        quoted.data ? quoted.data : "");
                vmu_buf_free(&quoted);
                return 2;
            }
        } else if ((value = option_value(argc, argv, &i, "max-entry-bytes", &bad)) != NULL) {
            char *end;
            errno = 0;
            unsigned long long n = strtoull(value, &end, 10);
            if (errno || *end || end == value || value[0] == '-' || n == 0 ||
                n > VMU_GCS_MAX_ENTRY_BYTES_LIMIT) {
                fprintf(stderr, "vmutils gcs-logs: --max-entry-bytes must be 1..%zu\n",
                        (size_t)VMU_GCS_MAX_ENTRY_BYTES_LIMIT);
                return 2;
            }
            opts.max_entry_bytes = (size_t)n;
        } else {
            if (!bad)
                fprintf(stderr, "vmutils gcs-logs: unknown option %s\n%s", arg, usage);
            return 2;
        }
        if (bad)
            return 2;
    }

    source src = {.fd = 0};
    const char *name = "/dev/stdin";
    if (path && strcmp(path, "-") != 0) {
        src.fd = open(path, O_RDONLY | O_CLOEXEC);
        if (src.fd < 0) {
            fprintf(stderr, "vmutils gcs-logs: open %s: %s\n", path, strerror(errno));
            return 1;
        }
        name = path;
    }

    out_buffer *out = malloc(sizeof *out);
    vmu_logger *logger = vmu_logger_new();
    if (!out || !logger) {
        fputs("vmutils gcs-logs: out of memory\n", stderr);
        free(out);
        vmu_logger_free(logger);
        return 1;
    }
    out->fd = 1;
    out->failed = false;
    out->write_errno = 0;
    out->format = format;
    out->format_failed = false;
    vmu_buf_init(&out->text);
    src.out = out;
    vmu_logger_set_level(logger, level);
    vmu_logger_set_format(logger, format);
    src.async = vmu_log_async_new(format, write_text, out);
    if (src.async)
        vmu_logger_set_sink(logger, vmu_log_async_sink, src.async);
    else
        vmu_logger_set_sink(logger, format_record, out);

    int rc = vmu_gcs_forward(vm_id, read_source, &src, name, &opts, logger, NULL);
    if (src.async) {
        int errors = vmu_log_async_close(src.async);
        if (errors & VMU_LOG_ASYNC_NOMEM)
            out->format_failed = true;
        if (errors & VMU_LOG_ASYNC_WRITE)
            out->failed = true;
    }
    flush_out(out);
    int status = 0;
    if (rc != 0 || out->format_failed) {
        fputs("vmutils gcs-logs: out of memory\n", stderr);
        status = 1;
    } else if (out->failed) {
        fprintf(stderr, "vmutils gcs-logs: write stdout: %s\n", strerror(out->write_errno));
        status = 1;
    }
    vmu_logger_free(logger);
    vmu_buf_free(&out->text);
    free(out);
    if (src.fd != 0)
        close(src.fd);
    return status;
}
