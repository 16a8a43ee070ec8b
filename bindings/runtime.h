/* Internal header of the runtime program (build/vmutils): the subcommands,
 * each in its own file and dispatched from main.c's command table, and the
 * conventions they share (messages, exit statuses, --help). */
#ifndef VMUTILS_RUNTIME_H
#define VMUTILS_RUNTIME_H

#include <stdbool.h>

/* Exit statuses, the same for every command. */
#define VMU_EXIT_OK 0
#define VMU_EXIT_FAILED 1 /* the job failed: rejected, runtime or read/write error */
#define VMU_EXIT_USAGE 2  /* bad option or argument, missing or unreadable file */

/* Each gets argv[0] = the command's name and returns the exit status. */
int vmu_cmd_run(int argc, char **argv);
int vmu_cmd_policy(int argc, char **argv);
int vmu_cmd_repl(int argc, char **argv);
int vmu_cmd_gcs_logs(int argc, char **argv);
/* `vmutils host`: the host NUMA topology (runtime_host.c). */
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

#endif
