/* `vmutils run SCRIPT [ARGS]` and scripts on standard input, with the state
 * and the interruptible call the REPL shares. Scripts run with the whole of
 * Lua: the sandbox is for policies only. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <lauxlib.h>
#include <lualib.h>

#include "cli.h"
#include "vmutils_policy.h"

/* The state a Ctrl-C should stop; set only around vmu_cli_docall. */
static lua_State *volatile interrupted_state;

static void interrupt_hook(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    lua_sethook(L, NULL, 0, 0);
    luaL_error(L, "interrupted!");
}

/* Signal handlers may not touch Lua, except for lua_sethook: the hook then
 * raises the error from inside the interpreter, at the next instruction. */
static void on_sigint(int sig)
{
    signal(sig, SIG_DFL); /* a second Ctrl-C kills a program stuck in C code */
    if (interrupted_state)
        lua_sethook(interrupted_state, interrupt_hook,
                    LUA_MASKCALL | LUA_MASKRET | LUA_MASKLINE | LUA_MASKCOUNT, 1);
}

static int traceback_handler(lua_State *L)
{
    const char *msg = lua_tostring(L, 1);
    if (!msg) {
        if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING)
            return 1;
        msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
    }
    luaL_traceback(L, L, msg, 1);
    return 1;
}

int vmu_cli_docall(lua_State *L, int nargs, int nresults)
{
    int base = lua_gettop(L) - nargs;
    lua_pushcfunction(L, traceback_handler);
    lua_insert(L, base);
    interrupted_state = L;
    void (*previous)(int) = signal(SIGINT, on_sigint);
    int status = lua_pcall(L, nargs, nresults, base);
    signal(SIGINT, previous);
    interrupted_state = NULL;
    lua_remove(L, base);
    return status;
}

int vmu_cli_report(lua_State *L, int status)
{
    if (status != LUA_OK) {
        const char *msg = lua_tostring(L, -1);
        vmu_cli_error("%s", msg ? msg : "(error object is not a string)");
        fflush(stderr);
        lua_pop(L, 1);
    }
    return status;
}

static int open_state(lua_State *L)
{
    luaL_openlibs(L);
    luaL_requiref(L, "vmutils", luaopen_vmutils, 1);
    return 0;
}

lua_State *vmu_cli_new_state(void)
{
    lua_State *L = luaL_newstate();
    if (!L) {
        vmu_cli_error("not enough memory");
        return NULL;
    }
    lua_pushcfunction(L, open_state);
    if (vmu_cli_report(L, lua_pcall(L, 0, 0, 0)) != LUA_OK) {
        lua_close(L);
        return NULL;
    }
    return L;
}

/* arg as lua.c sets it: arg[0] the script, arg[1..] its arguments, and what
 * precedes it at negative indices ("vmutils" at arg[-2], "run" at arg[-1],
 * or at arg[-3] and arg[-2] after a "--"). */
static void set_arg(lua_State *L, char **argv, int script, int argc)
{
    lua_createtable(L, argc - script - 1, script + 1);
    for (int i = 0; i < argc; i++) {
        lua_pushstring(L, argv[i]);
        lua_rawseti(L, -2, i - script);
    }
    lua_setglobal(L, "arg");
}

static int run_chunk(lua_State *L, int status, char **args, int nargs)
{
    if (status == LUA_OK) {
        luaL_checkstack(L, nargs, "too many arguments to script");
        for (int i = 0; i < nargs; i++)
            lua_pushstring(L, args[i]);
        status = vmu_cli_docall(L, nargs, 0);
    }
    return vmu_cli_report(L, status);
}

int vmu_cmd_run(int argc, char **argv)
{
    int script = 1;
    if (argc > 1 && strcmp(argv[1], "--") == 0)
        script = 2;
    else if (argc > 1 && argv[1][0] == '-' && argv[1][1] != '\0')
        return vmu_cli_bad_option(argv[1]);
    if (script >= argc)
        return vmu_cli_usage_error("missing SCRIPT");
    const char *path = strcmp(argv[script], "-") == 0 ? NULL : argv[script];
    if (path && vmu_cli_check_input(path) != VMU_EXIT_OK)
        return VMU_EXIT_USAGE;
    lua_State *L = vmu_cli_new_state();
    if (!L)
        return VMU_EXIT_FAILED;
    /* argv[-1] is the program name: main passes argv + 1. */
    set_arg(L, argv - 1, script + 1, argc + 1);
    int status = run_chunk(L, luaL_loadfile(L, path), argv + script + 1, argc - script - 1);
    lua_close(L);
    return status == LUA_OK ? VMU_EXIT_OK : VMU_EXIT_FAILED;
}

int vmu_cmd_stdin(void)
{
    lua_State *L = vmu_cli_new_state();
    if (!L)
        return 1;
    lua_newtable(L);
    lua_setglobal(L, "arg");
    int status = run_chunk(L, luaL_loadfile(L, NULL), NULL, 0);
    lua_close(L);
    return status == LUA_OK ? VMU_EXIT_OK : VMU_EXIT_FAILED;
}
