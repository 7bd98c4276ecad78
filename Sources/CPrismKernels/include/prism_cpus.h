#ifndef PRISM_CPUS_H
#define PRISM_CPUS_H

// The CPUs in this thread's affinity mask (sched_getaffinity, CPU_COUNT): what `taskset`,
// `numactl` or Slurm's CPU binding allow. Swift's Glibc does not expose the CPU_* macros.
// Returns 0 when unknown (not Linux, or the call failed): the caller then uses the processor
// count Foundation reports.
int prism_affinity_cpus(void);

#endif
