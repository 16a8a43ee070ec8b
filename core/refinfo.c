/* The UVM reference info file (hcsshim's ParseUVMReferenceInfo), read with
 * the care an untrusted file name needs: the open cannot leave the reference
 * root, block on a FIFO or read a huge file. Symbolic links are resolved
 * beneath the root by openat2 (RESOLVE_BENEATH) where the kernel has it;
 * the walk used without it follows none (docs/refinfo.md). */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base64.h"
#include "gopath.h"
#include "test_hooks.h"
#include "vmutils.h"

static const char read_error_prefix[] = "failed to read UVM reference info file: ";

static atomic_bool openat2_enabled = true;
/* Set once openat2 turned out to be missing, so that later calls go
 * straight to the walk instead of failing the syscall again. */
static atomic_bool openat2_missing = false;

void vmu_refinfo_use_openat2(bool enabled) { atomic_store(&openat2_enabled, enabled); }

/* What a call needs to report: the path as Go's Join shows it. */
typedef struct ref_file {
    vmu_logger *logger;
    vmu_buf joined; /* NUL-terminated for messages */
    vmu_err *err;
} ref_file;

static int fail(ref_file *f, const char *what)
{
    return vmu_err_set(f->err, "%s%s: %s", read_error_prefix, f->joined.data, what);
}

/* An errno as Go's syscall.Errno prints it: the C library's text with a
 * lower-case first letter ("permission denied"). */
static int fail_errno(ref_file *f, const char *op, int error)
{
    char text[128];
    const char *reason = strerror_r(error, text, sizeof text);
    char first = reason[0] >= 'A' && reason[0] <= 'Z' ? (char)(reason[0] - 'A' + 'a') : reason[0];
    return vmu_err_set(f->err, "%s%s %s: %c%s", read_error_prefix, op, f->joined.data, first,
                       reason[0] ? reason + 1 : "");
}

static int fail_escape(ref_file *f) { return fail(f, "path escapes the reference root"); }

static void log_not_found(ref_file *f)
{
    static const char msg[] = "UVM reference info file not found";
    vmu_field field = vmu_field_strn("filePath", f->joined.data, f->joined.len);
    vmu_log(f->logger, VMU_LEVEL_DEBUG, msg, sizeof msg - 1, &field, 1);
}

/* The result of opening: a descriptor, or why not. */
enum { OPEN_FAILED = -1, OPEN_NOT_FOUND = -2 };

/* follows_links: the open resolved symbolic links (openat2), so ELOOP is
 * the kernel's "too many levels" as Go would see it, not a refused link. */
static int classify_open_error(ref_file *f, int error, bool follows_links)
{
    switch (error) {
    case ENOENT:
        return OPEN_NOT_FOUND;
    case EXDEV: /* RESOLVE_BENEATH: a ".." or a symlink led out */
        fail_escape(f);
        return OPEN_FAILED;
    case ELOOP:
        if (follows_links)
            fail_errno(f, "open", error);
        else
            fail(f, "symbolic links are not followed");
        return OPEN_FAILED;
    default:
        fail_errno(f, "open", error);
        return OPEN_FAILED;
    }
}

/* O_NONBLOCK: a FIFO opens at once and is then refused as not regular. */
static const int file_flags = O_RDONLY | O_NONBLOCK | O_CLOEXEC;

/* openat2 below `root_fd`: symbolic links are followed as long as they
 * stay beneath it (an absolute one, or one whose ".." climbs out, fails
 * with EXDEV). Returns the descriptor, or -1 with errno (ENOSYS: no
 * openat2 here). */
static int open_with_openat2(int root_fd, const char *name)
{
    struct open_how how;
    memset(&how, 0, sizeof how);
    how.flags = (unsigned long long)file_flags;
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
    long fd;
    do
        fd = syscall(SYS_openat2, root_fd, name, &how, sizeof how);
    while (fd < 0 && errno == EINTR);
    return (int)fd;
}

static int openat_retry(int dir_fd, const char *name, int flags)
{
    int fd;
    do
        fd = openat(dir_fd, name, flags);
    while (fd < 0 && errno == EINTR);
    return fd;
}

/* Where openat2 is missing: one component at a time, never following a
 * symbolic link. `name` is clean and relative, so it holds no "." or ".."
 * component (a lone "." aside) and no empty one. Modifies `name`. */
static int open_by_walk(ref_file *f, int root_fd, char *name)
{
    int dir_fd = root_fd;
    char *component = name;
    for (;;) {
        char *slash = strchr(component, '/');
        if (!slash)
            break;
        *slash = '\0';
        if (strcmp(component, "..") == 0) { /* cleaning already removed these */
            if (dir_fd != root_fd)
                close(dir_fd);
            fail_escape(f);
            return OPEN_FAILED;
        }
        int next = openat_retry(dir_fd, component, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        int error = errno;
        if (next < 0 && (error == ENOTDIR || error == ELOOP)) {
            /* O_PATH|O_NOFOLLOW turns a symlink into ENOTDIR: tell them apart. */
            struct stat st;
            if (fstatat(dir_fd, component, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode))
                error = ELOOP;
        }
        if (dir_fd != root_fd)
            close(dir_fd);
        if (next < 0)
            return classify_open_error(f, error, false);
        dir_fd = next;
        component = slash + 1;
    }
    int fd = openat_retry(dir_fd, component, file_flags | O_NOFOLLOW);
    int error = errno;
    if (dir_fd != root_fd)
        close(dir_fd);
    return fd >= 0 ? fd : classify_open_error(f, error, false);
}

/* Opens the reference file `name` (clean, relative) under `root`. */
static int open_reference(ref_file *f, const char *root, char *name)
{
    if (strcmp(name, ".") == 0) {
        /* filepath.Join(root, ".") is the root itself, which Go reads
         * whatever it is (a regular file too). The root is the host's
         * choice, so it is opened as given, links followed. */
        int fd = openat_retry(AT_FDCWD, root, file_flags);
        return fd >= 0 ? fd : classify_open_error(f, errno, true);
    }
    int root_fd = openat_retry(AT_FDCWD, root, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (root_fd < 0)
        return classify_open_error(f, errno, true);
    int fd = -1;
    bool walk = !atomic_load(&openat2_enabled) || atomic_load(&openat2_missing);
    if (!walk) {
        fd = open_with_openat2(root_fd, name);
        /* ENOSYS: an old kernel (or valgrind); EPERM: a seccomp filter that
         * does not know the call. */
        if (fd < 0 && (errno == ENOSYS || errno == EPERM)) {
            atomic_store(&openat2_missing, true);
            walk = true;
        } else if (fd < 0) {
            fd = classify_open_error(f, errno, true);
        }
    }
    if (walk)
        fd = open_by_walk(f, root_fd, name);
    close(root_fd);
    return fd;
}

/* Reads the whole regular file into `content`, refusing more than the
 * limit even if the file grows while it is read. */
static int read_reference(ref_file *f, int fd, vmu_buf *content)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return fail_errno(f, "stat", errno);
    if (!S_ISREG(st.st_mode))
        return fail(f, "not a regular file");
    if (st.st_size > (off_t)VMU_REFERENCE_INFO_MAX_BYTES)
        return fail(f, "file is larger than 4194304 bytes");
    size_t want = (size_t)st.st_size + 1; /* one more byte shows growth */
    for (;;) {
        if (vmu_buf_reserve(content, want) != 0)
            return vmu_err_set(f->err, "out of memory");
        ssize_t n = read(fd, content->data + content->len, content->cap - content->len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return fail_errno(f, "read", errno);
        if (n == 0)
            return 0;
        content->len += (size_t)n;
        if (content->len > VMU_REFERENCE_INFO_MAX_BYTES)
            return fail(f, "file is larger than 4194304 bytes");
        want = 4096;
    }
}

/* Appends the NUL that follows the result without counting it. */
static int terminate(vmu_buf *out)
{
    if (vmu_buf_reserve(out, 1) != 0)
        return -1;
    out->data[out->len] = '\0';
    return 0;
}

static bool escapes_root(const char *clean_name, size_t len)
{
    return clean_name[0] == '/' ||
           (len >= 2 && clean_name[0] == '.' && clean_name[1] == '.' &&
            (len == 2 || clean_name[2] == '/'));
}

int vmu_parse_uvm_reference_info_n(vmu_logger *logger, const char *reference_root,
                                   size_t reference_root_len, const char *reference_name,
                                   size_t reference_name_len, vmu_buf *out, vmu_err *err)
{
    if (!out)
        return vmu_err_set(err, "vmu_parse_uvm_reference_info: out must not be NULL");
    if (!reference_root)
        reference_root_len = 0;
    if (!reference_name || reference_name_len == 0) {
        if (terminate(out) != 0)
            return vmu_err_set(err, "out of memory");
        return 0;
    }

    ref_file f = {.logger = logger, .err = err};
    vmu_buf_init(&f.joined);
    vmu_buf root, name, content;
    vmu_buf_init(&root);
    vmu_buf_init(&name);
    vmu_buf_init(&content);
    int status = -1, fd = -1;
    size_t out_len = out->len;

    /* Checked first: cleaning would treat the NUL as an ordinary byte and
     * print a path that hides it. */
    if ((reference_root_len && memchr(reference_root, '\0', reference_root_len)) ||
        memchr(reference_name, '\0', reference_name_len)) {
        vmu_err_set(err, "%spath contains a NUL byte", read_error_prefix);
        goto done;
    }
    if (vmu_go_path_join(reference_root, reference_root_len, reference_name, reference_name_len,
                         &f.joined) != 0 ||
        terminate(&f.joined) != 0) {
        vmu_err_set(err, "out of memory");
        goto done;
    }
    if (reference_name[0] == '/') {
        fail_escape(&f);
        goto done;
    }
    if (vmu_go_path_clean(reference_name, reference_name_len, &name) != 0 ||
        terminate(&name) != 0 ||
        (reference_root_len ? vmu_buf_append(&root, reference_root, reference_root_len)
                            : vmu_buf_putc(&root, '.')) != 0 ||
        terminate(&root) != 0) {
        vmu_err_set(err, "out of memory");
        goto done;
    }
    if (escapes_root(name.data, name.len)) {
        fail_escape(&f);
        goto done;
    }

    fd = open_reference(&f, root.data, name.data);
    if (fd == OPEN_NOT_FOUND) {
        log_not_found(&f);
        status = terminate(out) == 0 ? 0 : vmu_err_set(err, "out of memory");
        goto done;
    }
    if (fd < 0 || read_reference(&f, fd, &content) != 0)
        goto done;
    if (vmu_base64_encode(content.data, content.len, out) != 0 || terminate(out) != 0) {
        out->len = out_len;
        out->failed = 0;
        vmu_err_set(err, "out of memory");
        goto done;
    }
    status = 0;
done:
    if (fd >= 0)
        close(fd);
    vmu_buf_free(&content);
    vmu_buf_free(&name);
    vmu_buf_free(&root);
    vmu_buf_free(&f.joined);
    return status;
}

int vmu_parse_uvm_reference_info(vmu_logger *logger, const char *reference_root,
                                 const char *reference_name, vmu_buf *out, vmu_err *err)
{
    return vmu_parse_uvm_reference_info_n(logger, reference_root,
                                          reference_root ? strlen(reference_root) : 0,
                                          reference_name,
                                          reference_name ? strlen(reference_name) : 0, out, err);
}
