/* Lua surface of the refinfo concern (its issue fills this in). */
#include "lua_vmutils.h"

void vmu_lua_register_refinfo(lua_State *L) { (void)L; }
