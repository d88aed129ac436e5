/* Runs a fuzz target's entry point over seed files given as arguments, so
 * every build compiles and exercises the target without libFuzzer. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		FILE *f = fopen(argv[i], "rb");
		uint8_t *buf = malloc(1 << 22);
		size_t n;

		if (!f || !buf) {
			fprintf(stderr, "cannot read %s\n", argv[i]);
			return 1;
		}
		n = fread(buf, 1, 1 << 22, f);
		fclose(f);
		LLVMFuzzerTestOneInput(buf, n);
		free(buf);
		printf("replayed %s (%zu bytes)\n", argv[i], n);
	}
	return 0;
}
