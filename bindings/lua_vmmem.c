/* Lua surface of the vmmem concern (its issue fills this in). */
#include "lua_vmutils.h"

void vmu_lua_register_vmmem(lua_State *L) { (void)L; }
