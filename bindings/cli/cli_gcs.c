/* `vmutils gcs-logs`: its options, parsed here for both of its modes (the
 * --listen service runs in cli_gcs_listen.c), and the single stream:
 * forwards a GCS log stream from a file or stdin and prints the records on
 * stdout, the bytes the Go anchor prints (the host
 * "time" aside). Records are formatted on a second thread (vmu_log_async)
 * while this one decodes; output goes out 64 KiB at a time, as through the
 * anchor's bufio.Writer, with write(2). Unlike the anchor, what is buffered
 * is also written before the command waits for more input, so a live
 * stream's records are not held back. Where no thread can be started, the
 * records are formatted here, between reads, to the same bytes. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "cli_gcs.h"
#include "vmutils.h"
#include "vmutils/gcs_server.h"

#define OUT_BUFFER (64u * 1024u)

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
    int read_errno;       /* the first read error that is not an end */
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
    ptrdiff_t n = read(src->fd, buf, cap);
    /* The forwarder ends the stream quietly at these, as at EOF. */
    if (n < 0 && errno != EINTR && errno != ECONNRESET && errno != ECONNABORTED &&
        !src->read_errno)
        src->read_errno = errno;
    return n;
}

/* An option: its name, whether it takes a value, and what it does with it.
 * apply returns 0, or the exit status of a usage error (message printed).
 * The table serves both modes; service is set for the options that only
 * the --listen service takes. */
typedef struct gcs_option {
    const char *name;
    bool takes_value;
    bool service;
    int (*apply)(vmu_gcs_cli *args, const char *value);
} gcs_option;

static int set_vm_id(vmu_gcs_cli *args, const char *value)
{
    args->vm_id = value;
    return 0;
}

static int set_format(vmu_gcs_cli *args, const char *value)
{
    if (strcmp(value, "json") == 0)
        args->format = VMU_LOG_JSON;
    else if (strcmp(value, "text") == 0)
        args->format = VMU_LOG_TEXT;
    else
        return vmu_cli_usage_error("--format must be text or json, not '%s'", value);
    return 0;
}

static int set_level(vmu_gcs_cli *args, const char *value)
{
    if (vmu_log_level_parse(value, strlen(value), &args->level) == 0)
        return 0;
    /* logrus's own words for it, the name quoted as Go's %q does. */
    vmu_buf quoted;
    vmu_buf_init(&quoted);
    vmu_format_go_quote(value, strlen(value), &quoted);
    int rc = vmu_cli_usage_error("not a valid logrus Level: %.*s", (int)quoted.len,
                                 quoted.data ? quoted.data : "");
    vmu_buf_free(&quoted);
    return rc;
}

static int set_resync(vmu_gcs_cli *args, const char *value)
{
    (void)value;
    args->opts.resync = true;
    return 0;
}

/* A decimal number in 1..max; false for anything else ("-1", "1x", ""). */
static bool parse_count(const char *value, unsigned long long max, unsigned long long *n)
{
    char *end;
    errno = 0;
    *n = strtoull(value, &end, 10);
    return !errno && !*end && end != value && value[0] != '-' && *n != 0 && *n <= max;
}

static int set_max_entry_bytes(vmu_gcs_cli *args, const char *value)
{
    unsigned long long n;
    if (!parse_count(value, VMU_GCS_MAX_ENTRY_BYTES_LIMIT, &n))
        return vmu_cli_usage_error("--max-entry-bytes must be 1..%zu",
                                   (size_t)VMU_GCS_MAX_ENTRY_BYTES_LIMIT);
    args->opts.max_entry_bytes = (size_t)n;
    return 0;
}

static int add_listen(vmu_gcs_cli *args, const char *value)
{
    args->listens[args->nlisten++] = value;
    return 0;
}

static int set_listen_dir(vmu_gcs_cli *args, const char *value)
{
    if (args->dir)
        return vmu_cli_usage_error("--listen-dir is given once");
    args->dir = value;
    return 0;
}

static int set_listen_port(vmu_gcs_cli *args, const char *value)
{
    unsigned long long n;
    if (!parse_count(value, UINT32_MAX, &n))
        return vmu_cli_usage_error("--listen-port must be a port number 1..%lu, not '%s'",
                                   (unsigned long)UINT32_MAX, value);
    args->dir_port = (unsigned)n;
    return 0;
}

static int set_vm_id_pattern(vmu_gcs_cli *args, const char *value)
{
    args->vm_id_pattern = value;
    return 0;
}

static int add_vm_map(vmu_gcs_cli *args, const char *value)
{
    uint32_t cid;
    const char *vm_id;
    if (vmu_gcs_parse_cid_map_entry(value, &cid, &vm_id) != 0)
        return vmu_cli_usage_error("--vm-map %s: expected CID=VMID", value);
    args->maps[args->nmap++] = (vmu_gcs_cli_map){value, false};
    return 0;
}

static int add_vm_map_file(vmu_gcs_cli *args, const char *value)
{
    args->maps[args->nmap++] = (vmu_gcs_cli_map){value, true};
    return 0;
}

static int set_socket_mode(vmu_gcs_cli *args, const char *value)
{
    char *end;
    errno = 0;
    unsigned long mode = strtoul(value, &end, 8);
    if (errno || *end || end == value || value[0] == '-' || mode == 0 || mode > 0777)
        return vmu_cli_usage_error("--socket-mode must be an octal mode 1..0777, not '%s'",
                                   value);
    args->socket_mode = (unsigned)mode;
    return 0;
}

static int set_output(vmu_gcs_cli *args, const char *value)
{
    args->output = value;
    return 0;
}

static const gcs_option gcs_options[] = {
    {"vm-id", true, false, set_vm_id},
    {"format", true, false, set_format},
    {"level", true, false, set_level},
    {"resync", false, false, set_resync},
    {"max-entry-bytes", true, false, set_max_entry_bytes},
    {"listen", true, false, add_listen},
    {"listen-dir", true, false, set_listen_dir},
    {"listen-port", true, true, set_listen_port},
    {"vm-id-pattern", true, true, set_vm_id_pattern},
    {"vm-map", true, true, add_vm_map},
    {"vm-map-file", true, true, add_vm_map_file},
    {"socket-mode", true, true, set_socket_mode},
    {"output", true, true, set_output},
};

/* One option at argv[*i]: "--name", "--name VALUE" or "--name=VALUE" (one
 * dash works too, as in Go's flag package). */
static int parse_option(vmu_gcs_cli *args, int argc, char **argv, int *i)
{
    const char *arg = argv[*i];
    const char *name = arg + (arg[1] == '-' ? 2 : 1);
    const char *eq = strchr(name, '=');
    size_t name_len = eq ? (size_t)(eq - name) : strlen(name);
    for (size_t k = 0; k < sizeof gcs_options / sizeof gcs_options[0]; k++) {
        const gcs_option *o = &gcs_options[k];
        if (strlen(o->name) != name_len || strncmp(o->name, name, name_len) != 0)
            continue;
        const char *value = NULL;
        if (!o->takes_value) {
            if (eq)
                return vmu_cli_usage_error("option '--%s' takes no value", o->name);
        } else if (eq) {
            value = eq + 1;
        } else if (*i + 1 < argc) {
            value = argv[++*i];
        } else {
            return vmu_cli_usage_error("option '--%s' needs a value", o->name);
        }
        if (o->service && !args->service_option)
            args->service_option = o->name;
        return o->apply(args, value);
    }
    return vmu_cli_bad_option(arg);
}

static bool service_mode(const vmu_gcs_cli *args)
{
    return args->nlisten > 0 || args->dir;
}

/* Fills args from the command line. Returns 0, -1 for --help, or the exit
 * status of a usage error. */
static int parse_args(vmu_gcs_cli *args, int argc, char **argv)
{
    bool options_done = false;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (options_done || arg[0] != '-' || strcmp(arg, "-") == 0) {
            if (args->path)
                return vmu_cli_usage_error("unexpected argument '%s'", arg);
            args->path = arg;
        } else if (strcmp(arg, "--") == 0) {
            options_done = true;
        } else if (vmu_cli_is_help(arg) || strcmp(arg, "-help") == 0) {
            return -1;
        } else {
            int rc = parse_option(args, argc, argv, &i);
            if (rc != 0)
                return rc;
        }
    }
    if (service_mode(args)) {
        if (args->path)
            return vmu_cli_usage_error("unexpected argument '%s' (--listen reads no FILE)",
                                       args->path);
        return 0;
    }
    if (args->service_option)
        return vmu_cli_usage_error("--%s needs --listen or --listen-dir", args->service_option);
    if (!args->vm_id)
        return vmu_cli_usage_error("missing --vm-id ID (the VM's id, the uvm-id of every record)");
    return 0;
}

/* The single stream: FILE or standard input. */
static int forward_stream(const vmu_gcs_cli *args);

int vmu_cmd_gcs_logs(int argc, char **argv)
{
    vmu_gcs_cli args = {.format = VMU_LOG_JSON, .level = VMU_LEVEL_TRACE};
    vmu_gcs_options_init(&args.opts);
    /* Each repeatable option takes at most one slot an argument. */
    args.listens = calloc((size_t)argc, sizeof *args.listens);
    args.maps = calloc((size_t)argc, sizeof *args.maps);
    int rc;
    if (!args.listens || !args.maps) {
        vmu_cli_error("out of memory");
        rc = VMU_EXIT_FAILED;
    } else {
        rc = parse_args(&args, argc, argv);
        if (rc == -1)
            rc = vmu_cli_help();
        else if (rc == 0)
            rc = service_mode(&args) ? vmu_gcs_listen_run(&args) : forward_stream(&args);
    }
    free(args.listens);
    free(args.maps);
    return rc;
}

static int forward_stream(const vmu_gcs_cli *args)
{
    source src = {.fd = 0};
    const char *name = "/dev/stdin";
    if (args->path && strcmp(args->path, "-") != 0) {
        src.fd = vmu_cli_open_input(args->path);
        if (src.fd < 0)
            return VMU_EXIT_USAGE;
        name = args->path;
    }

    out_buffer *out = malloc(sizeof *out);
    vmu_logger *logger = vmu_logger_new();
    if (!out || !logger) {
        vmu_cli_error("out of memory");
        free(out);
        vmu_logger_free(logger);
        if (src.fd != 0)
            close(src.fd);
        return VMU_EXIT_FAILED;
    }
    out->fd = 1;
    out->failed = false;
    out->write_errno = 0;
    out->format = args->format;
    out->format_failed = false;
    vmu_buf_init(&out->text);
    src.out = out;
    vmu_logger_set_level(logger, args->level);
    vmu_logger_set_format(logger, args->format);
    src.async = vmu_log_async_new(args->format, write_text, out);
    if (src.async)
        vmu_logger_set_sink(logger, vmu_log_async_sink, src.async);
    else
        vmu_logger_set_sink(logger, format_record, out);

    int rc = vmu_gcs_forward(args->vm_id, read_source, &src, name, &args->opts, logger, NULL);
    if (src.async) {
        int errors = vmu_log_async_close(src.async);
        if (errors & VMU_LOG_ASYNC_NOMEM)
            out->format_failed = true;
        if (errors & VMU_LOG_ASYNC_WRITE)
            out->failed = true;
    }
    flush_out(out);
    int status = VMU_EXIT_OK;
    if (rc != 0 || out->format_failed) {
        vmu_cli_error("out of memory");
        status = VMU_EXIT_FAILED;
    } else if (out->failed) {
        vmu_cli_error("write stdout: %s", strerror(out->write_errno));
        status = VMU_EXIT_FAILED;
    } else if (src.read_errno) {
        /* Logged as a record too, as the Go host does; the status says it. */
        vmu_cli_error("read %s: %s", name, strerror(src.read_errno));
        status = VMU_EXIT_FAILED;
    }
    vmu_logger_free(logger);
    vmu_buf_free(&out->text);
    free(out);
    if (src.fd != 0)
        close(src.fd);
    return status;
}
