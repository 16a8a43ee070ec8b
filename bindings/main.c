/* build/vmutils: the runtime program. Picks the command; each lives in its
 * own file (runtime_*.c). */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "runtime.h"
#include "runtime_cli.h"

static void print_usage(FILE *out)
{
    fputs("usage: vmutils [COMMAND [ARGS...]]\n"
          "\n"
          "commands:\n"
          "  run SCRIPT [ARGS...]     run a Lua script with vmutils preloaded (arg is set)\n"
          "  policy [OPTIONS] POLICY.lua [REQUEST.json | -]\n"
          "                           evaluate a policy on a request and print the HCS\n"
          "                           document as JSON (no request: an empty one)\n"
          "      --instructions N     instruction budget (default 50000000; 0: none)\n"
          "      --memory SIZE        memory cap, bytes or with K/M/G (default 64M; 0: none)\n"
          "      --timeout MS         CPU time per call, C work included, ms or with ms/s\n"
          "                           (default 1000; 0: none)\n"
          "      --open-files N       files a policy may hold open (default 16; 0: none)\n"
          "      --compact            print the JSON on one line\n"
          "  gcs-logs [--vm-id ID] [--format text|json] [--level L] [--resync] [FILE | -]\n"
          "                           forward a GCS log stream to stdout\n"
          "  repl                     the interactive prompt (also: no command on a terminal)\n"
          "  --version                print the version\n"
          "  --help                   print this help\n"
          "\n"
          "With no command and standard input not a terminal, vmutils runs standard\n"
          "input as a script. Exit status: 0 success, 1 a script error or a rejected\n"
          "request, 2 a usage error or a policy that failed.\n",
          out);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        if (isatty(STDIN_FILENO))
            return vmu_cmd_repl(1, argv);
        return vmu_cmd_stdin();
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "-v") == 0) {
        puts(VMU_PROGRAM_VERSION);
        return 0;
    }
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        print_usage(stdout);
        return 0;
    }
    if (strcmp(cmd, "run") == 0)
        return vmu_cmd_run(argc - 1, argv + 1);
    if (strcmp(cmd, "policy") == 0)
        return vmu_cmd_policy(argc - 1, argv + 1);
    if (strcmp(cmd, "repl") == 0)
        return vmu_cmd_repl(argc - 1, argv + 1);
    if (strcmp(cmd, "gcs-logs") == 0)
        return vmu_cmd_gcs_logs(argc - 1, argv + 1);
    fprintf(stderr, "vmutils: unknown command '%s'\n\n", cmd);
    print_usage(stderr);
    return 2;
}
