/* Lua surface of the vmmem lookup: lookup_vmmem(vm_id, api) and
 * process_entries(api), over core/vmmem.c. The api is a Lua object whose
 * methods (called with ':') stand for hcsshim's internal/windows.API; this
 * file makes it a vmu_win_api. Handles and SIDs stay Lua values: the core
 * sees small integers naming them in a scratch table. Every method runs
 * under lua_pcall, so a method that raises (or returns nonsense) becomes a
 * VMU_WIN_ABORT: the core closes the snapshot, then the error is re-raised. */
#include <string.h>

#include "lua_vmutils.h"

#define ITER_METATABLE "vmutils.process_entries"

typedef struct lua_api {
    vmu_win_api api;
    lua_State *L;
    int object;  /* stack index of the api object */
    int scratch; /* stack index of the scratch table */
    lua_Integer next_id;
    bool raised; /* scratch.raised holds the first error raised */
} lua_api;

/* What a method hands back, and how to read it. */
typedef enum result_kind {
    RESULT_IGNORED, /* close_handle, close_token: Go drops their errors */
    RESULT_VALUE,   /* a handle, a token or a SID: any value but nil/false */
    RESULT_ENTRY,   /* { process_id = n, exe_file = "name" } */
    RESULT_ACCOUNT  /* account, domain, type */
} result_kind;

typedef enum arg_kind { ARG_INTEGER, ARG_BOOLEAN, ARG_STRING, ARG_VALUE } arg_kind;

typedef struct method_arg {
    arg_kind kind;
    lua_Integer integer; /* ARG_INTEGER, ARG_BOOLEAN; ARG_VALUE: the scratch id */
    const char *string;
} method_arg;

typedef struct method_call {
    lua_api *ctx;
    const char *name;
    int nargs;
    method_arg args[3];
    result_kind result;
    /* results */
    int status;
    lua_Integer value_id;
    vmu_process_entry *entry;
    vmu_win_text *account;
    vmu_win_text *domain;
    uint32_t *account_type;
    vmu_err *err;
} method_call;

static int bad_result(lua_State *L, const method_call *c, int idx, const char *expected)
{
    return luaL_error(L, "lookup_vmmem: api:%s returned %s where %s is due", c->name,
                      luaL_typename(L, idx), expected);
}

/* Anchors a returned string in the scratch table under a key the table was
 * created with, so storing it allocates nothing; returns it. */
static const char *anchor_string(lua_State *L, int idx, const char *key, size_t *len)
{
    lua_pushvalue(L, idx);
    lua_setfield(L, 2, key);
    lua_getfield(L, 2, key);
    const char *s = lua_tolstring(L, -1, len);
    lua_pop(L, 1);
    return s;
}

static void read_entry(lua_State *L, method_call *c, int idx)
{
    const char *due = "a table { process_id = n, exe_file = \"name\" }";
    if (!lua_istable(L, idx))
        bad_result(L, c, idx, due);
    int isint = 0;
    lua_getfield(L, idx, "process_id");
    lua_Integer pid = lua_tointegerx(L, -1, &isint);
    if (!isint || pid < 0 || pid > (lua_Integer)UINT32_MAX)
        luaL_error(L, "lookup_vmmem: api:%s returned a process_id that is not a uint32 (%s)",
                   c->name, luaL_typename(L, -1));
    if (lua_getfield(L, idx, "exe_file") != LUA_TSTRING)
        luaL_error(L, "lookup_vmmem: api:%s returned an exe_file that is not a string (%s)",
                   c->name, luaL_typename(L, -1));
    c->entry->process_id = (uint32_t)pid;
    c->entry->exe_file = anchor_string(L, -1, "exe_file", &c->entry->exe_file_len);
    lua_pop(L, 2);
}

static void read_account(lua_State *L, method_call *c, int first)
{
    if (lua_type(L, first) != LUA_TSTRING)
        bad_result(L, c, first, "an account name string");
    if (lua_type(L, first + 1) != LUA_TSTRING)
        bad_result(L, c, first + 1, "a domain name string");
    int isint = 0;
    lua_Integer type = lua_tointegerx(L, first + 2, &isint);
    if (!lua_isnil(L, first + 2) && (!isint || type < 0 || type > (lua_Integer)UINT32_MAX))
        bad_result(L, c, first + 2, "an account type uint32 or nil");
    c->account->data = anchor_string(L, first, "account", &c->account->len);
    c->domain->data = anchor_string(L, first + 1, "domain", &c->domain->len);
    *c->account_type = isint ? (uint32_t)type : 0;
}

/* Runs under lua_pcall: 1 = api object, 2 = scratch table, 3 = the call. */
static int call_method(lua_State *L)
{
    method_call *c = lua_touserdata(L, 3);
    int type = lua_getfield(L, 1, c->name);
    if (type == LUA_TNIL)
        return luaL_error(L, "lookup_vmmem: the api object has no method '%s'", c->name);
    if (type != LUA_TFUNCTION && luaL_getmetafield(L, -1, "__call") == LUA_TNIL)
        return luaL_error(L, "lookup_vmmem: the api object's '%s' is a %s, not a method", c->name,
                          luaL_typename(L, -1));
    lua_settop(L, 4); /* the method alone: drop a __call metafield pushed above */
    lua_pushvalue(L, 1);
    for (int i = 0; i < c->nargs; i++) {
        const method_arg *a = &c->args[i];
        switch (a->kind) {
        case ARG_INTEGER:
            lua_pushinteger(L, a->integer);
            break;
        case ARG_BOOLEAN:
            lua_pushboolean(L, (int)a->integer);
            break;
        case ARG_STRING:
            lua_pushstring(L, a->string);
            break;
        case ARG_VALUE:
            lua_rawgeti(L, 2, a->integer);
            break;
        }
    }
    lua_call(L, 1 + c->nargs, 3);
    int first = lua_gettop(L) - 2;
    c->status = VMU_WIN_OK;
    if (c->result == RESULT_IGNORED)
        return 0;
    if (!lua_toboolean(L, first)) {
        const char *msg = lua_isnil(L, first + 1) ? NULL : luaL_tolstring(L, first + 1, NULL);
        vmu_err_set(c->err, "%s", msg ? msg : "the call failed");
        c->status = VMU_WIN_FAILED;
        return 0;
    }
    switch (c->result) {
    case RESULT_VALUE:
        c->value_id = ++c->ctx->next_id;
        lua_pushvalue(L, first);
        lua_rawseti(L, 2, c->value_id);
        break;
    case RESULT_ENTRY:
        read_entry(L, c, first);
        break;
    case RESULT_ACCOUNT:
        read_account(L, c, first);
        break;
    case RESULT_IGNORED:
        break;
    }
    return 0;
}

static int invoke(method_call *c)
{
    lua_api *ctx = c->ctx;
    lua_State *L = ctx->L;
    lua_pushcfunction(L, call_method);
    lua_pushvalue(L, ctx->object);
    lua_pushvalue(L, ctx->scratch);
    lua_pushlightuserdata(L, c);
    if (lua_pcall(L, 3, 0, 0) == LUA_OK)
        return c->status;
    /* Keep the first error: the one that stopped the lookup. */
    if (!ctx->raised) {
        ctx->raised = true;
        vmu_err_set(c->err, "api:%s raised: %s", c->name,
                    lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : luaL_typename(L, -1));
        lua_setfield(L, ctx->scratch, "raised");
    } else {
        lua_pop(L, 1);
    }
    return VMU_WIN_ABORT;
}

static void call_init(method_call *c, void *ctx, const char *name, result_kind result,
                      vmu_err *err)
{
    memset(c, 0, sizeof *c);
    c->ctx = ctx;
    c->name = name;
    c->result = result;
    c->err = err;
}

static void add_arg(method_call *c, arg_kind kind, lua_Integer integer, const char *string)
{
    c->args[c->nargs].kind = kind;
    c->args[c->nargs].integer = integer;
    c->args[c->nargs].string = string;
    c->nargs++;
}

static int store_value(method_call *c, vmu_win_handle *out)
{
    int rc = invoke(c);
    if (rc == VMU_WIN_OK)
        *out = (vmu_win_handle)c->value_id;
    return rc;
}

static int lua_create_toolhelp32_snapshot(void *ctx, uint32_t flags, uint32_t process_id,
                                          vmu_win_handle *snapshot, vmu_err *err)
{
    method_call c;
    call_init(&c, ctx, "create_toolhelp32_snapshot", RESULT_VALUE, err);
    add_arg(&c, ARG_INTEGER, flags, NULL);
    add_arg(&c, ARG_INTEGER, process_id, NULL);
    return store_value(&c, snapshot);
}

static int close_value(void *ctx, const char *name, vmu_win_handle handle, vmu_err *err)
{
    method_call c;
    call_init(&c, ctx, name, RESULT_IGNORED, err);
    add_arg(&c, ARG_VALUE, (lua_Integer)handle, NULL);
    return invoke(&c);
}

static int lua_close_handle(void *ctx, vmu_win_handle handle, vmu_err *err)
{
    return close_value(ctx, "close_handle", handle, err);
}

static int lua_close_token(void *ctx, vmu_win_handle token, vmu_err *err)
{
    return close_value(ctx, "close_token", token, err);
}

static int process32(void *ctx, const char *name, vmu_win_handle snapshot,
                     vmu_process_entry *entry, vmu_err *err)
{
    method_call c;
    call_init(&c, ctx, name, RESULT_ENTRY, err);
    add_arg(&c, ARG_VALUE, (lua_Integer)snapshot, NULL);
    c.entry = entry;
    return invoke(&c);
}

static int lua_process32_first(void *ctx, vmu_win_handle snapshot, vmu_process_entry *entry,
                               vmu_err *err)
{
    return process32(ctx, "process32_first", snapshot, entry, err);
}

static int lua_process32_next(void *ctx, vmu_win_handle snapshot, vmu_process_entry *entry,
                              vmu_err *err)
{
    return process32(ctx, "process32_next", snapshot, entry, err);
}

static int lua_open_process(void *ctx, uint32_t desired_access, bool inherit_handle,
                            uint32_t process_id, vmu_win_handle *process, vmu_err *err)
{
    method_call c;
    call_init(&c, ctx, "open_process", RESULT_VALUE, err);
    add_arg(&c, ARG_INTEGER, desired_access, NULL);
    add_arg(&c, ARG_BOOLEAN, inherit_handle, NULL);
    add_arg(&c, ARG_INTEGER, process_id, NULL);
    return store_value(&c, process);
}

static int lua_open_process_token(void *ctx, vmu_win_handle process, uint32_t desired_access,
                                  vmu_win_handle *token, vmu_err *err)
{
    method_call c;
    call_init(&c, ctx, "open_process_token", RESULT_VALUE, err);
    add_arg(&c, ARG_VALUE, (lua_Integer)process, NULL);
    add_arg(&c, ARG_INTEGER, desired_access, NULL);
    return store_value(&c, token);
}

static int lua_get_token_user(void *ctx, vmu_win_handle token, vmu_win_sid *sid, vmu_err *err)
{
    method_call c;
    call_init(&c, ctx, "get_token_user", RESULT_VALUE, err);
    add_arg(&c, ARG_VALUE, (lua_Integer)token, NULL);
    vmu_win_handle id = 0;
    int rc = store_value(&c, &id);
    sid->ref = id;
    return rc;
}

static int lua_lookup_account(void *ctx, const vmu_win_sid *sid, const char *system,
                              vmu_win_text *account, vmu_win_text *domain, uint32_t *account_type,
                              vmu_err *err)
{
    method_call c;
    call_init(&c, ctx, "lookup_account", RESULT_ACCOUNT, err);
    add_arg(&c, ARG_VALUE, (lua_Integer)sid->ref, NULL);
    add_arg(&c, ARG_STRING, 0, system);
    c.account = account;
    c.domain = domain;
    c.account_type = account_type;
    return invoke(&c);
}

/* Binds the api object and a fresh scratch table, both at absolute stack
 * indices of the running C function. */
static void lua_api_init(lua_api *ctx, lua_State *L, int object, int scratch)
{
    memset(ctx, 0, sizeof *ctx);
    ctx->api.ctx = ctx;
    ctx->api.create_toolhelp32_snapshot = lua_create_toolhelp32_snapshot;
    ctx->api.close_handle = lua_close_handle;
    ctx->api.process32_first = lua_process32_first;
    ctx->api.process32_next = lua_process32_next;
    ctx->api.open_process = lua_open_process;
    ctx->api.open_process_token = lua_open_process_token;
    ctx->api.get_token_user = lua_get_token_user;
    ctx->api.lookup_account = lua_lookup_account;
    ctx->api.close_token = lua_close_token;
    ctx->L = L;
    ctx->object = object;
    ctx->scratch = scratch;
}

static void push_scratch(lua_State *L)
{
    static const char *const keys[] = {"raised", "exe_file", "account", "domain"};
    lua_createtable(L, 8, 4);
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        lua_pushboolean(L, 0);
        lua_setfield(L, -2, keys[i]);
    }
}

static void check_api(lua_State *L, int arg)
{
    int type = lua_type(L, arg);
    if (type != LUA_TTABLE && type != LUA_TUSERDATA)
        luaL_typeerror(L, arg, "API object");
}

static int raise_stored(lua_State *L, int scratch)
{
    lua_getfield(L, scratch, "raised");
    return lua_error(L);
}

#ifdef _WIN32
static int lookup_with_system_api(lua_State *L, const char *vm_id)
{
    vmu_win_api *api = vmu_win32_api_new();
    if (!api)
        return luaL_error(L, "not enough memory");
    vmu_win_handle handle = 0;
    vmu_err err;
    int rc = vmu_lookup_vmmem(api, vm_id, vmu_lua_logger(L), &handle, &err);
    vmu_win32_api_free(api);
    if (rc != VMU_WIN_OK)
        return vmu_lua_fail(L, err.msg);
    lua_pushinteger(L, (lua_Integer)handle);
    return 1;
}
#endif

/* lookup_vmmem(vm_id [, api]) -> handle, or nil, err */
static int l_lookup_vmmem(lua_State *L)
{
    size_t len;
    const char *given = luaL_checklstring(L, 1, &len);
    char vm_id[37];
    if (vmu_vm_id_normalize(given, len, vm_id) != 0)
        return luaL_argerror(L, 1, "GUID string expected (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)");
    if (lua_isnoneornil(L, 2)) {
#ifdef _WIN32
        return lookup_with_system_api(L, vm_id);
#else
        return luaL_argerror(L, 2, "API object expected (the real Win32 API exists only on Windows)");
#endif
    }
    check_api(L, 2);
    lua_settop(L, 2);
    push_scratch(L);
    lua_api ctx;
    lua_api_init(&ctx, L, 2, 3);
    vmu_win_handle handle = 0;
    vmu_err err;
    int rc = vmu_lookup_vmmem(&ctx.api, vm_id, vmu_lua_logger(L), &handle, &err);
    if (rc == VMU_WIN_ABORT)
        return raise_stored(L, 3);
    if (rc != VMU_WIN_OK)
        return vmu_lua_fail(L, err.msg);
    lua_rawgeti(L, 3, (lua_Integer)handle);
    return 1;
}

/* process_entries(api): Go's allProcessEntries for a generic for. The
 * iterator is also the loop's to-be-closed value, so leaving the loop early
 * (break, error) closes the snapshot, as the Go iterator does. */
typedef struct entry_iter {
    lua_api ctx;
    vmu_process_iter iter;
    /* A step or close is under way: ctx points at that call's thread and
     * stack, which an api method could otherwise repoint (stepping the
     * iterator again, say from a coroutine) and leave dangling once that
     * thread is collected. Re-entry is refused instead. */
    bool running;
} entry_iter;

/* Points the iterator at this call's stack: uservalues 1 and 2 (the api
 * object and the scratch table) pushed at the top. The caller calls
 * iter_leave before it returns or raises. */
static entry_iter *iter_enter(lua_State *L, int idx)
{
    entry_iter *it = luaL_checkudata(L, idx, ITER_METATABLE);
    if (it->running)
        luaL_error(L, "process_entries: the iterator is already running (stepped again from "
                      "inside one of its api methods)");
    lua_getiuservalue(L, idx, 1);
    lua_getiuservalue(L, idx, 2);
    it->ctx.L = L;
    it->ctx.object = lua_gettop(L) - 1;
    it->ctx.scratch = lua_gettop(L);
    it->running = true;
    return it;
}

/* The thread is not kept past the call: nothing but a running call may
 * reach it. The api methods run under lua_pcall, so the core's call always
 * returns here. */
static void iter_leave(entry_iter *it)
{
    it->ctx.L = NULL;
    it->ctx.object = 0;
    it->ctx.scratch = 0;
    it->running = false;
}

static int iter_step(lua_State *L)
{
    entry_iter *it = iter_enter(L, 1);
    int scratch = it->ctx.scratch;
    vmu_process_entry entry;
    vmu_err err;
    int rc = vmu_process_iter_next(&it->iter, &entry, &err);
    iter_leave(it);
    if (rc == VMU_WIN_ABORT)
        return raise_stored(L, scratch);
    if (rc == 0)
        return 0;
    lua_createtable(L, 0, 2);
    lua_pushinteger(L, entry.process_id);
    lua_setfield(L, -2, "process_id");
    lua_pushlstring(L, entry.exe_file_len ? entry.exe_file : "", entry.exe_file_len);
    lua_setfield(L, -2, "exe_file");
    return 1;
}

static int iter_close(lua_State *L)
{
    entry_iter *it = iter_enter(L, 1);
    int scratch = it->ctx.scratch;
    vmu_err err;
    int rc = vmu_process_iter_close(&it->iter, &err);
    iter_leave(it);
    if (rc == VMU_WIN_ABORT)
        return raise_stored(L, scratch);
    return 0;
}

static int l_process_entries(lua_State *L)
{
    check_api(L, 1);
    lua_settop(L, 1);
    lua_pushcfunction(L, iter_step);
    entry_iter *it = lua_newuserdatauv(L, sizeof *it, 2);
    memset(it, 0, sizeof *it);
    lua_pushvalue(L, 1);
    lua_setiuservalue(L, -2, 1);
    push_scratch(L);
    lua_setiuservalue(L, -2, 2);
    if (luaL_newmetatable(L, ITER_METATABLE)) {
        lua_pushcfunction(L, iter_close);
        lua_setfield(L, -2, "__close");
        lua_createtable(L, 0, 1);
        lua_pushcfunction(L, iter_close);
        lua_setfield(L, -2, "close");
        lua_setfield(L, -2, "__index");
    }
    lua_setmetatable(L, -2);
    lua_api_init(&it->ctx, NULL, 0, 0);
    vmu_process_iter_init(&it->iter, &it->ctx.api, vmu_lua_logger(L));
    lua_pushnil(L);
    lua_pushvalue(L, -2);
    return 4;
}

void vmu_lua_register_vmmem(lua_State *L)
{
    static const luaL_Reg functions[] = {
        {"lookup_vmmem", l_lookup_vmmem},
        {"process_entries", l_process_entries},
        {NULL, NULL},
    };
    luaL_setfuncs(L, functions, 0);
}
