/* Fuzz target: reference-info name resolution (vmu_parse_uvm_reference_info_n)
 * against a fixed tree made once in a temporary directory:
 *
 *   <base>/secret                 outside the root: must never be read
 *   <base>/root/a.cose, empty     regular files (each with its own content)
 *   <base>/root/dir/b.cose, dir/sub/c.cose
 *   <base>/root/dir/link_in       -> ../a.cose (stays inside)
 *   <base>/root/dir/link_abs      -> <base>/root/a.cose (absolute, inside)
 *   <base>/root/link_dir          -> dir
 *   <base>/root/link_out          -> ../secret
 *   <base>/root/link_abs_out      -> <base>/secret
 *   <base>/root/link_loop         -> link_loop
 *   <base>/root/dangling          -> nowhere
 *   <base>/root/fifo, sock        a FIFO and a socket
 *   <base>/root/big               a sparse file one byte over 4 MiB
 *
 * The input is the reference name (any bytes, NULs included). Each name is
 * resolved twice: with openat2 and with the component walk that kernels
 * without openat2 get. Properties:
 *  - a NUL in the name is refused; other failures carry Go's prefix;
 *  - whatever is returned is base64 of a regular file that really lies
 *    under the root (by realpath), reached through no absolute symlink at
 *    the end (openat2 follows relative ones that stay beneath the root);
 *    the secret is never returned;
 *  - "" only for an empty name or a path that does not exist;
 *  - a lexically escaping name (absolute, or ".." above the root) fails;
 *  - the walk follows no symlink at all, and it never succeeds where
 *    openat2 fails: walk-success implies the same bytes from openat2. */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "../core/test_hooks.h"
#include "fuzz_input.h"
#include "vmutils.h"

static const char prefix[] = "failed to read UVM reference info file: ";
static char base_dir[PATH_MAX], root_dir[PATH_MAX + 16], root_real[PATH_MAX];
static vmu_logger *quiet;

static void put_file(const char *rel, const char *content)
{
    char path[PATH_MAX * 2];
    snprintf(path, sizeof path, "%s/%s", base_dir, rel);
    FILE *f = fopen(path, "wb");
    FUZZ_REQUIRE(f, "cannot create %s", path);
    fputs(content, f);
    fclose(f);
}

static void put_link(const char *rel, const char *target)
{
    char path[PATH_MAX * 2];
    snprintf(path, sizeof path, "%s/%s", base_dir, rel);
    FUZZ_REQUIRE(symlink(target, path) == 0, "symlink %s", path);
}

static void remove_tree(void)
{
    vmu_logger_free(quiet);
    quiet = NULL;
    char cmd[PATH_MAX + 32];
    if (base_dir[0]) {
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", base_dir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", base_dir);
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    const char *tmp = getenv("TMPDIR");
    snprintf(base_dir, sizeof base_dir, "%s/vmutils-fuzz-refinfo-XXXXXX", tmp ? tmp : "/tmp");
    FUZZ_REQUIRE(mkdtemp(base_dir), "mkdtemp");
    atexit(remove_tree);
    snprintf(root_dir, sizeof root_dir, "%s/root", base_dir);
    char path[PATH_MAX * 2];
    const char *dirs[] = {"root", "root/dir", "root/dir/sub"};
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", base_dir, dirs[i]);
        FUZZ_REQUIRE(mkdir(path, 0755) == 0, "mkdir %s", path);
    }
    put_file("secret", "OUTSIDE-SECRET");
    put_file("root/a.cose", "content of a");
    put_file("root/empty", "");
    put_file("root/dir/b.cose", "content of b");
    put_file("root/dir/sub/c.cose", "content of c");
    put_link("root/dir/link_in", "../a.cose");
    snprintf(path, sizeof path, "%s/root/a.cose", base_dir);
    put_link("root/dir/link_abs", path);
    put_link("root/link_dir", "dir");
    put_link("root/link_out", "../secret");
    snprintf(path, sizeof path, "%s/secret", base_dir);
    put_link("root/link_abs_out", path);
    put_link("root/link_loop", "link_loop");
    put_link("root/dangling", "nowhere");
    snprintf(path, sizeof path, "%s/root/fifo", base_dir);
    FUZZ_REQUIRE(mkfifo(path, 0644) == 0, "mkfifo");
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    int written = snprintf(addr.sun_path, sizeof addr.sun_path, "%s/root/sock", base_dir);
    if (written > 0 && (size_t)written < sizeof addr.sun_path) {
        int s = socket(AF_UNIX, SOCK_STREAM, 0);
        FUZZ_REQUIRE(s >= 0 && bind(s, (struct sockaddr *)&addr, sizeof addr) == 0, "socket");
        close(s);
    }
    snprintf(path, sizeof path, "%s/root/big", base_dir);
    FILE *big = fopen(path, "wb");
    FUZZ_REQUIRE(big && fseek(big, (long)VMU_REFERENCE_INFO_MAX_BYTES, SEEK_SET) == 0 &&
                     fputc('x', big) == 'x' && fclose(big) == 0,
                 "big file");
    FUZZ_REQUIRE(realpath(root_dir, root_real), "realpath of the root");
    quiet = vmu_logger_new();
    FUZZ_REQUIRE(quiet, "logger");
    vmu_logger_set_level(quiet, VMU_LEVEL_PANIC);
    return 0;
}

/* ---- oracles ------------------------------------------------------------- */

static int b64_value(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    return c == '+' ? 62 : c == '/' ? 63 : -1;
}

/* Standard base64 with padding; returns the byte count or -1. */
static long b64_decode(const char *in, size_t len, unsigned char *out)
{
    if (len % 4)
        return -1;
    long n = 0;
    for (size_t i = 0; i < len; i += 4) {
        int v[4];
        int pad = 0;
        for (int k = 0; k < 4; k++) {
            if (in[i + k] == '=' && i + 4 == len && k >= 2) {
                v[k] = 0;
                pad++;
            } else {
                if (pad)
                    return -1;
                v[k] = b64_value(in[i + k]);
                if (v[k] < 0)
                    return -1;
            }
        }
        uint32_t q = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 | (uint32_t)v[3];
        out[n++] = (unsigned char)(q >> 16);
        if (pad < 2)
            out[n++] = (unsigned char)(q >> 8);
        if (pad < 1)
            out[n++] = (unsigned char)q;
    }
    return n;
}

/* Lexical cleaning of a relative name, Go's rules: "" and "." components
 * vanish, ".." removes one, and a ".." with nothing to remove escapes.
 * Returns false on escape; `clean` gets "" for the root itself. */
static bool clean_relative(const char *name, size_t len, char *clean, size_t cap)
{
    size_t starts[PATH_MAX];
    size_t depth = 0, out = 0;
    size_t i = 0;
    while (i < len) {
        size_t j = i;
        while (j < len && name[j] != '/')
            j++;
        size_t n = j - i;
        if (n == 0 || (n == 1 && name[i] == '.')) {
            /* nothing */
        } else if (n == 2 && name[i] == '.' && name[i + 1] == '.') {
            if (depth == 0)
                return false;
            out = starts[--depth];
        } else {
            FUZZ_REQUIRE(out + n + 2 < cap && depth < PATH_MAX, "name too long for the oracle");
            starts[depth++] = out;
            if (out)
                clean[out++] = '/';
            memcpy(clean + out, name + i, n);
            out += n;
        }
        i = j + 1;
    }
    clean[out] = '\0';
    return true;
}

static bool under_root(const char *real)
{
    size_t n = strlen(root_real);
    return strncmp(real, root_real, n) == 0 && (real[n] == '/' || real[n] == '\0');
}

/* Whether some component of root/clean (below the root) is a symlink. */
static bool has_symlink(const char *clean)
{
    char path[PATH_MAX * 2];
    size_t n = (size_t)snprintf(path, sizeof path, "%s/", root_dir);
    for (const char *p = clean; *p;) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        if (n + len + 2 >= sizeof path)
            return false;
        memcpy(path + n, p, len);
        n += len;
        path[n] = '\0';
        struct stat st;
        if (lstat(path, &st) != 0)
            return false;
        if (S_ISLNK(st.st_mode))
            return true;
        path[n++] = '/';
        p = slash ? slash + 1 : p + len;
    }
    return false;
}

typedef struct outcome {
    int rc;
    vmu_err err;
    vmu_buf out;
} outcome;

static void resolve(outcome *o, const uint8_t *name, size_t len, bool openat2)
{
    vmu_refinfo_use_openat2(openat2);
    vmu_buf_init(&o->out);
    memset(&o->err, 0, sizeof o->err);
    o->rc = vmu_parse_uvm_reference_info_n(quiet, root_dir, strlen(root_dir), (const char *)name,
                                           len, &o->out, &o->err);
    FUZZ_REQUIRE(o->rc == 0 || o->rc == -1, "status %d", o->rc);
    if (o->rc == 0)
        FUZZ_REQUIRE(o->out.len == 0 || o->out.data[o->out.len] == '\0', "no NUL after the text");
    else
        FUZZ_REQUIRE(strncmp(o->err.msg, prefix, sizeof prefix - 1) == 0, "message '%s'",
                     o->err.msg);
}

/* Failed with `text` in the message. vmu_err holds 511 bytes: a message
 * that long was cut short (a long path in it) and may have lost the text. */
static bool failed_with(const outcome *o, const char *text)
{
    return o->rc == -1 &&
           (strstr(o->err.msg, text) || strlen(o->err.msg) == sizeof o->err.msg - 1);
}

static void check_one(const outcome *o, const uint8_t *name, size_t len, const char *mode)
{
    bool has_nul = memchr(name, '\0', len) != NULL;
    if (has_nul) {
        FUZZ_REQUIRE(failed_with(o, "path contains a NUL byte"),
                     "%s: a NUL byte was not refused", mode);
        return;
    }
    if (len == 0) {
        FUZZ_REQUIRE(o->rc == 0 && o->out.len == 0, "%s: empty name", mode);
        return;
    }
    char clean[PATH_MAX * 2];
    bool inside = name[0] != '/' && len < PATH_MAX &&
                  clean_relative((const char *)name, len, clean, sizeof clean);
    if (!inside) {
        if (len < PATH_MAX)
            FUZZ_REQUIRE(failed_with(o, "path escapes the reference root"),
                         "%s: an escaping name was not refused: %s", mode,
                         o->rc ? o->err.msg : "(success)");
        return;
    }
    char path[PATH_MAX * 3];
    int path_len = snprintf(path, sizeof path, "%s/%s", root_dir, clean);
    FUZZ_REQUIRE(path_len > 0 && (size_t)path_len < sizeof path, "path too long for the oracle");
    if (o->rc != 0)
        return;
    if (o->out.len == 0) {
        /* "" is a missing file, or an empty one (checked as any read). */
        struct stat st;
        if (stat(path, &st) != 0) {
            FUZZ_REQUIRE(errno == ENOENT, "%s: \"\" for %s: %s", mode, path, strerror(errno));
            return;
        }
    }
    char real[PATH_MAX];
    FUZZ_REQUIRE(realpath(path, real), "%s: read a file realpath cannot find: %s", mode, path);
    FUZZ_REQUIRE(under_root(real), "%s: read %s, outside the root", mode, real);
    struct stat st, lst;
    FUZZ_REQUIRE(stat(real, &st) == 0 && S_ISREG(st.st_mode), "%s: not a regular file", mode);
    FUZZ_REQUIRE(lstat(path, &lst) == 0, "%s: lstat %s", mode, path);
    if (S_ISLNK(lst.st_mode)) {
        /* Only openat2 follows links, and only relative ones (under the
         * root, checked above): RESOLVE_BENEATH refuses absolute targets. */
        char target[PATH_MAX];
        ssize_t t = readlink(path, target, sizeof target);
        FUZZ_REQUIRE(strcmp(mode, "openat2") == 0, "%s: followed a final symlink", mode);
        FUZZ_REQUIRE(t > 0 && target[0] != '/', "%s: followed an absolute symlink", mode);
    }
    unsigned char *decoded = malloc(o->out.len + 1);
    FUZZ_REQUIRE(decoded, "malloc");
    long n = b64_decode(o->out.data, o->out.len, decoded);
    FUZZ_REQUIRE(n >= 0 && n == (long)st.st_size, "%s: bad base64 or size", mode);
    FILE *f = fopen(real, "rb");
    FUZZ_REQUIRE(f, "reopen");
    unsigned char *want = malloc((size_t)n + 1);
    FUZZ_REQUIRE(want && fread(want, 1, (size_t)n + 1, f) == (size_t)n, "read back");
    fclose(f);
    FUZZ_REQUIRE(memcmp(want, decoded, (size_t)n) == 0, "%s: content differs from %s", mode, real);
    FUZZ_REQUIRE(!memmem(decoded, (size_t)n, "OUTSIDE-SECRET", 14), "%s: read the secret", mode);
    free(want);
    free(decoded);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    outcome with_openat2, with_walk;
    resolve(&with_openat2, data, size, true);
    resolve(&with_walk, data, size, false);
    check_one(&with_openat2, data, size, "openat2");
    check_one(&with_walk, data, size, "walk");

    char clean[PATH_MAX * 2];
    if (with_walk.rc == 0 && with_walk.out.len > 0 && size < PATH_MAX &&
        clean_relative((const char *)data, size, clean, sizeof clean))
        FUZZ_REQUIRE(!has_symlink(clean), "the walk followed a symlink");
    if (with_walk.rc == 0)
        FUZZ_REQUIRE(with_openat2.rc == 0 && with_openat2.out.len == with_walk.out.len &&
                         (with_walk.out.len == 0 ||
                          memcmp(with_openat2.out.data, with_walk.out.data, with_walk.out.len) == 0),
                     "the walk read what openat2 did not: %s", with_openat2.err.msg);
    vmu_buf_free(&with_openat2.out);
    vmu_buf_free(&with_walk.out);
    return 0;
}
