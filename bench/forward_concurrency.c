/* Concurrent forwarding throughput: N VMs, each a producer thread writing a
 * GCS log stream into its own pipe and a forwarder thread running
 * vmu_gcs_forward_fd on it, all logging through one logger (logrus JSON) to
 * /dev/null: the shape of a C host with one forwarder per VM. The corpus is
 * split into N streams of equal size (cut at line ends), so every run moves
 * the same bytes. Prints records/s, MB/s of input and the memory the run
 * added to the process (peak RSS over the RSS after loading the corpus).
 * Printed figures, not a test: bench/forward_concurrency.sh runs it for 1, 4
 * and 64 streams.
 *
 * Usage: forward_concurrency CORPUS STREAMS */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "vmutils.h"

typedef struct stream {
    const char *data;
    size_t len;
    int fds[2];
    char name[16];
    vmu_gcs_stats stats;
    int rc;
    pthread_t producer, forwarder;
} stream;

static vmu_logger *logger;

static void *produce(void *arg)
{
    stream *s = arg;
    size_t at = 0;
    while (at < s->len) {
        ssize_t n = write(s->fds[1], s->data + at, s->len - at > 65536 ? 65536 : s->len - at);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            perror("write");
            exit(1);
        }
        at += (size_t)n;
    }
    close(s->fds[1]);
    return NULL;
}

static void *forward(void *arg)
{
    stream *s = arg;
    s->rc = vmu_gcs_forward_fd(s->name, s->fds[0], s->name, NULL, logger, &s->stats);
    close(s->fds[0]);
    return NULL;
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *data = malloc((size_t)size + 1);
    if (!data || fread(data, 1, (size_t)size, f) != (size_t)size) {
        fclose(f);
        free(data);
        return NULL;
    }
    fclose(f);
    /* Touch every page now, so that the corpus is in the baseline RSS. */
    data[size] = '\0';
    *len = (size_t)size;
    return data;
}

static long rss_kib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kib = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
            break;
    if (f)
        fclose(f);
    return kib;
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s CORPUS STREAMS\n", argv[0]);
        return 2;
    }
    int count = atoi(argv[2]);
    size_t len;
    char *corpus = read_file(argv[1], &len);
    if (!corpus || count < 1) {
        fprintf(stderr, "cannot read %s, or no streams\n", argv[1]);
        return 2;
    }
    stream *streams = calloc((size_t)count, sizeof *streams);
    size_t at = 0;
    for (int i = 0; i < count; i++) {
        size_t end = i == count - 1 ? len : (len / (size_t)count) * (size_t)(i + 1);
        while (end < len && corpus[end - 1] != '\n')
            end++;
        streams[i].data = corpus + at;
        streams[i].len = end - at;
        at = end;
        snprintf(streams[i].name, sizeof streams[i].name, "vm-%03d", i);
        if (pipe(streams[i].fds) != 0) {
            perror("pipe");
            return 1;
        }
    }
    logger = vmu_logger_new();
    FILE *devnull = fopen("/dev/null", "w");
    if (!logger || !devnull)
        return 1;
    vmu_logger_set_format(logger, VMU_LOG_JSON);
    vmu_logger_set_level(logger, VMU_LEVEL_TRACE);
    vmu_logger_set_stream(logger, devnull);

    long baseline = rss_kib();
    double start = now();
    for (int i = 0; i < count; i++) {
        pthread_create(&streams[i].producer, NULL, produce, &streams[i]);
        pthread_create(&streams[i].forwarder, NULL, forward, &streams[i]);
    }
    uint64_t records = 0, bytes = 0;
    for (int i = 0; i < count; i++) {
        pthread_join(streams[i].producer, NULL);
        pthread_join(streams[i].forwarder, NULL);
        if (streams[i].rc != 0) {
            fprintf(stderr, "%s: forwarding failed\n", streams[i].name);
            return 1;
        }
        records += streams[i].stats.entries;
        bytes += streams[i].stats.bytes;
    }
    double seconds = now() - start;
    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    printf("%3d streams  %9llu records  %7.3f s  %10.0f records/s  %7.1f MB/s  +%ld KiB peak RSS\n",
           count, (unsigned long long)records, seconds, (double)records / seconds,
           (double)bytes / seconds / 1e6, usage.ru_maxrss - baseline);
    fclose(devnull);
    vmu_logger_free(logger);
    free(streams);
    free(corpus);
    return 0;
}
