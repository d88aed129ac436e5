/* CPU accounting for the benches: a process's user+system time from
 * /proc, and the same for all of a parent's direct children. */
#pragma once
#include <stdint.h>
#include <sys/types.h>

/* utime+stime of pid in ms, -1 if gone. */
double bench_cpu_ms(pid_t pid);
/* Sum over pid and its living direct children. */
double bench_cpu_tree_ms(pid_t pid, int *children);
