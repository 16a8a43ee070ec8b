/* Internal header of the runtime program's own commands (run, policy, repl)
 * and the pieces they share: a full Lua state with vmutils preloaded, calls
 * that Ctrl-C can interrupt, and the REPL's value printer. */
#ifndef VMUTILS_RUNTIME_CLI_H
#define VMUTILS_RUNTIME_CLI_H

#include <lua.h>

#include "vmutils.h"

#define VMU_PROGRAM_VERSION "vmutils " VMU_VERSION_STRING

/* Each gets argv[0] = the command's name and returns the exit status. */
int vmu_cmd_run(int argc, char **argv);
int vmu_cmd_policy(int argc, char **argv);
int vmu_cmd_repl(int argc, char **argv);
/* `vmutils host [--json]`: the host NUMA topology (runtime_host.c). */
int vmu_cmd_host(int argc, char **argv);
/* Runs standard input as a script (`vmutils < script.lua`). */
int vmu_cmd_stdin(void);

/* A state with the standard libraries and vmutils (global and
 * package.loaded); NULL when memory runs out (a message is printed). */
lua_State *vmu_cli_new_state(void);
/* lua_pcall with a traceback handler; Ctrl-C during the call stops it with
 * "interrupted!" (lua.c's laction). */
int vmu_cli_docall(lua_State *L, int nargs, int nresults);
/* Prints the error on the stack top (if status is not LUA_OK) to stderr as
 * "vmutils: message" and pops it. Returns status. */
int vmu_cli_report(lua_State *L, int status);

/* Appends the value at idx as the REPL shows it: tables with sorted keys,
 * nesting cut at max_depth, cycles named instead of followed. Raises on
 * errors of __tostring metamethods. */
void vmu_repl_format(lua_State *L, int idx, int max_depth, vmu_buf *out);

#endif
