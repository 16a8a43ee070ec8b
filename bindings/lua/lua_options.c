/* Lua surface of the runtime options: unmarshal_runtime_options and
 * marshal_runtime_options over core/options.c. Tables use the proto field
 * names of vmu_option_fields; enums travel as their names (numbers when
 * unnamed). */
#include <string.h>

#include "lua_vmutils.h"

/* Decoded options live in C memory until copied into a table; the guard
 * frees them even if building the table raises (out of memory). */
static void release_options(void *slot)
{
    vmu_runtime_options_free(*(vmu_runtime_options **)slot);
}

static vmu_runtime_options **push_guard(lua_State *L)
{
    return vmu_lua_push_guard(L, sizeof(vmu_runtime_options *), release_options);
}

static void push_string(lua_State *L, vmu_options_string s)
{
    lua_pushlstring(L, s.len ? s.data : "", s.len);
}

static void push_options(lua_State *L, const vmu_runtime_options *o)
{
    lua_createtable(L, 0, (int)vmu_option_field_count);
    for (size_t i = 0; i < vmu_option_field_count; i++) {
        const vmu_option_field *f = &vmu_option_fields[i];
        const char *member = (const char *)o + f->offset;
        switch (f->kind) {
        case VMU_OPTION_BOOL:
            lua_pushboolean(L, *(const bool *)member);
            break;
        case VMU_OPTION_INT32:
            lua_pushinteger(L, *(const int32_t *)member);
            break;
        case VMU_OPTION_DEBUG_TYPE:
        case VMU_OPTION_SANDBOX_ISOLATION: {
            int32_t value = *(const int32_t *)member;
            const char *name = vmu_option_enum_name(f->kind, value);
            if (name)
                lua_pushstring(L, name);
            else
                lua_pushinteger(L, value);
            break;
        }
        case VMU_OPTION_STRING:
            push_string(L, *(const vmu_options_string *)member);
            break;
        case VMU_OPTION_ANNOTATIONS:
            lua_createtable(L, 0, o->annotation_count > 1u << 26 ? 1 << 26
                                                                 : (int)o->annotation_count);
            for (size_t k = 0; k < o->annotation_count; k++) {
                push_string(L, o->annotations[k].key);
                push_string(L, o->annotations[k].value);
                lua_rawset(L, -3);
            }
            break;
        case VMU_OPTION_OPTIONAL_BOOL:
            if (!o->has_scrub_logs)
                continue;
            lua_pushboolean(L, o->scrub_logs);
            break;
        }
        lua_setfield(L, -2, f->name);
    }
}

/* unmarshal_runtime_options(any): any is nil, { type_url, value } or the
 * bytes of a serialized google.protobuf.Any. */
static int l_unmarshal_runtime_options(lua_State *L)
{
    int type = lua_type(L, 1);
    if (type != LUA_TNONE && type != LUA_TNIL && type != LUA_TSTRING && type != LUA_TTABLE)
        return luaL_typeerror(L, 1, "nil, table or string");
    vmu_any any = {0};
    if (type == LUA_TTABLE) {
        if (lua_getfield(L, 1, "type_url") != LUA_TSTRING)
            return luaL_argerror(L, 1, lua_pushfstring(L, "field 'type_url': string expected, got %s",
                                                       luaL_typename(L, -1)));
        any.type_url = lua_tolstring(L, -1, &any.type_url_len);
        int value_type = lua_getfield(L, 1, "value");
        if (value_type == LUA_TSTRING)
            any.value = (const uint8_t *)lua_tolstring(L, -1, &any.value_len);
        else if (value_type != LUA_TNIL)
            return luaL_argerror(L, 1, lua_pushfstring(L, "field 'value': string expected, got %s",
                                                       luaL_typename(L, -1)));
    }
    vmu_logger *logger = vmu_lua_logger(L);
    /* In a capped state (a policy) the decoding counts against the cap: a
     * quarter of the room left covers its two passes, the decoded copy and
     * the table made from it. */
    size_t budget = vmu_lua_headroom(L) / 4;
    if (budget > VMU_OPTIONS_DECODE_BUDGET)
        budget = VMU_OPTIONS_DECODE_BUDGET;
    vmu_runtime_options **slot = push_guard(L);
    vmu_err err;
    if (type == LUA_TSTRING) {
        size_t len;
        const char *bytes = lua_tolstring(L, 1, &len);
        *slot = vmu_unmarshal_runtime_options_bytes_budget(logger, (const uint8_t *)bytes, len,
                                                           budget, &err);
    } else {
        *slot = vmu_unmarshal_runtime_options_budget(logger, type == LUA_TTABLE ? &any : NULL,
                                                     budget, &err);
    }
    if (!*slot)
        return vmu_lua_fail(L, err.msg);
    push_options(L, *slot);
    vmu_runtime_options_free(*slot);
    *slot = NULL;
    return 1;
}

static int field_error(lua_State *L, const char *name, const char *expected)
{
    return luaL_argerror(L, 1, lua_pushfstring(L, "field '%s': %s expected, got %s", name,
                                               expected, luaL_typename(L, -1)));
}

/* The table's annotation map as pairs in a userdata (collected with it, so
 * an argument error cannot leak it). The strings stay owned by the table,
 * which is an argument and so outlives the call. */
static void check_annotations(lua_State *L, const char *name, vmu_runtime_options *o)
{
    int map = lua_gettop(L);
    size_t count = 0;
    lua_pushnil(L);
    while (lua_next(L, map)) {
        if (lua_type(L, -2) != LUA_TSTRING || lua_type(L, -1) != LUA_TSTRING)
            luaL_argerror(L, 1, lua_pushfstring(L, "field '%s': string keys and string values "
                                                   "expected, got a %s key and a %s value",
                                                name, luaL_typename(L, -2), luaL_typename(L, -1)));
        count++;
        lua_pop(L, 1);
    }
    vmu_annotation *pairs = lua_newuserdatauv(L, count ? count * sizeof *pairs : 1, 0);
    size_t i = 0;
    lua_pushnil(L);
    while (lua_next(L, map)) {
        pairs[i].key.data = lua_tolstring(L, -2, &pairs[i].key.len);
        pairs[i].value.data = lua_tolstring(L, -1, &pairs[i].value.len);
        i++;
        lua_pop(L, 1);
    }
    o->annotations = pairs;
    o->annotation_count = count;
}

static void check_enum(lua_State *L, const vmu_option_field *f, int32_t *member)
{
    if (lua_type(L, -1) == LUA_TSTRING) {
        size_t len;
        const char *name = lua_tolstring(L, -1, &len);
        if (vmu_option_enum_value(f->kind, name, len, member) != 0)
            luaL_argerror(L, 1, lua_pushfstring(L, "field '%s': unknown value '%s'", f->name, name));
        return;
    }
    if (lua_type(L, -1) != LUA_TNUMBER)
        field_error(L, f->name, "enum name or integer");
    const char *what = lua_pushfstring(L, "field '%s'", f->name);
    *member = (int32_t)vmu_lua_check_integer_range(L, -2, 1, what, INT32_MIN, INT32_MAX);
    lua_pop(L, 1);
}

static const vmu_option_field *field_named(const char *name, size_t len)
{
    for (size_t i = 0; i < vmu_option_field_count; i++)
        if (strlen(vmu_option_fields[i].name) == len &&
            memcmp(vmu_option_fields[i].name, name, len) == 0)
            return &vmu_option_fields[i];
    return NULL;
}

/* marshal_runtime_options(options) -> bytes of an Any holding them. */
static int l_marshal_runtime_options(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    lua_pushnil(L);
    while (lua_next(L, 1)) {
        size_t len;
        if (lua_type(L, -2) != LUA_TSTRING)
            return luaL_argerror(L, 1, lua_pushfstring(L, "option names must be strings, got %s",
                                                       luaL_typename(L, -2)));
        const char *name = lua_tolstring(L, -2, &len);
        if (!field_named(name, len))
            return luaL_argerror(L, 1, lua_pushfstring(L, "unknown option '%s'", name));
        lua_pop(L, 1);
    }

    vmu_runtime_options o;
    vmu_runtime_options_init(&o);
    luaL_checkstack(L, (int)vmu_option_field_count * 2 + 8, "too many options");
    for (size_t i = 0; i < vmu_option_field_count; i++) {
        const vmu_option_field *f = &vmu_option_fields[i];
        char *member = (char *)&o + f->offset;
        /* Each value stays on the stack: the struct points into its strings. */
        if (lua_getfield(L, 1, f->name) == LUA_TNIL)
            continue;
        switch (f->kind) {
        case VMU_OPTION_BOOL:
            if (!lua_isboolean(L, -1))
                field_error(L, f->name, "boolean");
            *(bool *)member = lua_toboolean(L, -1);
            break;
        case VMU_OPTION_OPTIONAL_BOOL:
            if (!lua_isboolean(L, -1))
                field_error(L, f->name, "boolean or nil");
            o.has_scrub_logs = true;
            o.scrub_logs = lua_toboolean(L, -1);
            break;
        case VMU_OPTION_INT32: {
            lua_pushfstring(L, "field '%s'", f->name);
            const char *what = lua_tostring(L, -1);
            *(int32_t *)member =
                (int32_t)vmu_lua_check_integer_range(L, -2, 1, what, INT32_MIN, INT32_MAX);
            lua_pop(L, 1);
            break;
        }
        case VMU_OPTION_DEBUG_TYPE:
        case VMU_OPTION_SANDBOX_ISOLATION:
            check_enum(L, f, (int32_t *)member);
            break;
        case VMU_OPTION_STRING: {
            if (lua_type(L, -1) != LUA_TSTRING)
                field_error(L, f->name, "string");
            vmu_options_string *s = (vmu_options_string *)member;
            s->data = lua_tolstring(L, -1, &s->len);
            break;
        }
        case VMU_OPTION_ANNOTATIONS:
            if (!lua_istable(L, -1))
                field_error(L, f->name, "table");
            check_annotations(L, f->name, &o);
            break;
        }
    }

    /* A memory error while Lua copies the bytes frees them through __gc. */
    vmu_buf *out = vmu_lua_push_buf_box(L);
    vmu_err err;
    if (vmu_marshal_runtime_options(&o, out, &err) != 0) {
        vmu_buf_free(out);
        return vmu_lua_fail(L, err.msg);
    }
    lua_pushlstring(L, out->data ? out->data : "", out->len);
    vmu_buf_free(out);
    return 1;
}

void vmu_lua_register_options(lua_State *L)
{
    static const luaL_Reg functions[] = {
        {"unmarshal_runtime_options", l_unmarshal_runtime_options},
        {"marshal_runtime_options", l_marshal_runtime_options},
        {NULL, NULL},
    };
    luaL_setfuncs(L, functions, 0);
}
