/* Lua surface of the GCS log pipeline: decode_gcs_log_entry,
 * parse_gcs_logrus and gcs_log_decoder.
 *
 * Decoders live in userdata with __gc, so a Lua error anywhere (a chunk
 * function that raises, memory) never leaks one. Records logged by the
 * handler go through the state's logger, whose Lua handler runs protected;
 * the records a gcs_log_decoder returns are built under lua_pcall from the
 * C sink, so no Lua error unwinds through the C decoder either. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>

#include "lua_vmutils.h"

#define DECODER_META "vmutils.gcs_decoder"
#define READ_CHUNK (64u * 1024u)

/* ---- arguments ---- */

/* opts: nil, or a table with resync (boolean) and max_entry_bytes. */
static void check_options(lua_State *L, int arg, vmu_gcs_options *opts)
{
    vmu_gcs_options_init(opts);
    if (lua_isnoneornil(L, arg))
        return;
    luaL_checktype(L, arg, LUA_TTABLE);
    lua_getfield(L, arg, "resync");
    if (!lua_isnil(L, -1)) {
        if (!lua_isboolean(L, -1))
            luaL_argerror(L, arg,
                          lua_pushfstring(L, "resync: boolean expected, got %s", luaL_typename(L, -1)));
        opts->resync = lua_toboolean(L, -1);
    }
    lua_pop(L, 1);
    lua_getfield(L, arg, "max_entry_bytes");
    if (!lua_isnil(L, -1))
        opts->max_entry_bytes = (size_t)vmu_lua_check_integer_range(
            L, -1, arg, "max_entry_bytes", 1, (int64_t)VMU_GCS_MAX_ENTRY_BYTES_LIMIT);
    lua_pop(L, 1);
}

/* ---- decode_gcs_log_entry ---- */

static int push_entry(lua_State *L)
{
    const vmu_gcs_entry *e = lua_touserdata(L, 1);
    lua_createtable(L, 0, 4);
    vmu_value t = {.kind = VMU_VALUE_TIME};
    t.as.time = e->time;
    vmu_lua_push_value(L, &t);
    lua_setfield(L, -2, "time");
    lua_pushstring(L, vmu_log_level_name(e->level));
    lua_setfield(L, -2, "level");
    lua_pushlstring(L, e->msg, e->msg_len);
    lua_setfield(L, -2, "msg");
    lua_createtable(L, 0, (int)(e->field_count > 1000 ? 1000 : e->field_count));
    for (size_t i = 0; i < e->field_count; i++) {
        lua_pushlstring(L, e->fields[i].key, e->fields[i].key_len);
        vmu_lua_push_value(L, &e->fields[i].value);
        lua_rawset(L, -3);
    }
    lua_setfield(L, -2, "fields");
    return 1;
}

static int push_entry_error(lua_State *L)
{
    const vmu_gcs_entry *e = lua_touserdata(L, 1);
    lua_pushlstring(L, e->error, e->error_len);
    return 1;
}

static int l_decode_gcs_log_entry(lua_State *L)
{
    size_t len;
    const char *json = luaL_checklstring(L, 1, &len);
    vmu_gcs_entry e;
    if (vmu_gcs_decode_entry(json, len, &e, NULL) != 0) {
        /* The message is in the entry's C memory too: copied protected,
         * so that a memory error cannot leak the entry. */
        lua_pushnil(L);
        lua_pushcfunction(L, push_entry_error);
        lua_pushlightuserdata(L, &e);
        int status = lua_pcall(L, 1, 1, 0);
        vmu_gcs_entry_free(&e);
        if (status != LUA_OK)
            return lua_error(L);
        return 2;
    }
    /* The entry's memory is C memory: build the table protected, free, and
     * only then pass an error on. */
    lua_pushcfunction(L, push_entry);
    lua_pushlightuserdata(L, &e);
    int status = lua_pcall(L, 1, 1, 0);
    vmu_gcs_entry_free(&e);
    if (status != LUA_OK)
        return lua_error(L);
    return 1;
}

/* ---- decoders in userdata ---- */

typedef struct decoder_box {
    vmu_gcs_decoder *decoder;
    vmu_logger *logger; /* gcs_log_decoder only: the sink that collects */
    bool finished;
} decoder_box;

static int box_gc(lua_State *L)
{
    decoder_box *box = lua_touserdata(L, 1);
    vmu_gcs_decoder_free(box->decoder);
    box->decoder = NULL;
    vmu_logger_free(box->logger);
    box->logger = NULL;
    return 0;
}

static decoder_box *new_box(lua_State *L)
{
    decoder_box *box = lua_newuserdatauv(L, sizeof *box, 0);
    box->decoder = NULL;
    box->logger = NULL;
    box->finished = false;
    luaL_setmetatable(L, DECODER_META);
    return box;
}

/* ---- parse_gcs_logrus ---- */

static void fail_source(lua_State *L, decoder_box *box, const char *text, size_t len, bool disconnect)
{
    if (vmu_gcs_decoder_fail(box->decoder, text, len, disconnect) != 0)
        luaL_error(L, "not enough memory");
}

static void feed(lua_State *L, decoder_box *box, const char *data, size_t len)
{
    if (vmu_gcs_decoder_feed(box->decoder, data, len) != 0)
        luaL_error(L, "not enough memory");
}

/* A Lua file handle as a source for vmu_gcs_forward, which reacts to each
 * failure as Go does. An error that comes with data is kept for the next
 * call, so the data is decoded first. */
typedef struct file_source {
    FILE *f;
    int pending_errno;
} file_source;

static ptrdiff_t read_stream(void *user, void *buf, size_t cap)
{
    file_source *src = user;
    for (;;) {
        if (src->pending_errno) {
            errno = src->pending_errno;
            src->pending_errno = 0;
            return -1;
        }
        size_t n = fread(buf, 1, cap, src->f);
        if (!ferror(src->f))
            return (ptrdiff_t)n;
        int err = errno;
        clearerr(src->f);
        if (err == EAGAIN || err == EWOULDBLOCK) {
            struct pollfd pfd = {.fd = fileno(src->f), .events = POLLIN};
            poll(&pfd, 1, -1);
            if (n == 0)
                continue;
            return (ptrdiff_t)n;
        }
        if (n == 0) {
            errno = err;
            return -1;
        }
        src->pending_errno = err;
        return (ptrdiff_t)n;
    }
}

/* A function returning chunks: a string, nil at the end, or nil and an
 * error (a failed read, logged as Go logs one; the function is not called
 * again). */
static void read_function(lua_State *L, decoder_box *box, int fn)
{
    for (;;) {
        lua_pushvalue(L, fn);
        lua_call(L, 0, 2);
        if (lua_type(L, -2) == LUA_TSTRING) {
            size_t len;
            const char *chunk = lua_tolstring(L, -2, &len);
            feed(L, box, chunk, len);
            lua_pop(L, 2);
            continue;
        }
        if (!lua_isnil(L, -2))
            luaL_error(L, "the source function returned a %s (a string or nil expected)",
                       luaL_typename(L, -2));
        if (!lua_isnil(L, -1)) {
            size_t len;
            const char *err = luaL_tolstring(L, -1, &len);
            fail_source(L, box, err, len, false);
            lua_pop(L, 1);
        }
        lua_pop(L, 2);
        return;
    }
}

static int l_handler(lua_State *L)
{
    size_t id_len;
    const char *vm_id = lua_tolstring(L, lua_upvalueindex(1), &id_len);
    vmu_gcs_options opts;
    vmu_gcs_options_init(&opts);
    opts.resync = lua_toboolean(L, lua_upvalueindex(2));
    opts.max_entry_bytes = (size_t)lua_tointeger(L, lua_upvalueindex(3));
    luaL_Stream *stream = luaL_testudata(L, 1, LUA_FILEHANDLE);
    int type = lua_type(L, 1);
    if (!stream && type != LUA_TSTRING && type != LUA_TFUNCTION)
        return luaL_typeerror(L, 1, "file, string or function");
    if (stream && !stream->closef)
        return luaL_argerror(L, 1, "attempt to use a closed file");

    /* The decoder sits in a collectable box: a source function may raise. */
    decoder_box *box = new_box(L);
    box->decoder = vmu_gcs_decoder_new(vm_id, id_len, &opts, vmu_lua_logger(L));
    if (!box->decoder)
        return luaL_error(L, "not enough memory");
    if (stream) {
        /* No Lua code runs inside (the state's log handler runs protected). */
        file_source src = {stream->f, 0};
        char name[32];
        snprintf(name, sizeof name, "/dev/fd/%d", fileno(stream->f));
        if (vmu_gcs_decoder_read_from(box->decoder, read_stream, &src, name) != 0)
            return luaL_error(L, "not enough memory");
    } else {
        if (type == LUA_TSTRING) {
            size_t len;
            const char *data = lua_tolstring(L, 1, &len);
            feed(L, box, data, len);
        } else {
            read_function(L, box, 1);
        }
        if (vmu_gcs_decoder_finish(box->decoder) != 0)
            return luaL_error(L, "not enough memory");
    }
    vmu_gcs_stats stats;
    vmu_gcs_decoder_stats(box->decoder, &stats);
    vmu_gcs_decoder_free(box->decoder);
    box->decoder = NULL;
    lua_pop(L, 1);
    lua_createtable(L, 0, 2);
    lua_pushinteger(L, (lua_Integer)stats.entries);
    lua_setfield(L, -2, "entries");
    lua_pushinteger(L, (lua_Integer)stats.bytes);
    lua_setfield(L, -2, "bytes");
    return 1;
}

static int l_parse_gcs_logrus(lua_State *L)
{
    luaL_checklstring(L, 1, NULL);
    vmu_gcs_options opts;
    check_options(L, 2, &opts);
    lua_pushvalue(L, 1);
    lua_pushboolean(L, opts.resync);
    lua_pushinteger(L, (lua_Integer)opts.max_entry_bytes);
    lua_pushcclosure(L, l_handler, 3);
    return 1;
}

/* ---- gcs_log_decoder ---- */

/* Where the collecting sink puts records during one feed or finish. */
typedef struct collector {
    lua_State *L;
    int table;     /* stack index of the result array */
    lua_Integer n; /* records in it */
    int error_ref; /* a Lua error met while building a record, or LUA_NOREF */
} collector;

static int push_record_protected(lua_State *L)
{
    vmu_lua_push_record(L, lua_touserdata(L, 1));
    return 1;
}

static void collect_sink(void *user, const vmu_log_record *record)
{
    collector *c = user;
    lua_State *L = c->L;
    if (c->error_ref != LUA_NOREF)
        return;
    if (!lua_checkstack(L, 4)) {
        c->error_ref = LUA_REFNIL;
        return;
    }
    lua_pushcfunction(L, push_record_protected);
    lua_pushlightuserdata(L, (void *)record);
    if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
        c->error_ref = luaL_ref(L, LUA_REGISTRYINDEX);
        return;
    }
    lua_rawseti(L, c->table, ++c->n);
}

static decoder_box *check_decoder(lua_State *L)
{
    decoder_box *box = luaL_checkudata(L, 1, DECODER_META);
    if (box->finished || !box->decoder)
        luaL_argerror(L, 1, "the decoder is finished");
    return box;
}

/* Runs feed (data != NULL) or finish, returning the records in an array. */
static int collect(lua_State *L, decoder_box *box, const char *data, size_t len)
{
    /* The records pass the state's level, as the handler's would. */
    vmu_logger_set_level(box->logger, vmu_logger_get_level(vmu_lua_logger(L)));
    lua_newtable(L);
    collector c = {L, lua_gettop(L), 0, LUA_NOREF};
    vmu_logger_set_sink(box->logger, collect_sink, &c);
    int rc = data ? vmu_gcs_decoder_feed(box->decoder, data, len)
                  : vmu_gcs_decoder_finish(box->decoder);
    vmu_logger_set_sink(box->logger, NULL, NULL);
    if (!data)
        box->finished = true;
    if (c.error_ref != LUA_NOREF) {
        /* The decoder went on; the error is the caller's now. */
        if (c.error_ref == LUA_REFNIL)
            return luaL_error(L, "stack overflow building log records");
        lua_rawgeti(L, LUA_REGISTRYINDEX, c.error_ref);
        luaL_unref(L, LUA_REGISTRYINDEX, c.error_ref);
        return lua_error(L);
    }
    if (rc != 0)
        return luaL_error(L, "not enough memory");
    return 1;
}

static int l_decoder_feed(lua_State *L)
{
    decoder_box *box = check_decoder(L);
    size_t len;
    const char *chunk = luaL_checklstring(L, 2, &len);
    return collect(L, box, chunk, len);
}

static int l_decoder_finish(lua_State *L)
{
    decoder_box *box = check_decoder(L);
    return collect(L, box, NULL, 0);
}

static int l_decoder_tostring(lua_State *L)
{
    decoder_box *box = luaL_checkudata(L, 1, DECODER_META);
    lua_pushfstring(L, "vmutils.gcs_decoder (%s)", box->finished ? "finished" : "open");
    return 1;
}

static int l_gcs_log_decoder(lua_State *L)
{
    size_t id_len;
    const char *vm_id = luaL_checklstring(L, 1, &id_len);
    vmu_gcs_options opts;
    check_options(L, 2, &opts);
    decoder_box *box = new_box(L);
    box->logger = vmu_logger_new();
    if (box->logger)
        box->decoder = vmu_gcs_decoder_new(vm_id, id_len, &opts, box->logger);
    if (!box->decoder)
        return luaL_error(L, "not enough memory");
    return 1;
}

static const luaL_Reg decoder_methods[] = {
    {"feed", l_decoder_feed},
    {"finish", l_decoder_finish},
    {NULL, NULL},
};

static const luaL_Reg gcs_functions[] = {
    {"decode_gcs_log_entry", l_decode_gcs_log_entry},
    {"parse_gcs_logrus", l_parse_gcs_logrus},
    {"gcs_log_decoder", l_gcs_log_decoder},
    {NULL, NULL},
};

void vmu_lua_register_gcs(lua_State *L)
{
    vmu_lua_register_class(L, DECODER_META, box_gc, l_decoder_tostring, decoder_methods);
    luaL_setfuncs(L, gcs_functions, 0);
}
