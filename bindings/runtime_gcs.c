/* `vmutils gcs-logs`: placeholder until the GCS pipeline lands (issue 3). */
#include <stdio.h>

#include "runtime.h"

int vmu_cmd_gcs_logs(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fputs("vmutils gcs-logs: not built yet\n", stderr);
    return 2;
}
