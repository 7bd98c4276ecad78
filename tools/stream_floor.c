// What it costs to bring a model's weights back from the page cache into a process that may not
// keep them mapped (a run under --max-memory streams most layers every decode step), against
// reading them while they stay mapped (the read floor). One thread, the file as the page cache
// holds it now; medians of --repeats passes over the same bytes:
//   resident  read the range while it stays mapped (mapped and touched once before)
//   fault     read a layer-sized chunk through page faults, then MADV_DONTNEED it (what
//             a streamed layer cost before `populate`)
//   populate  MADV_POPULATE_READ the chunk, read it, MADV_DONTNEED it (what prism does now)
//   pread     pread 4 MiB at a time into one reused buffer, read that
// The page cache's folio sizes decide most of it: read the file sequentially once (as
// `MappedFile.warmPageCache` does) and compare with the file as a converter or a forward pass
// left it. Build and run (x86-64 or aarch64 Linux, any C compiler):
//   cc -O2 -o .build/stream_floor tools/stream_floor.c && .build/stream_floor MODEL.prism [MiB] [chunk MiB] [repeats]
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#endif

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static uint64_t sum(const uint8_t *p, size_t n) {
    uint64_t s = 0;
    const uint64_t *q = (const uint64_t *)p;
    for (size_t i = 0; i < n / 8; i++) s += q[i];
    return s;
}

static int by_value(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n) {
    qsort(v, n, sizeof *v, by_value);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s MODEL [MiB to stream (default: all but the first 10%%)] [chunk MiB (140)] [repeats (5)]\n", argv[0]);
        return 2;
    }
    int fd = open(argv[1], O_RDONLY);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || st.st_size < (64 << 20)) {
        fprintf(stderr, "error: %s: cannot open, or smaller than 64 MiB\n", argv[1]);
        return 2;
    }
    size_t size = (size_t)st.st_size;
    size_t len = argc > 2 ? (size_t)atol(argv[2]) << 20 : size / 10 * 9;
    if (len > size) len = size;
    size_t off = (size - len) & ~(size_t)4095;
    len = size - off;
    size_t chunk = (argc > 3 ? (size_t)atol(argv[3]) : 140) << 20;
    int repeats = argc > 4 ? atoi(argv[4]) : 5;
    if (repeats < 1 || repeats > 100 || chunk == 0) {
        fprintf(stderr, "error: repeats 1..100, chunk > 0\n");
        return 2;
    }
    uint8_t *m = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    size_t buffer_size = 4 << 20;
    uint8_t *buffer = aligned_alloc(4096, buffer_size);
    if (m == MAP_FAILED || !buffer) {
        fprintf(stderr, "error: cannot map %s\n", argv[1]);
        return 2;
    }
    double t_res[100], t_fault[100], t_pop[100], t_pread[100];
    volatile uint64_t sink = 0;
    for (int r = 0; r < repeats; r++) {
        double t = now_ms();
        for (size_t o = off; o < off + len; o += chunk) {
            size_t n = chunk < off + len - o ? chunk : off + len - o;
            sink += sum(m + o, n);
            madvise(m + o, n, MADV_DONTNEED);
        }
        t_fault[r] = now_ms() - t;

        t = now_ms();
        for (size_t o = off; o < off + len; o += chunk) {
            size_t n = chunk < off + len - o ? chunk : off + len - o;
            madvise(m + o, n, MADV_POPULATE_READ);
            sink += sum(m + o, n);
            madvise(m + o, n, MADV_DONTNEED);
        }
        t_pop[r] = now_ms() - t;

        t = now_ms();
        for (size_t o = off; o < off + len; o += buffer_size) {
            ssize_t got = pread(fd, buffer, buffer_size, (off_t)o);
            if (got <= 0) break;
            sink += sum(buffer, (size_t)got);
        }
        t_pread[r] = now_ms() - t;

        madvise(m + off, len, MADV_POPULATE_READ);
        sink += sum(m + off, len);
        t = now_ms();
        sink += sum(m + off, len);
        t_res[r] = now_ms() - t;
        madvise(m + off, len, MADV_DONTNEED);
    }
    double res = median(t_res, repeats);
    printf("%zu MiB of %s, chunks of %zu MiB, medians of %d, one thread:\n", len >> 20, argv[1], chunk >> 20, repeats);
    printf("  resident  %7.1f ms  (%.1f GB/s)\n", res, len / res / 1e6);
    double f = median(t_fault, repeats), p = median(t_pop, repeats), q = median(t_pread, repeats);
    printf("  fault     %7.1f ms  %.2fx resident\n", f, f / res);
    printf("  populate  %7.1f ms  %.2fx resident\n", p, p / res);
    printf("  pread     %7.1f ms  %.2fx resident\n", q, q / res);
    free(buffer);
    return (int)(sink & 0);
}
