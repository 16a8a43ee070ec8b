/* Lua surface of the numa concern (its issue fills this in). */
#include "lua_vmutils.h"

void vmu_lua_register_numa(lua_State *L) { (void)L; }
