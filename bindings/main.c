/* build/vmutils: the runtime program. Dispatches each subcommand to its own
 * file (runtime_*.c); this file only picks the command. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "lua_vmutils.h"
#include "runtime.h"

#define VMUTILS_VERSION_STRING "vmutils 0.1.0"

/* Defined in lua_vmutils.c; the module objects are linked into the program. */
int luaopen_vmutils(lua_State *L);

static void print_usage(FILE *out)
{
    fputs("usage: vmutils [COMMAND] [ARGS...]\n"
          "  run SCRIPT [ARGS...]          run a Lua script with vmutils preloaded\n"
          "  gcs-logs [OPTIONS] [FILE|-]   forward a GCS log stream\n"
          "  --version                     print the version\n"
          "  --help                        print this help\n",
          out);
}

static int report(lua_State *L, int status)
{
    if (status != LUA_OK) {
        const char *msg = lua_tostring(L, -1);
        fprintf(stderr, "vmutils: %s\n", msg ? msg : "(error object is not a string)");
        lua_pop(L, 1);
    }
    return status;
}

static int msghandler(lua_State *L)
{
    const char *msg = lua_tostring(L, 1);
    if (!msg)
        msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
    luaL_traceback(L, L, msg, 1);
    return 1;
}

static int cmd_run(int argc, char **argv)
{
    if (argc < 2) {
        fputs("vmutils run: missing SCRIPT\n", stderr);
        return 2;
    }
    lua_State *L = luaL_newstate();
    if (!L) {
        fputs("vmutils: not enough memory\n", stderr);
        return 2;
    }
    luaL_openlibs(L);
    luaL_requiref(L, "vmutils", luaopen_vmutils, 1);
    lua_pop(L, 1);
    lua_createtable(L, argc - 1, 1);
    for (int i = 1; i < argc; i++) {
        lua_pushstring(L, argv[i]);
        lua_rawseti(L, -2, i - 1);
    }
    lua_setglobal(L, "arg");
    lua_pushcfunction(L, msghandler);
    int status = luaL_loadfile(L, argv[1]);
    if (status == LUA_OK) {
        for (int i = 2; i < argc; i++)
            lua_pushstring(L, argv[i]);
        status = lua_pcall(L, argc - 2, 0, 1);
    }
    status = report(L, status);
    lua_close(L);
    return status == LUA_OK ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        print_usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--version") == 0) {
        puts(VMUTILS_VERSION_STRING);
        return 0;
    }
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        print_usage(stdout);
        return 0;
    }
    if (strcmp(cmd, "run") == 0)
        return cmd_run(argc - 1, argv + 1);
    if (strcmp(cmd, "gcs-logs") == 0)
        return vmu_cmd_gcs_logs(argc - 1, argv + 1);
    fprintf(stderr, "vmutils: unknown command '%s'\n", cmd);
    print_usage(stderr);
    return 2;
}
