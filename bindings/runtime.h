/* Internal header of the runtime program (build/vmutils): each subcommand
 * lives in its own file and is dispatched from main.c. */
#ifndef VMUTILS_RUNTIME_H
#define VMUTILS_RUNTIME_H

#include <stdbool.h>

/* `vmutils gcs-logs [...]`: argv[0] is "gcs-logs". Returns the exit status. */
int vmu_cmd_gcs_logs(int argc, char **argv);
/* The service mode of gcs-logs (runtime_gcs_listen.c): taken when argv has
 * a --listen or --listen-dir option. */
bool vmu_gcs_listen_requested(int argc, char **argv);
int vmu_cmd_gcs_listen(int argc, char **argv);

#endif
