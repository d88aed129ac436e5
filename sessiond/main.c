/* sessiond: the RustDesk session daemon (DESIGN.md). main() only wires the
 * configuration, the log and the monitor together. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "config.h"
#include "log.h"
#include "monitor.h"

int main(int argc, char **argv)
{
	struct kd_monitor_settings settings = { 0 };
	struct kd_config *cfg = NULL;
	struct kd_monitor *m = NULL;
	const char *path;
	int next, r;

	kd_log_init("sessiond", LOG_INFO);
	r = kd_cmdline_parse(argc, argv, "", &path, &next);
	if (r != 0)
		return r > 0 ? EXIT_SUCCESS : EXIT_FAILURE;
	if (sodium_init() < 0) {
		kd_err("libsodium cannot be initialised");
		return EXIT_FAILURE;
	}
	r = kd_config_load(path, &cfg);
	if (r < 0) {
		kd_err("cannot load %s: %s", path, strerror(-r));
		return EXIT_FAILURE;
	}
	r = kd_general_config_read(cfg, &settings.general);
	if (r == 0)
		r = kd_monitor_settings_read(cfg, &settings);
	if (r < 0)
		goto out;
	kd_log_set_level(settings.general.log_level);
	r = kd_monitor_new(&settings, &m);
	if (r < 0)
		goto out;
	r = kd_monitor_run(m);
out:
	kd_monitor_free(m);
	kd_config_free(cfg);
	return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
