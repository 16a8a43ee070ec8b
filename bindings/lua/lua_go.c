/* vmutils.go: the Go texts a policy prints as hcsshim prints them:
 * strconv.Quote for the values in its messages, path/filepath's Clean, Join
 * and Abs for the paths. Each is the core's own function, the one the
 * library's messages use, so that a policy needs no copy of its own. */
#include <stdint.h>

#include "vmutils_internal.h"
#include "lua_vmutils.h"

/* The text is built outside the Lua allocator, then copied into Lua: in a
 * capped state (a policy) both must fit in the room left. Garbage takes
 * room until it is collected: it is collected before the answer is no, as
 * Lua's allocator does, so that the answer does not depend on the
 * collector's pace. */
static void check_room(lua_State *L, size_t need)
{
    if (need <= vmu_lua_headroom(L) / 2)
        return;
    lua_gc(L, LUA_GCCOLLECT);
    if (need > vmu_lua_headroom(L) / 2)
        luaL_error(L, "not enough memory");
}

/* Pushes the text built in the box at the stack top in its place. */
static int push_built(lua_State *L, vmu_buf *box, int status)
{
    if (status != 0 || box->failed)
        return luaL_error(L, "not enough memory");
    lua_pushlstring(L, box->data ? box->data : "", box->len);
    vmu_buf_free(box);
    return 1;
}

/* quote(s): strconv.Quote(s). */
static int l_quote(lua_State *L)
{
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    /* Every byte may become \xNN, within the two quotes. */
    check_room(L, len > (SIZE_MAX - 2) / 4 ? SIZE_MAX : len * 4 + 2);
    vmu_buf *box = vmu_lua_push_buf_box(L);
    return push_built(L, box, vmu_format_go_quote(s, len, box));
}

/* path_clean(path): filepath.Clean(path). */
static int l_path_clean(lua_State *L)
{
    size_t len;
    const char *path = luaL_checklstring(L, 1, &len);
    check_room(L, len + 1);
    vmu_buf *box = vmu_lua_push_buf_box(L);
    return push_built(L, box, vmu_go_path_clean(path, len, box));
}

/* path_join(...): filepath.Join(...): the elements that are not empty,
 * joined with '/' and cleaned; "" when all are empty (or none is given). */
static int l_path_join(lua_State *L)
{
    int n = lua_gettop(L);
    size_t total = 0;
    for (int i = 1; i <= n; i++) {
        size_t len;
        luaL_checklstring(L, i, &len);
        total += len + 1;
    }
    check_room(L, total * 2);
    vmu_buf *joined = vmu_lua_push_buf_box(L);
    for (int i = 1; i <= n; i++) {
        size_t len;
        const char *element = lua_tolstring(L, i, &len);
        if (len == 0)
            continue;
        if (joined->len > 0)
            vmu_buf_putc(joined, '/');
        vmu_buf_append(joined, element, len);
    }
    if (joined->failed)
        return luaL_error(L, "not enough memory");
    if (joined->len == 0) {
        lua_pushliteral(L, "");
        return 1;
    }
    vmu_buf *box = vmu_lua_push_buf_box(L);
    int status = vmu_go_path_clean(joined->data, joined->len, box);
    vmu_buf_free(joined);
    return push_built(L, box, status);
}

/* path_abs(path, cwd): filepath.Abs(path) with `cwd` as the working
 * directory: a policy is given the host's (request.host.cwd), it does not
 * look it up. */
static int l_path_abs(lua_State *L)
{
    size_t len, cwd_len;
    const char *path = luaL_checklstring(L, 1, &len);
    const char *cwd = luaL_checklstring(L, 2, &cwd_len);
    check_room(L, len + cwd_len + 2);
    vmu_buf *box = vmu_lua_push_buf_box(L);
    if (len > 0 && path[0] == '/')
        return push_built(L, box, vmu_go_path_clean(path, len, box));
    return push_built(L, box, vmu_go_path_join(cwd, cwd_len, path, len, box));
}

static const luaL_Reg go_functions[] = {
    {"quote", l_quote},
    {"path_clean", l_path_clean},
    {"path_join", l_path_join},
    {"path_abs", l_path_abs},
    {NULL, NULL},
};

void vmu_lua_register_go(lua_State *L)
{
    luaL_newlib(L, go_functions);
    lua_setfield(L, -2, "go");
}
