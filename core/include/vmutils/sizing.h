/* vmutils: UVM sizing rules and LCOW defaults (hcsshim's normalize.go and
 * lcow.go). Included through <vmutils.h>. */
#ifndef VMUTILS_SIZING_H
#define VMUTILS_SIZING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base.h"
#include "log.h"
#include "export.h"

#ifdef __cplusplus
extern "C" {
#endif

VMU_API_BEGIN

/* [DefaultProcessorCountForUVM] 1 when the calling process may run on one
 * logical processor only, else 2. "May run on" is the process's CPU affinity
 * mask (sched_getaffinity), which is what Go's runtime.NumCPU counts; unlike
 * Go, the mask is read at every call rather than once at start-up, so a later
 * sched_setaffinity is seen. If the mask cannot be read the answer is 1, as
 * runtime.NumCPU falls back to 1. */
int32_t vmu_default_processor_count_for_uvm(void);

/* [NormalizeMemorySize] `requested_mb` rounded up to an even number (2 MB
 * alignment). UINT64_MAX wraps to 0 exactly as Go's (requested+1)&^1 does.
 * When the value changes, logs the warning "Changing user requested
 * MemorySizeInMB to align to 2MB" with the fields uvm-id (string), requested
 * and assigned (unsigned) on `logger` (NULL: the default logger).
 * `uvm_id` is `uvm_id_len` bytes, any bytes allowed; NULL means "". */
uint64_t vmu_normalize_memory_size(vmu_logger *logger, const char *uvm_id, size_t uvm_id_len,
                                   uint64_t requested_mb);

/* [NormalizeProcessorCount] `requested`, clamped to the host's logical
 * processor count as HCS reports it (hcsschema.ProcessorTopology's
 * LogicalProcessorCount). Like Go, the uint32 host count is converted to
 * int32 first, so counts past INT32_MAX become negative. Negative requests
 * come back unchanged unless they exceed that converted count. Clamping logs
 * the warning "Changing user requested CPUCount to current number of
 * processors" with uvm-id, requested and assigned (signed). */
int32_t vmu_normalize_processor_count(vmu_logger *logger, const char *uvm_id, size_t uvm_id_len,
                                      int32_t requested, uint32_t host_logical_processor_count);

/* [LinuxLogForwarderCommand] "/bin/vsockexec -e 109", or with "-r" (re-dial
 * the host listener, so logs survive migration) when `reconnect`. A static
 * string. */
const char *vmu_linux_log_forwarder_command(bool reconnect);

/* Where the LCOW boot files are looked up when LinuxBootFiles beside the
 * executable does not exist and ProgramFiles is unset or empty. ProgramFiles'
 * counterpart on a Linux host is /opt (the FHS home of add-on software), and
 * keeping the "Linux Containers" base name makes every branch end in
 * LinuxBootFiles or "Linux Containers", as hcsshim's tests expect. */
#define VMU_LCOW_BOOT_FILES_FALLBACK_DIR "/opt/Linux Containers"

/* [DefaultLCOWOSBootFilesPath] A newly allocated (free with vmu_free)
 * NUL-terminated path:
 *  1. "<dir of the running executable>/LinuxBootFiles" when stat(2) finds
 *     something there (Go's os.Stat test). The executable is resolved
 *     through the kernel (readlink /proc/self/exe), never through argv[0],
 *     so the path is absolute whatever the current directory.
 *  2. else "$ProgramFiles/Linux Containers", joined and cleaned as Go's
 *     filepath.Join does;
 *  3. else, ProgramFiles unset or empty, VMU_LCOW_BOOT_FILES_FALLBACK_DIR.
 * NULL only when memory runs out. */
char *vmu_default_lcow_os_boot_files_path(void);

VMU_API_END

#ifdef __cplusplus
}
#endif
#endif
