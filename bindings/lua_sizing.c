/* Lua surface of the sizing concern (its issue fills this in). */
#include "lua_vmutils.h"

void vmu_lua_register_sizing(lua_State *L) { (void)L; }
