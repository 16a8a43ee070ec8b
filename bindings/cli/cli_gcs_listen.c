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
#include <regex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "cli_gcs.h"
#include "vmutils.h"
#include "vmutils/gcs_server.h"

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
    regex_t vm_id_pattern; /* when has_pattern: one group, the VM id */
    bool has_pattern;
    int inotify_fd;
    dir_entry *entries;
} service;

/* ---- arguments ---- */

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

/* A --listen value: "unix:PATH[=VMID][,resync]" or "vsock:PORT[,resync]",
 * parsed in a copy of it (spec). */
typedef struct listen_spec {
    const char *arg; /* as given */
    char *spec;
    bool vsock;
    const char *path;  /* unix */
    const char *vm_id; /* unix; NULL: none given */
    uint32_t port;     /* vsock */
    bool resync;
} listen_spec;

/* Returns 0, or the exit status of a usage error (message printed). */
static int parse_listen(listen_spec *l, const char *arg)
{
    size_t len = strlen(arg);
    l->arg = arg;
    l->spec = malloc(len + 1);
    if (!l->spec) {
        vmu_cli_error("out of memory");
        return VMU_EXIT_FAILED;
    }
    memcpy(l->spec, arg, len + 1);
    if (len > 7 && strcmp(l->spec + len - 7, ",resync") == 0) {
        l->spec[len - 7] = '\0';
        l->resync = true;
    }
    bool ok = false;
    if (strncmp(l->spec, "unix:", 5) == 0) {
        char *path = l->spec + 5;
        char *eq = strrchr(path, '=');
        if (eq) {
            *eq = '\0';
            l->vm_id = eq + 1;
        }
        l->path = path;
        ok = *path && (!l->vm_id || *l->vm_id);
    } else if (strncmp(l->spec, "vsock:", 6) == 0) {
        unsigned long port = 0;
        l->vsock = true;
        ok = parse_uint(l->spec + 6, UINT32_MAX, 10, &port);
        l->port = (uint32_t)port;
    }
    if (!ok)
        return vmu_cli_usage_error(
            "--listen %s: expected unix:PATH[=VMID][,resync] or vsock:PORT[,resync]", arg);
    return 0;
}

/* Parses every --listen; a unix:PATH without =VMID takes --vm-id, which
 * must name exactly one such listener. */
static int parse_listens(const vmu_gcs_cli *args, listen_spec *specs)
{
    int unnamed = 0;
    for (int i = 0; i < args->nlisten; i++) {
        int rc = parse_listen(&specs[i], args->listens[i]);
        if (rc != 0)
            return rc;
        if (specs[i].vsock || specs[i].vm_id)
            continue;
        if (!args->vm_id)
            return vmu_cli_usage_error("--listen %s: no VM id: add =VMID or give --vm-id",
                                       specs[i].arg);
        if (++unnamed > 1)
            return vmu_cli_usage_error(
                "--vm-id names the VM of one unix:PATH listener; give the others =VMID");
        specs[i].vm_id = args->vm_id;
    }
    if (args->vm_id && unnamed == 0)
        return vmu_cli_usage_error(
            "--vm-id with --listen names a unix:PATH listener without =VMID; there is none");
    return 0;
}

static int open_listener(service *svc, const listen_spec *l)
{
    vmu_gcs_options gcs = svc->gcs;
    if (l->resync)
        gcs.resync = true;
    vmu_err err = {{0}};
    int rc = l->vsock ? vmu_gcs_server_listen_vsock(svc->server, l->port, &gcs, &err)
                      : vmu_gcs_server_listen_unix(svc->server, l->path, l->vm_id, &gcs, &err);
    if (rc < 0)
        vmu_cli_error("%s", err.msg);
    return rc;
}

/* Opens path for reading; NULL (and why, on stderr, after the option's
 * name) when it cannot be opened or is a directory. */
static FILE *open_named_input(const char *option, const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    int why = errno;
    if (fd >= 0 && fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
        close(fd);
        fd = -1;
        why = EISDIR;
    }
    FILE *f = fd >= 0 ? fdopen(fd, "r") : NULL;
    if (!f) {
        if (fd >= 0) {
            why = errno;
            close(fd);
        }
        vmu_cli_error("%s %s: %s", option, path, strerror(why));
    }
    return f;
}

static int load_map_file(service *svc, const char *path)
{
    FILE *f = open_named_input("--vm-map-file", path);
    if (!f)
        return -1;
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
        vmu_cli_error("--vm-map-file %s: %s", path, err.msg);
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

/* The VM id of a VMM socket's name: the --vm-id-pattern's group, or the
 * name without its extension. False when the pattern does not match or
 * its group is empty. */
static bool dir_vm_id(const service *svc, const char *name, char *vm_id, size_t cap)
{
    if (!svc->has_pattern) {
        snprintf(vm_id, cap, "%s", name);
        char *dot = strrchr(vm_id, '.');
        if (dot && dot != vm_id)
            *dot = '\0';
        return true;
    }
    regmatch_t m[2];
    if (regexec(&svc->vm_id_pattern, name, 2, m, 0) != 0 || m[1].rm_so < 0 ||
        m[1].rm_eo <= m[1].rm_so)
        return false;
    snprintf(vm_id, cap, "%.*s", (int)(m[1].rm_eo - m[1].rm_so), name + m[1].rm_so);
    return true;
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
    dir_entry *e = calloc(1, sizeof *e);
    if (!e || !(e->name = strdup(name))) {
        free(e);
        vmu_cli_error("out of memory");
        return;
    }
    e->listener = -1;
    if (dir_vm_id(svc, name, vm_id, sizeof vm_id)) {
        vmu_err err = {{0}};
        e->listener = vmu_gcs_server_listen_unix(svc->server, path, vm_id, &svc->gcs, &err);
        if (e->listener < 0)
            vmu_cli_error("%s", err.msg);
    } else {
        vmu_cli_error("--listen-dir: %s does not match --vm-id-pattern: not served", name);
    }
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
        if (e->listener >= 0)
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
        vmu_cli_error("reopen %s: %s (still writing the old file)", svc->out.path,
                      strerror(errno));
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

/* What must hold before anything is opened: the listeners' syntax and VM
 * ids, the pattern, the directory. 0 or the exit status of a usage error. */
static int check_args(service *svc, const vmu_gcs_cli *args, listen_spec *specs)
{
    int rc = parse_listens(args, specs);
    if (rc != 0)
        return rc;
    if (!args->dir) {
        if (args->vm_id_pattern)
            return vmu_cli_usage_error("--vm-id-pattern needs --listen-dir");
        if (args->dir_port)
            return vmu_cli_usage_error("--listen-port needs --listen-dir");
        return 0;
    }
    if (args->vm_id_pattern) {
        int err = regcomp(&svc->vm_id_pattern, args->vm_id_pattern, REG_EXTENDED);
        if (err != 0) {
            char why[256];
            regerror(err, &svc->vm_id_pattern, why, sizeof why);
            return vmu_cli_usage_error("--vm-id-pattern '%s': %s", args->vm_id_pattern, why);
        }
        svc->has_pattern = true;
        if (svc->vm_id_pattern.re_nsub != 1)
            return vmu_cli_usage_error("--vm-id-pattern '%s' needs exactly one capture group "
                                       "(the VM id), it has %zu",
                                       args->vm_id_pattern, svc->vm_id_pattern.re_nsub);
    }
    struct stat st;
    int why = stat(args->dir, &st) != 0 ? errno : S_ISDIR(st.st_mode) ? 0 : ENOTDIR;
    if (why != 0) {
        vmu_cli_error("--listen-dir %s: %s", args->dir, strerror(why));
        return VMU_EXIT_USAGE;
    }
    return 0;
}

/* Loads the map and opens the listeners; 0, or an exit status. */
static int set_up(service *svc, const vmu_gcs_cli *args, const listen_spec *specs)
{
    for (int i = 0; i < args->nmap; i++) {
        const vmu_gcs_cli_map *m = &args->maps[i];
        if (m->file) {
            if (load_map_file(svc, m->value) != 0)
                return VMU_EXIT_USAGE;
            continue;
        }
        uint32_t cid;
        const char *vm_id;
        /* Checked when the option was read. */
        if (vmu_gcs_parse_cid_map_entry(m->value, &cid, &vm_id) != 0 ||
            vmu_gcs_server_map_cid(svc->server, cid, vm_id) != 0) {
            vmu_cli_error("out of memory");
            return VMU_EXIT_FAILED;
        }
    }
    for (int i = 0; i < args->nlisten; i++)
        if (open_listener(svc, &specs[i]) < 0)
            return VMU_EXIT_FAILED;
    if (svc->dir) {
        svc->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        if (svc->inotify_fd < 0 ||
            inotify_add_watch(svc->inotify_fd, svc->dir,
                              IN_CREATE | IN_DELETE | IN_MOVED_TO | IN_MOVED_FROM |
                                  IN_DELETE_SELF | IN_MOVE_SELF) < 0 ||
            vmu_gcs_server_watch(svc->server, svc->inotify_fd, on_inotify, svc) != 0) {
            vmu_cli_error("--listen-dir %s: %s", svc->dir, strerror(errno));
            return VMU_EXIT_FAILED;
        }
        scan_dir(svc);
    }
    return VMU_EXIT_OK;
}

/* The closing line on stderr: what was served, and the cost. */
static void report_stats(vmu_gcs_server *server)
{
    vmu_gcs_server_stats st;
    vmu_gcs_server_get_stats(server, &st);
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        memset(&ru, 0, sizeof ru);
    vmu_cli_error("stopped: %llu connections (%llu reconnects, %llu refused), %llu bytes, "
                  "%llu entries, peak RSS %ld KiB, CPU %.3f s",
                  (unsigned long long)st.accepted, (unsigned long long)st.reconnects,
                  (unsigned long long)st.refused, (unsigned long long)st.bytes,
                  (unsigned long long)st.entries, ru.ru_maxrss,
                  (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
                      (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6);
}

static int serve(service *svc, const vmu_gcs_cli *args, const listen_spec *specs)
{
    if (svc->out.path) {
        svc->out.fd = open_output(svc->out.path);
        if (svc->out.fd < 0) {
            vmu_cli_error("--output %s: %s", svc->out.path, strerror(errno));
            return VMU_EXIT_USAGE;
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

    int status;
    vmu_logger *logger = vmu_logger_new();
    vmu_gcs_server_options sopts = {.socket_mode = args->socket_mode ? args->socket_mode : 0600};
    vmu_err err = {{0}};
    if (logger) {
        vmu_logger_set_level(logger, args->level);
        vmu_logger_set_format(logger, args->format);
        svc->async = vmu_log_async_new(args->format, write_output, &svc->out);
        svc->server = vmu_gcs_server_new(logger, &sopts, &err);
    }
    if (sigfd < 0 || !logger || !svc->async || !svc->server) {
        vmu_cli_error("%s", sigfd < 0 ? strerror(errno) : err.msg[0] ? err.msg : "out of memory");
        status = VMU_EXIT_FAILED;
    } else {
        vmu_logger_set_sink(logger, vmu_log_async_sink, svc->async);
        vmu_gcs_server_set_idle(svc->server, on_idle, svc->async);
        status = vmu_gcs_server_watch(svc->server, sigfd, on_signal, svc) == 0 ? VMU_EXIT_OK
                                                                                : VMU_EXIT_FAILED;
        if (status == VMU_EXIT_OK)
            status = set_up(svc, args, specs);
    }

    while (status == VMU_EXIT_OK && !svc->stop && !vmu_log_async_failed(svc->async)) {
        if (vmu_gcs_server_poll(svc->server, -1) < 0) {
            vmu_cli_error("epoll_wait: %s", strerror(errno));
            status = VMU_EXIT_FAILED;
        }
    }
    if (svc->server) {
        vmu_gcs_server_shutdown(svc->server);
        if (status == VMU_EXIT_OK)
            report_stats(svc->server);
        vmu_gcs_server_free(svc->server);
    }
    if (svc->async) {
        int errors = vmu_log_async_close(svc->async);
        if (errors & VMU_LOG_ASYNC_WRITE) {
            vmu_cli_error("write %s: %s", svc->out.path ? svc->out.path : "stdout",
                          strerror(svc->out.write_errno));
            status = VMU_EXIT_FAILED;
        } else if (errors & VMU_LOG_ASYNC_NOMEM) {
            vmu_cli_error("out of memory: records lost");
            status = VMU_EXIT_FAILED;
        }
    }
    vmu_logger_free(logger);
    if (sigfd >= 0)
        close(sigfd);
    if (svc->out.path && svc->out.fd >= 0)
        close(svc->out.fd);
    sigprocmask(SIG_SETMASK, &previous, NULL);
    return status;
}

int vmu_gcs_listen_run(const vmu_gcs_cli *args)
{
    service svc;
    memset(&svc, 0, sizeof svc);
    svc.out.fd = STDOUT_FILENO;
    svc.out.path = args->output;
    svc.inotify_fd = -1;
    svc.dir = args->dir;
    svc.dir_port = args->dir_port ? args->dir_port : DIR_PORT_DEFAULT;
    svc.gcs = args->opts;
    listen_spec *specs = calloc((size_t)args->nlisten + 1, sizeof *specs);
    int status;
    if (!specs) {
        vmu_cli_error("out of memory");
        status = VMU_EXIT_FAILED;
    } else {
        status = check_args(&svc, args, specs);
        if (status == VMU_EXIT_OK)
            status = serve(&svc, args, specs);
    }
    free_dir_entries(&svc);
    if (svc.inotify_fd >= 0)
        close(svc.inotify_fd);
    if (svc.has_pattern)
        regfree(&svc.vm_id_pattern);
    for (int i = 0; specs && i < args->nlisten; i++)
        free(specs[i].spec);
    free(specs);
    return status;
}
