/* sessiond-ctl.sock: what sessiond tells kvmdeskctl (status line, the
 * sessions) and the one thing it lets it do (close a session). The socket
 * itself is common/ctl_server. */
#include "monitor_int.h"

#include "ctl_server.h"
#include "log.h"

static void ctl_status(void *data, struct kd_ctl_status *st)
{
	struct kd_monitor *m = data;
	char line[128];

	monitor_status_line(m, line, sizeof(line));
	kd_ctl_status_set_state(st, line);
	for (struct monitor_worker *w = m->workers; w; w = w->next) {
		struct kd_ctl_session s = {
			.conn_id = w->conn_id,
			.peer_id = w->peer_id,
			.peer_addr = w->addr,
			.how = w->how,
			.authorized = w->authorized,
			.since_unix = (int64_t)w->since,
			.codec = w->codec,
			.peer_name = w->peer_name,
		};
		kd_ctl_status_add_session(st, &s);
	}
}

static int ctl_close_session(void *data, uint64_t conn_id)
{
	struct kd_monitor *m = data;
	struct monitor_worker *w = m->workers;
	int r;

	while (w && w->conn_id != conn_id)
		w = w->next;
	if (!w)
		return KD_CTL_NO_SESSION;
	r = monitor_worker_request_close(w, "Closed manually by the peer");
	kd_notice("connection %llu closed by the administrator",
		  (unsigned long long)conn_id);
	return r;
}

static const struct kd_ctl_ops ctl_ops = {
	.status = ctl_status,
	.close_session = ctl_close_session,
};

int monitor_ctl_start(struct kd_monitor *m)
{
	return kd_ctl_server_start(m->base, m->s.general.runtime_dir,
				   "sessiond", &ctl_ops, m, &m->ctl);
}
