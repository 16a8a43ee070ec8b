/* Lua surface of the log system: set_log_level, get_log_level,
 * set_log_format, set_log_output, set_log_handler, and the helpers that turn
 * log records and field values into Lua tables for the other bindings.
 *
 * Everything belongs to the state's own logger (vmu_lua_logger): two Lua
 * states never share a level, an output or a handler.
 *
 * The handler runs on a thread of its own, created once per state and
 * anchored in the registry, because a record can be logged from inside any
 * coroutine while the C code that logs knows only the state it was called
 * with. It runs under lua_pcall, so an error in it never unwinds through the
 * C code that logged. If it raises, the error is reported on stderr the way
 * logrus reports a failing hook ("Failed to fire log handler: ...") and the
 * record is written to the log output instead, so it is not lost. A record
 * logged while the handler is running (the handler calling a function that
 * warns) also goes to the log output, rather than recursing. */
#include <stdio.h>
#include <string.h>

#include "lua_vmutils.h"

/* Registry keys: the addresses of these. */
static const char output_key = 'o';  /* the file handle records are written to */
static const char handler_key = 'h'; /* the handler function, or nil */
static const char runner_key = 'r';  /* the handler_runner userdata */

/* Per-state handler machinery, a userdata whose user value is the thread. */
typedef struct handler_runner {
    lua_State *thread; /* where handlers run */
    vmu_logger *logger;
    int running; /* nesting count of handler calls in progress */
} handler_runner;

/* ---- records and values as Lua values ---- */

static void push_value_at(lua_State *L, const vmu_value *v, int level);

static void push_time_text(lua_State *L, const vmu_time *t, bool nano)
{
    /* Formatted outside Lua first: a memory error in lua_pushlstring must
     * not leak the buffer. */
    char text[96];
    size_t len = 0;
    vmu_buf b;
    vmu_buf_init(&b);
    if (vmu_format_time_rfc3339(t, nano, &b) == 0 && b.len < sizeof text) {
        memcpy(text, b.data, b.len);
        len = b.len;
    }
    vmu_buf_free(&b);
    if (len == 0)
        luaL_error(L, "not enough memory");
    lua_pushlstring(L, text, len);
}

/* Object members in input order: a repeated key keeps its last value, as
 * the formatters (and a Go map) do. */
static void push_members(lua_State *L, const vmu_field *members, size_t count, int level)
{
    if (!members)
        count = 0;
    lua_createtable(L, 0, count > INT32_MAX ? INT32_MAX : (int)count);
    for (size_t i = 0; i < count; i++) {
        lua_pushlstring(L, members[i].key ? members[i].key : "",
                        members[i].key ? members[i].key_len : 0);
        push_value_at(L, &members[i].value, level + 1);
        lua_rawset(L, -3);
    }
}

static void push_value_at(lua_State *L, const vmu_value *v, int level)
{
    luaL_checkstack(L, 3, "log value");
    switch (v->kind) {
    case VMU_VALUE_NULL:
        lua_pushlightuserdata(L, NULL); /* vmutils.null (== cjson.null) */
        return;
    case VMU_VALUE_BOOL:
        lua_pushboolean(L, v->as.b);
        return;
    case VMU_VALUE_INT:
        lua_pushinteger(L, (lua_Integer)v->as.i);
        return;
    case VMU_VALUE_UINT:
        /* Past 2^63-1 a Lua integer cannot hold it: the nearest float. */
        if (v->as.u <= (uint64_t)LUA_MAXINTEGER)
            lua_pushinteger(L, (lua_Integer)v->as.u);
        else
            lua_pushnumber(L, (lua_Number)v->as.u);
        return;
    case VMU_VALUE_FLOAT:
        lua_pushnumber(L, (lua_Number)v->as.f);
        return;
    case VMU_VALUE_STRING:
        lua_pushlstring(L, v->as.str.ptr ? v->as.str.ptr : "", v->as.str.ptr ? v->as.str.len : 0);
        return;
    case VMU_VALUE_TIME:
        push_time_text(L, &v->as.time, true);
        return;
    case VMU_VALUE_ARRAY: {
        if (level > VMU_LOG_MAX_DEPTH)
            luaL_error(L, "log value nested deeper than %d levels", VMU_LOG_MAX_DEPTH);
        const vmu_value *items = v->as.array.items;
        size_t count = items ? v->as.array.count : 0;
        lua_createtable(L, count > INT32_MAX ? INT32_MAX : (int)count, 0);
        for (size_t i = 0; i < count; i++) {
            push_value_at(L, &items[i], level + 1);
            lua_rawseti(L, -2, (lua_Integer)i + 1);
        }
        return;
    }
    case VMU_VALUE_OBJECT:
        if (level > VMU_LOG_MAX_DEPTH)
            luaL_error(L, "log value nested deeper than %d levels", VMU_LOG_MAX_DEPTH);
        push_members(L, v->as.object.members, v->as.object.count, level);
        return;
    }
    lua_pushlightuserdata(L, NULL);
}

void vmu_lua_push_value(lua_State *L, const vmu_value *v)
{
    /* A field's value sits at level 2, the record being level 1. */
    push_value_at(L, v, 2);
}

void vmu_lua_push_record(lua_State *L, const vmu_log_record *r)
{
    luaL_checkstack(L, 4, "log record");
    lua_createtable(L, 0, 4);
    push_time_text(L, &r->time, false);
    lua_setfield(L, -2, "time");
    lua_pushstring(L, vmu_log_level_name(r->level));
    lua_setfield(L, -2, "level");
    lua_pushlstring(L, r->msg ? r->msg : "", r->msg ? r->msg_len : 0);
    lua_setfield(L, -2, "msg");
    push_members(L, r->fields, r->field_count, 1);
    lua_setfield(L, -2, "fields");
}

/* ---- the handler ---- */

/* Protected part of a handler call, on the runner's thread: builds the
 * record table (which may run out of memory) and calls the handler. */
static int call_handler(lua_State *T)
{
    const vmu_log_record *record = lua_touserdata(T, 1);
    lua_rawgetp(T, LUA_REGISTRYINDEX, &handler_key);
    if (!lua_isfunction(T, -1))
        return 0; /* removed by an earlier handler call */
    vmu_lua_push_record(T, record);
    lua_call(T, 1, 0);
    return 0;
}

static void handler_sink(void *user, const vmu_log_record *record)
{
    handler_runner *runner = user;
    lua_State *T = runner->thread;
    if (runner->running > 0 || !lua_checkstack(T, 3)) {
        vmu_logger_write_record(runner->logger, record);
        return;
    }
    int top = lua_gettop(T);
    runner->running++;
    lua_pushcfunction(T, call_handler);
    lua_pushlightuserdata(T, (void *)record);
    int status = lua_pcall(T, 1, 0, 0);
    runner->running--;
    if (status != LUA_OK) {
        const char *err = lua_tostring(T, -1);
        fprintf(stderr, "Failed to fire log handler: %s\n",
                err ? err : "(error object is not a string)");
        fflush(stderr);
        vmu_logger_write_record(runner->logger, record);
    }
    lua_settop(T, top);
}

/* The state's runner, created on first use and kept for the state's life
 * (a handler may replace itself while running on the thread). */
static handler_runner *state_runner(lua_State *L, vmu_logger *logger)
{
    lua_rawgetp(L, LUA_REGISTRYINDEX, &runner_key);
    handler_runner *runner = lua_touserdata(L, -1);
    lua_pop(L, 1);
    if (runner)
        return runner;
    runner = lua_newuserdatauv(L, sizeof *runner, 1);
    runner->thread = NULL;
    runner->logger = logger;
    runner->running = 0;
    runner->thread = lua_newthread(L);
    lua_setiuservalue(L, -2, 1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &runner_key);
    return runner;
}

/* ---- the functions ---- */

static int l_set_log_level(lua_State *L)
{
    size_t len;
    const char *name = luaL_checklstring(L, 1, &len);
    vmu_log_level level;
    if (vmu_log_level_parse(name, len, &level) != 0) {
        /* logrus.ParseLevel's message, the name in %q form. */
        vmu_buf *quoted = vmu_lua_push_buf_box(L); /* freed by __gc if a push raises */
        if (vmu_format_go_quote(name, len, quoted) != 0)
            return luaL_error(L, "not enough memory");
        lua_pushliteral(L, "not a valid logrus Level: ");
        lua_pushlstring(L, quoted->data, quoted->len);
        vmu_buf_free(quoted);
        lua_concat(L, 2);
        return luaL_argerror(L, 1, lua_tostring(L, -1));
    }
    vmu_logger_set_level(vmu_lua_logger(L), level);
    return 0;
}

static int l_get_log_level(lua_State *L)
{
    lua_pushstring(L, vmu_log_level_name(vmu_logger_get_level(vmu_lua_logger(L))));
    return 1;
}

static int l_set_log_format(lua_State *L)
{
    static const char *const names[] = {"text", "json", NULL};
    static const vmu_log_format formats[] = {VMU_LOG_TEXT, VMU_LOG_JSON};
    int which = luaL_checkoption(L, 1, NULL, names);
    vmu_logger_set_format(vmu_lua_logger(L), formats[which]);
    return 0;
}

/* Writes to a Lua file handle, which Lua code may close at any time: a
 * closed handle fails the write instead of touching a freed FILE. */
static int write_to_lua_file(void *user, const char *data, size_t len)
{
    luaL_Stream *stream = user;
    if (!stream->closef || !stream->f)
        return -1;
    return fwrite(data, 1, len, stream->f) == len ? 0 : -1;
}

static int l_set_log_output(lua_State *L)
{
    luaL_Stream *stream = luaL_checkudata(L, 1, LUA_FILEHANDLE);
    if (!stream->closef)
        return luaL_argerror(L, 1, "attempt to use a closed file");
    vmu_logger *logger = vmu_lua_logger(L);
    lua_settop(L, 1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &output_key); /* keeps the handle alive */
    vmu_logger_set_writer(logger, write_to_lua_file, stream);
    return 0;
}

static int l_set_log_handler(lua_State *L)
{
    luaL_checkany(L, 1);
    vmu_logger *logger = vmu_lua_logger(L);
    if (lua_isnil(L, 1)) {
        vmu_logger_set_sink(logger, NULL, NULL);
        lua_pushnil(L);
        lua_rawsetp(L, LUA_REGISTRYINDEX, &handler_key);
        return 0;
    }
    luaL_checktype(L, 1, LUA_TFUNCTION);
    handler_runner *runner = state_runner(L, logger);
    lua_settop(L, 1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &handler_key);
    vmu_logger_set_sink(logger, handler_sink, runner);
    return 0;
}

static const luaL_Reg log_functions[] = {
    {"set_log_level", l_set_log_level},   {"get_log_level", l_get_log_level},
    {"set_log_format", l_set_log_format}, {"set_log_output", l_set_log_output},
    {"set_log_handler", l_set_log_handler}, {NULL, NULL},
};

void vmu_lua_register_log(lua_State *L) { luaL_setfuncs(L, log_functions, 0); }
