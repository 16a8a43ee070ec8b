/* Lua surface of the policy runtime: vmutils.json_encode (the runtime's
 * document encoder) and vmutils.policy.evaluate (a policy evaluated as
 * `vmutils policy` evaluates it, in a runtime of its own). */
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <yajl/yajl_tree.h>

#include "lua_vmutils.h"
#include "vmutils_policy.h"
#include "policy_internal.h"

/* Nesting past which a document is not read back (the encoder writes no
 * more than 128 levels). */
#define MAX_READ_DEPTH 200

/* ---- the room a capped state leaves ------------------------------------ */

static const char headroom_key = 'h';

typedef struct headroom_hook {
    vmu_lua_headroom_fn fn;
    void *ud;
} headroom_hook;

void vmu_lua_set_headroom(lua_State *L, vmu_lua_headroom_fn fn, void *ud)
{
    headroom_hook *hook = lua_newuserdatauv(L, sizeof *hook, 0);
    hook->fn = fn;
    hook->ud = ud;
    lua_rawsetp(L, LUA_REGISTRYINDEX, &headroom_key);
}

static const headroom_hook *get_headroom_hook(lua_State *L)
{
    lua_rawgetp(L, LUA_REGISTRYINDEX, &headroom_key);
    const headroom_hook *hook = lua_touserdata(L, -1);
    lua_pop(L, 1);
    return hook && hook->fn ? hook : NULL;
}

size_t vmu_lua_headroom(lua_State *L)
{
    const headroom_hook *hook = get_headroom_hook(L);
    return hook ? hook->fn(hook->ud) : SIZE_MAX;
}

/* ---- json_encode --------------------------------------------------------- */

typedef struct encode_job {
    vmu_buf *out;
    size_t max_len;
    const char *too_long;
} encode_job;

static int encode_protected(lua_State *L)
{
    encode_job *job = lua_touserdata(L, 2);
    vmu_policy_encode_document(L, 1, 0, job->max_len, job->too_long, job->out);
    return 0;
}

/* Encodes the value at 1 into `out` with at most half the room left;
 * returns the pcall status, the error (if any) on the stack top. */
static int encode_in_room(lua_State *L, vmu_buf *out)
{
    size_t headroom = vmu_lua_headroom(L);
    encode_job job = {out, headroom == SIZE_MAX ? SIZE_MAX - 1 : headroom / 2,
                      VMU_POLICY_ERR_MEMORY};
    lua_pushcfunction(L, encode_protected);
    lua_pushvalue(L, 1);
    lua_pushlightuserdata(L, &job);
    return lua_pcall(L, 2, 0, 0);
}

/* json_encode(value) -> text | nil, "not enough memory". In a capped state
 * the text (and its copy as a Lua string) must fit in the room left, which
 * garbage takes until it is collected: short of room, it collects and tries
 * once more, as Lua's allocator does. */
static int l_json_encode(lua_State *L)
{
    luaL_checkany(L, 1);
    lua_settop(L, 1);
    vmu_buf *out = vmu_lua_push_buf_box(L);
    int status = encode_in_room(L, out);
    if (vmu_lua_is_memory_error(L, status) && vmu_lua_headroom(L) != SIZE_MAX) {
        lua_pop(L, 1);
        vmu_buf_free(out);
        lua_gc(L, LUA_GCCOLLECT);
        status = encode_in_room(L, out);
    }
    const char *why = status == LUA_OK ? NULL : lua_tostring(L, -1);
    if (vmu_lua_is_memory_error(L, status)) {
        vmu_buf_free(out);
        return vmu_lua_fail(L, VMU_POLICY_ERR_MEMORY);
    }
    if (status != LUA_OK) /* what JSON cannot hold: the argument is wrong */
        return luaL_argerror(L, 1, why ? why : "cannot encode it as JSON");
    lua_pushlstring(L, out->data ? out->data : "", out->len);
    vmu_buf_free(out);
    return 1;
}

/* ---- reading a document back ---------------------------------------------- */

typedef struct tree_box {
    yajl_val tree;
} tree_box;

static void release_tree(void *data)
{
    yajl_tree_free(((tree_box *)data)->tree);
}

static void push_tree(lua_State *L, yajl_val v, int depth)
{
    if (depth > MAX_READ_DEPTH)
        luaL_error(L, "document nested too deeply");
    luaL_checkstack(L, 3, "document nesting");
    switch (v ? v->type : yajl_t_null) {
    case yajl_t_string:
        lua_pushstring(L, v->u.string);
        break;
    case yajl_t_number:
        /* Integers exactly, as the encoder wrote them; other numbers as floats. */
        if (v->u.number.flags & YAJL_NUMBER_INT_VALID)
            lua_pushinteger(L, (lua_Integer)v->u.number.i);
        else
            lua_pushnumber(L, v->u.number.d);
        break;
    case yajl_t_object:
        lua_createtable(L, 0, v->u.object.len > INT32_MAX ? 0 : (int)v->u.object.len);
        for (size_t i = 0; i < v->u.object.len; i++) {
            push_tree(L, v->u.object.values[i], depth + 1);
            lua_setfield(L, -2, v->u.object.keys[i]);
        }
        break;
    case yajl_t_array:
        lua_createtable(L, v->u.array.len > INT32_MAX ? 0 : (int)v->u.array.len, 0);
        for (size_t i = 0; i < v->u.array.len; i++) {
            push_tree(L, v->u.array.values[i], depth + 1);
            lua_rawseti(L, -2, (lua_Integer)i + 1);
        }
        break;
    case yajl_t_true:
        lua_pushboolean(L, 1);
        break;
    case yajl_t_false:
        lua_pushboolean(L, 0);
        break;
    default: /* null: vmutils.null, as lua-cjson reads it */
        lua_pushlightuserdata(L, NULL);
        break;
    }
}

/* Pushes the table the document's JSON (NUL-terminated) stands for. */
static void push_document(lua_State *L, const char *json)
{
    tree_box *box = vmu_lua_push_guard(L, sizeof *box, release_tree);
    char why[128];
    box->tree = yajl_tree_parse(json, why, sizeof why);
    if (!box->tree)
        luaL_error(L, "cannot read the document back: %s", why);
    push_tree(L, box->tree, 0);
    yajl_tree_free(box->tree);
    box->tree = NULL;
    lua_remove(L, -2);
}

/* ---- policy.evaluate --------------------------------------------------------- */

typedef struct runtime_box {
    vmu_policy *rt;
} runtime_box;

static void release_runtime(void *data)
{
    vmu_policy_free(((runtime_box *)data)->rt);
}

static runtime_box *push_runtime_box(lua_State *L)
{
    return vmu_lua_push_guard(L, sizeof(runtime_box), release_runtime);
}

/* opts[key]: a byte count or instruction count >= 0; 0 means no limit, as
 * on the command line. */
static void opt_limit(lua_State *L, int opts, const char *key, uint64_t *out, uint64_t none)
{
    if (lua_getfield(L, opts, key) != LUA_TNIL) {
        int64_t v = vmu_lua_check_integer_range(L, -1, 3, key, 0, INT64_MAX);
        *out = v ? (uint64_t)v : none;
    }
    lua_pop(L, 1);
}

static void opt_size(lua_State *L, int opts, const char *key, size_t *out)
{
    uint64_t v = *out;
    opt_limit(L, opts, key, &v, SIZE_MAX);
    *out = v > SIZE_MAX ? SIZE_MAX : (size_t)v;
}

static void check_options(lua_State *L, vmu_policy_config *config)
{
    static const char *const known[] = {"instructions",       "memory",
                                        "max_document_bytes", "max_request_bytes",
                                        "max_policy_bytes",   "indent",
                                        NULL};
    vmu_policy_config_init(config);
    if (lua_isnoneornil(L, 3))
        return;
    luaL_checktype(L, 3, LUA_TTABLE);
    vmu_lua_check_known_keys(L, 3, 3, known, NULL);
    opt_limit(L, 3, "instructions", &config->instruction_budget, UINT64_MAX);
    opt_size(L, 3, "memory", &config->memory_limit);
    opt_size(L, 3, "max_document_bytes", &config->max_document_bytes);
    opt_size(L, 3, "max_request_bytes", &config->max_request_bytes);
    opt_size(L, 3, "max_policy_bytes", &config->max_policy_bytes);
    if (lua_getfield(L, 3, "indent") != LUA_TNIL)
        config->json_indent = (unsigned)vmu_lua_check_integer_range(L, -1, 3, "indent", 0, 16);
    lua_pop(L, 1);
}

static void forward_record(void *user, const vmu_log_record *r)
{
    vmu_log(user, r->level, r->msg, r->msg_len, r->fields, r->field_count);
}

/* A policy given as one line naming a file (or ending in .lua) is a path;
 * anything else is its source. */
static int names_a_file(const char *policy, size_t len)
{
    if (memchr(policy, '\n', len) || strlen(policy) != len)
        return 0;
    return (len > 4 && strcmp(policy + len - 4, ".lua") == 0) || access(policy, F_OK) == 0;
}

/* policy.evaluate(policy, request [, opts]) -> document, json
 *                                           | nil, message, "rejected" | "failed" */
static int l_policy_evaluate(lua_State *L)
{
    size_t policy_len;
    const char *policy = luaL_checklstring(L, 1, &policy_len);
    int request_type = lua_type(L, 2);
    if (request_type != LUA_TNONE && request_type != LUA_TNIL && request_type != LUA_TSTRING &&
        request_type != LUA_TTABLE)
        return luaL_typeerror(L, 2, "JSON string, table or nil");
    vmu_policy_config config;
    check_options(L, &config);
    if (get_headroom_hook(L))
        return luaL_error(L, "policy.evaluate is not available in a capped Lua state (a policy)");
    lua_settop(L, 3);

    /* The request as text: a table is encoded as json_encode does. */
    if (request_type == LUA_TTABLE) {
        lua_pushcfunction(L, l_json_encode);
        lua_pushvalue(L, 2);
        lua_call(L, 1, 2);
        if (lua_isnil(L, -2))
            return vmu_lua_fail(L, lua_tostring(L, -1));
        lua_pop(L, 1);
        lua_replace(L, 2);
    } else if (request_type != LUA_TSTRING) {
        lua_pushliteral(L, "{}");
        lua_replace(L, 2);
    }
    size_t request_len;
    const char *request = lua_tolstring(L, 2, &request_len);

    runtime_box *box = push_runtime_box(L);
    vmu_err err = {{0}};
    box->rt = vmu_policy_new(&config, &err);
    if (!box->rt)
        return vmu_lua_fail(L, err.msg);
    vmu_policy *rt = box->rt;
    /* The policy's warnings go where this state's go, past its level. */
    vmu_logger *caller_logger = vmu_lua_logger(L);
    vmu_logger_set_level(vmu_policy_logger(rt), vmu_logger_get_level(caller_logger));
    vmu_logger_set_sink(vmu_policy_logger(rt), forward_record, caller_logger);

    vmu_policy_status status =
        names_a_file(policy, policy_len)
            ? vmu_policy_load_file(rt, policy)
            : vmu_policy_load(rt, policy, policy_len, "=policy");
    const char *document = NULL;
    size_t document_len = 0;
    if (status == VMU_POLICY_OK)
        status = vmu_policy_evaluate(rt, request, request_len, &document, &document_len);
    if (status != VMU_POLICY_OK) {
        lua_pushnil(L);
        lua_pushstring(L, vmu_policy_error(rt));
        lua_pushstring(L, status == VMU_POLICY_REJECTED ? "rejected" : "failed");
        vmu_policy_free(box->rt);
        box->rt = NULL;
        return 3;
    }
    push_document(L, document);
    lua_pushlstring(L, document, document_len);
    vmu_policy_free(box->rt);
    box->rt = NULL;
    return 2;
}

void vmu_lua_register_policy(lua_State *L)
{
    lua_pushcfunction(L, l_json_encode);
    lua_setfield(L, -2, "json_encode");
    lua_createtable(L, 0, 1);
    lua_pushcfunction(L, l_policy_evaluate);
    lua_setfield(L, -2, "evaluate");
    lua_setfield(L, -2, "policy");
}
