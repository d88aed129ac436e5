/* Check tests for common/frame_ring: the sequence protocol seen by readers. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "frame_ring.h"

static struct kd_frame_ring_writer *make_writer(uint32_t slots, uint64_t data)
{
	struct kd_frame_ring_params p = { .slot_count = slots,
					  .data_size = data, .codec = 4 };
	struct kd_frame_ring_writer *w = NULL;

	ck_assert_int_eq(kd_frame_ring_writer_create(&p, &w), 0);
	return w;
}

static struct kd_frame_ring_reader *make_reader(struct kd_frame_ring_writer *w)
{
	struct kd_frame_ring_reader *r = NULL;

	ck_assert_int_eq(kd_frame_ring_reader_open(kd_frame_ring_writer_fd(w),
						   &r), 0);
	return r;
}

/* Payload of frame seq: its bytes derive from seq so a reader can tell a
 * correct frame from a torn one. */
static void fill(uint8_t *buf, size_t n, uint64_t seq)
{
	for (size_t i = 0; i < n; i++)
		buf[i] = (uint8_t)(seq * 131 + i * 7);
}

static bool matches(const uint8_t *buf, size_t n, uint64_t seq)
{
	for (size_t i = 0; i < n; i++)
		if (buf[i] != (uint8_t)(seq * 131 + i * 7))
			return false;
	return true;
}

static int64_t put(struct kd_frame_ring_writer *w, uint64_t seq, size_t n,
		   bool key)
{
	uint8_t *buf = malloc(n);
	struct kd_frame_meta m = { .key = key, .pts_ms = (int64_t)seq * 33,
				   .width = 640, .height = 360,
				   .capture_ns = seq, .encode_ns = seq + 1 };
	int64_t r;

	fill(buf, n, seq);
	r = kd_frame_ring_write(w, &m, buf, n);
	free(buf);
	return r;
}

START_TEST(test_basic_and_metadata)
{
	struct kd_frame_ring_writer *w = make_writer(8, 65536);
	struct kd_frame_ring_reader *r = make_reader(w);
	struct kd_frame_view v;

	ck_assert_uint_eq(kd_frame_ring_reader_codec(r), 4);
	ck_assert_uint_eq(kd_frame_ring_latest(r), 0);
	ck_assert_int_eq(kd_frame_ring_peek(r, 1, &v), KD_FRAME_RING_EMPTY);
	ck_assert_int_eq(put(w, 1, 1000, true), 1);
	ck_assert_int_eq(put(w, 2, 500, false), 2);
	ck_assert_uint_eq(kd_frame_ring_latest(r), 2);
	ck_assert_uint_eq(kd_frame_ring_latest_key(r), 1);
	ck_assert_int_eq(kd_frame_ring_peek(r, 1, &v), 0);
	ck_assert_uint_eq(v.size, 1000);
	ck_assert(v.flags & KD_FRAME_FLAG_KEY);
	ck_assert_int_eq(v.pts_ms, 33);
	ck_assert_uint_eq(v.width, 640);
	ck_assert_uint_eq(v.height, 360);
	ck_assert_uint_eq(v.capture_ns, 1);
	ck_assert_uint_eq(v.encode_ns, 2);
	ck_assert(v.publish_ns > 0);
	ck_assert(matches(v.data, v.size, 1));
	ck_assert_int_eq(kd_frame_ring_verify(r, &v), 0);
	ck_assert_int_eq(kd_frame_ring_peek(r, 2, &v), 0);
	ck_assert(!(v.flags & KD_FRAME_FLAG_KEY));
	ck_assert(matches(v.data, v.size, 2));
	ck_assert_int_eq(kd_frame_ring_peek(r, 3, &v), KD_FRAME_RING_EMPTY);
	kd_frame_ring_reader_destroy(r);
	kd_frame_ring_writer_destroy(w);
}
END_TEST

START_TEST(test_oversized_frame_refused)
{
	struct kd_frame_ring_writer *w = make_writer(8, 65536);

	ck_assert_int_eq(put(w, 1, 40000, true), -EMSGSIZE);
	ck_assert_int_eq(put(w, 1, 32768, true), 1);
	kd_frame_ring_writer_destroy(w);
}
END_TEST

/* Payloads cross the end of the data area many times and slot indexes wrap;
 * a reader keeping up sees every frame intact. */
START_TEST(test_wrap_around)
{
	struct kd_frame_ring_writer *w = make_writer(4, 16384);
	struct kd_frame_ring_reader *r = make_reader(w);
	struct kd_frame_view v;

	for (uint64_t seq = 1; seq <= 500; seq++) {
		size_t n = 1 + (seq * 977) % 5000;

		ck_assert_int_eq(put(w, seq, n, seq % 10 == 1), (int64_t)seq);
		ck_assert_int_eq(kd_frame_ring_peek(r, seq, &v), 0);
		ck_assert_uint_eq(v.size, n);
		ck_assert(matches(v.data, n, seq));
		ck_assert_int_eq(kd_frame_ring_verify(r, &v), 0);
	}
	ck_assert_uint_eq(kd_frame_ring_latest_key(r), 491);
	kd_frame_ring_reader_destroy(r);
	kd_frame_ring_writer_destroy(w);
}
END_TEST

/* A reader that fell behind by more than the ring holds finds its frame
 * overwritten and can jump to the newest frame. */
START_TEST(test_lapped_reader)
{
	struct kd_frame_ring_writer *w = make_writer(4, 16384);
	struct kd_frame_ring_reader *r = make_reader(w);
	struct kd_frame_view v;

	for (uint64_t seq = 1; seq <= 10; seq++)
		put(w, seq, 100, seq == 1);
	ck_assert_int_eq(kd_frame_ring_peek(r, 2, &v), KD_FRAME_RING_LAPPED);
	ck_assert_int_eq(kd_frame_ring_peek(r, 6, &v), KD_FRAME_RING_LAPPED);
	ck_assert_int_eq(kd_frame_ring_peek(r, 7, &v), 0);
	ck_assert_int_eq(kd_frame_ring_peek(r, kd_frame_ring_latest(r), &v), 0);
	ck_assert(matches(v.data, v.size, 10));
	/* Lapped by payload bytes, not slots: big frames reuse the data area
	 * although the slot of frame 11 still holds it. */
	{
		struct kd_frame_ring_writer *w2 = make_writer(64, 16384);
		struct kd_frame_ring_reader *r2 = make_reader(w2);

		put(w2, 1, 6000, true);
		ck_assert_int_eq(kd_frame_ring_peek(r2, 1, &v), 0);
		put(w2, 2, 6000, false);
		put(w2, 3, 6000, false);
		ck_assert_int_eq(kd_frame_ring_peek(r2, 1, &v), 0);
		ck_assert_int_eq(kd_frame_ring_verify(r2, &v),
				 KD_FRAME_RING_TORN);
		kd_frame_ring_reader_destroy(r2);
		kd_frame_ring_writer_destroy(w2);
	}
	kd_frame_ring_reader_destroy(r);
	kd_frame_ring_writer_destroy(w);
}
END_TEST

/* A frame overwritten after peek and before verify is reported torn. */
START_TEST(test_torn_read)
{
	struct kd_frame_ring_writer *w = make_writer(4, 16384);
	struct kd_frame_ring_reader *r = make_reader(w);
	struct kd_frame_view v;

	put(w, 1, 3000, true);
	ck_assert_int_eq(kd_frame_ring_peek(r, 1, &v), 0);
	ck_assert_int_eq(kd_frame_ring_verify(r, &v), 0);
	/* The writer starts reusing the bytes of frame 1 (reserve only). */
	put(w, 2, 3000, false);
	put(w, 3, 3000, false);
	put(w, 4, 3000, false);
	ck_assert_int_eq(kd_frame_ring_verify(r, &v), 0);
	ck_assert_ptr_nonnull(kd_frame_ring_reserve(w, 5000));
	ck_assert_int_eq(kd_frame_ring_verify(r, &v), KD_FRAME_RING_TORN);
	kd_frame_ring_reader_destroy(r);
	kd_frame_ring_writer_destroy(w);
}
END_TEST

START_TEST(test_reader_rejects_bad_rings)
{
	struct kd_frame_ring_reader *r = NULL;
	int fd = memfd_create("t", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	struct kd_frame_ring_writer *w = make_writer(4, 16384);
	uint8_t page[8192];

	ck_assert_int_ge(fd, 0);
	memset(page, 0, sizeof(page));
	ck_assert_int_eq(write(fd, page, sizeof(page)), sizeof(page));
	/* Not sealed: a writer could shrink it under us. */
	ck_assert_int_eq(kd_frame_ring_reader_open(fd, &r), -EPERM);
	ck_assert_int_eq(fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW |
			       F_SEAL_SEAL), 0);
	ck_assert_int_eq(kd_frame_ring_reader_open(fd, &r), -EPROTO);
	close(fd);
	/* The seals are final: nobody can add or remove any. */
	r = make_reader(w);
	/* A reader can neither write nor map writable what it was given. */
	{
		int rfd = kd_frame_ring_writer_fd(w);
		void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED,
			       rfd, 0);

		ck_assert(p == MAP_FAILED);
		ck_assert_int_lt(pwrite(rfd, "x", 1, 0), 0);
		ck_assert_int_eq(fcntl(rfd, F_GETFL) & O_ACCMODE, O_RDONLY);
	}
	ck_assert_int_eq(fcntl(kd_frame_ring_writer_fd(w), F_ADD_SEALS,
			       F_SEAL_WRITE), -1);
	kd_frame_ring_reader_destroy(r);
	kd_frame_ring_writer_destroy(w);
}
END_TEST

/* Many readers in threads race one writer that never waits: every frame a
 * reader accepts (peek + verify OK) has exactly the bytes that were
 * written; torn and lapped frames are detected, never delivered. */
#define N_READERS 8
#define N_FRAMES 20000

struct race {
	struct kd_frame_ring_writer *w;
	atomic_bool done;
	atomic_long bad, good, lost;
};

static void *reader_thread(void *arg)
{
	struct race *rc = arg;
	struct kd_frame_ring_reader *r = NULL;
	uint64_t next = 1;
	uint8_t copy[6000];

	if (kd_frame_ring_reader_open(kd_frame_ring_writer_fd(rc->w), &r))
		return NULL;
	while (!atomic_load(&rc->done) || next <= kd_frame_ring_latest(r)) {
		struct kd_frame_view v;
		int ret = kd_frame_ring_peek(r, next, &v);

		if (ret == KD_FRAME_RING_EMPTY) {
			sched_yield();
			continue;
		}
		if (ret == KD_FRAME_RING_LAPPED) {
			atomic_fetch_add(&rc->lost, 1);
			next = kd_frame_ring_latest(r);
			continue;
		}
		memcpy(copy, v.data, v.size);
		if (kd_frame_ring_verify(r, &v) == 0) {
			if (!matches(copy, v.size, v.seq) ||
			    v.capture_ns != v.seq)
				atomic_fetch_add(&rc->bad, 1);
			else
				atomic_fetch_add(&rc->good, 1);
		} else {
			atomic_fetch_add(&rc->lost, 1);
		}
		next = v.seq + 1;
	}
	kd_frame_ring_reader_destroy(r);
	return NULL;
}

START_TEST(test_many_readers)
{
	struct race rc = { .w = make_writer(8, 32768) };
	pthread_t t[N_READERS];

	for (int i = 0; i < N_READERS; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, reader_thread,
						&rc), 0);
	for (uint64_t seq = 1; seq <= N_FRAMES; seq++)
		ck_assert_int_eq(put(rc.w, seq, 1 + (seq * 37) % 6000,
				     seq % 30 == 1), (int64_t)seq);
	atomic_store(&rc.done, true);
	for (int i = 0; i < N_READERS; i++)
		pthread_join(t[i], NULL);
	ck_assert_int_eq(atomic_load(&rc.bad), 0);
	ck_assert_int_gt(atomic_load(&rc.good), 0);
	kd_frame_ring_writer_destroy(rc.w);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("frame_ring");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_basic_and_metadata);
	tcase_add_test(tc, test_oversized_frame_refused);
	tcase_add_test(tc, test_wrap_around);
	tcase_add_test(tc, test_lapped_reader);
	tcase_add_test(tc, test_torn_read);
	tcase_add_test(tc, test_reader_rejects_bad_rings);
	tcase_add_test(tc, test_many_readers);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
