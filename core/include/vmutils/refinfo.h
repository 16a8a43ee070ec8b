/* vmutils: the UVM reference info file (hcsshim's ParseUVMReferenceInfo).
 * Included through <vmutils.h>. */
#ifndef VMUTILS_REFINFO_H
#define VMUTILS_REFINFO_H

#include <stddef.h>

#include "base.h"
#include "log.h"
#include "export.h"

#ifdef __cplusplus
extern "C" {
#endif

VMU_API_BEGIN

/* Reference info files are small signed documents; anything larger is
 * refused rather than read into memory. Exactly this size is accepted. */
#define VMU_REFERENCE_INFO_MAX_BYTES (4u * 1024u * 1024u)

/* [ParseUVMReferenceInfo] Appends to `out` the standard base64 (with
 * padding) of the file `reference_name` under the directory
 * `reference_root`, and returns 0. The bytes appended are followed by a NUL
 * that is not counted in out->len.
 *
 * As in Go, an empty name, or a file that does not exist (ENOENT anywhere on
 * the way, the root included), appends nothing and returns 0; a missing file
 * logs the debug record "UVM reference info file not found" with the field
 * filePath (root and name joined as Go's filepath.Join does).
 *
 * The name comes from a pod annotation, so it is untrusted, and the file is
 * opened more carefully than Go does: openat2(2) below the opened root with
 * RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS and O_NONBLOCK, which follows
 * symbolic links only while they stay beneath the root, or, where the
 * kernel has no openat2 (ENOSYS, or EPERM from a seccomp filter), one
 * openat(O_NOFOLLOW) per path component, which refuses every symbolic link
 * (docs/refinfo.md). A name that cleans to "." is the root itself, read
 * whatever it is, as Go does. Failures return -1 with one of these
 * messages, all starting with "failed to read UVM reference info file: "
 * as Go's do (P is the joined path):
 *   "P: path escapes the reference root"   an absolute name, a name whose
 *                                          ".." leads above the root, or a
 *                                          symbolic link that leads out
 *                                          (absolute links included)
 *   "P: symbolic links are not followed"   without openat2: a component
 *                                          is a symbolic link
 *   "P: not a regular file"                a directory, FIFO, socket, device
 *                                          (a FIFO is opened non-blocking and
 *                                          never read)
 *   "P: file is larger than 4194304 bytes" over VMU_REFERENCE_INFO_MAX_BYTES
 *   "path contains a NUL byte"             root or name (from the _n variant,
 *                                          for bindings that pass lengths)
 *   "open P: <reason>" (or stat, read)     any other system error, with
 *                                          the reason as Go spells errno
 *                                          ("permission denied", ...)
 * and "out of memory" when an allocation fails. On failure `out` is left as
 * it was. `reference_root` NULL means "" (the current directory, as Go's
 * Join("", name) is relative); NULL `reference_name` means "". NULL `out`
 * is an error. The root itself is trusted and may be a symbolic link. */
int vmu_parse_uvm_reference_info(vmu_logger *logger, const char *reference_root,
                                 const char *reference_name, vmu_buf *out, vmu_err *err);

/* The same for a root and a name given with their lengths, which may hold
 * a NUL byte: such a path is refused (Go's open fails on it too) instead of
 * being silently cut short. */
int vmu_parse_uvm_reference_info_n(vmu_logger *logger, const char *reference_root,
                                   size_t reference_root_len, const char *reference_name,
                                   size_t reference_name_len, vmu_buf *out, vmu_err *err);

VMU_API_END

#ifdef __cplusplus
}
#endif
#endif
