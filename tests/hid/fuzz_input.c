/* Fuzz target for hidd's input socket parser (kd_input_session_packet).
 *
 * Input format: a sequence of packets, each a 2-byte little-endian length
 * then that many bytes, as the SOCK_SEQPACKET socket would deliver them.
 * The first packet goes to a session that has not said Hello (checks the
 * hello rules); the same packets then go to a session that has, so the
 * fuzzer reaches every event handler. Reports go to memory ports. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "hid_test_util.h"
#include "input_state.h"
#include "ipc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct event_base *base;
static struct kd_hid_device *devs[3];
static struct mem_port *ports[3];
static struct kd_input_state *st;

static void init(void)
{
	struct kd_input_devices d;

	base = event_base_new();
	for (int k = 0; k < 3; k++) {
		struct mem_port *p = mem_port_new((enum kd_report_kind)k);
		ports[k] = p;
		kd_hid_device_new(base, &p->port, &devs[k]);
		kd_hid_device_start(devs[k], &(struct kd_hid_report){.len = 8});
	}
	d = (struct kd_input_devices){devs[0], devs[1], devs[2]};
	kd_input_state_new(&d, &st);
	kd_hid_device_set_led_cb(devs[0], kd_input_state_leds, st);
}

static size_t hello_packet(uint8_t *buf)
{
	Kdipc__InputEvent ev = KDIPC__INPUT_EVENT__INIT;
	Kdipc__Hello hello;

	kd_ipc_hello_init(&hello, "fuzz", 1);
	ev.msg_case = KDIPC__INPUT_EVENT__MSG_HELLO;
	ev.hello = &hello;
	return protobuf_c_message_pack(&ev.base, buf);
}

static void feed(struct kd_input_session *s, const uint8_t *data,
		 size_t size)
{
	while (size >= 2) {
		size_t len = (size_t)data[0] | (size_t)data[1] << 8;
		data += 2;
		size -= 2;
		if (len > size)
			len = size;
		if (kd_input_session_packet(s, data, len) < 0)
			return; /* the server closes the connection here */
		data += len;
		size -= len;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kd_input_session *fresh, *ready;
	uint8_t hello[64];
	size_t n;

	if (!base)
		init();
	fresh = kd_input_session_new(st);
	feed(fresh, data, size);
	kd_input_session_end(fresh);

	ready = kd_input_session_new(st);
	n = hello_packet(hello);
	if (kd_input_session_packet(ready, hello, n) != KD_INPUT_HELLO)
		abort();
	feed(ready, data, size);
	kd_input_session_end(ready);
	/* Nobody holds anything now: whatever the input was, the host was
	 * last told that no key and no button is down. */
	{
		const struct kd_hid_report *k = mem_port_last(ports[0]);
		const struct kd_hid_report *m = mem_port_last(ports[1]);
		static const uint8_t none[8];
		if (!k || memcmp(k->b, none, 8) != 0 || !m || m->b[0] != 0)
			abort();
		if (mem_port_last(ports[2]) && mem_port_last(ports[2])->b[0])
			abort();
	}
	/* Keep the recorded history short: only the last report matters. */
	for (int i = 0; i < 3; i++) {
		if (ports[i]->n > MEM_PORT_MAX / 2) {
			ports[i]->reports[0] = ports[i]->reports[ports[i]->n - 1];
			ports[i]->n = 1;
		}
	}
	return 0;
}
