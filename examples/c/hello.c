/* A C program using libvmutils: sizes a UVM the way hcsshim does and logs
 * the adjustment through the logrus-compatible log system as JSON.
 * Build against an installed tree:
 *   cc hello.c $(pkg-config --cflags --libs vmutils) -o hello */
#include <stdio.h>
#include <string.h>

#include <vmutils.h>

int main(void)
{
    vmu_logger *logger = vmu_logger_new();
    if (!logger)
        return 1;
    vmu_logger_set_format(logger, VMU_LOG_JSON);
    vmu_logger_set_stream(logger, stdout);

    /* An odd size is rounded up to 2 MB alignment, with hcsshim's warning. */
    uint64_t memory_mb = vmu_normalize_memory_size(logger, "example-vm", 10, 4095);

    vmu_field fields[] = {
        vmu_field_uint("memory-mb", memory_mb),
        vmu_field_str("uvm-id", "example-vm"),
        vmu_field_uint("vpmem-count", VMU_DEFAULT_VPMEM_COUNT),
        vmu_field_str("version", vmu_version()),
    };
    int status = vmu_log(logger, VMU_LEVEL_INFO, "vmutils linked", strlen("vmutils linked"),
                         fields, sizeof fields / sizeof fields[0]);
    vmu_logger_free(logger);
    return status == 0 ? 0 : 1;
}
