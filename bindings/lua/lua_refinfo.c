/* Lua surface of parse_uvm_reference_info. */
#include "lua_vmutils.h"

static int l_parse_uvm_reference_info(lua_State *L)
{
    size_t root_len, name_len;
    const char *root = luaL_checklstring(L, 1, &root_len);
    const char *name = luaL_checklstring(L, 2, &name_len);
    vmu_buf *text = vmu_lua_push_buf_box(L); /* freed by __gc if the copy raises */
    vmu_err err;
    if (vmu_parse_uvm_reference_info_n(vmu_lua_logger(L), root, root_len, name, name_len, text,
                                       &err) != 0) {
        vmu_buf_free(text);
        return vmu_lua_fail(L, err.msg);
    }
    lua_pushlstring(L, text->data ? text->data : "", text->len);
    vmu_buf_free(text);
    return 1;
}

static const luaL_Reg refinfo_functions[] = {
    {"parse_uvm_reference_info", l_parse_uvm_reference_info},
    {NULL, NULL},
};

void vmu_lua_register_refinfo(lua_State *L) { luaL_setfuncs(L, refinfo_functions, 0); }
