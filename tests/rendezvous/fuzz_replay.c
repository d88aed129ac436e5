/* Seed replay for a fuzz target (see fuzz_seeds.h). */
#include <stdio.h>
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

int main(void)
{
	fuzz_seeds(emit);
	run((const uint8_t *)"", 0);
	printf("%u seeds, %u inputs replayed\n", seeds, runs);
	return seeds ? EXIT_SUCCESS : EXIT_FAILURE;
}
