/* Shared-memory frame ring; the layout and protocol are in frame_ring.h. */
#include "frame_ring.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096u
#define REQUIRED_SEALS (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)
#ifndef F_SEAL_FUTURE_WRITE
#define F_SEAL_FUTURE_WRITE 0x0010
#endif

_Static_assert(sizeof(struct kd_frame_ring_header) <= KD_FRAME_RING_HEADER_SIZE,
	       "ring header must fit its page");
_Static_assert(sizeof(struct kd_frame_ring_slot) % 8 == 0,
	       "slots must stay 8-byte aligned");

struct kd_frame_ring_writer {
	int fd;
	int reader_fd;          /* read-only file description for readers */
	uint8_t *map;
	size_t map_size;
	struct kd_frame_ring_header *hdr;
	struct kd_frame_ring_slot *slots;
	uint8_t *data;
	uint64_t reserved_pos;  /* absolute position of a reserved payload */
	size_t reserved_size;
};

struct kd_frame_ring_reader {
	const uint8_t *map;
	size_t map_size;
	const struct kd_frame_ring_header *hdr;
	const struct kd_frame_ring_slot *slots;
	const uint8_t *data;
	uint32_t slot_count;
	uint64_t data_size;
	uint32_t codec;
};

/* Shared fields are accessed through these so every access is atomic and the
 * ordering is explicit (the other side is another process). */
static inline uint64_t load_acq(const uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

static inline void store_rel(uint64_t *p, uint64_t v)
{
	__atomic_store_n(p, v, __ATOMIC_RELEASE);
}

uint64_t kd_frame_ring_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t round_up(uint64_t v, uint64_t to)
{
	return (v + to - 1) / to * to;
}

/* A second, read-only open of the memfd: even on kernels without
 * F_SEAL_FUTURE_WRITE a reader cannot map it writable. Falls back to the
 * memfd itself when /proc is not there. */
static int open_read_only(int fd)
{
	char path[64];
	int ro;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	ro = open(path, O_RDONLY | O_CLOEXEC);
	return ro >= 0 ? ro : fd;
}

int kd_frame_ring_writer_create(const struct kd_frame_ring_params *p,
				struct kd_frame_ring_writer **out)
{
	struct kd_frame_ring_writer *w;
	uint32_t slots = p->slot_count ? p->slot_count
				       : KD_FRAME_RING_DEFAULT_SLOTS;
	uint64_t data_size = round_up(p->data_size ? p->data_size
						   : KD_FRAME_RING_DEFAULT_DATA,
				      PAGE);
	uint64_t slots_off = KD_FRAME_RING_HEADER_SIZE;
	uint64_t data_off = round_up(slots_off + (uint64_t)slots *
				     sizeof(struct kd_frame_ring_slot), PAGE);
	uint64_t total = data_off + data_size;
	int r;

	if (slots < 2 || slots > 65536 || data_size > (1ull << 32))
		return -EINVAL;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->reader_fd = -1;
	w->fd = memfd_create("kvmdesk-frame-ring",
			     MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (w->fd < 0) {
		r = -errno;
		goto fail;
	}
	if (ftruncate(w->fd, (off_t)total) < 0) {
		r = -errno;
		goto fail;
	}
	w->map = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_SHARED, w->fd, 0);
	if (w->map == MAP_FAILED) {
		w->map = NULL;
		r = -errno;
		goto fail;
	}
	/* After our own writable mapping exists: nobody else may ever map it
	 * writable or write() to it (F_SEAL_FUTURE_WRITE, Linux >= 5.1), nor
	 * resize it, nor change the seals. */
	if (fcntl(w->fd, F_ADD_SEALS, REQUIRED_SEALS | F_SEAL_FUTURE_WRITE) < 0 &&
	    (errno != EINVAL ||
	     fcntl(w->fd, F_ADD_SEALS, REQUIRED_SEALS) < 0)) {
		r = -errno;
		goto fail;
	}
	w->reader_fd = open_read_only(w->fd);
	w->map_size = total;
	w->hdr = (struct kd_frame_ring_header *)w->map;
	w->slots = (struct kd_frame_ring_slot *)(w->map + slots_off);
	w->data = w->map + data_off;

	w->hdr->version = KD_FRAME_RING_VERSION;
	w->hdr->header_size = KD_FRAME_RING_HEADER_SIZE;
	w->hdr->slot_count = slots;
	w->hdr->slot_size = sizeof(struct kd_frame_ring_slot);
	w->hdr->slots_offset = slots_off;
	w->hdr->data_offset = data_off;
	w->hdr->data_size = data_size;
	w->hdr->max_frame = data_size / 2;
	w->hdr->total_size = total;
	w->hdr->codec = p->codec;
	/* The magic last: a reader never sees a half-initialised header. */
	store_rel(&w->hdr->magic, KD_FRAME_RING_MAGIC);
	*out = w;
	return 0;
fail:
	kd_frame_ring_writer_destroy(w);
	return r;
}

void kd_frame_ring_writer_destroy(struct kd_frame_ring_writer *w)
{
	if (!w)
		return;
	if (w->map)
		munmap(w->map, w->map_size);
	if (w->reader_fd >= 0 && w->reader_fd != w->fd)
		close(w->reader_fd);
	if (w->fd >= 0)
		close(w->fd);
	free(w);
}

int kd_frame_ring_writer_fd(const struct kd_frame_ring_writer *w)
{
	return w->reader_fd;
}

uint8_t *kd_frame_ring_writer_map(struct kd_frame_ring_writer *w,
				  size_t *size)
{
	*size = w->map_size;
	return w->map;
}

uint8_t *kd_frame_ring_reserve(struct kd_frame_ring_writer *w, size_t size)
{
	struct kd_frame_ring_header *h = w->hdr;
	uint64_t pos = h->write_pos;
	uint64_t off;

	if (size > h->max_frame)
		return NULL;
	off = pos % h->data_size;
	if (off + size > h->data_size)
		pos += h->data_size - off; /* payloads never wrap */
	/* Announce what is about to be overwritten before touching it. */
	store_rel(&h->reclaim_pos,
		  pos + size > h->data_size ? pos + size - h->data_size : 0);
	atomic_thread_fence(memory_order_seq_cst);
	w->reserved_pos = pos;
	w->reserved_size = size;
	return w->data + pos % h->data_size;
}

int64_t kd_frame_ring_commit(struct kd_frame_ring_writer *w,
			     const struct kd_frame_meta *m)
{
	struct kd_frame_ring_header *h = w->hdr;
	uint64_t seq = h->write_seq + 1;
	struct kd_frame_ring_slot *s = &w->slots[seq % h->slot_count];

	store_rel(&s->seq, 0);
	atomic_thread_fence(memory_order_seq_cst);
	s->data_pos = w->reserved_pos;
	s->size = (uint32_t)w->reserved_size;
	s->flags = m->key ? KD_FRAME_FLAG_KEY : 0;
	s->pts_ms = m->pts_ms;
	s->codec = h->codec;
	s->width = (uint16_t)m->width;
	s->height = (uint16_t)m->height;
	s->capture_ns = m->capture_ns;
	s->encode_ns = m->encode_ns;
	s->publish_ns = kd_frame_ring_now_ns();
	atomic_thread_fence(memory_order_release);
	store_rel(&s->seq, seq);
	h->write_pos = w->reserved_pos + w->reserved_size;
	if (m->key)
		store_rel(&h->last_key_seq, seq);
	store_rel(&h->write_seq, seq);
	w->reserved_size = 0;
	return (int64_t)seq;
}

int64_t kd_frame_ring_write(struct kd_frame_ring_writer *w,
			    const struct kd_frame_meta *meta,
			    const void *data, size_t size)
{
	uint8_t *dst = kd_frame_ring_reserve(w, size);

	if (!dst)
		return -EMSGSIZE;
	memcpy(dst, data, size);
	return kd_frame_ring_commit(w, meta);
}

static int check_layout(const struct kd_frame_ring_header *h, size_t file_size)
{
	uint64_t slots_end;

	if (h->magic != KD_FRAME_RING_MAGIC ||
	    h->version != KD_FRAME_RING_VERSION ||
	    h->header_size != KD_FRAME_RING_HEADER_SIZE ||
	    h->slot_size != sizeof(struct kd_frame_ring_slot) ||
	    h->slot_count < 2 || h->slot_count > 65536 ||
	    h->total_size != file_size)
		return -EPROTO;
	slots_end = h->slots_offset +
		    (uint64_t)h->slot_count * sizeof(struct kd_frame_ring_slot);
	if (h->slots_offset < KD_FRAME_RING_HEADER_SIZE ||
	    h->slots_offset % 8 || slots_end > h->data_offset ||
	    h->data_size == 0 || h->data_offset > file_size ||
	    h->data_size > file_size - h->data_offset)
		return -EPROTO;
	return 0;
}

int kd_frame_ring_reader_open(int fd, struct kd_frame_ring_reader **out)
{
	struct kd_frame_ring_reader *r;
	struct stat st;
	const struct kd_frame_ring_header *h;
	int seals, ret;

	seals = fcntl(fd, F_GET_SEALS);
	if (seals < 0)
		return -errno;
	if ((seals & REQUIRED_SEALS) != REQUIRED_SEALS)
		return -EPERM;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (st.st_size < (off_t)KD_FRAME_RING_HEADER_SIZE ||
	    st.st_size > (off_t)(8ull << 30))
		return -EPROTO;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->map_size = (size_t)st.st_size;
	r->map = mmap(NULL, r->map_size, PROT_READ, MAP_SHARED, fd, 0);
	if (r->map == MAP_FAILED) {
		ret = -errno;
		r->map = NULL;
		goto fail;
	}
	h = (const struct kd_frame_ring_header *)r->map;
	if (load_acq(&h->magic) != KD_FRAME_RING_MAGIC) {
		ret = -EPROTO;
		goto fail;
	}
	ret = check_layout(h, r->map_size);
	if (ret < 0)
		goto fail;
	/* Geometry is copied once: the writer never changes it, and a copy
	 * cannot be changed under us by a misbehaving writer. */
	r->hdr = h;
	r->slot_count = h->slot_count;
	r->data_size = h->data_size;
	r->codec = h->codec;
	r->slots = (const struct kd_frame_ring_slot *)(r->map + h->slots_offset);
	r->data = r->map + h->data_offset;
	*out = r;
	return 0;
fail:
	kd_frame_ring_reader_destroy(r);
	return ret;
}

void kd_frame_ring_reader_destroy(struct kd_frame_ring_reader *r)
{
	if (!r)
		return;
	if (r->map)
		munmap((void *)r->map, r->map_size);
	free(r);
}

uint32_t kd_frame_ring_reader_codec(const struct kd_frame_ring_reader *r)
{
	return r->codec;
}

uint64_t kd_frame_ring_latest(const struct kd_frame_ring_reader *r)
{
	return load_acq(&r->hdr->write_seq);
}

uint64_t kd_frame_ring_latest_key(const struct kd_frame_ring_reader *r)
{
	return load_acq(&r->hdr->last_key_seq);
}

int kd_frame_ring_peek(const struct kd_frame_ring_reader *r, uint64_t seq,
		       struct kd_frame_view *v)
{
	const struct kd_frame_ring_slot *s;
	uint64_t held, off;

	if (seq == 0)
		return KD_FRAME_RING_EMPTY;
	s = &r->slots[seq % r->slot_count];
	held = load_acq(&s->seq);
	if (held != seq) {
		if (held > seq || seq <= kd_frame_ring_latest(r))
			return KD_FRAME_RING_LAPPED;
		return KD_FRAME_RING_EMPTY;
	}
	v->seq = seq;
	v->data_pos = __atomic_load_n(&s->data_pos, __ATOMIC_RELAXED);
	v->size = __atomic_load_n(&s->size, __ATOMIC_RELAXED);
	v->flags = __atomic_load_n(&s->flags, __ATOMIC_RELAXED);
	v->pts_ms = __atomic_load_n(&s->pts_ms, __ATOMIC_RELAXED);
	v->codec = __atomic_load_n(&s->codec, __ATOMIC_RELAXED);
	v->width = __atomic_load_n(&s->width, __ATOMIC_RELAXED);
	v->height = __atomic_load_n(&s->height, __ATOMIC_RELAXED);
	v->capture_ns = __atomic_load_n(&s->capture_ns, __ATOMIC_RELAXED);
	v->encode_ns = __atomic_load_n(&s->encode_ns, __ATOMIC_RELAXED);
	v->publish_ns = __atomic_load_n(&s->publish_ns, __ATOMIC_RELAXED);
	atomic_thread_fence(memory_order_acquire);
	if (__atomic_load_n(&s->seq, __ATOMIC_RELAXED) != seq)
		return KD_FRAME_RING_LAPPED;
	off = v->data_pos % r->data_size;
	if (v->size > r->data_size - off)
		return -EPROTO;
	v->data = r->data + off;
	return 0;
}

int kd_frame_ring_verify(const struct kd_frame_ring_reader *r,
			 const struct kd_frame_view *v)
{
	const struct kd_frame_ring_slot *s = &r->slots[v->seq % r->slot_count];

	atomic_thread_fence(memory_order_acquire);
	if (__atomic_load_n(&s->seq, __ATOMIC_RELAXED) != v->seq)
		return KD_FRAME_RING_TORN;
	if (v->data_pos < __atomic_load_n(&r->hdr->reclaim_pos, __ATOMIC_RELAXED))
		return KD_FRAME_RING_TORN;
	return 0;
}
