/* The hidd daemon object: devices from [hid], the shared input state, the
 * input and control sockets, sd_notify. main.c only loads the config and
 * runs it. */
#pragma once

struct kd_config;
struct kd_hidd;

/* Created with config, started (sockets listening, devices opened with
 * all-released reports, READY=1) by kd_hidd_run, which returns on SIGTERM /
 * SIGINT after releasing everything. */
int kd_hidd_new(const struct kd_config *cfg, struct kd_hidd **out);
int kd_hidd_run(struct kd_hidd *h);
void kd_hidd_free(struct kd_hidd *h);
