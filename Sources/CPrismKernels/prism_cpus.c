// The affinity half of "the CPUs this process may use"; the cgroup quota half is parsed in
// Swift (PrismKernels/CPUs.swift), where a test can feed it sample files.
#define _GNU_SOURCE
#include "prism_cpus.h"

#ifdef __linux__
#include <sched.h>

int prism_affinity_cpus(void) {
    // A set sized for machines with more CPUs than the fixed cpu_set_t's 1024.
    enum { max_cpus = 16384 };
    cpu_set_t *set = CPU_ALLOC(max_cpus);
    if (!set) return 0;
    size_t size = CPU_ALLOC_SIZE(max_cpus);
    CPU_ZERO_S(size, set);
    int n = sched_getaffinity(0, size, set) == 0 ? CPU_COUNT_S(size, set) : 0;
    CPU_FREE(set);
    return n;
}
#else
int prism_affinity_cpus(void) { return 0; }
#endif
