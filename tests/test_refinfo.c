/* ParseUVMReferenceInfo: Go's behaviour (empty name, missing file, base64 of
 * the content) and the hardening (names that escape the root, symbolic
 * links, FIFOs, directories, the size limit), each case run twice: with
 * openat2 and with the openat walk used where the kernel lacks it. Also
 * Go's path joining and base64 (both ways) on their own. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cmocka.h>

#include "../core/base64.h"
#include "../core/gopath.h"
#include "../core/test_hooks.h"
#include "log_capture.h"
#include "vmutils.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define MIB4 (4u * 1024u * 1024u)
#define PREFIX "failed to read UVM reference info file: "

/* The fixture lives in a fresh directory: <tmp>/root is the reference root,
 * <tmp>/outside.txt and <tmp>/outside/ are what escaping links reach. */
static char tmp_dir[64];
static char root_dir[PATH_MAX];

static void write_file(const char *dir, const char *name, const void *data, size_t len)
{
    char path[PATH_MAX * 2];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(1);
    }
}

static void make_at(int status, const char *what)
{
    if (status != 0) {
        fprintf(stderr, "fixture: %s: %s\n", what, strerror(errno));
        exit(1);
    }
}

static char *repeated_abc(size_t len)
{
    char *data = malloc(len);
    if (!data)
        exit(1);
    for (size_t i = 0; i < len; i++)
        data[i] = "abc"[i % 3];
    return data;
}

static int fixture_setup(void **state)
{
    (void)state;
    snprintf(tmp_dir, sizeof tmp_dir, "/tmp/vmutils-refinfo-XXXXXX");
    if (!mkdtemp(tmp_dir))
        return -1;
    snprintf(root_dir, sizeof root_dir, "%s/root", tmp_dir);
    char path[PATH_MAX * 2];
    make_at(mkdir(root_dir, 0755), "root");
    snprintf(path, sizeof path, "%s/outside", tmp_dir);
    make_at(mkdir(path, 0755), "outside");
    write_file(path, "secret", "s", 1);
    write_file(tmp_dir, "outside.txt", "out", 3);
    write_file(tmp_dir, "notadir", "x", 1);

    write_file(root_dir, "abc.txt", "abc", 3);
    write_file(root_dir, "empty", "", 0);
    write_file(root_dir, "one", "\0", 1);
    write_file(root_dir, "two", "a\0", 2);
    unsigned char all_bytes[256];
    for (int i = 0; i < 256; i++)
        all_bytes[i] = (unsigned char)i;
    write_file(root_dir, "bytes", all_bytes, sizeof all_bytes);
    char *big = repeated_abc(MIB4 + 1);
    write_file(root_dir, "exactly4mib", big, MIB4);
    write_file(root_dir, "over4mib", big, MIB4 + 1);
    free(big);
    snprintf(path, sizeof path, "%s/sub", root_dir);
    make_at(mkdir(path, 0755), "sub");
    write_file(path, "file", "inner", 5);
    snprintf(path, sizeof path, "%s/dir", root_dir);
    make_at(mkdir(path, 0755), "dir");
    snprintf(path, sizeof path, "%s/fifo", root_dir);
    make_at(mkfifo(path, 0644), "fifo");

    int root_fd = open(root_dir, O_DIRECTORY | O_RDONLY);
    make_at(root_fd < 0, "open root");
    make_at(symlinkat("abc.txt", root_fd, "link_in"), "link_in");
    make_at(symlinkat("../outside.txt", root_fd, "link_out"), "link_out");
    make_at(symlinkat("sub", root_fd, "dirlink_in"), "dirlink_in");
    make_at(symlinkat("../outside", root_fd, "dirlink_out"), "dirlink_out");
    make_at(symlinkat("/", root_fd, "dirlink_abs"), "dirlink_abs");
    make_at(symlinkat("/proc/self/fd", root_fd, "dirlink_proc"), "dirlink_proc");
    make_at(symlinkat("link_in", root_fd, "link_chain"), "link_chain");
    make_at(symlinkat("../abc.txt", root_fd, "sub/link_up_in"), "sub/link_up_in");
    make_at(symlinkat("../../outside.txt", root_fd, "sub/link_up_out"), "sub/link_up_out");
    make_at(symlinkat("nothing", root_fd, "link_dangling"), "link_dangling");
    make_at(symlinkat("link_loop_b", root_fd, "link_loop_a"), "link_loop_a");
    make_at(symlinkat("link_loop_a", root_fd, "link_loop_b"), "link_loop_b");
    make_at(symlinkat(root_dir, root_fd, "link_abs_in"), "link_abs_in");
    close(root_fd);
    snprintf(path, sizeof path, "%s/rootlink", tmp_dir);
    make_at(symlink("root", path), "rootlink");
    return 0;
}

static int fixture_teardown(void **state)
{
    (void)state;
    char command[PATH_MAX + 16];
    snprintf(command, sizeof command, "rm -rf '%s'", tmp_dir);
    return system(command) == 0 ? 0 : -1;
}

/* ---- the table ---- */

typedef struct refinfo_case {
    const char *name;
    const char *root;      /* under tmp_dir; "" is the reference root itself */
    const char *file_name; /* the reference name */
    /* Exactly one of: */
    const char *base64;        /* success with this text ("" too) */
    const char *error_openat2; /* failure: a format with %s for the joined path */
    const char *error_walk;    /* the same without openat2; NULL: as with openat2 */
    bool not_found;            /* "" and the debug record */
} refinfo_case;

static const refinfo_case refinfo_cases[] = {
    /* Go's behaviour */
    {"empty name gives an empty string", "", "", "", NULL, NULL, false},
    {"missing file gives an empty string", "", "missing", "", NULL, NULL, true},
    {"missing directory on the way gives an empty string", "", "missing/file", "", NULL, NULL,
     true},
    {"missing root gives an empty string", "nowhere", "abc.txt", "", NULL, NULL, true},
    {"content is base64 encoded", "", "abc.txt", "YWJj", NULL, NULL, false},
    {"empty file is an empty string", "", "empty", "", NULL, NULL, false},
    {"one NUL byte pads twice", "", "one", "AA==", NULL, NULL, false},
    {"two bytes pad once", "", "two", "YQA=", NULL, NULL, false},
    {"every byte value", "", "bytes",
     "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0+P0BBQkNERUZH"
     "SElKS0xNTk9QUVJTVFVWV1hZWltcXV5fYGFiY2RlZmdoaWprbG1ub3BxcnN0dXZ3eHl6e3x9fn+AgYKDhIWGh4iJiouMjY6P"
     "kJGSk5SVlpeYmZqbnJ2en6ChoqOkpaanqKmqq6ytrq+wsbKztLW2t7i5uru8vb6/wMHCw8TFxsfIycrLzM3Oz9DR0tPU1dbX"
     "2Nna29zd3t/g4eLj5OXm5+jp6uvs7e7v8PHy8/T19vf4+fr7/P3+/w==",
     NULL, NULL, false},
    {"file in a subdirectory", "", "sub/file", "aW5uZXI=", NULL, NULL, false},
    {"name is cleaned as filepath.Join does", "", "./sub//../abc.txt/", "YWJj", NULL, NULL, false},
    {"root may be a symbolic link", "rootlink", "abc.txt", "YWJj", NULL, NULL, false},
    {"a file on the way is not a directory", "", "abc.txt/x", NULL, PREFIX "open %s: not a directory",
     NULL, false},
    {"root that is a file", "notadir", "abc.txt", NULL, PREFIX "open %s: not a directory", NULL,
     false},
    {"root that is a file, with the name \".\", is read", "notadir", ".", "eA==", NULL, NULL,
     false},
    {"root that is a file, with a name cleaned to \".\"", "notadir", "sub/..", "eA==", NULL, NULL,
     false},
    /* hardening */
    {"parent of the root is refused", "", "../outside.txt", NULL,
     PREFIX "%s: path escapes the reference root", NULL, false},
    {"dot-dot past the root after a directory", "", "sub/../../outside.txt", NULL,
     PREFIX "%s: path escapes the reference root", NULL, false},
    {"lone dot-dot is refused", "", "..", NULL, PREFIX "%s: path escapes the reference root", NULL,
     false},
    {"absolute name is refused", "", "/etc/passwd", NULL,
     PREFIX "%s: path escapes the reference root", NULL, false},
    /* Links that stay inside the root resolve with openat2 (RESOLVE_BENEATH);
     * the walk without it follows none. */
    {"symbolic link at the end inside the root", "", "link_in", "YWJj",
     NULL, PREFIX "%s: symbolic links are not followed", false},
    {"chain of links inside the root", "", "link_chain", "YWJj", NULL,
     PREFIX "%s: symbolic links are not followed", false},
    {"link up a level that stays inside the root", "", "sub/link_up_in", "YWJj", NULL,
     PREFIX "%s: symbolic links are not followed", false},
    {"link to a directory inside the root at the end", "", "dirlink_in", NULL,
     PREFIX "%s: not a regular file", PREFIX "%s: symbolic links are not followed", false},
    {"dangling link inside the root is a missing file", "", "link_dangling", "", NULL,
     PREFIX "%s: symbolic links are not followed", true},
    {"loop of links inside the root", "", "link_loop_a", NULL,
     PREFIX "open %s: too many levels of symbolic links",
     PREFIX "%s: symbolic links are not followed", false},
    {"symbolic link out of the root at the end", "", "link_out", NULL,
     PREFIX "%s: path escapes the reference root", PREFIX "%s: symbolic links are not followed",
     false},
    {"link up a level that leaves the root", "", "sub/link_up_out", NULL,
     PREFIX "%s: path escapes the reference root", PREFIX "%s: symbolic links are not followed",
     false},
    {"absolute link to a file inside the root is refused", "", "link_abs_in/abc.txt", NULL,
     PREFIX "%s: path escapes the reference root", PREFIX "%s: symbolic links are not followed",
     false},
    {"directory link out of the root", "", "dirlink_out/secret", NULL,
     PREFIX "%s: path escapes the reference root", PREFIX "%s: symbolic links are not followed",
     false},
    {"absolute directory link", "", "dirlink_abs/etc/passwd", NULL,
     PREFIX "%s: path escapes the reference root", PREFIX "%s: symbolic links are not followed",
     false},
    {"directory link to /proc", "", "dirlink_proc/0", NULL,
     PREFIX "%s: path escapes the reference root", PREFIX "%s: symbolic links are not followed",
     false},
    {"directory link inside the root", "", "dirlink_in/file", "aW5uZXI=", NULL,
     PREFIX "%s: symbolic links are not followed", false},
    {"directory is not a regular file", "", "dir", NULL, PREFIX "%s: not a regular file", NULL,
     false},
    {"the root itself is not a regular file", "", ".", NULL, PREFIX "%s: not a regular file", NULL,
     false},
    {"FIFO is refused without blocking", "", "fifo", NULL, PREFIX "%s: not a regular file", NULL,
     false},
    {"file over 4 MiB is refused", "", "over4mib", NULL,
     PREFIX "%s: file is larger than 4194304 bytes", NULL, false},
};

typedef struct run {
    const refinfo_case *c;
    bool walk;
} run;

/* Whether this kernel (or emulator: valgrind has no openat2) runs openat2.
 * Without it, the library falls back to the walk even when openat2 is
 * enabled, and the walk's answers are the expected ones. */
static bool openat2_works;

static bool probe_openat2(void)
{
    struct open_how how;
    memset(&how, 0, sizeof how);
    how.flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC;
    long fd = syscall(SYS_openat2, AT_FDCWD, "/", &how, sizeof how);
    if (fd >= 0)
        close((int)fd);
    return fd >= 0;
}

static void joined_path(const refinfo_case *c, char *out, size_t size)
{
    char root[PATH_MAX * 2];
    if (*c->root)
        snprintf(root, sizeof root, "%s/%s", tmp_dir, c->root);
    else
        snprintf(root, sizeof root, "%s", root_dir);
    vmu_buf joined;
    vmu_buf_init(&joined);
    assert_int_equal(vmu_go_path_join(root, strlen(root), c->file_name, strlen(c->file_name),
                                      &joined),
                     0);
    snprintf(out, size, "%.*s", (int)joined.len, joined.data);
    vmu_buf_free(&joined);
}

static void test_refinfo(void **state)
{
    const run *r = *state;
    const refinfo_case *c = r->c;
    char root[PATH_MAX * 2], joined[PATH_MAX * 3];
    if (*c->root)
        snprintf(root, sizeof root, "%s/%s", tmp_dir, c->root);
    else
        snprintf(root, sizeof root, "%s", root_dir);
    joined_path(c, joined, sizeof joined);

    log_capture cap;
    capture_start(&cap, VMU_LEVEL_DEBUG);
    vmu_refinfo_use_openat2(!r->walk);
    vmu_buf out;
    vmu_buf_init(&out);
    vmu_buf_puts(&out, "kept:"); /* results are appended */
    vmu_err err = {{0}};
    int status = vmu_parse_uvm_reference_info(cap.logger, root, c->file_name, &out, &err);
    vmu_refinfo_use_openat2(true);

    bool walked = r->walk || !openat2_works;
    const char *error = walked && c->error_walk ? c->error_walk : c->error_openat2;
    if (error) {
        char expected[PATH_MAX * 4];
        snprintf(expected, sizeof expected, error, joined);
        assert_int_equal(status, -1);
        assert_string_equal(err.msg, expected);
        assert_int_equal(out.len, 5); /* left as it was */
        assert_int_equal(cap.count, 0);
    } else {
        if (status != 0)
            fail_msg("unexpected error: %s", err.msg);
        assert_int_equal(out.len, 5 + strlen(c->base64));
        assert_memory_equal(out.data + 5, c->base64, strlen(c->base64));
        assert_int_equal(out.data[out.len], '\0');
        if (c->not_found) {
            assert_int_equal(cap.count, 1);
            assert_int_equal(cap.records[0].level, VMU_LEVEL_DEBUG);
            assert_string_equal(cap.records[0].msg, "UVM reference info file not found");
            assert_int_equal(cap.records[0].field_count, 1);
            assert_string_equal(cap.records[0].fields[0].key, "filePath");
            assert_string_equal(cap.records[0].fields[0].text, joined);
        } else {
            assert_int_equal(cap.count, 0);
        }
    }
    vmu_buf_free(&out);
    capture_stop(&cap);
}

/* Exactly 4 MiB is accepted and encoded whole ("abc" repeated, then "a"). */
static void test_exactly_4mib(void **state)
{
    (void)state;
    for (int walk = 0; walk <= 1; walk++) {
        vmu_refinfo_use_openat2(!walk);
        vmu_buf out;
        vmu_buf_init(&out);
        vmu_err err;
        int status = vmu_parse_uvm_reference_info(NULL, root_dir, "exactly4mib", &out, &err);
        vmu_refinfo_use_openat2(true);
        assert_int_equal(status, 0);
        size_t groups = MIB4 / 3;
        assert_int_equal(out.len, groups * 4 + 4);
        for (size_t i = 0; i < groups; i++)
            if (memcmp(out.data + i * 4, "YWJj", 4) != 0)
                fail_msg("group %zu differs", i);
        assert_memory_equal(out.data + groups * 4, "YQ==", 4);
        vmu_buf_free(&out);
    }
}

static void test_null_arguments(void **state)
{
    (void)state;
    vmu_err err;
    assert_int_equal(vmu_parse_uvm_reference_info(NULL, root_dir, "abc.txt", NULL, &err), -1);
    assert_string_equal(err.msg, "vmu_parse_uvm_reference_info: out must not be NULL");
    vmu_buf out;
    vmu_buf_init(&out);
    /* NULL name: Go's empty name. */
    assert_int_equal(vmu_parse_uvm_reference_info(NULL, root_dir, NULL, &out, &err), 0);
    assert_int_equal(out.len, 0);
    assert_int_equal(out.data[0], '\0');
    /* NULL root: the current directory, as Join("", name) is relative. */
    char cwd[PATH_MAX];
    assert_non_null(getcwd(cwd, sizeof cwd));
    assert_int_equal(chdir(root_dir), 0);
    int status = vmu_parse_uvm_reference_info(NULL, NULL, "abc.txt", &out, &err);
    int status_empty = vmu_parse_uvm_reference_info(NULL, "", "sub/file", &out, &err);
    assert_int_equal(chdir(cwd), 0);
    assert_int_equal(status, 0);
    assert_int_equal(status_empty, 0);
    assert_int_equal(out.len, 12);
    assert_memory_equal(out.data, "YWJjaW5uZXI=", 12);
    /* No error holder: still fails cleanly. */
    assert_int_equal(vmu_parse_uvm_reference_info(NULL, root_dir, "../x", &out, NULL), -1);
    vmu_buf_free(&out);
}

static void test_nul_bytes_in_paths(void **state)
{
    (void)state;
    vmu_buf out;
    vmu_buf_init(&out);
    vmu_err err;
    static const char name[] = "abc.txt\0../../outside.txt";
    assert_int_equal(vmu_parse_uvm_reference_info_n(NULL, root_dir, strlen(root_dir), name,
                                                    sizeof name - 1, &out, &err),
                     -1);
    assert_string_equal(err.msg, PREFIX "path contains a NUL byte");
    char root[PATH_MAX + 2];
    int len = snprintf(root, sizeof root, "%s%c", root_dir, '\0');
    assert_int_equal(vmu_parse_uvm_reference_info_n(NULL, root, (size_t)len + 1, "abc.txt", 7,
                                                    &out, &err),
                     -1);
    assert_string_equal(err.msg, PREFIX "path contains a NUL byte");
    /* The lengths are honoured: a name cut short by its length. */
    assert_int_equal(vmu_parse_uvm_reference_info_n(NULL, root_dir, strlen(root_dir),
                                                    "abc.txtXYZ", 7, &out, &err),
                     0);
    assert_int_equal(out.len, 4);
    assert_memory_equal(out.data, "YWJj", 4);
    vmu_buf_free(&out);
}

/* Every allocation in turn fails: "out of memory" or the full answer, the
 * output untouched on failure, nothing leaked. */
static void test_without_memory(void **state)
{
    (void)state;
    /* link_in: read through the link with openat2, refused by the walk. */
    static const char *const names[] = {"abc.txt", "missing", "../x", "link_in", ""};
    for (size_t k = 0; k < ARRAY_LEN(names); k++) {
        bool succeeded = false;
        for (long n = 0; n < 32 && !succeeded; n++) {
            vmu_buf out;
            vmu_buf_init(&out);
            vmu_err err;
            vmu_alloc_fail_after(n);
            int status = vmu_parse_uvm_reference_info(NULL, root_dir, names[k], &out, &err);
            vmu_alloc_fail_after(-1);
            if (status == 0) {
                succeeded = true;
                assert_string_equal(out.data, k == 0 || k == 3 ? "YWJj" : "");
            } else if (strcmp(err.msg, "out of memory") != 0) {
                succeeded = true; /* reached the refusal itself */
                assert_true(strncmp(err.msg, PREFIX, strlen(PREFIX)) == 0);
            } else {
                assert_int_equal(out.len, 0);
            }
            vmu_buf_free(&out);
        }
        assert_true(succeeded);
    }
}

/* ---- the helpers ---- */

typedef struct join_case {
    const char *a, *b, *expected;
} join_case;

static const join_case join_cases[] = {
    {"", "", ""},
    {"a", "", "a"},
    {"", "b", "b"},
    {"/", "b", "/b"},
    {"/a/", "/b/", "/a/b"},
    {"a", "../b", "b"},
    {"a", "../../b", "../b"},
    {"/a", "../../b", "/b"},
    {"/a", "..", "/"},
    {"a", "..", "."},
    {"a//b", "./c/.", "a/b/c"},
    {"../..", "x", "../../x"},
    {"/..", "x", "/x"},
    {"a", "b/c/../../..", "."},
    {"a", "...", "a/..."},
    {"a", ".hidden/..x", "a/.hidden/..x"},
    {"C:\\Program Files", "Linux Containers", "C:\\Program Files/Linux Containers"},
};

static void test_go_path_join(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(join_cases); i++) {
        const join_case *c = &join_cases[i];
        vmu_buf out;
        vmu_buf_init(&out);
        assert_int_equal(vmu_go_path_join(c->a, strlen(c->a), c->b, strlen(c->b), &out), 0);
        char actual[256];
        snprintf(actual, sizeof actual, "%.*s", (int)out.len, out.data ? out.data : "");
        if (strcmp(actual, c->expected) != 0)
            fail_msg("Join(%s, %s) = %s, want %s", c->a, c->b, actual, c->expected);
        vmu_buf_free(&out);
    }
    vmu_buf out;
    vmu_buf_init(&out);
    assert_int_equal(vmu_go_path_clean("", 0, &out), 0);
    assert_int_equal(out.len, 1);
    assert_int_equal(out.data[0], '.');
    vmu_buf_free(&out);
}

static void test_base64_vectors(void **state)
{
    (void)state;
    /* RFC 4648, section 10 */
    static const char *const vectors[][2] = {
        {"", ""},         {"f", "Zg=="},         {"fo", "Zm8="},         {"foo", "Zm9v"},
        {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"},
    };
    for (size_t i = 0; i < ARRAY_LEN(vectors); i++) {
        vmu_buf out;
        vmu_buf_init(&out);
        assert_int_equal(vmu_base64_encode(vectors[i][0], strlen(vectors[i][0]), &out), 0);
        assert_int_equal(out.len, strlen(vectors[i][1]));
        if (out.len)
            assert_memory_equal(out.data, vectors[i][1], out.len);
        vmu_buf_free(&out);
    }
    vmu_buf out;
    vmu_buf_init(&out);
    assert_int_equal(vmu_base64_encode("\xff\xfe\xfd", 3, &out), 0);
    assert_memory_equal(out.data, "//79", 4);
    assert_int_equal(vmu_base64_encode("x", SIZE_MAX, &out), -1); /* too long to encode */
    vmu_buf_free(&out);
}

static void test_base64_decoding(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        const char *out;
        long bad_at; /* -1: decodes */
    } cases[] = {
        {"", "", -1},           {"Zg==", "f", -1},         {"Zm8=", "fo", -1},
        {"Zm9v", "foo", -1},    {"Zm9vYg", "foob", -1},    {"Zm9vYmE=", "fooba", -1},
        {"Zm9vYmFy", "foobar", -1}, {"//79", "\xff\xfe\xfd", -1},
        {"Zm9v!", NULL, 4},     {"Z", NULL, 0},            {"Zh==", NULL, 1},
        {"Zg=", NULL, 2},       {"Z===", NULL, 1},         {"=", NULL, 0},
        {"Zm9v\nYmFy", NULL, 4},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        const char *in = cases[i].in;
        unsigned char out[VMU_BASE64_DECODED_MAX(16)];
        size_t n = 99, bad_at = 99;
        int rc = vmu_base64_decode(in, strlen(in), out, &n, &bad_at);
        if (cases[i].bad_at < 0) {
            if (rc != 0 || n != strlen(cases[i].out) || memcmp(out, cases[i].out, n) != 0)
                fail_msg("'%s': got rc %d, %zu bytes", in, rc, n);
        } else if (rc != -1 || (long)bad_at != cases[i].bad_at || n != 0) {
            fail_msg("'%s': got rc %d, bad at %zu, %zu bytes", in, rc, bad_at, n);
        }
    }
    /* Every byte value survives the round trip. */
    unsigned char all[256], back[VMU_BASE64_DECODED_MAX(344)];
    for (int i = 0; i < 256; i++)
        all[i] = (unsigned char)i;
    vmu_buf text;
    vmu_buf_init(&text);
    assert_int_equal(vmu_base64_encode(all, sizeof all, &text), 0);
    assert_int_equal(text.len, 344);
    size_t n = 0;
    assert_int_equal(vmu_base64_decode(text.data, text.len, back, &n, NULL), 0);
    assert_int_equal(n, sizeof all);
    assert_memory_equal(back, all, sizeof all);
    vmu_buf_free(&text);
}

int main(void)
{
    enum { ROWS = ARRAY_LEN(refinfo_cases) };
    static run runs[2][ROWS];
    static char names[2][ROWS][160];
    static struct CMUnitTest tests[2 * ROWS + 7];
    size_t n = 0;
    openat2_works = probe_openat2();
    for (int walk = 0; walk <= 1; walk++) {
        for (size_t i = 0; i < ROWS; i++) {
            runs[walk][i].c = &refinfo_cases[i];
            runs[walk][i].walk = walk;
            snprintf(names[walk][i], sizeof names[walk][i], "%s: %s",
                     walk ? "openat walk" : openat2_works ? "openat2" : "openat2 missing, walk",
                     refinfo_cases[i].name);
            tests[n++] = (struct CMUnitTest){names[walk][i], test_refinfo, NULL, NULL,
                                             &runs[walk][i]};
        }
    }
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_exactly_4mib);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_null_arguments);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_nul_bytes_in_paths);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_without_memory);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_go_path_join);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_base64_vectors);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_base64_decoding);
    if (n != ARRAY_LEN(tests)) {
        fprintf(stderr, "test table holds %zu tests, filled %zu\n", ARRAY_LEN(tests), n);
        return 1;
    }
    return cmocka_run_group_tests_name("refinfo", tests, fixture_setup, fixture_teardown);
}
