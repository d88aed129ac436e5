/* Each fuzz target also builds a few valid inputs; fuzz_replay.c feeds them
 * (and every prefix and some bit flips of them) through the target's entry
 * point in every build, so the target compiles and runs without libFuzzer. */
#pragma once
#include <stddef.h>
#include <stdint.h>

typedef void (*fuzz_seed_fn)(const uint8_t *data, size_t len);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* Calls emit once per seed. */
void fuzz_seeds(fuzz_seed_fn emit);
