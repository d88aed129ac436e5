#include "hid_test_util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "config.h"
#include "worker_service.h"

static int mem_open(struct kd_hid_port *p)
{
	struct mem_port *m = (struct mem_port *)p;

	m->opens++;
	return m->open_fails ? -ENODEV : 0;
}

static void mem_close(struct kd_hid_port *p)
{
}

static bool pressed(const struct kd_hid_report *r, uint8_t usage)
{
	for (int i = 2; i < 8; i++)
		if (r->b[i] == usage)
			return true;
	return false;
}

static int mem_write(struct kd_hid_port *p, const struct kd_hid_report *r)
{
	struct mem_port *m = (struct mem_port *)p;

	if (m->gone)
		return KD_HID_GONE;
	if (m->busy)
		return KD_HID_WOULD_BLOCK;
	if (m->n < MEM_PORT_MAX)
		m->reports[m->n++] = *r;
	if (p->kind == KD_REPORT_KEYBOARD) {
		if (pressed(r, 0x39) && !pressed(&m->prev, 0x39)) {
			m->leds ^= KD_HID_LED_CAPS_LOCK;
			m->leds_changed = true;
		}
		if (pressed(r, 0x53) && !pressed(&m->prev, 0x53)) {
			m->leds ^= KD_HID_LED_NUM_LOCK;
			m->leds_changed = true;
		}
		m->prev = *r;
	}
	return 0;
}

static int mem_read_leds(struct kd_hid_port *p, uint8_t *leds)
{
	struct mem_port *m = (struct mem_port *)p;

	if (!m->leds_changed)
		return 0;
	m->leds_changed = false;
	*leds = m->leds;
	return 1;
}

static uint64_t mem_busy_for_us(struct kd_hid_port *p)
{
	return 1000;
}

static void mem_destroy(struct kd_hid_port *p)
{
	free(p);
}

static const struct kd_hid_port_ops mem_ops = {
	.name = "memory",
	.open = mem_open,
	.close = mem_close,
	.write = mem_write,
	.read_leds = mem_read_leds,
	.busy_for_us = mem_busy_for_us,
	.destroy = mem_destroy,
};

struct mem_port *mem_port_new(enum kd_report_kind kind)
{
	struct mem_port *m = calloc(1, sizeof(*m));

	m->port.ops = &mem_ops;
	m->port.kind = kind;
	m->port.fd = -1;
	strcpy(m->port.path, "memory");
	return m;
}

const struct kd_hid_report *mem_port_last(const struct mem_port *m)
{
	return m->n ? &m->reports[m->n - 1] : NULL;
}

const char *mem_port_hex(const struct mem_port *m, size_t i)
{
	static char buf[64];
	size_t o = 0;

	buf[0] = 0;
	if (i >= m->n)
		return "(none)";
	for (int k = 0; k < m->reports[i].len; k++)
		o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s%02x",
				      k ? " " : "", m->reports[i].b[k]);
	return buf;
}

struct kd_worker {
	struct event_base *base;
	struct kd_config *cfg;
	char runtime_dir[256];
};

struct kd_worker *fake_worker_new(struct event_base *base,
				  const char *runtime_dir,
				  const char *config_text)
{
	struct kd_worker *w = calloc(1, sizeof(*w));
	char err[128];

	w->base = base;
	snprintf(w->runtime_dir, sizeof(w->runtime_dir), "%s", runtime_dir);
	if (kd_config_parse(config_text, strlen(config_text), &w->cfg, err,
			    sizeof(err)) < 0) {
		free(w);
		return NULL;
	}
	return w;
}

void fake_worker_free(struct kd_worker *w)
{
	kd_config_free(w->cfg);
	free(w);
}

struct event_base *kd_worker_base(struct kd_worker *w)
{
	return w->base;
}

const struct kd_config *kd_worker_config(struct kd_worker *w)
{
	return w->cfg;
}

const char *kd_worker_runtime_dir(struct kd_worker *w)
{
	return w->runtime_dir;
}

uint64_t kd_worker_conn_id(struct kd_worker *w)
{
	return 42;
}

int kd_worker_send(struct kd_worker *w, const Hbb__Message *msg)
{
	return 0;
}

size_t kd_worker_output_queued(struct kd_worker *w)
{
	return 0;
}

void kd_worker_close(struct kd_worker *w, const char *reason)
{
}

void run_pending(struct event_base *base)
{
	/* A few rounds: a packet sent in one callback is read in the next. */
	for (int i = 0; i < 8; i++)
		event_base_loop(base, EVLOOP_NONBLOCK);
}

const char *make_temp_dir(void)
{
	static char dir[64];

	strcpy(dir, "/tmp/kd-hid-test-XXXXXX");
	return mkdtemp(dir);
}
