/* Internal header of the program build/vmutils: the subcommands, each in
 * its own file and dispatched from main.c's command table; the conventions
 * they share (messages, exit statuses, --help); and the Lua pieces the
 * commands run, repl and policy share: a full Lua state with vmutils
 * preloaded, calls that Ctrl-C can interrupt, and the REPL's value printer. */
#ifndef VMUTILS_CLI_H
#define VMUTILS_CLI_H

#include <stdbool.h>

#include <lua.h>

#include "vmutils.h"

/* Exit statuses, the same for every command. */
#define VMU_EXIT_OK 0
#define VMU_EXIT_FAILED 1 /* the job failed: rejected, runtime or read/write error */
#define VMU_EXIT_USAGE 2  /* bad option or argument, missing or unreadable file */

/* Each gets argv[0] = the command's name and returns the exit status. */
int vmu_cmd_run(int argc, char **argv);
int vmu_cmd_policy(int argc, char **argv);
int vmu_cmd_repl(int argc, char **argv);
int vmu_cmd_gcs_logs(int argc, char **argv);
/* `vmutils host`: the host NUMA topology (cli_host.c). */
int vmu_cmd_host(int argc, char **argv);
/* Runs standard input as a script (`vmutils < script.lua`). */
int vmu_cmd_stdin(void);

/* "vmutils CMD: <message>\n" on stderr, CMD the running command (main
 * knows it; just "vmutils: " for a script on standard input). */
void vmu_cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A usage error: the message, then "Try 'vmutils CMD --help'." on stderr.
 * Returns VMU_EXIT_USAGE. */
int vmu_cli_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The same for an option the command does not know. */
int vmu_cli_bad_option(const char *option);
/* "--help" or "-h". */
bool vmu_cli_is_help(const char *arg);
/* Prints the running command's help on stdout. Returns the exit status
 * (VMU_EXIT_FAILED when stdout cannot be written). */
int vmu_cli_help(void);
/* Opens path for reading; -1 (and why, on stderr) when it cannot be
 * opened or is a directory. */
int vmu_cli_open_input(const char *path);
/* Checks that path names a file that can be opened for reading and is not a
 * directory; otherwise prints why. Returns 0 or VMU_EXIT_USAGE. */
int vmu_cli_check_input(const char *path);

#define VMU_PROGRAM_VERSION "vmutils " VMU_VERSION_STRING

/* A state with the standard libraries and vmutils (global and
 * package.loaded); NULL when memory runs out (a message is printed). */
lua_State *vmu_cli_new_state(void);
/* lua_pcall with a traceback handler; Ctrl-C during the call stops it with
 * "interrupted!" (lua.c's laction). */
int vmu_cli_docall(lua_State *L, int nargs, int nresults);
/* Prints the error on the stack top (if status is not LUA_OK) to stderr as
 * "vmutils CMD: message" and pops it. Returns status. */
int vmu_cli_report(lua_State *L, int status);

/* Appends the value at idx as the REPL shows it: tables with sorted keys,
 * nesting cut at max_depth, cycles named instead of followed. Raises on
 * errors of __tostring metamethods. */
void vmu_repl_format(lua_State *L, int idx, int max_depth, vmu_buf *out);

#endif
