/* Seed replay for a fuzz target (see fuzz_seeds.h). */
#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_seeds.h"

static unsigned seeds, runs;

static void run(const uint8_t *data, size_t len)
{
	uint8_t *copy = malloc(len ? len : 1);
	if (len)
		memcpy(copy, data, len);
	LLVMFuzzerTestOneInput(copy, len);
	free(copy);
	runs++;
}

static void emit(const uint8_t *data, size_t len)
{
	seeds++;
	/* whole, every prefix, and one flipped bit per byte */
	for (size_t i = 0; i <= len; i++)
		run(data, i);
	uint8_t *m = malloc(len ? len : 1);
	for (size_t i = 0; i < len; i++) {
		memcpy(m, data, len);
		m[i] ^= (uint8_t)(1u << (i % 8));
		run(m, len);
	}
	free(m);
}

static const char *seed_dir;

/* --write-seeds DIR: the seeds as files, a starting corpus for libFuzzer. */
static void write_seed(const uint8_t *data, size_t len)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/seed-%u", seed_dir, seeds++);
	FILE *f = fopen(path, "wb");
	if (!f)
		exit(EXIT_FAILURE);
	fwrite(data, 1, len, f);
	fclose(f);
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "--write-seeds") == 0) {
		seed_dir = argv[2];
		if (mkdir(seed_dir, 0755) < 0 && errno != EEXIST)
			return EXIT_FAILURE;
		fuzz_seeds(write_seed);
		return EXIT_SUCCESS;
	}
	fuzz_seeds(emit);
	run((const uint8_t *)"", 0);
	printf("%u seeds, %u inputs replayed\n", seeds, runs);
	return seeds ? EXIT_SUCCESS : EXIT_FAILURE;
}
