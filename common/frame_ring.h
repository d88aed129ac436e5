/* The shared-memory frame ring between mediad (one writer per encoder) and
 * session workers (any number of readers). DESIGN.md "Data paths".
 *
 * The ring is a memfd created by the writer, sized once and sealed with
 * F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL, so a mapping can never fault,
 * and F_SEAL_FUTURE_WRITE once the writer's own mapping exists. Readers get
 * a read-only open of it and map it PROT_READ: they can neither write nor
 * map it writable, so none can change what the others see. The writer never
 * waits for anybody.
 *
 * Layout (all fields fixed width, little-endian host order, offsets from the
 * start of the memfd; layout version KD_FRAME_RING_VERSION):
 *
 *   0                 struct kd_frame_ring_header   (one page)
 *   slots_offset      struct kd_frame_ring_slot[slot_count]
 *   data_offset       data area of data_size bytes (payload bytes)
 *
 * Frames are numbered 1, 2, 3 ... (the "sequence"); frame n lives in slot
 * n % slot_count. Its payload lives in the data area at absolute byte
 * position data_pos (a 64-bit counter that only grows; the offset in the data
 * area is data_pos % data_size). A payload is always contiguous: when it
 * would cross the end of the area the writer skips to the next multiple of
 * data_size.
 *
 * Sequence protocol (the writer publishing frame n):
 *   1. reclaim_pos = (end position of the new payload) - data_size, stored
 *      before any payload byte is written: bytes below reclaim_pos may be
 *      overwritten from now on;
 *   2. slot.seq = 0 (slot being rewritten); full fence;
 *   3. payload bytes and slot fields written; release fence;
 *   4. slot.seq = n; then header.write_seq = n (and last_key_seq = n for a
 *      keyframe), both with release stores.
 * A reader of frame n:
 *   1. loads slot.seq (acquire): == n -> copy the slot fields; > n or 0 after
 *      n was published -> the reader was lapped (KD_FRAME_RING_LAPPED);
 *      < n -> not published yet (KD_FRAME_RING_EMPTY);
 *   2. uses the payload in place (e.g. packs it into a protobuf message);
 *   3. kd_frame_ring_verify(): acquire fence, slot.seq still n and
 *      data_pos >= reclaim_pos, else the frame was torn while being read and
 *      what was read must be discarded (KD_FRAME_RING_TORN).
 * Every offset and size a reader takes from the ring is bounds-checked
 * against the mapping, so even a hostile writer cannot make a reader fault.
 *
 * Timestamps are CLOCK_MONOTONIC nanoseconds: capture (frame grabbed),
 * encode (encoder returned the packet), publish (frame visible in the ring).
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KD_FRAME_RING_MAGIC 0x31474e5252444b4bull /* "KKDRRNG1" */
#define KD_FRAME_RING_VERSION 1
#define KD_FRAME_RING_HEADER_SIZE 4096

/* Expected conditions for readers (positive, see STYLE.md). */
#define KD_FRAME_RING_EMPTY 1  /* frame not published yet */
#define KD_FRAME_RING_LAPPED 2 /* frame overwritten before it was read */
#define KD_FRAME_RING_TORN 3   /* frame overwritten while it was read */

#define KD_FRAME_FLAG_KEY 0x1u

/* Defaults sized for 1080p: a keyframe is a few MiB at high quality. */
#define KD_FRAME_RING_DEFAULT_SLOTS 64
#define KD_FRAME_RING_DEFAULT_DATA (32u << 20)

struct kd_frame_ring_header {
	uint64_t magic;
	uint32_t version;
	uint32_t header_size;
	uint32_t slot_count;
	uint32_t slot_size;     /* sizeof(struct kd_frame_ring_slot) */
	uint64_t slots_offset;
	uint64_t data_offset;
	uint64_t data_size;
	uint64_t max_frame;     /* largest payload the writer accepts */
	uint64_t total_size;    /* size of the memfd */
	uint32_t codec;         /* Kdipc__Codec of every frame in this ring */
	uint32_t reserved0;
	/* Written by the writer only, read with acquire loads. */
	uint64_t write_seq;     /* last published frame, 0 = none */
	uint64_t last_key_seq;  /* last published keyframe, 0 = none */
	uint64_t reclaim_pos;   /* payload bytes below this may be overwritten */
	uint64_t write_pos;     /* where the next payload starts */
};

struct kd_frame_ring_slot {
	uint64_t seq;           /* frame number held, 0 while rewritten */
	uint64_t data_pos;      /* absolute payload position */
	uint32_t size;          /* payload bytes */
	uint32_t flags;         /* KD_FRAME_FLAG_* */
	int64_t pts_ms;         /* presentation time in ms (spec session §3.2) */
	uint32_t codec;
	uint16_t width;
	uint16_t height;
	uint64_t capture_ns;
	uint64_t encode_ns;
	uint64_t publish_ns;
};

/* What a reader gets: a view into the mapping, valid until verified. */
struct kd_frame_view {
	uint64_t seq;
	const uint8_t *data;
	uint32_t size;
	uint32_t flags;
	int64_t pts_ms;
	uint32_t codec;
	uint32_t width;
	uint32_t height;
	uint64_t capture_ns;
	uint64_t encode_ns;
	uint64_t publish_ns;
	uint64_t data_pos;
};

/* ---- writer (mediad) ---- */

struct kd_frame_ring_writer;

struct kd_frame_ring_params {
	uint32_t slot_count;    /* 0 = default */
	uint64_t data_size;     /* 0 = default; rounded up to a page */
	uint32_t codec;
};

/* Creates and seals the memfd, maps it. 0 or -errno. */
int kd_frame_ring_writer_create(const struct kd_frame_ring_params *p,
				struct kd_frame_ring_writer **out);
void kd_frame_ring_writer_destroy(struct kd_frame_ring_writer *w);
/* The fd to hand to readers: a read-only open of the memfd (still owned by
 * the writer). */
int kd_frame_ring_writer_fd(const struct kd_frame_ring_writer *w);

/* The writer's own read-write mapping (for tests and fuzzing that corrupt
 * a ring on purpose). */
uint8_t *kd_frame_ring_writer_map(struct kd_frame_ring_writer *w,
				  size_t *size);

struct kd_frame_meta {
	bool key;
	int64_t pts_ms;
	uint32_t width;
	uint32_t height;
	uint64_t capture_ns;
	uint64_t encode_ns;
};

/* Publishes one frame; never blocks. Returns the new sequence number (> 0)
 * or -EMSGSIZE when the payload is larger than max_frame. */
int64_t kd_frame_ring_write(struct kd_frame_ring_writer *w,
			    const struct kd_frame_meta *meta,
			    const void *data, size_t size);
/* Two-part publish for writers whose payload comes in pieces (e.g. an
 * encoder's packet plus prefix): reserve returns a pointer to size bytes,
 * commit publishes them. Nothing else may happen in between. */
uint8_t *kd_frame_ring_reserve(struct kd_frame_ring_writer *w, size_t size);
int64_t kd_frame_ring_commit(struct kd_frame_ring_writer *w,
			     const struct kd_frame_meta *meta);

/* ---- reader (session workers) ---- */

struct kd_frame_ring_reader;

/* Maps fd PROT_READ after checking seals, magic, version and that every
 * region fits in the file. Does not take ownership of fd (it may be closed
 * afterwards). 0, -EPROTO (bad layout), -EPERM (not sealed), or -errno. */
int kd_frame_ring_reader_open(int fd, struct kd_frame_ring_reader **out);
void kd_frame_ring_reader_destroy(struct kd_frame_ring_reader *r);
uint32_t kd_frame_ring_reader_codec(const struct kd_frame_ring_reader *r);

/* Last published frame number and last keyframe (0 = none). */
uint64_t kd_frame_ring_latest(const struct kd_frame_ring_reader *r);
uint64_t kd_frame_ring_latest_key(const struct kd_frame_ring_reader *r);

/* Looks frame seq up. 0 with *view filled, KD_FRAME_RING_EMPTY,
 * KD_FRAME_RING_LAPPED, or -EPROTO when the slot is out of bounds. */
int kd_frame_ring_peek(const struct kd_frame_ring_reader *r, uint64_t seq,
		       struct kd_frame_view *view);
/* After using view->data: 0 if nothing of the frame was overwritten
 * meanwhile, else KD_FRAME_RING_TORN (discard whatever was built from it). */
int kd_frame_ring_verify(const struct kd_frame_ring_reader *r,
			 const struct kd_frame_view *view);

/* CLOCK_MONOTONIC in ns, the clock of every timestamp in the ring. */
uint64_t kd_frame_ring_now_ns(void);
