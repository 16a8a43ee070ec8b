/* vmmem lookup: each scenario of hcsshim's vmmem_test.go (LookupVMMEM and
 * the process iterator) against a fake vmu_win_api that checks every call
 * against a script, in order, and fails on any call not scripted; plus
 * aborting backends, names with NULs, the VM ID check and the log records. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "log_capture.h"
#include "vmutils.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define ROW_TEST(fn, row) {(row).name, fn, NULL, NULL, (void *)&(row)}
#define MAX_CALLS 24

/* The handles and ids of hcsshim's test. */
#define SNAPSHOT 1000
#define PROCESS 2000
#define TOKEN 3000
#define PID 1234
#define PROCESS2 4000
#define TOKEN2 5000
#define PID2 5678
#define SID_REF 77
#define VM_ID "12345678-1234-5678-1234-56789abcdef0"
#define VM_ID_UPPER "12345678-1234-5678-1234-56789ABCDEF0"
#define NOT_FOUND "failed to find matching vmmem process"

typedef enum call_kind {
    SNAPSHOT_CALL,
    CLOSE_HANDLE,
    FIRST,
    NEXT,
    OPEN_PROCESS,
    OPEN_TOKEN,
    TOKEN_USER,
    LOOKUP,
    CLOSE_TOKEN
} call_kind;

static const char *const call_names[] = {
    "create_toolhelp32_snapshot", "close_handle",   "process32_first",
    "process32_next",             "open_process",   "open_process_token",
    "get_token_user",             "lookup_account", "close_token",
};

/* One scripted call: what must be passed (arg) and what comes back. */
typedef struct expected_call {
    call_kind kind;
    uint64_t arg; /* the handle, token or SID passed; open_process: the pid */
    int rc;       /* VMU_WIN_OK, VMU_WIN_FAILED or VMU_WIN_ABORT */
    uint64_t out; /* handle, token or SID ref returned */
    uint32_t pid; /* process32_*: the entry */
    const char *name;
    size_t name_len; /* 0: strlen(name) */
    const char *account;
    const char *domain;
    const char *err; /* with VMU_WIN_FAILED / VMU_WIN_ABORT */
} expected_call;

#define CALL(...) {__VA_ARGS__}
#define E_SNAPSHOT(rc, out, err) CALL(SNAPSHOT_CALL, 0, rc, out, 0, NULL, 0, NULL, NULL, err)
#define E_SNAPSHOT_OK CALL(SNAPSHOT_CALL, 0, VMU_WIN_OK, SNAPSHOT, 0, NULL, 0, NULL, NULL, NULL)
#define E_ENTRY(kind, pid, name) CALL(kind, SNAPSHOT, VMU_WIN_OK, 0, pid, name, 0, NULL, NULL, NULL)
#define E_FIRST(pid, name) E_ENTRY(FIRST, pid, name)
#define E_NEXT(pid, name) E_ENTRY(NEXT, pid, name)
#define E_NO_MORE CALL(NEXT, SNAPSHOT, VMU_WIN_FAILED, 0, 0, NULL, 0, NULL, NULL, "no more processes")
#define E_OPEN(pid, handle) CALL(OPEN_PROCESS, pid, VMU_WIN_OK, handle, 0, NULL, 0, NULL, NULL, NULL)
#define E_OPEN_FAILS(pid) CALL(OPEN_PROCESS, pid, VMU_WIN_FAILED, 0, 0, NULL, 0, NULL, NULL, "access denied")
#define E_TOKEN(process, token) CALL(OPEN_TOKEN, process, VMU_WIN_OK, token, 0, NULL, 0, NULL, NULL, NULL)
#define E_USER(token) CALL(TOKEN_USER, token, VMU_WIN_OK, SID_REF, 0, NULL, 0, NULL, NULL, NULL)
#define E_LOOKUP(account, domain) CALL(LOOKUP, SID_REF, VMU_WIN_OK, 0, 0, NULL, 0, account, domain, NULL)
#define E_CLOSE(h) CALL(CLOSE_HANDLE, h, VMU_WIN_OK, 0, 0, NULL, 0, NULL, NULL, NULL)
#define E_CLOSE_TOKEN(t) CALL(CLOSE_TOKEN, t, VMU_WIN_OK, 0, 0, NULL, 0, NULL, NULL, NULL)
#define E_FAIL(kind, arg, err) CALL(kind, arg, VMU_WIN_FAILED, 0, 0, NULL, 0, NULL, NULL, err)
#define E_ABORT(kind, arg) CALL(kind, arg, VMU_WIN_ABORT, 0, 0, NULL, 0, NULL, NULL, "raised")
#define E_CHECKED(pid, handle, token, account, domain) \
    E_OPEN(pid, handle), E_TOKEN(handle, token), E_USER(token), E_LOOKUP(account, domain)

typedef struct fake_api {
    vmu_win_api api;
    const expected_call *calls;
    size_t count;
    size_t next;
} fake_api;

static const expected_call *expect(fake_api *f, call_kind kind, uint64_t arg)
{
    if (f->next >= f->count)
        fail_msg("unexpected call %s(%llu): the script has ended", call_names[kind],
                 (unsigned long long)arg);
    const expected_call *e = &f->calls[f->next++];
    if (e->kind != kind || e->arg != arg)
        fail_msg("call %zu: got %s(%llu), expected %s(%llu)", f->next, call_names[kind],
                 (unsigned long long)arg, call_names[e->kind], (unsigned long long)e->arg);
    return e;
}

static int finish(const expected_call *e, vmu_err *err)
{
    if (e->rc != VMU_WIN_OK)
        vmu_err_set(err, "%s", e->err ? e->err : "failed");
    return e->rc;
}

static int fake_snapshot(void *ctx, uint32_t flags, uint32_t pid, vmu_win_handle *out, vmu_err *err)
{
    assert_int_equal(flags, 0x2);
    assert_int_equal(pid, 0);
    const expected_call *e = expect(ctx, SNAPSHOT_CALL, 0);
    if (e->rc == VMU_WIN_OK)
        *out = (vmu_win_handle)e->out;
    return finish(e, err);
}

static int fake_close_handle(void *ctx, vmu_win_handle h, vmu_err *err)
{
    return finish(expect(ctx, CLOSE_HANDLE, h), err);
}

static int fake_entry(void *ctx, call_kind kind, vmu_win_handle snapshot, vmu_process_entry *pe,
                      vmu_err *err)
{
    const expected_call *e = expect(ctx, kind, snapshot);
    if (e->rc == VMU_WIN_OK) {
        pe->process_id = e->pid;
        pe->exe_file = e->name;
        pe->exe_file_len = e->name_len ? e->name_len : strlen(e->name);
    }
    return finish(e, err);
}

static int fake_first(void *ctx, vmu_win_handle s, vmu_process_entry *pe, vmu_err *err)
{
    return fake_entry(ctx, FIRST, s, pe, err);
}

static int fake_next(void *ctx, vmu_win_handle s, vmu_process_entry *pe, vmu_err *err)
{
    return fake_entry(ctx, NEXT, s, pe, err);
}

static int fake_open_process(void *ctx, uint32_t access, bool inherit, uint32_t pid,
                             vmu_win_handle *out, vmu_err *err)
{
    assert_int_equal(access, 0x1000);
    assert_false(inherit);
    const expected_call *e = expect(ctx, OPEN_PROCESS, pid);
    if (e->rc == VMU_WIN_OK)
        *out = (vmu_win_handle)e->out;
    return finish(e, err);
}

static int fake_open_token(void *ctx, vmu_win_handle process, uint32_t access,
                           vmu_win_handle *token, vmu_err *err)
{
    assert_int_equal(access, 0x8);
    const expected_call *e = expect(ctx, OPEN_TOKEN, process);
    if (e->rc == VMU_WIN_OK)
        *token = (vmu_win_handle)e->out;
    return finish(e, err);
}

static int fake_token_user(void *ctx, vmu_win_handle token, vmu_win_sid *sid, vmu_err *err)
{
    const expected_call *e = expect(ctx, TOKEN_USER, token);
    if (e->rc == VMU_WIN_OK)
        sid->ref = (uintptr_t)e->out;
    return finish(e, err);
}

static int fake_lookup(void *ctx, const vmu_win_sid *sid, const char *system,
                       vmu_win_text *account, vmu_win_text *domain, uint32_t *type, vmu_err *err)
{
    assert_string_equal(system, "");
    const expected_call *e = expect(ctx, LOOKUP, sid->ref);
    if (e->rc == VMU_WIN_OK) {
        account->data = e->account;
        account->len = strlen(e->account);
        domain->data = e->domain;
        domain->len = strlen(e->domain);
        *type = 0;
    }
    return finish(e, err);
}

static int fake_close_token(void *ctx, vmu_win_handle t, vmu_err *err)
{
    return finish(expect(ctx, CLOSE_TOKEN, t), err);
}

static void fake_init(fake_api *f, const expected_call *calls, size_t count)
{
    memset(f, 0, sizeof *f);
    f->api.ctx = f;
    f->api.create_toolhelp32_snapshot = fake_snapshot;
    f->api.close_handle = fake_close_handle;
    f->api.process32_first = fake_first;
    f->api.process32_next = fake_next;
    f->api.open_process = fake_open_process;
    f->api.open_process_token = fake_open_token;
    f->api.get_token_user = fake_token_user;
    f->api.lookup_account = fake_lookup;
    f->api.close_token = fake_close_token;
    f->calls = calls;
    f->count = count;
}

static void assert_script_done(const fake_api *f)
{
    if (f->next != f->count)
        fail_msg("only %zu of %zu scripted calls were made; next: %s", f->next, f->count,
                 call_names[f->calls[f->next].kind]);
}

/* ---- LookupVMMEM --------------------------------------------------------- */

typedef struct lookup_case {
    const char *name;
    const char *vm_id;
    expected_call calls[MAX_CALLS];
    int rc;
    vmu_win_handle handle; /* on success */
    const char *error;     /* otherwise */
} lookup_case;

static const lookup_case lookup_cases[] = {
    /* hcsshim's TestLookupVMMEM */
    {"lookup: match named vmmem.exe", VM_ID,
     {E_SNAPSHOT_OK, E_FIRST(PID, "vmmem.exe"), E_CHECKED(PID, PROCESS, TOKEN, VM_ID, "NT VIRTUAL MACHINE"),
      E_CLOSE_TOKEN(TOKEN), E_CLOSE(SNAPSHOT)},
     VMU_WIN_OK, PROCESS, NULL},
    {"lookup: match named vmmem", VM_ID,
     {E_SNAPSHOT_OK, E_FIRST(PID, "vmmem"), E_CHECKED(PID, PROCESS, TOKEN, VM_ID, "NT VIRTUAL MACHINE"),
      E_CLOSE_TOKEN(TOKEN), E_CLOSE(SNAPSHOT)},
     VMU_WIN_OK, PROCESS, NULL},
    {"lookup: snapshot cannot be taken", VM_ID,
     {E_SNAPSHOT(VMU_WIN_FAILED, 0, "access denied")}, VMU_WIN_FAILED, 0, NOT_FOUND},
    {"lookup: no vmmem process", VM_ID,
     {E_SNAPSHOT_OK, E_FIRST(PID, "explorer.exe"), E_NO_MORE, E_CLOSE(SNAPSHOT)}, VMU_WIN_FAILED, 0,
     NOT_FOUND},
    {"lookup: vmmem of another VM", VM_ID,
     {E_SNAPSHOT_OK, E_FIRST(PID, "vmmem.exe"),
      E_CHECKED(PID, PROCESS, TOKEN, "DIFFERENT-VM-ID", "NT VIRTUAL MACHINE"), E_CLOSE_TOKEN(TOKEN),
      E_CLOSE(PROCESS), E_NO_MORE, E_CLOSE(SNAPSHOT)},
     VMU_WIN_FAILED, 0, NOT_FOUND},
    {"lookup: vmmem under another domain", VM_ID,
     {E_SNAPSHOT_OK, E_FIRST(PID, "vmmem.exe"), E_CHECKED(PID, PROCESS, TOKEN, VM_ID, "WORKGROUP"),
      E_CLOSE_TOKEN(TOKEN), E_CLOSE(PROCESS), E_NO_MORE, E_CLOSE(SNAPSHOT)},
     VMU_WIN_FAILED, 0, NOT_FOUND},
    {"lookup: OpenProcess fails", VM_ID,
     {E_SNAPSHOT_OK, E_FIRST(PID, "vmmem.exe"), E_OPEN_FAILS(PID), E_NO_MORE, E_CLOSE(SNAPSHOT)},
     VMU_WIN_FAILED, 0, NOT_FOUND},
    {"lookup: OpenProcessToken fails", VM_ID,
     {E_SNAPSHOT_OK, E_FIRST(PID, "vmmem.exe"), E_OPEN(PID, PROCESS),
      E_FAIL(OPEN_TOKEN, PROCESS, "token access denied"), E_CLOSE(PROCESS), E_NO_MORE, E_CLOSE(SNAPSHOT)},
     VMU_WIN_FAILED, 0, NOT_FOUND},
    {"lookup: GetTokenUser fails", VM_ID,
     {E_SNAPSHOT_OK, E_FIRST(PID, "vmmem.exe"), E_OPEN(PID, PROCESS), E_TOKEN(PROCESS, TOKEN),
      E_FAIL(TOKEN_USER, TOKEN, "failed to get token user"), E_CLOSE_TOKEN(TOKEN), E_CLOSE(PROCESS),
      E_NO_MORE, E_CLOSE(SNAPSHOT)},
     VMU_WIN_FAILED, 0, NOT_FOUND},
    {"lookup: LookupAccount fails", VM_ID,
     {E_SNAPSHOT_OK, E_FIRST(PID, "vmmem.exe"), E_OPEN(PID, PROCESS), E_TOKEN(PROCESS, TOKEN),
      E_USER(TOKEN), E_FAIL(LOOKUP, SID_REF, "lookup failed"), E_CLOSE_TOKEN(TOKEN), E_CLOSE(PROCESS),
      E_NO_MORE, E_CLOSE(SNAPSHOT)},
     VMU_WIN_FAILED, 0, NOT_FOUND},
    {"lookup: Process32First fails", VM_ID,
     {E_SNAPSHOT_OK, E_FAIL(FIRST, SNAPSHOT, "failed to get first process"), E_CLOSE(SNAPSHOT)},
     VMU_WIN_FAILED, 0, NOT_FOUND},
    {"lookup: skips another VM's vmmem, matches the second", VM_ID,
     {E_SNAPSHOT_OK, E_FIRST(PID, "vmmem"),
      E_CHECKED(PID, PROCESS, TOKEN, "OTHER-GUID", "NT VIRTUAL MACHINE"), E_CLOSE_TOKEN(TOKEN),
      E_CLOSE(PROCESS), E_NEXT(PID2, "vmmem.exe"),
      E_CHECKED(PID2, PROCESS2, TOKEN2, VM_ID, "NT VIRTUAL MACHINE"), E_CLOSE_TOKEN(TOKEN2),
      E_CLOSE(SNAPSHOT)},
     VMU_WIN_OK, PROCESS2, NULL},
    {"lookup: several vmmem processes, none matches", VM_ID,
     {E_SNAPSHOT_OK, E_FIRST(PID, "vmmem"),
      E_CHECKED(PID, PROCESS, TOKEN, "WRONG-GUID-1", "NT VIRTUAL MACHINE"), E_CLOSE_TOKEN(TOKEN),
      E_CLOSE(PROCESS), E_NEXT(PID2, "vmmem.exe"),
      E_CHECKED(PID2, PROCESS2, TOKEN2, "WRONG-GUID-2", "NT VIRTUAL MACHINE"), E_CLOSE_TOKEN(TOKEN2),
      E_CLOSE(PROCESS2), E_NO_MORE, E_CLOSE(SNAPSHOT)},
     VMU_WIN_FAILED, 0, NOT_FOUND},
    {"lookup: process name in capitals", VM_ID,
     {E_SNAPSHOT_OK, E_FIRST(PID, "VMMEM.EXE"), E_CHECKED(PID, PROCESS, TOKEN, VM_ID, "NT VIRTUAL MACHINE"),
      E_CLOSE_TOKEN(TOKEN), E_CLOSE(SNAPSHOT)},
     VMU_WIN_OK, PROCESS, NULL},
    {"lookup: account and domain in lower case", VM_ID,
     {E_SNAPSHOT_OK, E_FIRST(PID, "vmmem"), E_CHECKED(PID, PROCESS, TOKEN, VM_ID, "nt virtual machine"),
      E_CLOSE_TOKEN(TOKEN), E_CLOSE(SNAPSHOT)},
     VMU_WIN_OK, PROCESS, NULL},
    /* Beyond Go's table */
    {"lookup: VM ID given in upper case, account in lower", VM_ID_UPPER,
     {E_SNAPSHOT_OK, E_FIRST(PID, "vmmem"), E_CHECKED(PID, PROCESS, TOKEN, VM_ID, "NT VIRTUAL MACHINE"),
      E_CLOSE_TOKEN(TOKEN), E_CLOSE(SNAPSHOT)},
     VMU_WIN_OK, PROCESS, NULL},
    {"lookup: look-alike names are not candidates", VM_ID,
     {E_SNAPSHOT_OK, E_FIRST(1, "vmmem.exe.bak"), E_NEXT(2, "xvmmem"), E_NEXT(3, "vmmem "),
      E_NEXT(4, "vmmemexe"), E_NEXT(5, ""), E_NO_MORE, E_CLOSE(SNAPSHOT)},
     VMU_WIN_FAILED, 0, NOT_FOUND},
    {"lookup: a name ends at its first NUL", VM_ID,
     {E_SNAPSHOT_OK, CALL(FIRST, SNAPSHOT, VMU_WIN_OK, 0, PID, "vmmem\0junk", 10, NULL, NULL, NULL),
      E_CHECKED(PID, PROCESS, TOKEN, VM_ID, "NT VIRTUAL MACHINE"), E_CLOSE_TOKEN(TOKEN), E_CLOSE(SNAPSHOT)},
     VMU_WIN_OK, PROCESS, NULL},
    {"lookup: account with the ID as a prefix does not match", VM_ID,
     {E_SNAPSHOT_OK, E_FIRST(PID, "vmmem"),
      E_CHECKED(PID, PROCESS, TOKEN, VM_ID "0", "NT VIRTUAL MACHINE"), E_CLOSE_TOKEN(TOKEN),
      E_CLOSE(PROCESS), E_NO_MORE, E_CLOSE(SNAPSHOT)},
     VMU_WIN_FAILED, 0, NOT_FOUND},
    {"lookup: a failing close is ignored, as in Go", VM_ID,
     {E_SNAPSHOT_OK, E_FIRST(PID, "vmmem"),
      E_CHECKED(PID, PROCESS, TOKEN, "OTHER", "NT VIRTUAL MACHINE"),
      E_FAIL(CLOSE_TOKEN, TOKEN, "bad"), E_FAIL(CLOSE_HANDLE, PROCESS, "bad"), E_NO_MORE,
      E_FAIL(CLOSE_HANDLE, SNAPSHOT, "bad")},
     VMU_WIN_FAILED, 0, NOT_FOUND},
    /* A backend that aborts: the snapshot is closed, nothing else. */
    {"abort: taking the snapshot", VM_ID, {E_ABORT(SNAPSHOT_CALL, 0)}, VMU_WIN_ABORT, 0, "raised"},
    {"abort: Process32First", VM_ID, {E_SNAPSHOT_OK, E_ABORT(FIRST, SNAPSHOT), E_CLOSE(SNAPSHOT)},
     VMU_WIN_ABORT, 0, "raised"},
    {"abort: Process32Next", VM_ID,
     {E_SNAPSHOT_OK, E_FIRST(1, "init"), E_ABORT(NEXT, SNAPSHOT), E_CLOSE(SNAPSHOT)}, VMU_WIN_ABORT, 0,
     "raised"},
    {"abort: OpenProcess", VM_ID,
     {E_SNAPSHOT_OK, E_FIRST(PID, "vmmem"), E_ABORT(OPEN_PROCESS, PID), E_CLOSE(SNAPSHOT)},
     VMU_WIN_ABORT, 0, "raised"},
    {"abort: OpenProcessToken", VM_ID,
     {E_SNAPSHOT_OK, E_FIRST(PID, "vmmem"), E_OPEN(PID, PROCESS), E_ABORT(OPEN_TOKEN, PROCESS),
      E_CLOSE(SNAPSHOT)},
     VMU_WIN_ABORT, 0, "raised"},
    {"abort: GetTokenUser", VM_ID,
     {E_SNAPSHOT_OK, E_FIRST(PID, "vmmem"), E_OPEN(PID, PROCESS), E_TOKEN(PROCESS, TOKEN),
      E_ABORT(TOKEN_USER, TOKEN), E_CLOSE(SNAPSHOT)},
     VMU_WIN_ABORT, 0, "raised"},
    {"abort: LookupAccount", VM_ID,
     {E_SNAPSHOT_OK, E_FIRST(PID, "vmmem"), E_OPEN(PID, PROCESS), E_TOKEN(PROCESS, TOKEN),
      E_USER(TOKEN), E_ABORT(LOOKUP, SID_REF), E_CLOSE(SNAPSHOT)},
     VMU_WIN_ABORT, 0, "raised"},
    {"abort: CloseToken", VM_ID,
     {E_SNAPSHOT_OK, E_FIRST(PID, "vmmem"), E_CHECKED(PID, PROCESS, TOKEN, VM_ID, "NT VIRTUAL MACHINE"),
      E_ABORT(CLOSE_TOKEN, TOKEN), E_CLOSE(SNAPSHOT)},
     VMU_WIN_ABORT, 0, "raised"},
    {"abort: closing a rejected process", VM_ID,
     {E_SNAPSHOT_OK, E_FIRST(PID, "vmmem"), E_OPEN_FAILS(PID), E_NEXT(PID2, "vmmem"), E_OPEN(PID2, PROCESS2),
      E_FAIL(OPEN_TOKEN, PROCESS2, "denied"), E_ABORT(CLOSE_HANDLE, PROCESS2), E_CLOSE(SNAPSHOT)},
     VMU_WIN_ABORT, 0, "raised"},
    {"abort: closing the snapshot after a match", VM_ID,
     {E_SNAPSHOT_OK, E_FIRST(PID, "vmmem"), E_CHECKED(PID, PROCESS, TOKEN, VM_ID, "NT VIRTUAL MACHINE"),
      E_CLOSE_TOKEN(TOKEN), E_ABORT(CLOSE_HANDLE, SNAPSHOT)},
     VMU_WIN_ABORT, 0, "raised"},
    {"abort: closing the snapshot at the end", VM_ID,
     {E_SNAPSHOT_OK, E_FIRST(PID, "x"), E_NO_MORE, E_ABORT(CLOSE_HANDLE, SNAPSHOT)}, VMU_WIN_ABORT, 0,
     "raised"},
    {"abort: then the snapshot close aborts too, first error kept", VM_ID,
     {E_SNAPSHOT_OK, E_FIRST(PID, "vmmem"), CALL(OPEN_PROCESS, PID, VMU_WIN_ABORT, 0, 0, NULL, 0, NULL, NULL, "first"),
      CALL(CLOSE_HANDLE, SNAPSHOT, VMU_WIN_ABORT, 0, 0, NULL, 0, NULL, NULL, "second")},
     VMU_WIN_ABORT, 0, "first"},
    /* No call at all */
    {"invalid VM ID", "not-a-guid", {{0}}, VMU_WIN_FAILED, 0,
     "invalid VM ID: a GUID string is expected"},
};

/* Script length: rows end at the first zeroed entry (a snapshot call that
 * neither succeeds with a handle nor fails), and a snapshot call is only
 * ever first. */
static size_t count_calls(const lookup_case *c)
{
    size_t n = 0;
    while (n < MAX_CALLS) {
        const expected_call *e = &c->calls[n];
        if (e->kind == SNAPSHOT_CALL && (n > 0 || (e->rc == VMU_WIN_OK && e->out == 0)))
            break;
        n++;
    }
    return n;
}

static void test_lookup(void **state)
{
    const lookup_case *c = *state;
    fake_api f;
    fake_init(&f, c->calls, count_calls(c));
    vmu_win_handle handle = 99;
    vmu_err err = {{0}};
    log_capture cap;
    capture_start(&cap, VMU_LEVEL_TRACE);
    int rc = vmu_lookup_vmmem(&f.api, c->vm_id, cap.logger, &handle, &err);
    capture_stop(&cap);
    assert_script_done(&f);
    assert_int_equal(rc, c->rc);
    assert_int_equal(handle, c->handle);
    if (c->error)
        assert_string_equal(err.msg, c->error);
}

/* ---- the log records ------------------------------------------------------ */

static void test_lookup_logs(void **state)
{
    (void)state;
    static const expected_call found[] = {
        E_SNAPSHOT_OK, E_FIRST(PID, "vmmem.exe"),
        E_CHECKED(PID, PROCESS, TOKEN, VM_ID, "NT VIRTUAL MACHINE"), E_CLOSE_TOKEN(TOKEN),
        E_CLOSE(SNAPSHOT)};
    fake_api f;
    fake_init(&f, found, ARRAY_LEN(found));
    log_capture cap;
    capture_start(&cap, VMU_LEVEL_DEBUG);
    vmu_win_handle handle;
    assert_int_equal(vmu_lookup_vmmem(&f.api, VM_ID, cap.logger, &handle, NULL), 0);
    assert_int_equal(cap.count, 2);
    assert_string_equal(cap.records[0].msg, "looking up vmmem via LookupAccount");
    assert_int_equal(cap.records[0].level, VMU_LEVEL_DEBUG);
    assert_string_equal(capture_field(&cap.records[0], "vmID")->text, VM_ID_UPPER);
    assert_string_equal(cap.records[1].msg, "found vmmem match");
    assert_int_equal(capture_field(&cap.records[1], "pid")->kind, VMU_VALUE_UINT);
    assert_string_equal(capture_field(&cap.records[1], "pid")->text, "1234");
    capture_stop(&cap);

    static const expected_call no_snapshot[] = {E_SNAPSHOT(VMU_WIN_FAILED, 0, "access denied")};
    fake_init(&f, no_snapshot, 1);
    capture_start(&cap, VMU_LEVEL_INFO);
    assert_int_equal(vmu_lookup_vmmem(&f.api, VM_ID, cap.logger, &handle, NULL), VMU_WIN_FAILED);
    assert_int_equal(cap.count, 1);
    assert_int_equal(cap.records[0].level, VMU_LEVEL_ERROR);
    assert_string_equal(cap.records[0].msg, "failed to create process snapshot");
    assert_string_equal(capture_field(&cap.records[0], "error")->text, "access denied");
    capture_stop(&cap);

    static const expected_call walked[] = {E_SNAPSHOT_OK, E_FIRST(PID, "init"), E_NO_MORE,
                                           E_CLOSE(SNAPSHOT)};
    fake_init(&f, walked, ARRAY_LEN(walked));
    capture_start(&cap, VMU_LEVEL_DEBUG);
    assert_int_equal(vmu_lookup_vmmem(&f.api, VM_ID, cap.logger, &handle, NULL), VMU_WIN_FAILED);
    assert_int_equal(cap.count, 2);
    assert_string_equal(cap.records[1].msg, "finished iterating process entries");
    assert_int_equal(cap.records[1].level, VMU_LEVEL_DEBUG);
    assert_string_equal(capture_field(&cap.records[1], "error")->text, "no more processes");
    capture_stop(&cap);
}

/* ---- the iterator (hcsshim's TestAllProcessEntries) ---------------------- */

typedef struct iter_case {
    const char *name;
    expected_call calls[8];
    size_t call_count;
    size_t break_after; /* 0: walk to the end */
    uint32_t pids[4];
    const char *names[4];
    size_t entry_count;
} iter_case;

static const iter_case iter_cases[] = {
    {"iterator: one entry", {E_SNAPSHOT_OK, E_FIRST(100, "explorer.exe"), E_NO_MORE, E_CLOSE(SNAPSHOT)}, 4, 0,
     {100}, {"explorer.exe"}, 1},
    {"iterator: entries in the snapshot's order",
     {E_SNAPSHOT_OK, E_FIRST(10, "init.exe"), E_NEXT(20, "svchost.exe"), E_NEXT(30, "explorer.exe"),
      E_NO_MORE, E_CLOSE(SNAPSHOT)},
     6, 0, {10, 20, 30}, {"init.exe", "svchost.exe", "explorer.exe"}, 3},
    {"iterator: consumer stops early, snapshot still closed",
     {E_SNAPSHOT_OK, E_FIRST(10, "init.exe"), E_CLOSE(SNAPSHOT)}, 3, 1, {10}, {"init.exe"}, 1},
    {"iterator: fields reach the consumer", {E_SNAPSHOT_OK, E_FIRST(PID, "vmmem.exe"), E_NO_MORE, E_CLOSE(SNAPSHOT)},
     4, 0, {PID}, {"vmmem.exe"}, 1},
    {"iterator: no snapshot, no entries", {E_SNAPSHOT(VMU_WIN_FAILED, 0, "denied")}, 1, 0, {0}, {NULL}, 0},
};

static void test_iterator(void **state)
{
    const iter_case *c = *state;
    fake_api f;
    fake_init(&f, c->calls, c->call_count);
    log_capture cap;
    capture_start(&cap, VMU_LEVEL_TRACE);
    vmu_process_iter iter;
    vmu_process_iter_init(&iter, &f.api, cap.logger);
    vmu_process_entry entry;
    size_t seen = 0;
    int rc;
    while ((rc = vmu_process_iter_next(&iter, &entry, NULL)) == 1) {
        assert_true(seen < c->entry_count);
        assert_int_equal(entry.process_id, c->pids[seen]);
        assert_int_equal(entry.exe_file_len, strlen(c->names[seen]));
        assert_memory_equal(entry.exe_file, c->names[seen], entry.exe_file_len);
        seen++;
        if (c->break_after && seen >= c->break_after)
            break;
    }
    assert_int_equal(vmu_process_iter_close(&iter, NULL), 0);
    assert_int_equal(vmu_process_iter_close(&iter, NULL), 0); /* again: nothing to do */
    assert_int_equal(vmu_process_iter_next(&iter, &entry, NULL), 0); /* over: no call */
    assert_int_equal(seen, c->entry_count);
    assert_script_done(&f);
    capture_stop(&cap);
}

/* ---- VM IDs --------------------------------------------------------------- */

static void test_vm_id_normalize(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        const char *out; /* NULL: refused */
    } rows[] = {
        {VM_ID, VM_ID_UPPER},
        {VM_ID_UPPER, VM_ID_UPPER},
        {"aBcDeF01-2345-6789-AbCd-Ef0123456789", "ABCDEF01-2345-6789-ABCD-EF0123456789"},
        {"00000000-0000-0000-0000-000000000000", "00000000-0000-0000-0000-000000000000"},
        {"{12345678-1234-5678-1234-56789abcdef0}", NULL},
        {"12345678-1234-5678-1234-56789abcdef", NULL},
        {"12345678-1234-5678-1234-56789abcdef00", NULL},
        {"12345678123456781234-56789abcdef0xxxx", NULL},
        {"12345678-1234-5678-1234_56789abcdef0", NULL},
        {"1234567g-1234-5678-1234-56789abcdef0", NULL},
        {"12345678-1234-5678-1234-56789abcdef ", NULL},
        {"", NULL},
    };
    for (size_t i = 0; i < ARRAY_LEN(rows); i++) {
        char out[37];
        int rc = vmu_vm_id_normalize(rows[i].in, strlen(rows[i].in), out);
        if (rows[i].out) {
            assert_int_equal(rc, 0);
            assert_string_equal(out, rows[i].out);
        } else {
            assert_int_equal(rc, -1);
        }
    }
    char out[37];
    assert_int_equal(vmu_vm_id_normalize("12345678-1234-5678-1234-56789abcdef0", 35, out), -1);
    assert_int_equal(vmu_vm_id_normalize(NULL, 36, out), -1);
    static const char with_nul[] = "12345678-1234-5678-1234-56789abc\0ef0";
    assert_int_equal(vmu_vm_id_normalize(with_nul, sizeof with_nul - 1, out), -1);
}

static void test_lookup_null_arguments(void **state)
{
    (void)state;
    vmu_win_handle h = 5;
    vmu_err err;
    assert_int_equal(vmu_lookup_vmmem(NULL, VM_ID, NULL, &h, &err), VMU_WIN_FAILED);
    assert_int_equal(h, 0);
    fake_api f;
    fake_init(&f, NULL, 0);
    assert_int_equal(vmu_lookup_vmmem(&f.api, NULL, NULL, &h, &err), VMU_WIN_FAILED);
    assert_int_equal(vmu_lookup_vmmem(&f.api, VM_ID, NULL, NULL, NULL), VMU_WIN_FAILED);
    assert_script_done(&f);
}

int main(void)
{
    struct CMUnitTest tests[ARRAY_LEN(lookup_cases) + ARRAY_LEN(iter_cases) + 8];
    size_t n = 0;
    for (size_t i = 0; i < ARRAY_LEN(lookup_cases); i++)
        tests[n++] = (struct CMUnitTest)ROW_TEST(test_lookup, lookup_cases[i]);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_lookup_logs);
    for (size_t i = 0; i < ARRAY_LEN(iter_cases); i++)
        tests[n++] = (struct CMUnitTest)ROW_TEST(test_iterator, iter_cases[i]);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_vm_id_normalize);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_lookup_null_arguments);
    return _cmocka_run_group_tests("vmmem", tests, n, NULL, NULL);
}
