#include "bench_util.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int read_stat(pid_t pid, pid_t *ppid, double *cpu_ms)
{
	char path[64], buf[1024], *p;
	unsigned long ut, st;
	int pp;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (!fgets(buf, sizeof(buf), f)) {
		fclose(f);
		return -1;
	}
	fclose(f);
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 2, "%*c %d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
			 &pp, &ut, &st) != 3)
		return -1;
	*ppid = pp;
	*cpu_ms = (double)(ut + st) * 1000.0 / (double)sysconf(_SC_CLK_TCK);
	return 0;
}

/* schedstat's run time is exact (ns); stat's ticks miss short bursts.
 * Summed over every thread of the process. */
double bench_cpu_ms(pid_t pid)
{
	char path[64];
	DIR *d;
	struct dirent *e;
	double total = 0;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	d = opendir(path);
	if (!d)
		return -1;
	while ((e = readdir(d))) {
		char p2[320];
		unsigned long long ns;
		FILE *f;

		if (e->d_name[0] == '.')
			continue;
		snprintf(p2, sizeof(p2), "/proc/%d/task/%s/schedstat", (int)pid,
			 e->d_name);
		f = fopen(p2, "r");
		if (!f)
			continue;
		if (fscanf(f, "%llu", &ns) == 1)
			total += (double)ns / 1e6;
		fclose(f);
	}
	closedir(d);
	return total;
}

double bench_cpu_tree_ms(pid_t pid, int *children)
{
	double total = bench_cpu_ms(pid);
	DIR *d = opendir("/proc");
	struct dirent *e;

	if (children)
		*children = 0;
	if (!d)
		return total;
	while ((e = readdir(d))) {
		pid_t child = (pid_t)atoi(e->d_name), pp;
		double ms;

		if (child > 0 && child != pid &&
		    read_stat(child, &pp, &ms) == 0 && pp == pid) {
			total += bench_cpu_ms(child);
			if (children)
				(*children)++;
		}
	}
	closedir(d);
	return total;
}
