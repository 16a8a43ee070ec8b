/* The GCS log service's loop (gcs_server.h) over real sockets in one
 * process: records of each connection with its VM id, a cut entry reported
 * on its own, reconnects logged once, quiet resets, fair reads, the end of
 * service reading what is queued, socket files (stale, live, not a socket,
 * modes), the CID map. AF_VSOCK itself is tried in tests/sh/gcs_listen.sh,
 * where a kernel without a loopback transport is reported as a skip. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <linux/vm_sockets.h>

#include <cmocka.h>

#include "vmutils.h"

/* ---- the records, as JSON lines ---- */

typedef struct sink {
    vmu_logger *logger;
    char *text;
    size_t len;
} sink;

static int sink_write(void *user, const char *data, size_t len)
{
    sink *s = user;
    char *grown = realloc(s->text, s->len + len + 1);
    if (!grown)
        return -1;
    memcpy(grown + s->len, data, len);
    s->len += len;
    grown[s->len] = '\0';
    s->text = grown;
    return 0;
}

static void sink_init(sink *s)
{
    s->text = NULL;
    s->len = 0;
    s->logger = vmu_logger_new();
    assert_non_null(s->logger);
    vmu_logger_set_level(s->logger, VMU_LEVEL_TRACE);
    vmu_logger_set_format(s->logger, VMU_LOG_JSON);
    vmu_logger_set_writer(s->logger, sink_write, s);
}

static void sink_free(sink *s)
{
    vmu_logger_free(s->logger);
    free(s->text);
}

static size_t count_of(const sink *s, const char *needle)
{
    size_t n = 0;
    for (const char *p = s->text; p && (p = strstr(p, needle)) != NULL; p++)
        n++;
    return n;
}

/* The line holding needle, or NULL. */
static char *line_with(const sink *s, const char *needle, char *out, size_t cap)
{
    const char *p = s->text ? strstr(s->text, needle) : NULL;
    if (!p)
        return NULL;
    const char *start = p;
    while (start > s->text && start[-1] != '\n')
        start--;
    const char *end = strchr(p, '\n');
    size_t len = end ? (size_t)(end - start) : strlen(start);
    if (len >= cap)
        len = cap - 1;
    memcpy(out, start, len);
    out[len] = '\0';
    return out;
}

static void write_all(int fd, const char *text)
{
    size_t len = strlen(text);
    while (len > 0) {
        ssize_t n = write(fd, text, len);
        assert_true(n > 0);
        text += n;
        len -= (size_t)n;
    }
}

/* Polls until no connection is open (bounded: a stuck loop fails). */
static void serve_until_idle(vmu_gcs_server *srv)
{
    vmu_gcs_server_stats st;
    for (int i = 0; i < 1000; i++) {
        vmu_gcs_server_poll(srv, 10);
        vmu_gcs_server_get_stats(srv, &st);
        if (st.open == 0 && st.accepted > 0)
            return;
    }
    fail_msg("connections still open");
}

static vmu_gcs_server *new_server(sink *s, size_t read_bytes, unsigned mode)
{
    vmu_gcs_server_options o = {.read_bytes = read_bytes, .socket_mode = mode};
    vmu_err err;
    vmu_gcs_server *srv = vmu_gcs_server_new(s->logger, &o, &err);
    assert_non_null(srv);
    return srv;
}

static void temp_dir(char *dir, size_t cap)
{
    snprintf(dir, cap, "/tmp/vmu-gcs-server-XXXXXX");
    assert_non_null(mkdtemp(dir));
}

static int connect_unix(const char *path)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path);
    assert_int_equal(connect(fd, (struct sockaddr *)&addr, sizeof addr), 0);
    return fd;
}

/* ---- the CID map ---- */

static void test_cid_map(void **state)
{
    (void)state;
    uint32_t cid;
    const char *vm_id;
    assert_int_equal(vmu_gcs_parse_cid_map_entry("3=vm-a", &cid, &vm_id), 0);
    assert_int_equal(cid, 3);
    assert_string_equal(vm_id, "vm-a");
    assert_int_equal(vmu_gcs_parse_cid_map_entry("4294967295=x", &cid, &vm_id), 0);
    assert_int_equal(cid, UINT32_MAX);
    const char *bad[] = {"4294967296=x", "=x", "3=", "x=3", "-1=x", "3", "", " 3=x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(vmu_gcs_parse_cid_map_entry(bad[i], &cid, &vm_id), -1);

    sink s;
    sink_init(&s);
    vmu_gcs_server *srv = new_server(&s, 0, 0);
    assert_null(vmu_gcs_server_cid_vm_id(srv, 3));
    assert_int_equal(vmu_gcs_server_map_cid(srv, 3, "vm-a"), 0);
    assert_int_equal(vmu_gcs_server_map_cid(srv, 4, "vm-b"), 0);
    assert_int_equal(vmu_gcs_server_map_cid(srv, 3, "vm-c"), 0); /* replaces */
    assert_int_equal(vmu_gcs_server_map_cid(srv, 5, ""), -1);
    assert_string_equal(vmu_gcs_server_cid_vm_id(srv, 3), "vm-c");
    assert_string_equal(vmu_gcs_server_cid_vm_id(srv, 4), "vm-b");
    /* An unknown CID has no VM id: its connections are refused. */
    assert_null(vmu_gcs_server_cid_vm_id(srv, 5));
    assert_null(vmu_gcs_server_cid_vm_id(srv, VMADDR_CID_HOST));

    static const char file[] = "# guests\n\n 10 = vm-10 \n11=vm-11\r\n   # indented comment\n12=vm 12";
    vmu_err err;
    assert_int_equal(vmu_gcs_server_load_cid_map(srv, file, sizeof file - 1, &err), 0);
    assert_string_equal(vmu_gcs_server_cid_vm_id(srv, 10), "vm-10");
    assert_string_equal(vmu_gcs_server_cid_vm_id(srv, 11), "vm-11");
    assert_string_equal(vmu_gcs_server_cid_vm_id(srv, 12), "vm 12");
    static const char broken[] = "10=a\n\nnot a map\n";
    assert_int_equal(vmu_gcs_server_load_cid_map(srv, broken, sizeof broken - 1, &err), -1);
    assert_string_equal(err.msg, "line 3: expected CID=VMID");
    vmu_gcs_server_free(srv);
    sink_free(&s);
}

/* ---- connections ---- */

static void test_connection_records_and_cut_entry(void **state)
{
    (void)state;
    sink s;
    sink_init(&s);
    vmu_gcs_server *srv = new_server(&s, 0, 0);
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    assert_int_equal(vmu_gcs_server_add_connection(srv, sv[0], "vm-7", "unix test", NULL), 0);
    write_all(sv[1], "{\"level\":\"warning\",\"msg\":\"first\",\"k\":1}\n{\"msg\":\"cut\",\"n\":");
    close(sv[1]);
    serve_until_idle(srv);
    char line[512];
    assert_non_null(line_with(&s, "\"msg\":\"first\"", line, sizeof line));
    assert_non_null(strstr(line, "\"uvm-id\":\"vm-7\""));
    assert_non_null(strstr(line, "\"level\":\"warning\""));
    /* The cut entry: Go's unexpected EOF, then the text itself. */
    assert_non_null(line_with(&s, "\"msg\":\"gcs terminated\"", line, sizeof line));
    assert_non_null(strstr(line, "\"stderr\":\"{\\\"msg\\\":\\\"cut\\\",\\\"n\\\":\""));
    assert_int_equal(count_of(&s, "\"error\":\"unexpected EOF\""), 1);
    vmu_gcs_server_stats st;
    vmu_gcs_server_get_stats(srv, &st);
    assert_int_equal(st.entries, 1);
    assert_int_equal(st.accepted, 1);
    vmu_gcs_server_free(srv);
    sink_free(&s);
}

/* A peer that drops the connection with data unread on its side makes the
 * reader's next read fail with ECONNRESET: Go's disconnect case, quiet,
 * what was buffered reported as "gcs terminated". */
static void test_reset_is_a_quiet_disconnect(void **state)
{
    (void)state;
    sink s;
    sink_init(&s);
    vmu_gcs_server *srv = new_server(&s, 0, 0);
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    int server_end = dup(sv[0]);
    assert_true(server_end >= 0);
    assert_int_equal(vmu_gcs_server_add_connection(srv, sv[0], "vm-r", "unix test", NULL), 0);
    write_all(sv[1], "{\"msg\":\"kept\"}\n{\"msg\":\"half");
    write_all(server_end, "unread by the guest");
    close(sv[1]); /* with unread data: a reset for the reader */
    serve_until_idle(srv);
    close(server_end);
    assert_int_equal(count_of(&s, "\"msg\":\"kept\""), 1);
    assert_int_equal(count_of(&s, "\"msg\":\"gcs log read\""), 0);
    char line[512];
    assert_non_null(line_with(&s, "\"msg\":\"gcs terminated\"", line, sizeof line));
    assert_non_null(strstr(line, "\"stderr\":\"{\\\"msg\\\":\\\"half\""));
    vmu_gcs_server_free(srv);
    sink_free(&s);
}

static void test_reconnect_logged_once_and_not_glued(void **state)
{
    (void)state;
    char dir[64], path[128];
    temp_dir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/vm.sock_109", dir);
    sink s;
    sink_init(&s);
    vmu_gcs_server *srv = new_server(&s, 0, 0);
    vmu_err err;
    assert_true(vmu_gcs_server_listen_unix(srv, path, "vm-9", NULL, &err) > 0);
    /* The first connection ends inside an entry; the second's bytes would
     * complete it if they were joined. */
    int fd = connect_unix(path);
    write_all(fd, "{\"msg\":\"one\"}\n{\"msg\":\"partial\",\"n\":1");
    close(fd);
    serve_until_idle(srv);
    fd = connect_unix(path);
    write_all(fd, ",\"glued\":true}\n");
    close(fd);
    for (int i = 0; i < 1000; i++) {
        vmu_gcs_server_stats st;
        vmu_gcs_server_poll(srv, 10);
        vmu_gcs_server_get_stats(srv, &st);
        if (st.accepted == 2 && st.open == 0)
            break;
    }
    assert_int_equal(count_of(&s, "\"glued\":true,"), 0);
    assert_int_equal(count_of(&s, "\"msg\":\"gcs log reconnected\""), 1);
    char line[512];
    assert_non_null(line_with(&s, "\"msg\":\"gcs log reconnected\"", line, sizeof line));
    assert_non_null(strstr(line, "\"level\":\"info\""));
    assert_non_null(strstr(line, "\"connection\":2"));
    assert_non_null(strstr(line, "\"uvm-id\":\"vm-9\""));
    assert_int_equal(count_of(&s, "\"msg\":\"gcs log connected\""), 1);
    assert_int_equal(count_of(&s, "\"stderr\":\"{\\\"msg\\\":\\\"partial\\\",\\\"n\\\":1\""), 1);
    assert_int_equal(count_of(&s, "\"stderr\":\",\\\"glued\\\":true}\""), 1);
    vmu_gcs_server_stats st;
    vmu_gcs_server_get_stats(srv, &st);
    assert_int_equal(st.reconnects, 1);
    vmu_gcs_server_free(srv);
    assert_int_equal(access(path, F_OK), -1); /* removed */
    rmdir(dir);
    sink_free(&s);
}

/* One round reads one slice from each readable connection: a flood of
 * queued entries does not hold off a slow VM's one entry. */
static void test_fair_round(void **state)
{
    (void)state;
    sink s;
    sink_init(&s);
    vmu_gcs_server *srv = new_server(&s, 4096, 0);
    int flood[2], slow[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, flood), 0);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, slow), 0);
    assert_int_equal(fcntl(flood[1], F_SETFL, O_NONBLOCK), 0);
    static const char entry[] = "{\"level\":\"debug\",\"msg\":\"flood\"}\n";
    enum { ENTRIES = 1000 };
    char *block = malloc(ENTRIES * (sizeof entry - 1));
    assert_non_null(block);
    for (int i = 0; i < ENTRIES; i++)
        memcpy(block + i * (sizeof entry - 1), entry, sizeof entry - 1);
    size_t queued = 0;
    ssize_t w;
    while (queued < 1 << 20 && (w = write(flood[1], block, ENTRIES * (sizeof entry - 1))) > 0)
        queued += (size_t)w;
    free(block);
    assert_true(queued > 16384);
    assert_int_equal(vmu_gcs_server_add_connection(srv, flood[0], "flood", "f", NULL), 0);
    assert_int_equal(vmu_gcs_server_add_connection(srv, slow[0], "slow", "s", NULL), 0);
    write_all(slow[1], "{\"msg\":\"slow one\"}\n");
    assert_int_equal(vmu_gcs_server_poll(srv, 1000), 2);
    assert_int_equal(count_of(&s, "\"msg\":\"slow one\""), 1);
    vmu_gcs_server_stats st;
    vmu_gcs_server_get_stats(srv, &st);
    assert_true(st.bytes <= 4096 + 20);
    close(flood[1]);
    close(slow[1]);
    vmu_gcs_server_free(srv);
    sink_free(&s);
}

/* The end of service reads what is queued, on connections and in a
 * listener's backlog, and reports each stream's end. */
static void test_shutdown_reads_what_is_queued(void **state)
{
    (void)state;
    char dir[64], path[128];
    temp_dir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/vm.sock", dir);
    sink s;
    sink_init(&s);
    vmu_gcs_server *srv = new_server(&s, 0, 0);
    vmu_err err;
    assert_true(vmu_gcs_server_listen_unix(srv, path, "backlog", NULL, &err) > 0);
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    assert_int_equal(vmu_gcs_server_add_connection(srv, sv[0], "queued", "q", NULL), 0);
    write_all(sv[1], "{\"msg\":\"a\"}\n{\"msg\":\"b\"}\n{\"msg\":\"c\"}\n");
    int fd = connect_unix(path);
    write_all(fd, "{\"msg\":\"from the backlog\"}\n");
    close(fd);
    vmu_gcs_server_shutdown(srv);
    assert_int_equal(count_of(&s, "\"uvm-id\":\"queued\""), 3 + 2); /* + connected, disconnected */
    assert_int_equal(count_of(&s, "\"msg\":\"from the backlog\""), 1);
    assert_int_equal(access(path, F_OK), -1);
    vmu_gcs_server_stats st;
    vmu_gcs_server_get_stats(srv, &st);
    assert_int_equal(st.open, 0);
    assert_int_equal(st.listeners, 0);
    close(sv[1]);
    vmu_gcs_server_free(srv);
    rmdir(dir);
    sink_free(&s);
}

/* ---- socket files ---- */

static void test_socket_files(void **state)
{
    (void)state;
    char dir[64], path[128], plain[128], stale[128];
    temp_dir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/live.sock", dir);
    snprintf(plain, sizeof plain, "%s/plain", dir);
    snprintf(stale, sizeof stale, "%s/stale.sock", dir);
    sink s;
    sink_init(&s);
    vmu_gcs_server *srv = new_server(&s, 0, 0);
    vmu_err err;
    int id = vmu_gcs_server_listen_unix(srv, path, "a", NULL, &err);
    assert_true(id > 0);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_true(S_ISSOCK(st.st_mode));
    assert_int_equal(st.st_mode & 07777, 0600);

    /* Live: refused, and the file is left to its owner. */
    assert_int_equal(vmu_gcs_server_listen_unix(srv, path, "b", NULL, &err), -1);
    assert_non_null(strstr(err.msg, "another process is listening on this socket"));
    assert_int_equal(stat(path, &st), 0);

    /* Not a socket: refused, untouched. */
    FILE *f = fopen(plain, "w");
    assert_non_null(f);
    fclose(f);
    assert_int_equal(vmu_gcs_server_listen_unix(srv, plain, "c", NULL, &err), -1);
    assert_non_null(strstr(err.msg, "the path exists and is not a socket"));
    assert_int_equal(stat(plain, &st), 0);
    assert_true(S_ISREG(st.st_mode));

    /* Stale: a socket file nobody listens on is replaced. */
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    assert_true(strlen(stale) < sizeof addr.sun_path);
    memcpy(addr.sun_path, stale, strlen(stale) + 1);
    assert_int_equal(bind(fd, (struct sockaddr *)&addr, sizeof addr), 0);
    close(fd);
    assert_true(vmu_gcs_server_listen_unix(srv, stale, "d", NULL, &err) > 0);

    /* Too long a path: a clear error. */
    char longer[200];
    memset(longer, 'x', sizeof longer - 1);
    longer[sizeof longer - 1] = '\0';
    assert_int_equal(vmu_gcs_server_listen_unix(srv, longer, "e", NULL, &err), -1);
    assert_non_null(strstr(err.msg, "path must be 1..107 bytes"));

    /* Closing removes the file, unless it is no longer the one created. */
    assert_int_equal(vmu_gcs_server_close_listener(srv, id), 0);
    assert_int_equal(access(path, F_OK), -1);
    assert_int_equal(vmu_gcs_server_close_listener(srv, id), -1);
    unlink(stale);
    f = fopen(stale, "w");
    fclose(f);
    vmu_gcs_server_free(srv);
    assert_int_equal(access(stale, F_OK), 0);
    unlink(stale);
    unlink(plain);

    /* Another mode on request. */
    srv = new_server(&s, 0, 0640);
    assert_true(vmu_gcs_server_listen_unix(srv, path, "a", NULL, &err) > 0);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0640);
    vmu_gcs_server_free(srv);
    rmdir(dir);
    sink_free(&s);
}

/* Out of descriptors, a listener stays readable: the loop must not spin on
 * it. The listener rests for a round (the wait then bounded), the failure
 * is logged once, and guests are served once descriptors are back. */
static void test_out_of_descriptors_pauses_the_listener(void **state)
{
    (void)state;
    char dir[64], path[128];
    temp_dir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/vm.sock", dir);
    sink s;
    sink_init(&s);
    vmu_gcs_server *srv = new_server(&s, 0, 0);
    vmu_err err;
    assert_true(vmu_gcs_server_listen_unix(srv, path, "vm-f", NULL, &err) > 0);
    int clients[3];
    for (int i = 0; i < 3; i++) {
        clients[i] = connect_unix(path);
        write_all(clients[i], "{\"msg\":\"waiting\"}\n");
        close(clients[i]);
    }
    struct rlimit old, low;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
    int probe = dup(0);
    assert_true(probe >= 0);
    close(probe);
    low = old;
    low.rlim_cur = (rlim_t)probe; /* the next descriptor is over the limit */
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
    assert_int_equal(vmu_gcs_server_poll(srv, 1000), 1); /* accept fails */
    assert_int_equal(vmu_gcs_server_poll(srv, 1000), 0); /* resting: no event */
    assert_int_equal(vmu_gcs_server_poll(srv, 1000), 1); /* tried again */
    assert_int_equal(count_of(&s, "\"msg\":\"gcs log accept failed\""), 1);
    char line[512];
    assert_non_null(line_with(&s, "\"msg\":\"gcs log accept failed\"", line, sizeof line));
    assert_non_null(strstr(line, "\"error\":\"Too many open files\""));
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
    /* Served again once descriptors are back. (The backlog's connections
     * are too, on a kernel; valgrind, which enforces the limit after the
     * system call, drops the one it refused, so a new guest is checked.) */
    int fd = connect_unix(path);
    write_all(fd, "{\"msg\":\"after\"}\n");
    close(fd);
    for (int i = 0; i < 200 && count_of(&s, "\"msg\":\"after\"") == 0; i++)
        vmu_gcs_server_poll(srv, 10);
    assert_int_equal(count_of(&s, "\"msg\":\"after\""), 1);
    assert_true(count_of(&s, "\"msg\":\"waiting\"") >= 1);
    vmu_gcs_server_free(srv);
    rmdir(dir);
    sink_free(&s);
}

/* ---- watchers and the idle hook ---- */

static void on_readable(void *user, int fd)
{
    char c;
    if (read(fd, &c, 1) == 1)
        (*(int *)user)++;
}

static void on_idle(void *user) { (*(int *)user)++; }

static void test_watch_and_idle(void **state)
{
    (void)state;
    sink s;
    sink_init(&s);
    vmu_gcs_server *srv = new_server(&s, 0, 0);
    int p[2], seen = 0, idle = 0;
    assert_int_equal(pipe(p), 0);
    assert_int_equal(vmu_gcs_server_watch(srv, p[0], on_readable, &seen), 0);
    vmu_gcs_server_set_idle(srv, on_idle, &idle);
    assert_int_equal(vmu_gcs_server_poll(srv, 1), 0);
    assert_int_equal(idle, 1);
    write_all(p[1], "x");
    assert_int_equal(vmu_gcs_server_poll(srv, 1000), 1);
    assert_int_equal(seen, 1);
    vmu_gcs_server_unwatch(srv, p[0]);
    write_all(p[1], "y");
    assert_int_equal(vmu_gcs_server_poll(srv, 1), 0);
    assert_int_equal(seen, 1);
    close(p[0]);
    close(p[1]);
    vmu_gcs_server_free(srv);
    sink_free(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cid_map),
        cmocka_unit_test(test_connection_records_and_cut_entry),
        cmocka_unit_test(test_reset_is_a_quiet_disconnect),
        cmocka_unit_test(test_reconnect_logged_once_and_not_glued),
        cmocka_unit_test(test_fair_round),
        cmocka_unit_test(test_shutdown_reads_what_is_queued),
        cmocka_unit_test(test_socket_files),
        cmocka_unit_test(test_out_of_descriptors_pauses_the_listener),
        cmocka_unit_test(test_watch_and_idle),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
