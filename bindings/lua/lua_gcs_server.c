/* Lua surface of the GCS log service: gcs_server, whose loop a Lua host
 * runs with srv:poll(), each record handed to a Lua handler.
 *
 * The server lives in userdata with __gc and __close. Records are logged
 * from inside vmu_gcs_server_poll, in C; the handler runs under lua_pcall
 * there, so no Lua error unwinds through the loop. A handler that raises
 * is reported on stderr as the state's log handler is ("Failed to fire log
 * handler: ...") and its record goes to the state's log output instead,
 * so nothing is lost. The server's methods cannot be called from its own
 * handler (they would change the loop under its feet). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "lua_vmutils.h"

#define SERVER_META "vmutils.gcs_server"

typedef struct server_box {
    vmu_gcs_server *server;
    vmu_logger *logger; /* with a handler: the server's own, whose sink calls it */
    lua_State *L;       /* the state running poll, during the call */
    int handler_ref;
    bool busy;
} server_box;

/* ---- records to the handler ---- */

static int call_handler(lua_State *L)
{
    const vmu_log_record *record = lua_touserdata(L, 2);
    lua_pushvalue(L, 1);
    vmu_lua_push_record(L, record);
    lua_call(L, 1, 0);
    return 0;
}

static void handler_sink(void *user, const vmu_log_record *record)
{
    server_box *box = user;
    lua_State *L = box->L;
    if (!L || !lua_checkstack(L, 4)) {
        vmu_logger_write_record(L ? vmu_lua_logger(L) : NULL, record);
        return;
    }
    int top = lua_gettop(L);
    lua_pushcfunction(L, call_handler);
    lua_rawgeti(L, LUA_REGISTRYINDEX, box->handler_ref);
    lua_pushlightuserdata(L, (void *)record);
    if (lua_pcall(L, 2, 0, 0) != LUA_OK) {
        const char *err = lua_tostring(L, -1);
        fprintf(stderr, "Failed to fire log handler: %s\n",
                err ? err : "(error object is not a string)");
        fflush(stderr);
        vmu_logger_write_record(vmu_lua_logger(L), record);
    }
    lua_settop(L, top);
}

/* ---- arguments ---- */

static server_box *check_server(lua_State *L)
{
    server_box *box = luaL_checkudata(L, 1, SERVER_META);
    if (!box->server)
        luaL_argerror(L, 1, "the server is closed");
    if (box->busy)
        luaL_error(L, "gcs_server: called from its own handler");
    return box;
}

/* opts: nil or { resync = boolean, max_entry_bytes = n } */
static void check_gcs_options(lua_State *L, int arg, vmu_gcs_options *opts)
{
    vmu_gcs_options_init(opts);
    if (lua_isnoneornil(L, arg))
        return;
    luaL_checktype(L, arg, LUA_TTABLE);
    lua_getfield(L, arg, "resync");
    if (!lua_isnil(L, -1)) {
        luaL_argexpected(L, lua_isboolean(L, -1), arg, "resync: boolean");
        opts->resync = lua_toboolean(L, -1);
    }
    lua_pop(L, 1);
    lua_getfield(L, arg, "max_entry_bytes");
    if (!lua_isnil(L, -1))
        opts->max_entry_bytes = (size_t)vmu_lua_check_integer_range(
            L, -1, arg, "max_entry_bytes", 1, (int64_t)VMU_GCS_MAX_ENTRY_BYTES_LIMIT);
    lua_pop(L, 1);
}

static int push_id_or_fail(lua_State *L, int id, const vmu_err *err)
{
    if (id < 0)
        return vmu_lua_fail(L, err->msg);
    lua_pushinteger(L, id);
    return 1;
}

/* ---- methods ---- */

static int l_listen_unix(lua_State *L)
{
    server_box *box = check_server(L);
    const char *path = luaL_checkstring(L, 2);
    const char *vm_id = luaL_checkstring(L, 3);
    vmu_gcs_options opts;
    check_gcs_options(L, 4, &opts);
    vmu_err err = {{0}};
    return push_id_or_fail(L, vmu_gcs_server_listen_unix(box->server, path, vm_id, &opts, &err),
                           &err);
}

static int l_listen_vsock(lua_State *L)
{
    server_box *box = check_server(L);
    uint32_t port = vmu_lua_check_uint32(L, 2);
    vmu_gcs_options opts;
    check_gcs_options(L, 3, &opts);
    vmu_err err = {{0}};
    return push_id_or_fail(L, vmu_gcs_server_listen_vsock(box->server, port, &opts, &err), &err);
}

static int l_close_listener(lua_State *L)
{
    server_box *box = check_server(L);
    lua_Integer id = luaL_checkinteger(L, 2);
    if (id <= 0 || id > INT32_MAX || vmu_gcs_server_close_listener(box->server, (int)id) != 0)
        return vmu_lua_fail(L, "no such listener");
    lua_pushboolean(L, 1);
    return 1;
}

static int l_map_cid(lua_State *L)
{
    server_box *box = check_server(L);
    uint32_t cid = vmu_lua_check_uint32(L, 2);
    size_t len;
    const char *vm_id = luaL_checklstring(L, 3, &len);
    luaL_argcheck(L, len > 0 && strlen(vm_id) == len, 3, "a non-empty VM id without NUL");
    if (vmu_gcs_server_map_cid(box->server, cid, vm_id) != 0)
        return luaL_error(L, "not enough memory");
    lua_pushboolean(L, 1);
    return 1;
}

static int l_cid_vm_id(lua_State *L)
{
    server_box *box = check_server(L);
    const char *vm_id = vmu_gcs_server_cid_vm_id(box->server, vmu_lua_check_uint32(L, 2));
    if (vm_id)
        lua_pushstring(L, vm_id);
    else
        lua_pushnil(L);
    return 1;
}

/* Wires the handler to this state for a call into the loop; the records
 * pass the state's level, as the state's own handler's do. */
static void enter(lua_State *L, server_box *box)
{
    box->L = L;
    box->busy = true;
    if (box->logger)
        vmu_logger_set_level(box->logger, vmu_logger_get_level(vmu_lua_logger(L)));
}

static void leave(server_box *box)
{
    box->L = NULL;
    box->busy = false;
}

static int l_poll(lua_State *L)
{
    server_box *box = check_server(L);
    lua_Integer timeout = luaL_optinteger(L, 2, -1);
    luaL_argcheck(L, timeout >= -1 && timeout <= INT32_MAX, 2, "-1 or a timeout in milliseconds");
    enter(L, box);
    int n = vmu_gcs_server_poll(box->server, (int)timeout);
    int err = errno;
    leave(box);
    if (n < 0)
        return vmu_lua_fail(L, strerror(err));
    lua_pushinteger(L, n);
    return 1;
}

static int l_shutdown(lua_State *L)
{
    server_box *box = check_server(L);
    enter(L, box);
    vmu_gcs_server_shutdown(box->server);
    leave(box);
    lua_pushboolean(L, 1);
    return 1;
}

static int l_stats(lua_State *L)
{
    server_box *box = check_server(L);
    vmu_gcs_server_stats st;
    vmu_gcs_server_get_stats(box->server, &st);
    lua_createtable(L, 0, 7);
    const struct { const char *name; uint64_t value; } items[] = {
        {"accepted", st.accepted}, {"refused", st.refused}, {"reconnects", st.reconnects},
        {"open", st.open},         {"listeners", st.listeners}, {"bytes", st.bytes},
        {"entries", st.entries},
    };
    for (size_t i = 0; i < sizeof items / sizeof items[0]; i++) {
        lua_pushinteger(L, (lua_Integer)items[i].value);
        lua_setfield(L, -2, items[i].name);
    }
    return 1;
}

/* Frees the server (connections finished, their records delivered while
 * the handler can still run) and the handler's reference. */
static void release(lua_State *L, server_box *box, bool collecting)
{
    if (box->server) {
        /* A finalizer keeps the level last set: the state may be closing. */
        if (collecting) {
            box->L = L;
            box->busy = true;
        } else {
            enter(L, box);
        }
        vmu_gcs_server_free(box->server);
        leave(box);
        box->server = NULL;
    }
    vmu_logger_free(box->logger);
    box->logger = NULL;
    luaL_unref(L, LUA_REGISTRYINDEX, box->handler_ref);
    box->handler_ref = LUA_NOREF;
}

static int l_close(lua_State *L)
{
    server_box *box = luaL_checkudata(L, 1, SERVER_META);
    if (box->busy)
        return luaL_error(L, "gcs_server: called from its own handler");
    release(L, box, false);
    return 0;
}

static int l_gc(lua_State *L)
{
    server_box *box = lua_touserdata(L, 1);
    if (!box->busy)
        release(L, box, true);
    return 0;
}

static int l_tostring(lua_State *L)
{
    server_box *box = luaL_checkudata(L, 1, SERVER_META);
    lua_pushfstring(L, "vmutils.gcs_server (%s)", box->server ? "open" : "closed");
    return 1;
}

/* gcs_server([opts]): opts.handler (function(record)), opts.socket_mode,
 * opts.read_bytes. */
static int l_gcs_server(lua_State *L)
{
    vmu_gcs_server_options sopts = {0};
    bool has_handler = false;
    if (!lua_isnoneornil(L, 1)) {
        luaL_checktype(L, 1, LUA_TTABLE);
        lua_getfield(L, 1, "socket_mode");
        if (!lua_isnil(L, -1))
            sopts.socket_mode = (unsigned)vmu_lua_check_integer_range(L, -1, 1, "socket_mode", 1, 0777);
        lua_getfield(L, 1, "read_bytes");
        if (!lua_isnil(L, -1))
            sopts.read_bytes = (size_t)vmu_lua_check_integer_range(L, -1, 1, "read_bytes", 1,
                                                                   (int64_t)1 << 26);
        lua_getfield(L, 1, "handler");
        if (!lua_isnil(L, -1)) {
            luaL_argexpected(L, lua_isfunction(L, -1), 1, "handler: function");
            has_handler = true;
        }
    }
    server_box *box = lua_newuserdatauv(L, sizeof *box, 0);
    memset(box, 0, sizeof *box);
    box->handler_ref = LUA_NOREF;
    luaL_setmetatable(L, SERVER_META);
    vmu_logger *logger = vmu_lua_logger(L);
    if (has_handler) {
        lua_pushvalue(L, -2);
        box->handler_ref = luaL_ref(L, LUA_REGISTRYINDEX);
        box->logger = vmu_logger_new();
        if (!box->logger)
            return luaL_error(L, "not enough memory");
        vmu_logger_set_sink(box->logger, handler_sink, box);
        logger = box->logger;
    }
    vmu_err err = {{0}};
    box->server = vmu_gcs_server_new(logger, &sopts, &err);
    if (!box->server)
        return vmu_lua_fail(L, err.msg);
    return 1;
}

static const luaL_Reg server_methods[] = {
    {"listen_unix", l_listen_unix},
    {"listen_vsock", l_listen_vsock},
    {"close_listener", l_close_listener},
    {"map_cid", l_map_cid},
    {"cid_vm_id", l_cid_vm_id},
    {"poll", l_poll},
    {"shutdown", l_shutdown},
    {"stats", l_stats},
    {"close", l_close},
    {NULL, NULL},
};

void vmu_lua_register_gcs_server(lua_State *L)
{
    vmu_lua_register_class(L, SERVER_META, l_gc, l_tostring, server_methods);
    lua_pushcfunction(L, l_gcs_server);
    lua_setfield(L, -2, "gcs_server");
}
