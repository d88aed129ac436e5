/* Fuzz target: what a session worker does with a ring mediad handed it.
 * The reader must never fault, whatever the memfd holds. Input byte 0
 * picks the mode: even = the rest is the memfd as is; odd = a valid ring
 * with frames, then the rest applied as (offset, byte) patches - a writer
 * that corrupts its own header, slots or payload under the reader. */
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "frame_ring.h"

#define SEALS (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void read_everything(int fd)
{
	struct kd_frame_ring_reader *r = NULL;
	uint64_t latest, sum = 0;

	if (kd_frame_ring_reader_open(fd, &r) != 0)
		return;
	latest = kd_frame_ring_latest(r);
	for (uint64_t s = latest > 70 ? latest - 70 : 0; s <= latest + 2; s++) {
		struct kd_frame_view v;

		if (kd_frame_ring_peek(r, s, &v) != 0)
			continue;
		for (uint32_t i = 0; i < v.size; i++) /* touch every byte */
			sum += v.data[i];
		kd_frame_ring_verify(r, &v);
	}
	kd_frame_ring_peek(r, kd_frame_ring_latest_key(r), &(struct kd_frame_view){ 0 });
	(void)sum;
	kd_frame_ring_reader_destroy(r);
}

static void raw_ring(const uint8_t *data, size_t size)
{
	int fd = memfd_create("fuzz", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	size_t total = size < KD_FRAME_RING_HEADER_SIZE ? KD_FRAME_RING_HEADER_SIZE
							 : size;

	if (fd < 0)
		return;
	if (ftruncate(fd, (off_t)total) == 0 &&
	    pwrite(fd, data, size, 0) == (ssize_t)size &&
	    fcntl(fd, F_ADD_SEALS, SEALS) == 0)
		read_everything(fd);
	close(fd);
}

static void patched_ring(const uint8_t *data, size_t size)
{
	struct kd_frame_ring_params p = { .slot_count = 8, .data_size = 16384,
					  .codec = 2 };
	struct kd_frame_ring_writer *w;
	uint8_t payload[3000];
	uint8_t *map;
	size_t total;
	int fd;

	if (kd_frame_ring_writer_create(&p, &w) != 0)
		return;
	memset(payload, 7, sizeof(payload));
	for (int i = 0; i < 12; i++) {
		struct kd_frame_meta m = { .key = i % 4 == 0, .width = 64,
					   .height = 64 };

		kd_frame_ring_write(w, &m, payload, 500 + (size_t)i * 200);
	}
	fd = kd_frame_ring_writer_fd(w);
	map = kd_frame_ring_writer_map(w, &total);
	/* patches: 3 bytes offset, 1 byte value */
	for (size_t i = 0; i + 4 <= size; i += 4) {
		size_t off = ((size_t)data[i] | (size_t)data[i + 1] << 8 |
			      (size_t)data[i + 2] << 16) % total;

		map[off] = data[i + 3];
	}
	read_everything(fd);
	kd_frame_ring_writer_destroy(w);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0 || size > (1u << 20))
		return 0;
	if (data[0] & 1)
		patched_ring(data + 1, size - 1);
	else
		raw_ring(data + 1, size - 1);
	return 0;
}
