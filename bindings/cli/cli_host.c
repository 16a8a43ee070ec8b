/* `vmutils host`: the host's NUMA topology (vmu_topology_discover) as a
 * person reads it, one line a node and then the distances, or as JSON in
 * the shape of vmutils.host_topology. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "vmutils.h"

/* "0-3,8,10-11" */
static void put_cpu_list(vmu_buf *out, const uint32_t *cpus, uint32_t n)
{
    for (uint32_t i = 0; i < n;) {
        uint32_t j = i;
        while (j + 1 < n && cpus[j + 1] == cpus[j] + 1)
            j++;
        vmu_buf_printf(out, i ? ",%" PRIu32 : "%" PRIu32, cpus[i]);
        if (j > i)
            vmu_buf_printf(out, "-%" PRIu32, cpus[j]);
        i = j + 1;
    }
}

static const char *plural(uint64_t n) { return n == 1 ? "" : "s"; }

static void format_text(const vmu_topology *t, vmu_buf *out)
{
    vmu_buf_printf(out,
                   "host: %" PRIu32 " logical processor%s allowed of %" PRIu32 " online (%" PRIu32
                   " offline), %" PRIu32 " package%s, %" PRIu32 " core%s, %zu NUMA node%s\n",
                   t->logical_processor_count, plural(t->logical_processor_count),
                   t->existing_processors, t->offline_processors, t->packages,
                   plural(t->packages), t->cores, plural(t->cores), t->nodes_len,
                   plural(t->nodes_len));
    for (size_t i = 0; i < t->nodes_len; i++) {
        const vmu_topology_node *n = &t->nodes[i];
        vmu_buf_printf(out, "node %" PRIu32 ": ", n->id);
        if (n->cpu_less)
            vmu_buf_puts(out, "no cpus (memory only)");
        else {
            vmu_buf_puts(out, "cpus ");
            put_cpu_list(out, n->cpus, n->processors);
            vmu_buf_printf(out, " (%" PRIu32 " of %" PRIu32 ", %" PRIu32 " core%s", n->processors,
                           n->existing_processors, n->cores, plural(n->cores));
            if (n->package >= 0)
                vmu_buf_printf(out, ", package %" PRId32, n->package);
            vmu_buf_putc(out, ')');
        }
        if (n->memory_less)
            vmu_buf_puts(out, ", no memory");
        else
            vmu_buf_printf(out, ", memory %" PRIu64 "/%" PRIu64 " MiB free", n->free_mb,
                           n->memory_mb);
        for (size_t h = 0; h < n->hugepages_len; h++) {
            const vmu_hugepages *p = &n->hugepages[h];
            if (p->size_kib % (1024 * 1024) == 0)
                vmu_buf_printf(out, ", %" PRIu64 "G pages", p->size_kib / (1024 * 1024));
            else if (p->size_kib % 1024 == 0)
                vmu_buf_printf(out, ", %" PRIu64 "M pages", p->size_kib / 1024);
            else
                vmu_buf_printf(out, ", %" PRIu64 "K pages", p->size_kib);
            vmu_buf_printf(out, " %" PRIu64 "/%" PRIu64 " free", p->free, p->total);
        }
        if (!n->allowed)
            vmu_buf_puts(out, ", not allowed by the cpuset");
        vmu_buf_putc(out, '\n');
    }
    vmu_buf_puts(out, "distances:\n     ");
    for (size_t j = 0; j < t->nodes_len; j++)
        vmu_buf_printf(out, " %4" PRIu32, t->nodes[j].id);
    vmu_buf_putc(out, '\n');
    for (size_t i = 0; i < t->nodes_len; i++) {
        vmu_buf_printf(out, "%4" PRIu32 " ", t->nodes[i].id);
        for (size_t j = 0; j < t->nodes_len; j++)
            vmu_buf_printf(out, " %4" PRIu32, t->nodes[i].distances ? t->nodes[i].distances[j] : 0);
        vmu_buf_putc(out, '\n');
    }
}

/* The vmutils.host_topology table; integer keys written as strings, as the
 * policy runtime writes them. */
static void format_json(const vmu_topology *t, vmu_buf *out)
{
    vmu_buf_printf(out,
                   "{\"LogicalProcessorCount\":%" PRIu32 ",\"cores\":%" PRIu32
                   ",\"existing_processors\":%" PRIu32 ",\"nodes\":[",
                   t->logical_processor_count, t->cores, t->existing_processors);
    for (size_t i = 0; i < t->nodes_len; i++) {
        const vmu_topology_node *n = &t->nodes[i];
        vmu_buf_printf(out, "%s{\"allowed\":%s,\"cores\":%" PRIu32 ",\"cpu_less\":%s,\"cpus\":[",
                       i ? "," : "", n->allowed ? "true" : "false", n->cores,
                       n->cpu_less ? "true" : "false");
        for (uint32_t c = 0; c < n->processors; c++)
            vmu_buf_printf(out, c ? ",%" PRIu32 : "%" PRIu32, n->cpus[c]);
        vmu_buf_puts(out, "],\"distances\":{");
        for (size_t j = 0; n->distances && j < t->nodes_len; j++)
            vmu_buf_printf(out, "%s\"%" PRIu32 "\":%" PRIu32, j ? "," : "", t->nodes[j].id,
                           n->distances[j]);
        vmu_buf_printf(out, "},\"existing_processors\":%" PRIu32 ",\"free_mb\":%" PRIu64
                            ",\"hugepages\":{",
                       n->existing_processors, n->free_mb);
        for (size_t h = 0; h < n->hugepages_len; h++)
            vmu_buf_printf(out, "%s\"%" PRIu64 "\":{\"free\":%" PRIu64 ",\"total\":%" PRIu64 "}",
                           h ? "," : "", n->hugepages[h].size_kib, n->hugepages[h].free,
                           n->hugepages[h].total);
        vmu_buf_printf(out, "},\"id\":%" PRIu32 ",\"memory_less\":%s,\"memory_mb\":%" PRIu64,
                       n->id, n->memory_less ? "true" : "false", n->memory_mb);
        if (n->package >= 0)
            vmu_buf_printf(out, ",\"package\":%" PRId32, n->package);
        vmu_buf_printf(out, ",\"processors\":%" PRIu32 "}", n->processors);
    }
    vmu_buf_printf(out, "],\"offline_processors\":%" PRIu32 ",\"packages\":%" PRIu32 "}\n",
                   t->offline_processors, t->packages);
}

/* The option's value: `--name VALUE` or `--name=VALUE`; NULL when
 * argv[*i] is not that option. */
static const char *option_value(int argc, char **argv, int *i, const char *name)
{
    size_t n = strlen(name);
    const char *a = argv[*i];
    if (strncmp(a, name, n) != 0)
        return NULL;
    if (a[n] == '=')
        return a + n + 1;
    if (a[n] != '\0')
        return NULL;
    if (*i + 1 >= argc) {
        vmu_cli_usage_error("option '%s' requires an argument", name);
        return "";
    }
    return argv[++*i];
}

int vmu_cmd_host(int argc, char **argv)
{
    vmu_topology_options opts = {0};
    bool json = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (strcmp(a, "--json") == 0) {
            json = true;
        } else if (vmu_cli_is_help(a)) {
            return vmu_cli_help();
        } else if ((v = option_value(argc, argv, &i, "--xml"))) {
            if (!*v || vmu_cli_check_input(v) != VMU_EXIT_OK)
                return VMU_EXIT_USAGE;
            opts.xml = v;
        } else if ((v = option_value(argc, argv, &i, "--synthetic"))) {
            if (!*v)
                return VMU_EXIT_USAGE;
            opts.synthetic = v;
        } else if ((v = option_value(argc, argv, &i, "--sysfs-root"))) {
            if (!*v)
                return VMU_EXIT_USAGE;
            opts.sysfs_root = v;
        } else if (a[0] == '-') {
            return vmu_cli_bad_option(a);
        } else {
            return vmu_cli_usage_error("unexpected argument '%s'", a);
        }
    }
    vmu_topology *t;
    vmu_err err;
    if (vmu_topology_discover(&opts, &t, &err) != 0) {
        vmu_cli_error("%s", err.msg);
        return VMU_EXIT_FAILED;
    }
    vmu_buf out;
    vmu_buf_init(&out);
    if (json)
        format_json(t, &out);
    else
        format_text(t, &out);
    vmu_topology_free(t);
    int rc = VMU_EXIT_OK;
    if (out.failed) {
        vmu_cli_error("out of memory");
        rc = VMU_EXIT_FAILED;
    } else if (fwrite(out.data, 1, out.len, stdout) != out.len || fflush(stdout) != 0) {
        vmu_cli_error("write stdout: %s", strerror(errno));
        rc = VMU_EXIT_FAILED;
    }
    vmu_buf_free(&out);
    return rc;
}
