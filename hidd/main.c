/* hidd: turns kvmdesk input events into USB HID reports (DESIGN.md). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "hidd.h"
#include "log.h"

int main(int argc, char **argv)
{
	const char *config_path;
	struct kd_config *cfg = NULL;
	struct kd_general_config general;
	struct kd_hidd *h = NULL;
	int next_arg, r;

	kd_log_init("hidd", LOG_INFO);
	r = kd_cmdline_parse(argc, argv, "", &config_path, &next_arg);
	if (r)
		return r > 0 ? 0 : 2;
	if (next_arg != argc) {
		fprintf(stderr, "hidd: unexpected argument %s\n", argv[next_arg]);
		return 2;
	}
	r = kd_config_load(config_path, &cfg);
	if (r) {
		kd_err("cannot load %s: %s", config_path, strerror(-r));
		return 1;
	}
	if (kd_general_config_read(cfg, &general) == 0)
		kd_log_set_level(general.log_level);
	r = kd_hidd_new(cfg, &h);
	if (!r)
		r = kd_hidd_run(h);
	if (r)
		kd_err("hidd: %s", strerror(-r));
	kd_hidd_free(h);
	kd_config_free(cfg);
	return r ? 1 : 0;
}
