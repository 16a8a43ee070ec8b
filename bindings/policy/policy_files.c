/* The files a policy may open: for reading, at most a set number at once,
 * all closed when the call into the policy ends, and never the host's
 * standard input, output or error, nor any other descriptor of the host
 * reached through /proc/<pid>/fd, /dev/fd or /dev/std*. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <lualib.h>

#include "policy_internal.h"

/* Registry key of the table whose keys are the file handles policies opened
 * (strong keys: an unreferenced handle stays counted until the call ends,
 * when it is closed). */
static const char key_open_files = 'f';

/* Whether the canonical path names an entry of a process's descriptor
 * directory: /proc/<pid>/fd/N, /proc/<pid>/task/<tid>/fd/N (and
 * /proc/self, /proc/thread-self, which are links to those). */
static int in_fd_directory(const char *canonical)
{
    if (strncmp(canonical, "/proc/", 6) != 0)
        return 0;
    const char *p = strchr(canonical + 6, '/');
    if (p && strncmp(p, "/task/", 6) == 0)
        p = strchr(p + 6, '/');
    return p && strncmp(p, "/fd/", 4) == 0;
}

/* Without openat2: follows the path's final symbolic links one by one, with
 * their directories resolved, and refuses any step into a descriptor
 * directory (/dev/stdin -> /proc/self/fd/0). */
static int reaches_fd_directory(const char *path)
{
    char current[PATH_MAX], dir[PATH_MAX], canonical[PATH_MAX], target[PATH_MAX];
    if (strlen(path) >= sizeof current)
        return 0; /* open fails with ENAMETOOLONG */
    strcpy(current, path);
    for (int hops = 0; hops < 40; hops++) {
        const char *slash = strrchr(current, '/');
        const char *base = slash ? slash + 1 : current;
        if (slash == current)
            strcpy(dir, "/");
        else if (slash)
            snprintf(dir, sizeof dir, "%.*s", (int)(slash - current), current);
        else
            strcpy(dir, ".");
        if (!realpath(dir, canonical))
            return 0; /* open fails too */
        size_t n = strlen(canonical);
        if (snprintf(canonical + n, sizeof canonical - n, "%s%s", n > 1 ? "/" : "", base) >=
            (int)(sizeof canonical - n))
            return 0;
        if (in_fd_directory(canonical))
            return 1;
        ssize_t len = readlink(canonical, target, sizeof target - 1);
        if (len < 0)
            return 0; /* not a link: the walk ends */
        target[len] = '\0';
        if (target[0] == '/')
            strcpy(current, target);
        else if (snprintf(current, sizeof current, "%s/%s", dir, target) >= (int)sizeof current)
            return 0;
    }
    return 1; /* a loop: open would fail with ELOOP */
}

/* Opens without following magic links (/proc/<pid>/fd/N and the links to
 * them: /dev/stdin, /dev/fd/N): with openat2 they are refused by the kernel
 * whatever the path's spelling; without it (Linux < 5.6, valgrind), by
 * reaches_fd_directory. */
static int open_no_magic_links(const char *path)
{
#ifdef SYS_openat2
    struct open_how how;
    memset(&how, 0, sizeof how);
    how.flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
    how.resolve = RESOLVE_NO_MAGICLINKS;
    long fd = syscall(SYS_openat2, AT_FDCWD, path, &how, sizeof how);
    if (fd >= 0 || errno != ENOSYS)
        return (int)fd;
#endif
    if (reaches_fd_directory(path)) {
        errno = ELOOP;
        return -1;
    }
    return open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
}

static int same_file(const struct stat *a, const struct stat *b)
{
    return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

/* A descriptor for `path`, or -1 with errno set. Only regular files,
 * directories and /dev/null: reading a pipe, socket, terminal or other
 * device could block the host or reach what it does not share, and none is
 * the object behind the host's descriptors 0-2. */
static int open_checked(const char *path)
{
    int fd = open_no_magic_links(path);
    if (fd < 0)
        return -1;
    struct stat st;
    if (fstat(fd, &st) != 0)
        goto refuse;
    int allowed = S_ISREG(st.st_mode) || S_ISDIR(st.st_mode) ||
                  (S_ISCHR(st.st_mode) && st.st_rdev == makedev(1, 3));
    if (!allowed) {
        close(fd);
        errno = EACCES;
        return -1;
    }
    for (int std = 0; std <= 2 && !S_ISCHR(st.st_mode); std++) {
        struct stat host;
        if (fstat(std, &host) == 0 && same_file(&st, &host)) {
            close(fd);
            errno = EACCES;
            return -1;
        }
    }
    /* Reads block as usual on the regular files that remain. */
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) < 0)
        goto refuse;
    return fd;
refuse:;
    int saved = errno;
    close(fd);
    errno = saved;
    return -1;
}

static int tracked_close(lua_State *L)
{
    luaL_Stream *p = luaL_checkudata(L, 1, LUA_FILEHANDLE);
    errno = 0;
    return luaL_fileresult(L, fclose(p->f) == 0, NULL);
}

/* Files still open among those tracked, dropping the closed ones. */
static size_t count_open(lua_State *L, int files)
{
    size_t open_count = 0;
    lua_pushnil(L);
    while (lua_next(L, files)) {
        lua_pop(L, 1);
        luaL_Stream *p = lua_touserdata(L, -1);
        if (p && p->closef) {
            open_count++;
        } else {
            lua_pushvalue(L, -1);
            lua_pushnil(L);
            lua_rawset(L, files); /* clearing a field during traversal is allowed */
        }
    }
    return open_count;
}

static void push_open_files(lua_State *L)
{
    if (lua_rawgetp(L, LUA_REGISTRYINDEX, &key_open_files) != LUA_TTABLE) {
        lua_pop(L, 1);
        lua_newtable(L);
        lua_pushvalue(L, -1);
        lua_rawsetp(L, LUA_REGISTRYINDEX, &key_open_files);
    }
}

/* Pushes a tracked handle for `path` (reading), or nil, message, errno. */
static int open_tracked(lua_State *L, const char *path)
{
    /* Opening costs system calls that allocate little in the state: a loop
     * of opens would run for a whole hook interval past the deadline. */
    vmu_policy_check_deadline(L);
    push_open_files(L);
    int files = lua_gettop(L);
    size_t limit = vmu_policy_max_open_files(L);
    if (count_open(L, files) >= limit) {
        lua_pushnil(L);
        lua_pushfstring(L, "too many open files (the limit is %d)",
                        limit > INT32_MAX ? INT32_MAX : (int)limit);
        lua_pushinteger(L, EMFILE);
        return 3;
    }
    luaL_Stream *p = lua_newuserdatauv(L, sizeof *p, 0);
    p->closef = NULL; /* a closed handle until the file is open */
    luaL_setmetatable(L, LUA_FILEHANDLE);
    lua_pushvalue(L, -1);
    lua_pushboolean(L, 1);
    lua_rawset(L, files);
    int fd = open_checked(path);
    if (fd >= 0) {
        p->f = fdopen(fd, "r");
        if (!p->f)
            close(fd);
    }
    if (fd < 0 || !p->f)
        return luaL_fileresult(L, 0, path);
    p->closef = tracked_close;
    return 1;
}

/* io.open(path [, mode]): reading only. */
static int files_open(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    const char *mode = luaL_optstring(L, 2, "r");
    if (strcmp(mode, "r") != 0 && strcmp(mode, "rb") != 0)
        return luaL_argerror(L, 2, "policies may open files for reading only");
    return open_tracked(L, path);
}

/* io.lines(path, ...): of a named file only (without one it would read the
 * host's standard input). The file is the loop's to-be-closed value. */
static int files_lines(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    int nformats = lua_gettop(L) - 1;
    if (open_tracked(L, path) != 1)
        return luaL_error(L, "%s", lua_tostring(L, -2));
    int file = lua_gettop(L);
    vmu_policy_check_stack(L, nformats + 2, "too many arguments");
    lua_getfield(L, file, "lines");
    lua_pushvalue(L, file);
    for (int i = 2; i <= nformats + 1; i++)
        lua_pushvalue(L, i);
    lua_call(L, nformats + 1, 1);
    lua_pushnil(L);
    lua_pushnil(L);
    lua_pushvalue(L, file);
    return 4;
}

void vmu_files_push_io(lua_State *L)
{
    lua_createtable(L, 0, 3);
    lua_pushcfunction(L, files_open);
    lua_setfield(L, -2, "open");
    lua_pushcfunction(L, files_lines);
    lua_setfield(L, -2, "lines");
    lua_getglobal(L, "io");
    lua_getfield(L, -1, "type");
    lua_setfield(L, -3, "type");
    lua_pop(L, 1);
    push_open_files(L);
    lua_pop(L, 1);
}

void vmu_files_close_all(lua_State *L)
{
    if (lua_rawgetp(L, LUA_REGISTRYINDEX, &key_open_files) != LUA_TTABLE) {
        lua_pop(L, 1);
        return;
    }
    int files = lua_gettop(L);
    lua_pushnil(L);
    while (lua_next(L, files)) {
        lua_pop(L, 1);
        luaL_Stream *p = lua_touserdata(L, -1);
        if (p && p->closef) {
            p->closef = NULL;
            fclose(p->f);
        }
        lua_pushvalue(L, -1);
        lua_pushnil(L);
        lua_rawset(L, files);
    }
    lua_pop(L, 1);
}
