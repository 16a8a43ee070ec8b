/* Lua surface of parse_uvm_reference_info. */
#include "lua_vmutils.h"

/* The base64 text is built in a vmu_buf owned by a userdata, so a memory
 * error while Lua copies it still frees the buffer (through __gc). */
static int text_box_gc(lua_State *L)
{
    vmu_buf_free(lua_touserdata(L, 1));
    return 0;
}

static vmu_buf *push_text_box(lua_State *L)
{
    vmu_buf *text = lua_newuserdatauv(L, sizeof *text, 0);
    vmu_buf_init(text);
    if (luaL_newmetatable(L, "vmutils.text_box")) {
        lua_pushcfunction(L, text_box_gc);
        lua_setfield(L, -2, "__gc");
    }
    lua_setmetatable(L, -2);
    return text;
}

static int l_parse_uvm_reference_info(lua_State *L)
{
    size_t root_len, name_len;
    const char *root = luaL_checklstring(L, 1, &root_len);
    const char *name = luaL_checklstring(L, 2, &name_len);
    vmu_buf *text = push_text_box(L);
    vmu_err err;
    if (vmu_parse_uvm_reference_info_n(vmu_lua_logger(L), root, root_len, name, name_len, text,
                                       &err) != 0)
        return vmu_lua_fail(L, err.msg);
    lua_pushlstring(L, text->data ? text->data : "", text->len);
    vmu_buf_free(text);
    return 1;
}

static const luaL_Reg refinfo_functions[] = {
    {"parse_uvm_reference_info", l_parse_uvm_reference_info},
    {NULL, NULL},
};

void vmu_lua_register_refinfo(lua_State *L) { luaL_setfuncs(L, refinfo_functions, 0); }
