/* Internal header of `vmutils gcs-logs`: what its command line sets, parsed
 * once (cli_gcs.c) for both of its modes, the single stream and the
 * --listen service (cli_gcs_listen.c). */
#ifndef VMUTILS_CLI_GCS_H
#define VMUTILS_CLI_GCS_H

#include <stdbool.h>

#include "vmutils.h"

/* A --vm-map CID=VMID entry (checked when parsed) or a --vm-map-file path,
 * in the order given. */
typedef struct vmu_gcs_cli_map {
    const char *value;
    bool file;
} vmu_gcs_cli_map;

typedef struct vmu_gcs_cli {
    /* Both modes. */
    const char *vm_id; /* a single stream's VM; with --listen, the VM of a
                          unix:PATH listener given without =VMID */
    vmu_log_format format;
    vmu_log_level level;
    vmu_gcs_options opts;
    /* The single stream. */
    const char *path; /* NULL or "-": stdin */
    /* The service: used when listens or dir is given. */
    const char **listens; /* --listen values, nlisten of them */
    int nlisten;
    vmu_gcs_cli_map *maps;
    int nmap;
    const char *dir; /* --listen-dir */
    unsigned dir_port;
    const char *vm_id_pattern;
    unsigned socket_mode;
    const char *output;
    const char *service_option; /* the first service-only option given */
} vmu_gcs_cli;

/* Runs the service (cli_gcs_listen.c); returns the exit status. */
int vmu_gcs_listen_run(const vmu_gcs_cli *args);

#endif
