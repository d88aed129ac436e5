/* Wipe-on-fork storage for the monitor's secrets. */
#include "secrets.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <sodium.h>

#include "log.h"

#ifndef MADV_WIPEONFORK
#define MADV_WIPEONFORK 18
#endif

#define SECRETS_CANARY 0x6b647363u

static size_t area_size(void)
{
	long page = sysconf(_SC_PAGESIZE);
	size_t size = page > 0 ? (size_t)page : 4096;

	while (size < sizeof(struct kd_secrets))
		size *= 2;
	return size;
}

int kd_secrets_new(struct kd_secrets **out)
{
	size_t size = area_size();
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int r;

	if (p == MAP_FAILED)
		return -errno;
	if (madvise(p, size, MADV_WIPEONFORK) < 0) {
		r = -errno;
		kd_err("sessiond: MADV_WIPEONFORK unavailable (%s); workers "
		       "would inherit the keys, refusing to start",
		       strerror(-r));
		munmap(p, size);
		return r;
	}
	(void)madvise(p, size, MADV_DONTDUMP);
	(void)mlock(p, size); /* best effort: keep it out of swap */
	*out = p;
	(*out)->canary = SECRETS_CANARY;
	return 0;
}

static size_t round_pages(size_t size)
{
	long page = sysconf(_SC_PAGESIZE);
	size_t ps = page > 0 ? (size_t)page : 4096;

	return (size + ps - 1) / ps * ps;
}

void *kd_private_alloc(size_t size)
{
	size_t len = round_pages(size);
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	if (madvise(p, len, MADV_WIPEONFORK) < 0) {
		munmap(p, len);
		return NULL;
	}
	(void)madvise(p, len, MADV_DONTDUMP);
	return p;
}

void kd_private_free(void *p, size_t size)
{
	if (p) {
		sodium_memzero(p, size);
		munmap(p, round_pages(size));
	}
}

void kd_secrets_free(struct kd_secrets *s)
{
	if (!s)
		return;
	sodium_memzero(s, sizeof(*s));
	munmap(s, area_size());
}

int kd_secrets_child_wipe(struct kd_secrets *s)
{
	static const uint8_t zero[sizeof(struct kd_secrets)];
	int wiped;

	if (!s)
		return 1;
	wiped = memcmp(s, zero, sizeof(*s)) == 0;
	sodium_memzero(s, sizeof(*s));
	munmap(s, area_size());
	return wiped;
}
