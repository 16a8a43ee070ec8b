/* vmutils: finding the vmmem process of a utility VM (hcsshim's
 * internal/vm/vmutils/vmmem.go).
 *
 * Hyper-V accounts a VM's memory to a process named vmmem (or vmmem.exe)
 * whose token user is "NT VIRTUAL MACHINE\<VM ID>". The lookup walks a
 * Toolhelp32 process snapshot and checks the token of each vmmem candidate.
 * It reaches Windows only through vmu_win_api, the narrow table of calls of
 * hcsshim's internal/windows.API, so the logic runs (and is tested) anywhere;
 * on Windows, vmu_win32_api_new() gives the real one.
 * Included through <vmutils.h>. */
#ifndef VMUTILS_VMMEM_H
#define VMUTILS_VMMEM_H

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

/* The values of the Win32 constants the lookup passes (winnt.h, tlhelp32.h). */
#define VMU_TH32CS_SNAPPROCESS 0x00000002u
#define VMU_PROCESS_QUERY_LIMITED_INFORMATION 0x00001000u
#define VMU_TOKEN_QUERY 0x00000008u
/* SECURITY_MAX_SID_SIZE */
#define VMU_WIN_SID_MAX_BYTES 68

#define VMU_VMMEM_NOT_FOUND "failed to find matching vmmem process"

/* A HANDLE (or an HANDLE-sized token a backend chooses, such as an index). */
typedef uintptr_t vmu_win_handle;

/* A process of the snapshot. exe_file is UTF-8; it stays valid until the next
 * call on the same API. Like Go's fixed ExeFile array read with
 * UTF16ToString, the name ends at its first NUL. */
typedef struct vmu_process_entry {
    uint32_t process_id;
    const char *exe_file;
    size_t exe_file_len;
} vmu_process_entry;

/* The user SID of a token: the Win32 backend copies the SID bytes; a backend
 * that keeps SIDs elsewhere (the Lua binding) puts its own reference in ref.
 * The core only carries it from get_token_user to lookup_account. */
typedef struct vmu_win_sid {
    size_t len;
    unsigned char bytes[VMU_WIN_SID_MAX_BYTES];
    uintptr_t ref;
} vmu_win_sid;

/* A UTF-8 string returned by a call; valid until the next call on the API. */
typedef struct vmu_win_text {
    const char *data;
    size_t len;
} vmu_win_text;

/* What each call of a vmu_win_api returns. */
enum {
    VMU_WIN_OK = 0,
    /* The call failed (Go's err != nil); err holds its message. */
    VMU_WIN_FAILED = -1,
    /* The backend cannot go on (a Lua method raised, or returned nonsense):
     * the lookup stops at once, closes only the snapshot (as Go's deferred
     * close does while a panic unwinds) and returns VMU_WIN_ABORT. */
    VMU_WIN_ABORT = -2
};

/* hcsshim's internal/windows.API as a table of calls. Each returns one of
 * VMU_WIN_OK / VMU_WIN_FAILED / VMU_WIN_ABORT and fills err on failure. */
typedef struct vmu_win_api {
    void *ctx;
    int (*create_toolhelp32_snapshot)(void *ctx, uint32_t flags, uint32_t process_id,
                                      vmu_win_handle *snapshot, vmu_err *err);
    int (*close_handle)(void *ctx, vmu_win_handle handle, vmu_err *err);
    int (*process32_first)(void *ctx, vmu_win_handle snapshot, vmu_process_entry *entry,
                           vmu_err *err);
    int (*process32_next)(void *ctx, vmu_win_handle snapshot, vmu_process_entry *entry,
                          vmu_err *err);
    int (*open_process)(void *ctx, uint32_t desired_access, bool inherit_handle,
                        uint32_t process_id, vmu_win_handle *process, vmu_err *err);
    int (*open_process_token)(void *ctx, vmu_win_handle process, uint32_t desired_access,
                              vmu_win_handle *token, vmu_err *err);
    int (*get_token_user)(void *ctx, vmu_win_handle token, vmu_win_sid *sid, vmu_err *err);
    int (*lookup_account)(void *ctx, const vmu_win_sid *sid, const char *system,
                          vmu_win_text *account, vmu_win_text *domain, uint32_t *account_type,
                          vmu_err *err);
    int (*close_token)(void *ctx, vmu_win_handle token, vmu_err *err);
} vmu_win_api;

/* Go's allProcessEntries as a pull iterator. The snapshot is taken by the
 * first next(); a failure to take it is logged (error level) and ends the
 * walk; so does the first Process32First/Next failure (logged at debug).
 * The snapshot is closed when the walk ends, when next() aborts, or by
 * vmu_process_iter_close() when the consumer stops early. */
typedef struct vmu_process_iter {
    const vmu_win_api *api;
    vmu_logger *logger;
    vmu_win_handle snapshot;
    int state; /* private */
} vmu_process_iter;

void vmu_process_iter_init(vmu_process_iter *iter, const vmu_win_api *api, vmu_logger *logger);
/* 1 and *entry filled: the next process; 0: the walk is over; VMU_WIN_ABORT:
 * a call aborted (the snapshot is closed; err holds the abort's text). */
int vmu_process_iter_next(vmu_process_iter *iter, vmu_process_entry *entry, vmu_err *err);
/* Ends the walk early: closes the snapshot if it is open. Returns 0, or
 * VMU_WIN_ABORT if that close aborted. Safe to call more than once. */
int vmu_process_iter_close(vmu_process_iter *iter, vmu_err *err);

/* Checks that vm_id (len bytes) is a GUID in its 8-4-4-4-12 hex form, any
 * case, and writes it upper-cased and NUL-terminated to out. 0, or -1. */
int vmu_vm_id_normalize(const char *vm_id, size_t len, char out[37]);

/* LookupVMMEM: 0 and *process = the vmmem process handle of VM vm_id, left
 * open for the caller; VMU_WIN_FAILED and err = VMU_VMMEM_NOT_FOUND (or an
 * invalid-ID message); VMU_WIN_ABORT when a call aborted. The calls, their
 * order and arguments, and the handles closed on each path are Go's. A NULL
 * logger means the default one. */
int vmu_lookup_vmmem(const vmu_win_api *api, const char *vm_id, vmu_logger *logger,
                     vmu_win_handle *process, vmu_err *err);

#ifdef _WIN32
/* The real Win32 API (Toolhelp32, OpenProcess, GetTokenInformation,
 * LookupAccountSidW, CloseHandle), with the buffers its strings live in.
 * NULL when out of memory. */
vmu_win_api *vmu_win32_api_new(void);
void vmu_win32_api_free(vmu_win_api *api);
#endif

VMU_API_END

#ifdef __cplusplus
}
#endif
#endif
