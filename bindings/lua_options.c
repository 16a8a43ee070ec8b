/* Lua surface of the options concern (its issue fills this in). */
#include "lua_vmutils.h"

void vmu_lua_register_options(lua_State *L) { (void)L; }
