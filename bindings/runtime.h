/* Internal header of the runtime program (build/vmutils): each subcommand
 * lives in its own file and is dispatched from main.c. */
#ifndef VMUTILS_RUNTIME_H
#define VMUTILS_RUNTIME_H

/* `vmutils gcs-logs [...]`: argv[0] is "gcs-logs". Returns the exit status. */
int vmu_cmd_gcs_logs(int argc, char **argv);

#endif
