/* The real vmu_win_api on Windows: each call is the Win32 function that
 * golang.org/x/sys/windows wraps for hcsshim's internal/windows.WinAPI.
 * Compiled only for Windows; `make windows-check` builds it with mingw-w64. */
#ifdef _WIN32

#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>
#include <tlhelp32.h>

#include <stdlib.h>
#include <string.h>

#include "vmutils/base.h"
#include "vmutils/vmmem.h"

/* The API table and the buffers behind the strings its calls return. */
typedef struct win32_api {
    vmu_win_api api;
    char exe_file[MAX_PATH * 3 + 1]; /* a UTF-16 unit takes at most 3 UTF-8 bytes */
    char *account;
    size_t account_cap;
    char *domain;
    size_t domain_cap;
} win32_api;

/* Go's syscall.Errno.Error(): the system's message for the code. */
static int fail_with_last_error(vmu_err *err)
{
    DWORD code = GetLastError();
    char text[256];
    DWORD n = FormatMessageA(FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS, NULL,
                             code, MAKELANGID(LANG_ENGLISH, SUBLANG_ENGLISH_US), text,
                             (DWORD)sizeof text, NULL);
    while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == '\r' || text[n - 1] == '.'))
        n--;
    if (n == 0)
        return vmu_err_set(err, "winapi error #%lu", (unsigned long)code);
    return vmu_err_set(err, "%.*s", (int)n, text);
}

/* UTF-16 to UTF-8 into a growable buffer; 0, or -1 (err set). */
static int utf16_to_utf8(const WCHAR *in, int in_len, char **buf, size_t *cap, size_t *out_len,
                         vmu_err *err)
{
    int need = in_len == 0 ? 0 : WideCharToMultiByte(CP_UTF8, 0, in, in_len, NULL, 0, NULL, NULL);
    if (in_len != 0 && need <= 0)
        return fail_with_last_error(err);
    if ((size_t)need + 1 > *cap) {
        char *grown = vmu_realloc(*buf, (size_t)need + 1);
        if (!grown)
            return vmu_err_set(err, "out of memory");
        *buf = grown;
        *cap = (size_t)need + 1;
    }
    if (need > 0)
        WideCharToMultiByte(CP_UTF8, 0, in, in_len, *buf, need, NULL, NULL);
    (*buf)[need] = '\0';
    *out_len = (size_t)need;
    return 0;
}

static int w_create_toolhelp32_snapshot(void *ctx, uint32_t flags, uint32_t process_id,
                                        vmu_win_handle *snapshot, vmu_err *err)
{
    (void)ctx;
    HANDLE h = CreateToolhelp32Snapshot(flags, process_id);
    if (h == INVALID_HANDLE_VALUE)
        return fail_with_last_error(err);
    *snapshot = (vmu_win_handle)h;
    return VMU_WIN_OK;
}

static int w_close_handle(void *ctx, vmu_win_handle handle, vmu_err *err)
{
    (void)ctx;
    return CloseHandle((HANDLE)handle) ? VMU_WIN_OK : fail_with_last_error(err);
}

static int fill_entry(win32_api *w, const PROCESSENTRY32W *pe, vmu_process_entry *entry,
                      vmu_err *err)
{
    /* Like UTF16ToString over the fixed array: up to the first NUL. */
    int units = 0;
    while (units < MAX_PATH && pe->szExeFile[units] != 0)
        units++;
    int n = units == 0 ? 0
                       : WideCharToMultiByte(CP_UTF8, 0, pe->szExeFile, units, w->exe_file,
                                             (int)sizeof w->exe_file - 1, NULL, NULL);
    if (units != 0 && n <= 0)
        return fail_with_last_error(err);
    w->exe_file[n] = '\0';
    entry->process_id = pe->th32ProcessID;
    entry->exe_file = w->exe_file;
    entry->exe_file_len = (size_t)n;
    return VMU_WIN_OK;
}

static int w_process32(void *ctx, vmu_win_handle snapshot, vmu_process_entry *entry,
                       vmu_err *err, BOOL(WINAPI *step)(HANDLE, LPPROCESSENTRY32W))
{
    PROCESSENTRY32W pe;
    memset(&pe, 0, sizeof pe);
    pe.dwSize = sizeof pe;
    if (!step((HANDLE)snapshot, &pe))
        return fail_with_last_error(err);
    return fill_entry(ctx, &pe, entry, err);
}

static int w_process32_first(void *ctx, vmu_win_handle snapshot, vmu_process_entry *entry,
                             vmu_err *err)
{
    return w_process32(ctx, snapshot, entry, err, Process32FirstW);
}

static int w_process32_next(void *ctx, vmu_win_handle snapshot, vmu_process_entry *entry,
                            vmu_err *err)
{
    return w_process32(ctx, snapshot, entry, err, Process32NextW);
}

static int w_open_process(void *ctx, uint32_t desired_access, bool inherit_handle,
                          uint32_t process_id, vmu_win_handle *process, vmu_err *err)
{
    (void)ctx;
    HANDLE h = OpenProcess(desired_access, inherit_handle ? TRUE : FALSE, process_id);
    if (!h)
        return fail_with_last_error(err);
    *process = (vmu_win_handle)h;
    return VMU_WIN_OK;
}

static int w_open_process_token(void *ctx, vmu_win_handle process, uint32_t desired_access,
                                vmu_win_handle *token, vmu_err *err)
{
    (void)ctx;
    HANDLE h = NULL;
    if (!OpenProcessToken((HANDLE)process, desired_access, &h))
        return fail_with_last_error(err);
    *token = (vmu_win_handle)h;
    return VMU_WIN_OK;
}

/* GetTokenInformation(TokenUser), growing the buffer as x/sys's getInfo does;
 * the SID is copied out so that it outlives the buffer. */
static int w_get_token_user(void *ctx, vmu_win_handle token, vmu_win_sid *sid, vmu_err *err)
{
    (void)ctx;
    DWORD size = 50;
    for (;;) {
        void *info = vmu_malloc(size);
        if (!info)
            return vmu_err_set(err, "out of memory");
        DWORD needed = 0;
        if (GetTokenInformation((HANDLE)token, TokenUser, info, size, &needed)) {
            PSID user = ((TOKEN_USER *)info)->User.Sid;
            DWORD len = GetLengthSid(user);
            int ok = len <= sizeof sid->bytes && CopySid((DWORD)sizeof sid->bytes, sid->bytes, user);
            vmu_free(info);
            if (!ok)
                return vmu_err_set(err, "token user SID does not fit in %u bytes",
                                   (unsigned)sizeof sid->bytes);
            sid->len = len;
            return VMU_WIN_OK;
        }
        DWORD code = GetLastError();
        vmu_free(info);
        if (code != ERROR_INSUFFICIENT_BUFFER) {
            SetLastError(code);
            return fail_with_last_error(err);
        }
        if (needed <= size)
            return vmu_err_set(err, "GetTokenInformation asked for no more room");
        size = needed;
    }
}

/* LookupAccountSidW into buffers grown on ERROR_INSUFFICIENT_BUFFER, as
 * x/sys's SID.LookupAccount does; an empty system name means the local one. */
static int w_lookup_account(void *ctx, const vmu_win_sid *sid, const char *system,
                            vmu_win_text *account, vmu_win_text *domain, uint32_t *account_type,
                            vmu_err *err)
{
    win32_api *w = ctx;
    WCHAR *system_w = NULL;
    if (system && system[0]) {
        int units = MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, system, -1, NULL, 0);
        if (units <= 0)
            return fail_with_last_error(err);
        system_w = vmu_malloc((size_t)units * sizeof *system_w);
        if (!system_w)
            return vmu_err_set(err, "out of memory");
        MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, system, -1, system_w, units);
    }
    DWORD name_len = 50, domain_len = 50;
    int rc = VMU_WIN_FAILED;
    for (;;) {
        WCHAR *name_w = vmu_malloc(name_len * sizeof *name_w);
        WCHAR *domain_w = vmu_malloc(domain_len * sizeof *domain_w);
        if (!name_w || !domain_w) {
            vmu_free(name_w);
            vmu_free(domain_w);
            vmu_err_set(err, "out of memory");
            break;
        }
        SID_NAME_USE use = 0;
        DWORD n = name_len, d = domain_len;
        if (LookupAccountSidW(system_w, (PSID)sid->bytes, name_w, &n, domain_w, &d, &use)) {
            size_t account_n = 0, domain_n = 0;
            if (utf16_to_utf8(name_w, (int)n, &w->account, &w->account_cap, &account_n, err) ==
                    0 &&
                utf16_to_utf8(domain_w, (int)d, &w->domain, &w->domain_cap, &domain_n, err) ==
                    0) {
                account->data = w->account;
                account->len = account_n;
                domain->data = w->domain;
                domain->len = domain_n;
                *account_type = (uint32_t)use;
                rc = VMU_WIN_OK;
            }
            vmu_free(name_w);
            vmu_free(domain_w);
            break;
        }
        DWORD code = GetLastError();
        vmu_free(name_w);
        vmu_free(domain_w);
        if (code != ERROR_INSUFFICIENT_BUFFER || (n <= name_len && d <= domain_len)) {
            SetLastError(code);
            fail_with_last_error(err);
            break;
        }
        name_len = n > name_len ? n : name_len;
        domain_len = d > domain_len ? d : domain_len;
    }
    vmu_free(system_w);
    return rc;
}

static int w_close_token(void *ctx, vmu_win_handle token, vmu_err *err)
{
    return w_close_handle(ctx, token, err);
}

vmu_win_api *vmu_win32_api_new(void)
{
    win32_api *w = vmu_calloc(1, sizeof *w);
    if (!w)
        return NULL;
    w->api.ctx = w;
    w->api.create_toolhelp32_snapshot = w_create_toolhelp32_snapshot;
    w->api.close_handle = w_close_handle;
    w->api.process32_first = w_process32_first;
    w->api.process32_next = w_process32_next;
    w->api.open_process = w_open_process;
    w->api.open_process_token = w_open_process_token;
    w->api.get_token_user = w_get_token_user;
    w->api.lookup_account = w_lookup_account;
    w->api.close_token = w_close_token;
    return &w->api;
}

void vmu_win32_api_free(vmu_win_api *api)
{
    if (!api)
        return;
    win32_api *w = api->ctx;
    vmu_free(w->account);
    vmu_free(w->domain);
    vmu_free(w);
}

#else
/* ISO C wants a translation unit to declare something. */
typedef int vmu_vmmem_win32_unused;
#endif
