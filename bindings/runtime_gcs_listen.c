/* `vmutils gcs-logs --listen ...`: the GCS log service. Serves many VMs'
 * log sockets from one event loop (vmu_gcs_server) and writes every record
 * through one vmu_log_async sink to stdout or --output FILE.
 *
 * Signals are taken through a signalfd in the loop, so a handler never
 * runs in the middle of a record: SIGTERM and SIGINT end the service
 * (listeners closed and their files removed, what is queued on each
 * connection read, every record written, exit 0); SIGHUP reopens --output
 * (log rotation). The output descriptor is swapped with dup2, which the
 * worker's write(2) sees whole: each write goes to the old file or the new
 * one. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime.h"
#include "vmutils.h"
#include "vmutils/gcs_server.h"

static const char usage[] =
    "usage: vmutils gcs-logs --listen ADDR [--listen ADDR...] [OPTIONS]\n"
    "       vmutils gcs-logs --listen-dir DIR [OPTIONS]\n"
    "Serves the GCS log sockets of many VMs from one process and prints every\n"
    "record, one line each, on stdout (or --output FILE).\n"
    "  --listen unix:PATH[=VMID][,resync]\n"
    "                        a Unix socket (Firecracker, Cloud Hypervisor:\n"
    "                        <uds_path>_109); VMID defaults to the file name\n"
    "  --listen vsock:PORT[,resync]\n"
    "                        AF_VSOCK on the host; VM ids from --vm-map\n"
    "  --vm-map CID=VMID     the VM id of a vsock peer (repeatable)\n"
    "  --vm-map-file FILE    CID=VMID lines ('#' comments)\n"
    "  --listen-dir DIR      serve <uds_path>_PORT for every VMM socket that\n"
    "                        appears in DIR (VM id: its name without extension)\n"
    "  --listen-port N       the guest port of --listen-dir (default 109)\n"
    "  --socket-mode MODE    mode of the socket files created (default 0600)\n"
    "  --output FILE         append records to FILE (created 0640); SIGHUP\n"
    "                        reopens it\n"
    "  --format text|json    logrus text or JSON records (default json)\n"
    "  --level L             least severe level printed (default trace)\n"
    "  --resync              every listener in resync mode\n"
    "  --max-entry-bytes N   entries over N bytes are reported, not decoded\n"
    "SIGTERM or SIGINT: stop, write every record read, exit 0.\n";

#define DIR_PORT_DEFAULT 109

typedef struct output {
    int fd;
    const char *path; /* NULL: stdout */
    int write_errno;  /* the worker's, read after it stopped */
} output;

static int write_output(void *user, const char *data, size_t len)
{
    output *out = user;
    while (len > 0) {
        ssize_t n = write(out->fd, data, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            out->write_errno = errno;
            return -1;
        }
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

static int open_output(const char *path)
{
    return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
}

/* A VMM socket served from --listen-dir. */
typedef struct dir_entry {
    struct dir_entry *next;
    char *name;
    int listener;
    bool seen; /* still present at the last scan */
} dir_entry;

typedef struct service {
    vmu_gcs_server *server;
    vmu_log_async *async;
    output out;
    vmu_gcs_options gcs;
    bool stop;
    int status;
    /* --listen-dir */
    const char *dir;
    unsigned dir_port;
    int inotify_fd;
    dir_entry *entries;
} service;

/* ---- arguments ---- */

static const char *option_value(int argc, char **argv, int *i, const char *name, bool *bad)
{
    const char *arg = argv[*i];
    if (arg[0] != '-')
        return NULL;
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
    if (arg[0] != '-')
        return false;
    arg += arg[1] == '-' ? 2 : 1;
    return strcmp(arg, name) == 0;
}

bool vmu_gcs_listen_requested(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] != '-')
            continue;
        a += a[1] == '-' ? 2 : 1;
        if (strncmp(a, "listen", 6) == 0 && (a[6] == '\0' || a[6] == '=' || a[6] == '-'))
            return true;
    }
    return false;
}

static bool parse_uint(const char *s, unsigned long max, int base, unsigned long *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, base);
    if (errno || end == s || *end || s[0] == '-' || v > max)
        return false;
    *out = v;
    return true;
}

/* "unix:PATH[=VMID][,resync]" or "vsock:PORT[,resync]". */
static int open_listener(service *svc, const char *arg)
{
    vmu_gcs_options gcs = svc->gcs;
    size_t len = strlen(arg);
    char *spec = malloc(len + 1);
    if (!spec) {
        fputs("vmutils gcs-logs: out of memory\n", stderr);
        return -1;
    }
    memcpy(spec, arg, len + 1);
    if (len > 7 && strcmp(spec + len - 7, ",resync") == 0) {
        spec[len - 7] = '\0';
        gcs.resync = true;
    }
    vmu_err err = {{0}};
    int rc = -1;
    if (strncmp(spec, "unix:", 5) == 0) {
        char *path = spec + 5;
        char *eq = strrchr(path, '=');
        const char *vm_id;
        if (eq) {
            *eq = '\0';
            vm_id = eq + 1;
        } else {
            const char *slash = strrchr(path, '/');
            vm_id = slash ? slash + 1 : path;
        }
        if (!*path || !*vm_id)
            snprintf(err.msg, sizeof err.msg, "--listen %s: expected unix:PATH[=VMID]", arg);
        else
            rc = vmu_gcs_server_listen_unix(svc->server, path, vm_id, &gcs, &err);
    } else if (strncmp(spec, "vsock:", 6) == 0) {
        unsigned long port;
        if (!parse_uint(spec + 6, UINT32_MAX, 10, &port))
            snprintf(err.msg, sizeof err.msg, "--listen %s: expected vsock:PORT", arg);
        else
            rc = vmu_gcs_server_listen_vsock(svc->server, (uint32_t)port, &gcs, &err);
    } else {
        snprintf(err.msg, sizeof err.msg, "--listen %s: expected unix:PATH[=VMID] or vsock:PORT",
                 arg);
    }
    free(spec);
    if (rc < 0)
        fprintf(stderr, "vmutils gcs-logs: %s\n", err.msg);
    return rc;
}

static int load_map_file(service *svc, const char *path)
{
    FILE *f = fopen(path, "re");
    if (!f) {
        fprintf(stderr, "vmutils gcs-logs: --vm-map-file %s: %s\n", path, strerror(errno));
        return -1;
    }
    vmu_buf text;
    vmu_buf_init(&text);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        vmu_buf_append(&text, chunk, n);
    bool read_failed = ferror(f);
    fclose(f);
    vmu_err err = {{0}};
    int rc = -1;
    if (read_failed || text.failed)
        snprintf(err.msg, sizeof err.msg, "%s", read_failed ? "read error" : "out of memory");
    else
        rc = vmu_gcs_server_load_cid_map(svc->server, text.data ? text.data : "", text.len, &err);
    vmu_buf_free(&text);
    if (rc != 0)
        fprintf(stderr, "vmutils gcs-logs: --vm-map-file %s: %s\n", path, err.msg);
    return rc;
}

/* ---- --listen-dir ---- */

/* A VMM's vsock socket: a socket whose name does not end in _<digits>
 * (those are port forwards, ours among them). */
static bool is_vmm_socket(const char *dir, const char *name)
{
    size_t len = strlen(name);
    size_t i = len;
    while (i > 0 && name[i - 1] >= '0' && name[i - 1] <= '9')
        i--;
    if (i < len && i > 0 && name[i - 1] == '_')
        return false;
    char path[4096];
    if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path)
        return false;
    struct stat st;
    return lstat(path, &st) == 0 && S_ISSOCK(st.st_mode);
}

static void serve_dir_entry(service *svc, const char *name)
{
    for (dir_entry *e = svc->entries; e; e = e->next)
        if (strcmp(e->name, name) == 0) {
            e->seen = true;
            return;
        }
    char path[4096], vm_id[256];
    if (snprintf(path, sizeof path, "%s/%s_%u", svc->dir, name, svc->dir_port) >= (int)sizeof path)
        return;
    snprintf(vm_id, sizeof vm_id, "%s", name);
    char *dot = strrchr(vm_id, '.');
    if (dot && dot != vm_id)
        *dot = '\0';
    dir_entry *e = calloc(1, sizeof *e);
    if (!e || !(e->name = strdup(name))) {
        free(e);
        fputs("vmutils gcs-logs: out of memory\n", stderr);
        return;
    }
    vmu_err err = {{0}};
    e->listener = vmu_gcs_server_listen_unix(svc->server, path, vm_id, &svc->gcs, &err);
    if (e->listener < 0)
        fprintf(stderr, "vmutils gcs-logs: %s\n", err.msg);
    /* Kept even when it failed: retried only once the VMM socket goes. */
    e->seen = true;
    e->next = svc->entries;
    svc->entries = e;
}

/* Brings the served set in line with the directory: a rescan per batch of
 * events is simpler than following renames and never misses an overflow. */
static void scan_dir(service *svc)
{
    for (dir_entry *e = svc->entries; e; e = e->next)
        e->seen = false;
    DIR *d = opendir(svc->dir);
    if (d) {
        struct dirent *de;
        while ((de = readdir(d)) != NULL)
            if (de->d_name[0] != '.' && is_vmm_socket(svc->dir, de->d_name))
                serve_dir_entry(svc, de->d_name);
        closedir(d);
    }
    for (dir_entry **p = &svc->entries; *p;) {
        dir_entry *e = *p;
        if (e->seen) {
            p = &e->next;
            continue;
        }
        if (e->listener > 0)
            vmu_gcs_server_close_listener(svc->server, e->listener);
        *p = e->next;
        free(e->name);
        free(e);
    }
}

static void on_inotify(void *user, int fd)
{
    service *svc = user;
    char events[8192];
    bool any = false;
    while (read(fd, events, sizeof events) > 0)
        any = true;
    if (any)
        scan_dir(svc);
}

static void free_dir_entries(service *svc)
{
    while (svc->entries) {
        dir_entry *e = svc->entries;
        svc->entries = e->next;
        free(e->name);
        free(e);
    }
}

/* ---- signals ---- */

static void reopen_output(service *svc)
{
    if (!svc->out.path)
        return;
    int fd = open_output(svc->out.path);
    if (fd < 0) {
        fprintf(stderr, "vmutils gcs-logs: reopen %s: %s (still writing the old file)\n",
                svc->out.path, strerror(errno));
        return;
    }
    /* What is taken so far goes to the old file. */
    vmu_log_async_flush(svc->async);
    dup2(fd, svc->out.fd);
    close(fd);
}

static void on_signal(void *user, int fd)
{
    service *svc = user;
    struct signalfd_siginfo si;
    while (read(fd, &si, sizeof si) == (ssize_t)sizeof si) {
        if (si.ssi_signo == SIGHUP)
            reopen_output(svc);
        else
            svc->stop = true;
    }
}

static void on_idle(void *user)
{
    vmu_log_async_flush(user);
}

/* ---- the command ---- */

static int parse_args(service *svc, int argc, char **argv, vmu_log_format *format,
                      vmu_log_level *level, unsigned *socket_mode, const char **listens,
                      int *nlisten, const char **maps, int *nmap)
{
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        const char *value;
        bool bad = false;
        unsigned long n;
        if (arg[0] != '-') {
            fprintf(stderr, "vmutils gcs-logs: no FILE with --listen (%s)\n", arg);
            return 2;
        } else if (is_flag(arg, "help") || is_flag(arg, "h")) {
            fputs(usage, stdout);
            return 0;
        } else if (is_flag(arg, "resync")) {
            svc->gcs.resync = true;
        } else if ((value = option_value(argc, argv, &i, "listen", &bad)) != NULL) {
            listens[(*nlisten)++] = value;
        } else if ((value = option_value(argc, argv, &i, "listen-dir", &bad)) != NULL) {
            if (svc->dir) {
                fputs("vmutils gcs-logs: one --listen-dir\n", stderr);
                return 2;
            }
            svc->dir = value;
        } else if ((value = option_value(argc, argv, &i, "listen-port", &bad)) != NULL) {
            if (!parse_uint(value, UINT32_MAX, 10, &n)) {
                fprintf(stderr, "vmutils gcs-logs: --listen-port must be a port number\n");
                return 2;
            }
            svc->dir_port = (unsigned)n;
        } else if ((value = option_value(argc, argv, &i, "vm-map", &bad)) != NULL) {
            maps[(*nmap)++] = value;
        } else if ((value = option_value(argc, argv, &i, "vm-map-file", &bad)) != NULL) {
            maps[(*nmap)++] = NULL;
            maps[(*nmap)++] = value;
        } else if ((value = option_value(argc, argv, &i, "socket-mode", &bad)) != NULL) {
            if (!parse_uint(value, 0777, 8, &n) || n == 0) {
                fprintf(stderr, "vmutils gcs-logs: --socket-mode must be an octal mode "
                                "1..0777, not \"%s\"\n", value);
                return 2;
            }
            *socket_mode = (unsigned)n;
        } else if ((value = option_value(argc, argv, &i, "output", &bad)) != NULL) {
            svc->out.path = value;
        } else if ((value = option_value(argc, argv, &i, "format", &bad)) != NULL) {
            if (strcmp(value, "json") == 0) {
                *format = VMU_LOG_JSON;
            } else if (strcmp(value, "text") == 0) {
                *format = VMU_LOG_TEXT;
            } else {
                fprintf(stderr, "vmutils gcs-logs: --format must be text or json, not \"%s\"\n",
                        value);
                return 2;
            }
        } else if ((value = option_value(argc, argv, &i, "level", &bad)) != NULL) {
            if (vmu_log_level_parse(value, strlen(value), level) != 0) {
                fprintf(stderr, "vmutils gcs-logs: not a valid logrus Level: \"%s\"\n", value);
                return 2;
            }
        } else if ((value = option_value(argc, argv, &i, "max-entry-bytes", &bad)) != NULL) {
            if (!parse_uint(value, VMU_GCS_MAX_ENTRY_BYTES_LIMIT, 10, &n) || n == 0) {
                fprintf(stderr, "vmutils gcs-logs: --max-entry-bytes must be 1..%zu\n",
                        (size_t)VMU_GCS_MAX_ENTRY_BYTES_LIMIT);
                return 2;
            }
            svc->gcs.max_entry_bytes = (size_t)n;
        } else {
            if (!bad)
                fprintf(stderr, "vmutils gcs-logs: unknown option %s\n%s", arg, usage);
            return 2;
        }
        if (bad)
            return 2;
    }
    if (*nlisten == 0 && !svc->dir) {
        fprintf(stderr, "vmutils gcs-logs: --listen or --listen-dir needed\n%s", usage);
        return 2;
    }
    return -1;
}

/* Opens the listeners and the map; 0, or an exit status. */
static int set_up(service *svc, const char **listens, int nlisten, const char **maps, int nmap)
{
    for (int i = 0; i < nmap; i++) {
        if (!maps[i]) {
            if (load_map_file(svc, maps[++i]) != 0)
                return 2;
            continue;
        }
        uint32_t cid;
        const char *vm_id;
        if (vmu_gcs_parse_cid_map_entry(maps[i], &cid, &vm_id) != 0) {
            fprintf(stderr, "vmutils gcs-logs: --vm-map %s: expected CID=VMID\n", maps[i]);
            return 2;
        }
        if (vmu_gcs_server_map_cid(svc->server, cid, vm_id) != 0) {
            fputs("vmutils gcs-logs: out of memory\n", stderr);
            return 1;
        }
    }
    for (int i = 0; i < nlisten; i++)
        if (open_listener(svc, listens[i]) < 0)
            return 1;
    if (svc->dir) {
        svc->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        if (svc->inotify_fd < 0 ||
            inotify_add_watch(svc->inotify_fd, svc->dir,
                              IN_CREATE | IN_DELETE | IN_MOVED_TO | IN_MOVED_FROM |
                                  IN_DELETE_SELF | IN_MOVE_SELF) < 0 ||
            vmu_gcs_server_watch(svc->server, svc->inotify_fd, on_inotify, svc) != 0) {
            fprintf(stderr, "vmutils gcs-logs: --listen-dir %s: %s\n", svc->dir, strerror(errno));
            return 1;
        }
        scan_dir(svc);
    }
    return 0;
}

int vmu_cmd_gcs_listen(int argc, char **argv)
{
    service svc;
    memset(&svc, 0, sizeof svc);
    svc.out.fd = STDOUT_FILENO;
    svc.inotify_fd = -1;
    svc.dir_port = DIR_PORT_DEFAULT;
    vmu_gcs_options_init(&svc.gcs);
    vmu_log_format format = VMU_LOG_JSON;
    vmu_log_level level = VMU_LEVEL_TRACE;
    unsigned socket_mode = 0600;
    const char **listens = calloc((size_t)argc * 2 + 1, sizeof *listens);
    const char **maps = listens + argc;
    int nlisten = 0, nmap = 0;
    if (!listens) {
        fputs("vmutils gcs-logs: out of memory\n", stderr);
        return 1;
    }
    int status = parse_args(&svc, argc, argv, &format, &level, &socket_mode, listens, &nlisten,
                            maps, &nmap);
    if (status >= 0) {
        free(listens);
        return status;
    }

    if (svc.out.path) {
        svc.out.fd = open_output(svc.out.path);
        if (svc.out.fd < 0) {
            fprintf(stderr, "vmutils gcs-logs: --output %s: %s\n", svc.out.path, strerror(errno));
            free(listens);
            return 1;
        }
    }
    /* Blocked before the worker starts, so that only the signalfd sees them. */
    sigset_t signals, previous;
    sigemptyset(&signals);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGHUP);
    sigprocmask(SIG_BLOCK, &signals, &previous);
    int sigfd = signalfd(-1, &signals, SFD_NONBLOCK | SFD_CLOEXEC);

    vmu_logger *logger = vmu_logger_new();
    vmu_gcs_server_options sopts = {.socket_mode = socket_mode};
    vmu_err err = {{0}};
    if (logger) {
        vmu_logger_set_level(logger, level);
        vmu_logger_set_format(logger, format);
        svc.async = vmu_log_async_new(format, write_output, &svc.out);
        svc.server = vmu_gcs_server_new(logger, &sopts, &err);
    }
    if (sigfd < 0 || !logger || !svc.async || !svc.server) {
        fprintf(stderr, "vmutils gcs-logs: %s\n",
                sigfd < 0 ? strerror(errno) : err.msg[0] ? err.msg : "out of memory");
        status = 1;
    } else {
        vmu_logger_set_sink(logger, vmu_log_async_sink, svc.async);
        vmu_gcs_server_set_idle(svc.server, on_idle, svc.async);
        status = vmu_gcs_server_watch(svc.server, sigfd, on_signal, &svc) == 0 ? 0 : 1;
        if (status == 0)
            status = set_up(&svc, listens, nlisten, maps, nmap);
    }
    free(listens);

    while (status == 0 && !svc.stop && !vmu_log_async_failed(svc.async)) {
        if (vmu_gcs_server_poll(svc.server, -1) < 0) {
            fprintf(stderr, "vmutils gcs-logs: epoll_wait: %s\n", strerror(errno));
            status = 1;
        }
    }
    if (svc.server) {
        vmu_gcs_server_shutdown(svc.server);
        vmu_gcs_server_stats st;
        vmu_gcs_server_get_stats(svc.server, &st);
        struct rusage ru;
        if (getrusage(RUSAGE_SELF, &ru) != 0)
            ru.ru_maxrss = 0;
        if (status == 0)
            fprintf(stderr,
                    "vmutils gcs-logs: stopped: %llu connections (%llu reconnects, %llu "
                    "refused), %llu bytes, %llu entries, peak RSS %ld KiB, CPU %.3f s\n",
                    (unsigned long long)st.accepted, (unsigned long long)st.reconnects,
                    (unsigned long long)st.refused, (unsigned long long)st.bytes,
                    (unsigned long long)st.entries, ru.ru_maxrss,
                    (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
                        (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6);
        vmu_gcs_server_free(svc.server);
    }
    free_dir_entries(&svc);
    if (svc.inotify_fd >= 0)
        close(svc.inotify_fd);
    if (svc.async) {
        int errors = vmu_log_async_close(svc.async);
        if (errors & VMU_LOG_ASYNC_WRITE) {
            fprintf(stderr, "vmutils gcs-logs: write %s: %s\n",
                    svc.out.path ? svc.out.path : "stdout", strerror(svc.out.write_errno));
            status = 1;
        } else if (errors & VMU_LOG_ASYNC_NOMEM) {
            fputs("vmutils gcs-logs: out of memory: records lost\n", stderr);
            status = 1;
        }
    }
    vmu_logger_free(logger);
    if (sigfd >= 0)
        close(sigfd);
    if (svc.out.path && svc.out.fd >= 0)
        close(svc.out.fd);
    sigprocmask(SIG_SETMASK, &previous, NULL);
    return status;
}
