/* sessiond monitor: sockets, worker processes, signals, sd_notify. */
#include "monitor_int.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sodium.h>
#include <systemd/sd-daemon.h>

#include "ctl_server.h"
#include "input_service.h"
#include "listen_fds.h"
#include "log.h"
#include "unix_socket.h"
#include "worker_proc.h"

#define DEFAULT_LISTEN "0.0.0.0:21118"
#define STOP_GRACE_S 3
/* Connections from one address that have not logged in yet (like sshd's
 * MaxStartups): a single host cannot take every slot. */
#define MAX_PREAUTH_PER_IP 8

int kd_monitor_settings_read(const struct kd_config *cfg,
			     struct kd_monitor_settings *out)
{
	long v;
	int r;

	out->config = cfg;
	snprintf(out->listen, sizeof(out->listen), "%s",
		 kd_config_get_or(cfg, "session", "listen", DEFAULT_LISTEN));
	r = kd_config_get_bool(cfg, "session", "direct_ip", true,
			       &out->direct_ip);
	if (r < 0)
		return r;
	const char *allow = kd_config_get_or(cfg, "session", "direct_ip_allow", "");
	r = kd_cidr_list_parse(allow, out->direct_allow, KD_DIRECT_ALLOW_MAX);
	if (r < 0) {
		kd_err("[session] direct_ip_allow = %s: expected up to %d "
		       "networks such as 192.168.1.0/24 or fd00::/8", allow,
		       KD_DIRECT_ALLOW_MAX);
		return r;
	}
	out->n_direct_allow = (size_t)r;
	r = kd_config_get_long(cfg, "session", "max_frame_size", 8L << 20,
			       64 * 1024, 64L << 20, &v);
	if (r < 0)
		return r;
	out->max_payload = (size_t)v;
	r = kd_config_get_long(cfg, "session", "login_timeout", 60, 5, 3600,
			       &v);
	if (r < 0)
		return r;
	out->login_timeout_s = (unsigned)v;
	r = kd_config_get_long(cfg, "session", "max_connections", 32, 1, 1024,
			       &v);
	if (r < 0)
		return r;
	out->max_connections = (unsigned)v;
	r = kd_config_get_long(cfg, "video", "width", 1920, 16, 16384, &v);
	if (r < 0)
		return r;
	out->display_width = (int)v;
	r = kd_config_get_long(cfg, "video", "height", 1080, 16, 16384, &v);
	if (r < 0)
		return r;
	out->display_height = (int)v;
	kd_input_service_layout(cfg, true); /* warns once if unknown */
	return 0;
}

/* ---- status ------------------------------------------------------------ */

void monitor_status_line(const struct kd_monitor *m, char *out, size_t len)
{
	unsigned authorized = 0;

	for (const struct monitor_worker *w = m->workers; w; w = w->next)
		authorized += w->authorized;
	snprintf(out, len, "%s%u connection%s, %u session%s",
		 m->stopping ? "stopping: " : "", m->n_workers,
		 m->n_workers == 1 ? "" : "s", authorized,
		 authorized == 1 ? "" : "s");
}

void monitor_status_changed(struct kd_monitor *m)
{
	char line[128];

	monitor_status_line(m, line, sizeof(line));
	sd_notifyf(0, "STATUS=%s", line);
	if (m->stopping && m->n_workers == 0)
		event_base_loopexit(m->base, NULL);
}

/* ---- workers ----------------------------------------------------------- */

static void tune_socket(int fd)
{
	int one = 1;

	/* harmless failures on a non-TCP socket handed over in tests */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	(void)setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
}

static int preauth_from(const struct kd_monitor *m, const char *ip)
{
	int n = 0;

	for (const struct monitor_worker *w = m->workers; w; w = w->next)
		n += !w->authorized && strcmp(w->ip, ip) == 0;
	return n;
}

int monitor_spawn_worker(struct kd_monitor *m, int conn_fd, const char *how,
			 const char *peer_addr, bool secure)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	struct monitor_worker *w;
	struct kd_worker_proc wp;
	/* the secrets and w are wiped in the child: copies on the stack */
	char salt[KD_SALT_LEN + 1], challenge[KD_CHALLENGE_LEN + 1];
	char how_copy[sizeof(w->how)], addr_copy[sizeof(w->addr)];
	int sv[2];
	pid_t pid;

	if (m->stopping || m->n_workers >= m->s.max_connections) {
		kd_warn("refusing a %s connection: %s", how,
			m->stopping ? "stopping" : "too many connections");
		close(conn_fd);
		return -EBUSY;
	}
	w = kd_private_alloc(sizeof(*w));
	if (!w) {
		close(conn_fd);
		return -ENOMEM;
	}
	w->m = m;
	w->fd = -1;
	w->secure = secure;
	w->since = time(NULL);
	w->conn_id = ++m->next_conn_id;
	snprintf(w->how, sizeof(w->how), "%s", how);
	if (getpeername(conn_fd, (struct sockaddr *)&ss, &sl) == 0 &&
	    (ss.ss_family == AF_INET || ss.ss_family == AF_INET6)) {
		kd_sockaddr_format((struct sockaddr *)&ss, w->addr);
		kd_sockaddr_ip((struct sockaddr *)&ss, w->ip);
	} else {
		snprintf(w->addr, sizeof(w->addr), "unknown");
		snprintf(w->ip, sizeof(w->ip), "unknown");
	}
	/* rendezvousd knows the real client address of a relayed socket */
	if (peer_addr && peer_addr[0]) {
		struct sockaddr_storage pss;
		socklen_t pl;
		snprintf(w->addr, sizeof(w->addr), "%s", peer_addr);
		if (kd_sockaddr_parse(peer_addr, &pss, &pl) == 0)
			kd_sockaddr_ip((struct sockaddr *)&pss, w->ip);
	}
	if (preauth_from(m, w->ip) >= MAX_PREAUTH_PER_IP) {
		kd_warn("refusing a %s connection from %s: %d connections from "
			"there are not logged in yet", how, w->addr,
			MAX_PREAUTH_PER_IP);
		close(conn_fd);
		kd_private_free(w, sizeof(*w));
		return -EBUSY;
	}
	kd_random_token(w->challenge, KD_CHALLENGE_LEN);
	tune_socket(conn_fd);

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		int r = -errno;
		close(conn_fd);
		kd_private_free(w, sizeof(*w));
		return r;
	}
	memset(&wp, 0, sizeof(wp));
	wp.conn_fd = conn_fd;
	wp.monitor_fd = sv[1];
	wp.secrets = m->secrets;
	wp.user = m->worker_user;
	wp.params.config = m->s.config;
	wp.params.runtime_dir = m->s.general.runtime_dir;
	wp.params.conn_id = w->conn_id;
	wp.params.device_id = m->identity.id;
	snprintf(salt, sizeof(salt), "%s", m->secrets->verifier.salt);
	wp.params.salt = salt;
	memcpy(challenge, w->challenge, sizeof(challenge));
	memcpy(how_copy, w->how, sizeof(how_copy));
	memcpy(addr_copy, w->addr, sizeof(addr_copy));
	wp.params.challenge = challenge;
	wp.params.hostname = m->hostname;
	wp.params.secure = secure;
	wp.params.how = how_copy;
	wp.params.peer_addr = addr_copy;
	wp.params.max_payload = m->s.max_payload;
	wp.params.login_timeout_s = m->s.login_timeout_s;
	wp.params.display_width = m->s.display_width;
	wp.params.display_height = m->s.display_height;

	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid == 0)
		kd_worker_proc_main(&wp); /* no return */
	close(sv[1]);
	close(conn_fd);
	if (pid < 0) {
		int r = -errno;
		kd_err("fork: %s", strerror(-r));
		close(sv[0]);
		kd_private_free(w, sizeof(*w));
		return r;
	}
	w->pid = pid;
	w->fd = sv[0];
	evutil_make_socket_nonblocking(w->fd);
	w->ev = event_new(m->base, w->fd, EV_READ | EV_PERSIST,
			  monitor_worker_readable, w);
	if (!w->ev || event_add(w->ev, NULL) < 0)
		monitor_worker_kill(w, "cannot watch its channel");
	w->next = m->workers;
	m->workers = w;
	m->n_workers++;
	{
		struct kd_log_fields f = { .peer_addr = w->addr,
					   .session_kind = w->how,
					   .conn_id = w->conn_id };
		kd_log_event(LOG_INFO, &f,
			     "connection %llu from %s (%s%s), worker %d",
			     (unsigned long long)w->conn_id, w->addr, w->how,
			     secure ? "" : ", unencrypted by protocol",
			     (int)pid);
	}
	monitor_status_changed(m);
	return 0;
}

static void on_sigchld(evutil_socket_t sig, short what, void *arg)
{
	struct kd_monitor *m = arg;
	int status;
	pid_t pid;

	(void)sig;
	(void)what;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		struct monitor_worker **pp = &m->workers;

		while (*pp && (*pp)->pid != pid)
			pp = &(*pp)->next;
		if (*pp) {
			struct monitor_worker *w = *pp;
			*pp = w->next;
			m->n_workers--;
			monitor_worker_reaped(w, status);
			kd_private_free(w, sizeof(*w));
		}
	}
	monitor_status_changed(m);
}

/* ---- listeners --------------------------------------------------------- */

static bool direct_allowed(const struct kd_monitor *m, int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	if (m->s.n_direct_allow == 0)
		return true;
	if (getpeername(fd, (struct sockaddr *)&ss, &len) < 0)
		return false;
	for (size_t i = 0; i < m->s.n_direct_allow; i++)
		if (kd_cidr_match(&m->s.direct_allow[i], (struct sockaddr *)&ss))
			return true;
	char addr[KD_ADDR_STR_MAX];
	kd_sockaddr_format((struct sockaddr *)&ss, addr);
	kd_log_event(LOG_NOTICE, &(struct kd_log_fields){
			     .peer_addr = addr, .session_kind = "direct" },
		     "direct-IP connection from %s refused: not in "
		     "[session] direct_ip_allow", addr);
	return false;
}

static void on_tcp_accept(evutil_socket_t fd, short what, void *arg)
{
	struct kd_monitor *m = arg;
	int c;

	(void)what;
	for (int i = 0; i < 16; i++) {
		c = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (c < 0) {
			if (errno != EAGAIN && errno != EINTR &&
			    errno != ECONNABORTED)
				kd_warn("accept: %s", strerror(errno));
			return;
		}
		if (!direct_allowed(m, c)) {
			close(c);
			continue;
		}
		monitor_spawn_worker(m, c, "direct", NULL, false);
	}
}

static int tcp_listen_one(const struct sockaddr_storage *ss, socklen_t len,
			  bool dual_stack)
{
	int one = 1, zero = 0;
	int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC |
						SOCK_NONBLOCK, 0);

	if (fd < 0)
		return -errno;
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ss->ss_family == AF_INET6 && dual_stack)
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero,
				 sizeof(zero));
	if (bind(fd, (const struct sockaddr *)ss, len) < 0 ||
	    listen(fd, 64) < 0) {
		int r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

static int open_tcp_listener(struct kd_monitor *m)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, r;

	fd = kd_listen_fd_take("sessiond-tcp", AF_INET);
	if (fd >= 0) {
		if (!m->s.direct_ip) {
			kd_notice("direct IP access is off; ignoring the "
				  "systemd TCP socket");
			close(fd);
			return 0;
		}
		evutil_make_socket_nonblocking(fd);
		m->tcp_fd[0] = fd;
		return 0;
	}
	if (!m->s.direct_ip) {
		kd_notice("direct IP access is off");
		return 0;
	}
	r = kd_sockaddr_parse(m->s.listen, &ss, &len);
	if (r < 0) {
		kd_err("[session] listen = %s: not a numeric ip:port",
		       m->s.listen);
		return r;
	}
	fd = tcp_listen_one(&ss, len, true);
	if (fd < 0 && ss.ss_family == AF_INET6 &&
	    IN6_IS_ADDR_UNSPECIFIED(&((struct sockaddr_in6 *)&ss)->sin6_addr)) {
		/* no IPv6 on this host: fall back like the real peer */
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
		uint16_t port = ((struct sockaddr_in6 *)&ss)->sin6_port;
		memset(&ss, 0, sizeof(ss));
		sin->sin_family = AF_INET;
		sin->sin_port = port;
		fd = tcp_listen_one(&ss, sizeof(*sin), false);
	}
	if (fd < 0) {
		kd_err("cannot listen on %s: %s", m->s.listen, strerror(-fd));
		return fd;
	}
	m->tcp_fd[0] = fd;
	kd_notice("direct IP access on %s (unencrypted by the RustDesk "
		  "protocol)", m->s.listen);
	return 0;
}

static int open_sockets(struct kd_monitor *m)
{
	int r;

	kd_listen_fds_collect();
	r = open_tcp_listener(m);
	if (r < 0)
		goto out;
	/* From systemd when it passed one, else made here (and removed at
	 * exit). */
	m->handoff_fd = kd_listen_unix(m->s.general.runtime_dir, "sessiond",
				       0660, m->handoff_path,
				       sizeof(m->handoff_path));
	if (m->handoff_fd < 0) {
		r = m->handoff_fd;
		goto out;
	}
	r = monitor_ctl_start(m);
out:
	kd_listen_fds_done();
	return r;
}

/* ---- secrets ----------------------------------------------------------- */

static int load_secrets(struct kd_monitor *m)
{
	const char *state_dir = m->s.general.state_dir;
	struct kd_password_verifier v;
	bool created;
	int r;

	r = kd_identity_load(state_dir, &m->identity);
	if (r == -ENOENT) {
		r = kd_identity_init(state_dir, &created);
		if (r == 0)
			r = kd_identity_load(state_dir, &m->identity);
	}
	if (r < 0) {
		kd_err("no identity in %s (%s); run kvmdeskctl init",
		       state_dir, strerror(-r));
		return r;
	}
	r = kd_identity_load_secret(state_dir, m->secrets->identity_sk);
	if (r < 0) {
		kd_err("cannot read the identity secret key: %s", strerror(-r));
		return r;
	}
	m->secrets->has_identity = true;
	r = kd_password_load(state_dir, &v);
	if (r < 0 && r != -ENOENT) {
		kd_err("cannot read the password verifier: %s", strerror(-r));
		sodium_memzero(&v, sizeof(v));
		return r;
	}
	if (r == -ENOENT || !v.has_password)
		kd_warn("no password set: every login will fail (kvmdeskctl "
			"password set)");
	m->secrets->verifier = v;
	sodium_memzero(&v, sizeof(v));
	return 0;
}

/* ---- signals ----------------------------------------------------------- */

static void on_stop_timer(evutil_socket_t fd, short what, void *arg)
{
	struct kd_monitor *m = arg;

	(void)fd;
	(void)what;
	for (struct monitor_worker *w = m->workers; w; w = w->next)
		if (!w->reaped)
			kill(w->pid, SIGKILL);
	event_base_loopexit(m->base, NULL);
}

static void close_listener(struct event **ev, int *fd)
{
	if (*ev) {
		event_free(*ev);
		*ev = NULL;
	}
	if (*fd >= 0) {
		close(*fd);
		*fd = -1;
	}
}

static void on_stop_signal(evutil_socket_t sig, short what, void *arg)
{
	struct kd_monitor *m = arg;
	struct timeval grace = { STOP_GRACE_S, 0 };

	(void)what;
	if (m->stopping)
		return;
	m->stopping = true;
	kd_log_event(LOG_NOTICE,
		     &(struct kd_log_fields){ .message_id =
						      KD_MSGID_DAEMON_STOPPING },
		     "sessiond stopping (signal %d), closing %u connection%s",
		     (int)sig, m->n_workers, m->n_workers == 1 ? "" : "s");
	sd_notify(0, "STOPPING=1");
	for (int i = 0; i < 2; i++)
		close_listener(&m->tcp_ev[i], &m->tcp_fd[i]);
	close_listener(&m->handoff_ev, &m->handoff_fd);
	for (struct monitor_worker *w = m->workers; w; w = w->next)
		monitor_worker_request_close(w, "Closed manually by the peer");
	m->stop_timer = evtimer_new(m->base, on_stop_timer, m);
	if (m->stop_timer)
		event_add(m->stop_timer, &grace);
	monitor_status_changed(m);
}

static void on_watchdog(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	sd_notify(0, "WATCHDOG=1");
}

/* ---- life cycle -------------------------------------------------------- */

int kd_monitor_new(const struct kd_monitor_settings *s, struct kd_monitor **out)
{
	struct kd_monitor *m = calloc(1, sizeof(*m));
	int r;

	if (!m)
		return -ENOMEM;
	m->s = *s;
	m->tcp_fd[0] = m->tcp_fd[1] = m->handoff_fd = -1;
	signal(SIGPIPE, SIG_IGN);
	if (gethostname(m->hostname, sizeof(m->hostname) - 1) < 0)
		snprintf(m->hostname, sizeof(m->hostname), "kvmdesk");
	kd_sandbox_user_lookup(&m->worker_user);
	m->base = event_base_new();
	if (!m->base) {
		r = -ENOMEM;
		goto fail;
	}
	r = kd_secrets_new(&m->secrets);
	if (r < 0)
		goto fail;
	r = kd_throttle_new(&m->throttle);
	if (r < 0)
		goto fail;
	r = load_secrets(m);
	if (r < 0)
		goto fail;
	r = open_sockets(m);
	if (r < 0)
		goto fail;
	*out = m;
	return 0;
fail:
	kd_monitor_free(m);
	return r;
}

static struct event *watch(struct kd_monitor *m, int fd,
			   event_callback_fn cb, void *arg)
{
	struct event *ev = event_new(m->base, fd, EV_READ | EV_PERSIST, cb, arg);

	if (ev && event_add(ev, NULL) < 0) {
		event_free(ev);
		ev = NULL;
	}
	return ev;
}

int kd_monitor_run(struct kd_monitor *m)
{
	uint64_t wd_usec = 0;
	char line[128];

	if (m->tcp_fd[0] >= 0 &&
	    !(m->tcp_ev[0] = watch(m, m->tcp_fd[0], on_tcp_accept, m)))
		return -ENOMEM;
	m->handoff_ev = watch(m, m->handoff_fd, monitor_accept_peer, m);
	m->sig_term = evsignal_new(m->base, SIGTERM, on_stop_signal, m);
	m->sig_int = evsignal_new(m->base, SIGINT, on_stop_signal, m);
	m->sig_chld = evsignal_new(m->base, SIGCHLD, on_sigchld, m);
	if (!m->handoff_ev || !m->sig_term || !m->sig_int ||
	    !m->sig_chld || event_add(m->sig_term, NULL) < 0 ||
	    event_add(m->sig_int, NULL) < 0 || event_add(m->sig_chld, NULL) < 0)
		return -ENOMEM;
	if (sd_watchdog_enabled(0, &wd_usec) > 0 && wd_usec > 0) {
		struct timeval tv = { (time_t)(wd_usec / 2000000),
				      (suseconds_t)((wd_usec / 2) % 1000000) };
		m->watchdog = event_new(m->base, -1, EV_PERSIST, on_watchdog, m);
		if (m->watchdog)
			event_add(m->watchdog, &tv);
	}
	monitor_status_line(m, line, sizeof(line));
	sd_notifyf(0, "READY=1\nSTATUS=%s", line);
	kd_log_event(LOG_NOTICE,
		     &(struct kd_log_fields){ .message_id =
						      KD_MSGID_DAEMON_STARTED },
		     "sessiond started: device %s, direct IP %s",
		     m->identity.id, m->tcp_fd[0] >= 0 ? "on" : "off");
	event_base_dispatch(m->base);
	return 0;
}

void kd_monitor_free(struct kd_monitor *m)
{
	if (!m)
		return;
	while (m->workers) {
		struct monitor_worker *w = m->workers;
		m->workers = w->next;
		if (!w->reaped) {
			kill(w->pid, SIGKILL);
			waitpid(w->pid, NULL, 0);
		}
		monitor_worker_close_channel(w);
		kd_private_free(w, sizeof(*w));
	}
	monitor_peers_free(m);
	for (int i = 0; i < 2; i++)
		close_listener(&m->tcp_ev[i], &m->tcp_fd[i]);
	close_listener(&m->handoff_ev, &m->handoff_fd);
	kd_ctl_server_destroy(m->ctl);
	if (m->handoff_path[0])
		unlink(m->handoff_path);
	if (m->sig_term)
		event_free(m->sig_term);
	if (m->sig_int)
		event_free(m->sig_int);
	if (m->sig_chld)
		event_free(m->sig_chld);
	if (m->watchdog)
		event_free(m->watchdog);
	if (m->stop_timer)
		event_free(m->stop_timer);
	if (m->base)
		event_base_free(m->base);
	kd_throttle_free(m->throttle);
	kd_secrets_free(m->secrets);
	free(m);
}
