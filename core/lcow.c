/* LCOW defaults (hcsshim's lcow.go): where the Linux boot files live and the
 * guest command that forwards GCS logs. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gopath.h"
#include "vmutils.h"

/* Both spell out LinuxLogVsockPort (109); a test pins the texts. */
#define FORWARDER_COMMAND "/bin/vsockexec -e 109"
#define FORWARDER_COMMAND_RECONNECT "/bin/vsockexec -r -e 109"

const char *vmu_linux_log_forwarder_command(bool reconnect)
{
    return reconnect ? FORWARDER_COMMAND_RECONNECT : FORWARDER_COMMAND;
}

enum { EXE_DIR_OK = 0, EXE_DIR_NO_MEMORY = -1, EXE_DIR_UNKNOWN = -2 };

/* The directory of the running executable as the kernel knows it: argv[0]
 * may be relative or a bare name found on PATH, /proc/self/exe is neither.
 * Appends it to `out`. */
static int executable_dir(vmu_buf *out)
{
    for (size_t size = 256; size <= ((size_t)1 << 20); size *= 2) {
        char *path = vmu_malloc(size);
        if (!path)
            return EXE_DIR_NO_MEMORY;
        ssize_t n = readlink("/proc/self/exe", path, size);
        if (n < 0) {
            vmu_free(path);
            return EXE_DIR_UNKNOWN;
        }
        if ((size_t)n < size) {
            size_t dir_len = (size_t)n;
            while (dir_len > 0 && path[dir_len - 1] != '/')
                dir_len--;
            int status = EXE_DIR_UNKNOWN;
            if (dir_len > 0 && path[0] == '/')
                status = vmu_buf_append(out, path, dir_len) == 0 ? EXE_DIR_OK : EXE_DIR_NO_MEMORY;
            vmu_free(path);
            return status;
        }
        vmu_free(path); /* truncated: try a bigger buffer */
    }
    return EXE_DIR_UNKNOWN;
}

/* Appends "<exe dir>/LinuxBootFiles" and a NUL to `path` and says whether
 * something is there. */
static int local_boot_files(vmu_buf *path, bool *exists)
{
    static const char local_name[] = "LinuxBootFiles";
    *exists = false;
    vmu_buf exe_dir;
    vmu_buf_init(&exe_dir);
    int status = executable_dir(&exe_dir);
    if (status == EXE_DIR_OK) {
        if (vmu_go_path_join(exe_dir.data, exe_dir.len, local_name, sizeof local_name - 1,
                             path) != 0 ||
            vmu_buf_putc(path, '\0') != 0) {
            status = EXE_DIR_NO_MEMORY;
        } else {
            struct stat st;
            *exists = stat(path->data, &st) == 0;
        }
    }
    vmu_buf_free(&exe_dir);
    return status;
}

char *vmu_default_lcow_os_boot_files_path(void)
{
    static const char fallback_name[] = "Linux Containers";
    vmu_buf path;
    vmu_buf_init(&path);
    bool exists;
    int status = local_boot_files(&path, &exists);
    if (status == EXE_DIR_OK && exists)
        return path.data;
    vmu_buf_reset(&path);
    if (status == EXE_DIR_NO_MEMORY)
        goto out_of_memory;

    const char *program_files = getenv("ProgramFiles");
    int appended;
    if (program_files && *program_files)
        appended = vmu_go_path_join(program_files, strlen(program_files), fallback_name,
                                    sizeof fallback_name - 1, &path);
    else
        appended = vmu_buf_puts(&path, VMU_LCOW_BOOT_FILES_FALLBACK_DIR);
    if (appended == 0 && vmu_buf_putc(&path, '\0') == 0)
        return path.data;
out_of_memory:
    vmu_buf_free(&path);
    return NULL;
}
