/* build/vmutils, the program. Picks the command from the table
 * below (one row per command: its name, its line in the overview, its help
 * and the function that runs it; each lives in its own cli_*.c), and
 * holds the conventions every command shares: messages that start
 * "vmutils CMD: ", usage errors that point at --help, one table of exit
 * statuses. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

typedef struct command {
    const char *name;
    const char *synopsis; /* the arguments, for the overview */
    const char *summary;  /* one line, for the overview */
    const char *help;     /* `vmutils help NAME`, from its "Usage:" line */
    int (*run)(int argc, char **argv);
} command;

static int cmd_help(int argc, char **argv);

static const command commands[] = {
    {"run", "SCRIPT [ARGS...]", "run a Lua script with vmutils preloaded",
     "Usage: vmutils run SCRIPT [ARGS...]\n"
     "Runs the Lua 5.4 script SCRIPT (\"-\": standard input) with the standard\n"
     "libraries and vmutils preloaded (the global vmutils and require \"vmutils\").\n"
     "The script gets ARGS as ... and in the table arg, where arg[0] is SCRIPT.\n"
     "A script error prints its message and a traceback; os.exit(N) exits with N.\n"
     "\n"
     "Options:\n"
     "  -h, --help   print this help\n"
     "  --           end of options: the next argument is SCRIPT\n",
     vmu_cmd_run},
    {"policy", "POLICY.lua [REQUEST]", "evaluate a policy and print the HCS document",
     "Usage: vmutils policy [OPTIONS] POLICY.lua [REQUEST.json | -]\n"
     "Evaluates the Lua policy POLICY.lua, in a sandbox, on a JSON request (a\n"
     "file, \"-\" for standard input, or none for the empty request {}) and prints\n"
     "the HCS document it returns as JSON on stdout. A policy that returns\n"
     "nil, message rejects the request: the message goes to stderr, status 1.\n"
     "\n"
     "Options:\n"
     "  --instructions N   instruction budget (default 50000000; 0: none)\n"
     "  --memory SIZE      memory cap in bytes, or with a K, M or G suffix\n"
     "                     (default 64M; 0: none)\n"
     "  --timeout TIME     CPU time per call, C work included: milliseconds, or\n"
     "                     with an ms or s suffix (default 1000; 0: none)\n"
     "  --open-files N     files a policy may hold open (default 16; 0: none)\n"
     "  --max-request-bytes SIZE   the largest request read (default 16M; 0: none)\n"
     "  --max-policy-bytes SIZE    the largest policy file read (default 4M; 0: none)\n"
     "  --max-document-bytes SIZE  the largest document written (default 16M;\n"
     "                     0: none)\n"
     "  --compact          print the JSON on one line\n"
     "  -h, --help         print this help\n",
     vmu_cmd_policy},
    {"gcs-logs", "--vm-id ID [FILE]", "forward a GCS log stream as logrus records",
     "Usage: vmutils gcs-logs --vm-id ID [OPTIONS] [FILE | -]\n"
     "       vmutils gcs-logs --listen ADDR [--listen ADDR...] [OPTIONS]\n"
     "       vmutils gcs-logs --listen-dir DIR [OPTIONS]\n"
     "Forwards GCS (guest compute service) log streams, sequences of logrus\n"
     "JSON entries, as a container host does: each entry becomes a logrus record\n"
     "carrying the field uvm-id (the VM's id), one line each.\n"
     "A single stream: FILE (none or \"-\": standard input), records on stdout.\n"
     "The service (--listen, --listen-dir): the log sockets of many VMs, served\n"
     "from one process until SIGTERM or SIGINT (then every record read is\n"
     "written and the socket files it created are removed, status 0); SIGHUP\n"
     "reopens --output.\n"
     "\n"
     "Options:\n"
     "  --vm-id ID            the VM's id, the uvm-id of every record (required\n"
     "                        for a single stream); with --listen, the VM of\n"
     "                        the one unix:PATH given without =VMID\n"
     "  --format text|json    logrus text or JSON records (default json)\n"
     "  --level LEVEL         least severe level printed: panic, fatal, error,\n"
     "                        warn (or warning), info, debug or trace; case is\n"
     "                        ignored (default trace)\n"
     "  --resync              log a bad entry or non-JSON text and go on,\n"
     "                        instead of stopping at the first\n"
     "  --max-entry-bytes N   entries over N bytes are reported, not decoded\n"
     "                        (default 1048576)\n"
     "  -h, --help            print this help\n"
     "\n"
     "Service options:\n"
     "  --listen unix:PATH[=VMID][,resync]\n"
     "                        serve the Unix socket PATH (Firecracker and Cloud\n"
     "                        Hypervisor forward guest port 109 to\n"
     "                        <uds_path>_109) for the VM VMID (repeatable)\n"
     "  --listen vsock:PORT[,resync]\n"
     "                        serve AF_VSOCK port PORT; a peer's VM id comes\n"
     "                        from --vm-map, an unknown CID is refused\n"
     "  --vm-map CID=VMID     the VM id of vsock peer CID (repeatable)\n"
     "  --vm-map-file FILE    CID=VMID lines, '#' starts a comment\n"
     "  --listen-dir DIR      serve <uds_path>_PORT for every VMM socket that\n"
     "                        appears in DIR, until it goes; the VM id is the\n"
     "                        socket's name without its extension\n"
     "  --vm-id-pattern REGEX the VM id is the one capture group of REGEX (POSIX\n"
     "                        extended) in the socket's name; names it does not\n"
     "                        match are not served\n"
     "  --listen-port N       the guest port of --listen-dir (default 109)\n"
     "  --socket-mode MODE    octal mode of the socket files created (default\n"
     "                        0600)\n"
     "  --output FILE         append the records to FILE (created 0640) instead\n"
     "                        of stdout\n"
     "Options take their value as --name VALUE or --name=VALUE; one dash\n"
     "(-name) works too.\n",
     vmu_cmd_gcs_logs},
    {"host", "[--json]", "print this machine's NUMA topology",
     "Usage: vmutils host [--json] [--xml FILE | --synthetic DESC] [--sysfs-root DIR]\n"
     "Prints this machine's NUMA topology as hwloc discovers it: a line a node\n"
     "with its allowed processors, memory free/total and huge pages, then the\n"
     "distance matrix.\n"
     "\n"
     "Options:\n"
     "  --json             print the table vmutils.host_topology returns, as JSON\n"
     "  --xml FILE         read an hwloc XML export instead of this machine\n"
     "  --synthetic DESC   an hwloc synthetic topology (\"pack:2 numa:2 core:4 pu:2\")\n"
     "  --sysfs-root DIR   read free memory and huge pages under DIR (default /sys\n"
     "                     for this machine, none for --xml and --synthetic)\n"
     "  -h, --help         print this help\n",
     vmu_cmd_host},
    {"repl", "", "the interactive Lua prompt",
     "Usage: vmutils repl\n"
     "The interactive Lua 5.4 prompt, with vmutils preloaded; vmutils with no\n"
     "command starts it too when standard input is a terminal. An expression\n"
     "prints its value; an unfinished statement goes on at the \">>\" prompt.\n"
     "Tab completes names, Up and Down recall earlier lines (kept in the file\n"
     "$VMUTILS_HISTORY, default ~/.vmutils_history), Ctrl-C stops a running call\n"
     "or drops what is being typed, Ctrl-D leaves.\n"
     "\n"
     "Options:\n"
     "  -h, --help   print this help\n",
     vmu_cmd_repl},
    {"help", "[COMMAND]", "print this help, or the command's",
     "Usage: vmutils help [COMMAND]\n"
     "Prints the overview of vmutils, or the help of COMMAND (the same as\n"
     "vmutils COMMAND --help).\n",
     cmd_help},
};

#define COMMAND_COUNT (sizeof commands / sizeof commands[0])

static const char overview_head[] =
    "Usage: vmutils [COMMAND [ARGS...]]\n"
    "Sizes and validates Hyper-V utility VMs from Lua: runs scripts and\n"
    "policies with the vmutils module, and forwards GCS log streams.\n"
    "\n"
    "Commands:\n";

static const char overview_tail[] =
    "\n"
    "Options:\n"
    "  -h, --help                   print this help\n"
    "  -v, --version                print the version\n"
    "\n"
    "With no command, vmutils starts the REPL when standard input is a\n"
    "terminal and otherwise runs standard input as a script.\n"
    "'vmutils help COMMAND' or 'vmutils COMMAND --help' describes a command.\n";

static const char exit_statuses[] =
    "\n"
    "Exit status:\n"
    "  0  success\n"
    "  1  the job failed: a policy rejected the request, a script or runtime\n"
    "     error, a read or write error\n"
    "  2  usage error: a bad option or argument, a missing or unreadable file,\n"
    "     a directory where a file is expected\n";

/* The running command, whose name starts every message; NULL before one
 * is chosen and for a script on standard input. */
static const command *current;

static const command *find_command(const char *name)
{
    for (size_t i = 0; i < COMMAND_COUNT; i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

static void print_prefix(void)
{
    if (current)
        fprintf(stderr, "vmutils %s: ", current->name);
    else
        fputs("vmutils: ", stderr);
}

/* One error line: the prefix, the message, a newline. */
static void print_error(const char *fmt, va_list ap)
{
    print_prefix();
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

void vmu_cli_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    print_error(fmt, ap);
    va_end(ap);
}

static void print_try(void)
{
    if (current)
        fprintf(stderr, "Try 'vmutils %s --help'.\n", current->name);
    else
        fputs("Try 'vmutils --help'.\n", stderr);
}

int vmu_cli_usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    print_error(fmt, ap);
    va_end(ap);
    print_try();
    return VMU_EXIT_USAGE;
}

int vmu_cli_bad_option(const char *option)
{
    return vmu_cli_usage_error("unrecognized option '%s'", option);
}

bool vmu_cli_is_help(const char *arg)
{
    return strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0;
}

/* Help goes to stdout; a stdout that cannot take it is an error (as in
 * coreutils: `vmutils --help >/dev/full` must not exit 0). */
static int finish_help(void)
{
    if (fflush(stdout) != 0 || ferror(stdout)) {
        vmu_cli_error("write error: %s", strerror(errno));
        return VMU_EXIT_FAILED;
    }
    return VMU_EXIT_OK;
}

static int print_overview(void)
{
    fputs(overview_head, stdout);
    for (size_t i = 0; i < COMMAND_COUNT; i++) {
        char left[64];
        snprintf(left, sizeof left, "%s %s", commands[i].name, commands[i].synopsis);
        if (strlen(left) <= 27)
            printf("  %-27s  %s\n", left, commands[i].summary);
        else
            printf("  %s\n  %-27s  %s\n", left, "", commands[i].summary);
    }
    fputs(overview_tail, stdout);
    fputs(exit_statuses, stdout);
    return finish_help();
}

int vmu_cli_help(void)
{
    if (!current)
        return print_overview();
    fputs(current->help, stdout);
    fputs(exit_statuses, stdout);
    return finish_help();
}

int vmu_cli_open_input(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        vmu_cli_error("cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
        vmu_cli_error("%s: %s", path, strerror(EISDIR));
        close(fd);
        return -1;
    }
    return fd;
}

int vmu_cli_check_input(const char *path)
{
    int fd = vmu_cli_open_input(path);
    if (fd < 0)
        return VMU_EXIT_USAGE;
    close(fd);
    return VMU_EXIT_OK;
}

/* `vmutils help [COMMAND]`. */
static int cmd_help(int argc, char **argv)
{
    if (argc > 2)
        return vmu_cli_usage_error("unexpected argument '%s'", argv[2]);
    if (argc < 2)
        return print_overview();
    if (argv[1][0] == '-' && argv[1][1] != '\0')
        return vmu_cli_bad_option(argv[1]);
    const command *cmd = find_command(argv[1]);
    current = cmd; /* an unknown one is reported as `vmutils NAME` reports it */
    if (!cmd)
        return vmu_cli_usage_error("unknown command '%s'", argv[1]);
    return vmu_cli_help();
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        if (isatty(STDIN_FILENO)) {
            current = find_command("repl");
            return vmu_cmd_repl(1, argv);
        }
        return vmu_cmd_stdin();
    }
    const char *name = argv[1];
    if (strcmp(name, "--version") == 0 || strcmp(name, "-v") == 0) {
        puts(VMU_PROGRAM_VERSION);
        return finish_help();
    }
    if (vmu_cli_is_help(name))
        return print_overview();
    if (name[0] == '-' && name[1] != '\0')
        return vmu_cli_bad_option(name);
    const command *cmd = find_command(name);
    if (!cmd)
        return vmu_cli_usage_error("unknown command '%s'", name);
    current = cmd;
    /* `vmutils CMD --help`; commands with options also take it among them. */
    if (argc > 2 && vmu_cli_is_help(argv[2]))
        return vmu_cli_help();
    return cmd->run(argc - 1, argv + 1);
}
