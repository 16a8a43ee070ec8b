/* LookupVMMEM and its process iterator (hcsshim's vmmem.go), over the
 * injected vmu_win_api. */
#include <string.h>

#include "vmutils/base.h"
#include "vmutils/log.h"
#include "vmutils/vmmem.h"

#define VMMEM_PROCESS_NAME "vmmem"
#define VMMEM_PROCESS_NAME_EXT "vmmem.exe"
#define NT_VIRTUAL_MACHINE_DOMAIN "NT VIRTUAL MACHINE"

enum { ITER_FRESH, ITER_OPEN, ITER_DONE };

/* strings.EqualFold against an ASCII target. Folding ASCII letters alone is
 * exact here: the only non-ASCII runes whose fold orbit reaches an ASCII
 * letter are U+212A (k) and U+017F (s), and no target (the vmmem names, the
 * domain, an upper-case GUID) holds a k or an s. */
static bool equal_fold_ascii(const char *s, size_t len, const char *target)
{
    size_t target_len = strlen(target);
    if (len != target_len)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char a = (unsigned char)s[i], b = (unsigned char)target[i];
        if (a >= 'a' && a <= 'z')
            a = (unsigned char)(a - 'a' + 'A');
        if (b >= 'a' && b <= 'z')
            b = (unsigned char)(b - 'a' + 'A');
        if (a != b)
            return false;
    }
    return true;
}

static void copy_err(vmu_err *dst, const vmu_err *src)
{
    if (dst && dst != src)
        memcpy(dst->msg, src->msg, sizeof dst->msg);
}

static void log_with_error(vmu_logger *logger, vmu_log_level level, const char *msg,
                           const vmu_err *cause)
{
    vmu_field field = vmu_field_str("error", cause->msg);
    vmu_log(logger, level, msg, strlen(msg), &field, 1);
}

void vmu_process_iter_init(vmu_process_iter *iter, const vmu_win_api *api, vmu_logger *logger)
{
    iter->api = api;
    iter->logger = logger;
    iter->snapshot = 0;
    iter->state = ITER_FRESH;
}

int vmu_process_iter_close(vmu_process_iter *iter, vmu_err *err)
{
    if (iter->state != ITER_OPEN) {
        iter->state = ITER_DONE;
        return 0;
    }
    iter->state = ITER_DONE;
    vmu_err close_err = {{0}};
    /* Go drops the error of this close; only an abort goes on. */
    if (iter->api->close_handle(iter->api->ctx, iter->snapshot, &close_err) == VMU_WIN_ABORT) {
        copy_err(err, &close_err);
        return VMU_WIN_ABORT;
    }
    return 0;
}

int vmu_process_iter_next(vmu_process_iter *iter, vmu_process_entry *entry, vmu_err *err)
{
    const vmu_win_api *api = iter->api;
    vmu_err call_err = {{0}};
    int rc;

    if (iter->state == ITER_DONE)
        return 0;
    memset(entry, 0, sizeof *entry);
    if (iter->state == ITER_FRESH) {
        rc = api->create_toolhelp32_snapshot(api->ctx, VMU_TH32CS_SNAPPROCESS, 0,
                                             &iter->snapshot, &call_err);
        if (rc != VMU_WIN_OK) {
            iter->state = ITER_DONE;
            if (rc == VMU_WIN_ABORT) {
                copy_err(err, &call_err);
                return VMU_WIN_ABORT;
            }
            log_with_error(iter->logger, VMU_LEVEL_ERROR, "failed to create process snapshot",
                           &call_err);
            return 0;
        }
        iter->state = ITER_OPEN;
        rc = api->process32_first(api->ctx, iter->snapshot, entry, &call_err);
    } else {
        rc = api->process32_next(api->ctx, iter->snapshot, entry, &call_err);
    }

    if (rc == VMU_WIN_OK) {
        const char *nul = entry->exe_file ? memchr(entry->exe_file, '\0', entry->exe_file_len)
                                          : NULL;
        if (!entry->exe_file)
            entry->exe_file_len = 0;
        else if (nul)
            entry->exe_file_len = (size_t)(nul - entry->exe_file);
        return 1;
    }
    if (rc == VMU_WIN_ABORT) {
        copy_err(err, &call_err);
        vmu_process_iter_close(iter, NULL);
        return VMU_WIN_ABORT;
    }
    log_with_error(iter->logger, VMU_LEVEL_DEBUG, "finished iterating process entries",
                   &call_err);
    return vmu_process_iter_close(iter, err);
}

static int hex_digit(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

int vmu_vm_id_normalize(const char *vm_id, size_t len, char out[37])
{
    if (!vm_id || len != 36)
        return -1;
    for (size_t i = 0; i < 36; i++) {
        unsigned char c = (unsigned char)vm_id[i];
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (c != '-')
                return -1;
        } else if (!hex_digit(c)) {
            return -1;
        }
        out[i] = (char)(c >= 'a' && c <= 'f' ? c - 'a' + 'A' : c);
    }
    out[36] = '\0';
    return 0;
}

/* The per-candidate steps of LookupVMMEM. Returns 1 when the process is the
 * VM's (its handle, still open, in *process), 0 to go on to the next entry,
 * VMU_WIN_ABORT with err filled. */
static int check_candidate(const vmu_win_api *api, const char *vm_id,
                           const vmu_process_entry *entry, vmu_win_handle *process, vmu_err *err)
{
    vmu_err call_err = {{0}};
    vmu_win_handle process_handle = 0, token = 0;
    int rc = api->open_process(api->ctx, VMU_PROCESS_QUERY_LIMITED_INFORMATION, false,
                               entry->process_id, &process_handle, &call_err);
    if (rc != VMU_WIN_OK)
        goto not_opened;

    rc = api->open_process_token(api->ctx, process_handle, VMU_TOKEN_QUERY, &token, &call_err);
    if (rc != VMU_WIN_OK)
        goto close_process;

    vmu_win_sid sid;
    memset(&sid, 0, sizeof sid);
    rc = api->get_token_user(api->ctx, token, &sid, &call_err);
    if (rc != VMU_WIN_OK) {
        if (rc == VMU_WIN_ABORT)
            goto aborted;
        goto close_token;
    }

    vmu_win_text account = {0}, domain = {0};
    uint32_t account_type = 0;
    rc = api->lookup_account(api->ctx, &sid, "", &account, &domain, &account_type, &call_err);
    if (rc == VMU_WIN_ABORT)
        goto aborted;
    /* Decided before CloseToken, which may reuse the strings' storage. */
    bool match = rc == VMU_WIN_OK &&
                 equal_fold_ascii(domain.data, domain.len, NT_VIRTUAL_MACHINE_DOMAIN) &&
                 equal_fold_ascii(account.data, account.len, vm_id);
    if (api->close_token(api->ctx, token, &call_err) == VMU_WIN_ABORT)
        goto aborted;
    if (match) {
        *process = process_handle;
        return 1;
    }
    rc = VMU_WIN_FAILED;
    goto close_process;

close_token:
    if (api->close_token(api->ctx, token, &call_err) == VMU_WIN_ABORT)
        goto aborted;
close_process:
    if (rc == VMU_WIN_ABORT)
        goto aborted;
    if (api->close_handle(api->ctx, process_handle, &call_err) == VMU_WIN_ABORT)
        goto aborted;
    return 0;
not_opened:
    if (rc != VMU_WIN_ABORT)
        return 0;
aborted:
    copy_err(err, &call_err);
    return VMU_WIN_ABORT;
}

int vmu_lookup_vmmem(const vmu_win_api *api, const char *vm_id, vmu_logger *logger,
                     vmu_win_handle *process, vmu_err *err)
{
    char want[37];
    if (process)
        *process = 0;
    if (!api || !process || !vm_id || vmu_vm_id_normalize(vm_id, strlen(vm_id), want) != 0)
        return vmu_err_set(err, "invalid VM ID: a GUID string is expected");

    vmu_field id_field = vmu_field_str("vmID", want);
    static const char looking[] = "looking up vmmem via LookupAccount";
    vmu_log(logger, VMU_LEVEL_DEBUG, looking, sizeof looking - 1, &id_field, 1);

    vmu_process_iter iter;
    vmu_process_iter_init(&iter, api, logger);
    vmu_process_entry entry;
    int rc;
    while ((rc = vmu_process_iter_next(&iter, &entry, err)) == 1) {
        if (!equal_fold_ascii(entry.exe_file, entry.exe_file_len, VMMEM_PROCESS_NAME) &&
            !equal_fold_ascii(entry.exe_file, entry.exe_file_len, VMMEM_PROCESS_NAME_EXT))
            continue;
        vmu_win_handle found = 0;
        int checked = check_candidate(api, want, &entry, &found, err);
        if (checked == VMU_WIN_ABORT) {
            vmu_process_iter_close(&iter, NULL);
            return VMU_WIN_ABORT;
        }
        if (checked == 1) {
            vmu_field pid_field = vmu_field_uint("pid", entry.process_id);
            static const char found_msg[] = "found vmmem match";
            vmu_log(logger, VMU_LEVEL_DEBUG, found_msg, sizeof found_msg - 1, &pid_field, 1);
            if (vmu_process_iter_close(&iter, err) == VMU_WIN_ABORT)
                return VMU_WIN_ABORT;
            *process = found;
            return 0;
        }
    }
    if (rc == VMU_WIN_ABORT)
        return VMU_WIN_ABORT;
    return vmu_err_set(err, VMU_VMMEM_NOT_FOUND);
}
