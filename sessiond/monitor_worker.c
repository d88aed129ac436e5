/* The monitor's side of a worker channel. The worker is untrusted: every
 * request is checked against the state it may be sent in, and anything
 * unexpected ends that worker (SIGKILL) and nothing else. */
#include "monitor_int.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sodium.h>

#include "ipc.h"
#include "log.h"
#include "signed_id.h"

static struct kd_log_fields fields(const struct monitor_worker *w,
				   const char *msgid)
{
	struct kd_log_fields f = {
		.message_id = msgid,
		.peer_id = w->peer_id[0] ? w->peer_id : NULL,
		.peer_addr = w->addr,
		.session_kind = w->how,
		.conn_id = w->conn_id,
	};
	return f;
}

void monitor_worker_close_channel(struct monitor_worker *w)
{
	if (w->ev) {
		event_free(w->ev);
		w->ev = NULL;
	}
	if (w->fd >= 0) {
		close(w->fd);
		w->fd = -1;
	}
}

void monitor_worker_kill(struct monitor_worker *w, const char *why)
{
	struct kd_log_fields f = fields(w, KD_MSGID_PROTOCOL_ERROR);

	if (!w->killed) {
		kd_log_event(LOG_WARNING, &f,
			     "worker %d of connection %llu: %s; killed",
			     (int)w->pid, (unsigned long long)w->conn_id, why);
		snprintf(w->reason, sizeof(w->reason), "worker killed: %s",
			 why);
	}
	w->killed = true;
	if (w->pid > 0 && !w->reaped)
		kill(w->pid, SIGKILL);
	monitor_worker_close_channel(w);
}

static int reply(struct monitor_worker *w, Kdipc__MonitorToWorker *m)
{
	int r = kd_ipc_send(w->fd, &m->base, -1);

	if (r < 0)
		monitor_worker_kill(w, "its channel is blocked");
	return r;
}

int monitor_worker_request_close(struct monitor_worker *w, const char *reason)
{
	Kdipc__MonitorToWorker m = KDIPC__MONITOR_TO_WORKER__INIT;
	Kdipc__CloseRequest c = KDIPC__CLOSE_REQUEST__INIT;

	if (w->fd < 0)
		return -ENOTCONN;
	c.reason = (char *)reason;
	m.msg_case = KDIPC__MONITOR_TO_WORKER__MSG_CLOSE;
	m.close = &c;
	return reply(w, &m);
}

static void handle_hello(struct monitor_worker *w, const Kdipc__Hello *h)
{
	Kdipc__MonitorToWorker m = KDIPC__MONITOR_TO_WORKER__INIT;
	Kdipc__Hello mine = KDIPC__HELLO__INIT;

	if (kd_ipc_hello_check(h) < 0 || h->session_id != w->conn_id) {
		monitor_worker_kill(w, "bad hello");
		return;
	}
	w->hello = true;
	kd_ipc_hello_init(&mine, "sessiond", w->conn_id);
	m.msg_case = KDIPC__MONITOR_TO_WORKER__MSG_HELLO;
	m.hello = &mine;
	reply(w, &m);
}

/* Once per worker, before login, only on a secure connection. */
static void handle_sign(struct monitor_worker *w, const Kdipc__SignIdRequest *q)
{
	struct kd_monitor *mon = w->m;
	Kdipc__MonitorToWorker m = KDIPC__MONITOR_TO_WORKER__INIT;
	Kdipc__SignIdReply rep = KDIPC__SIGN_ID_REPLY__INIT;
	uint8_t blob[KD_SIGNED_ID_MAX];
	int len;

	if (!w->secure || w->signed_id || w->login_ok ||
	    q->ephemeral_pk.len != 32 || !mon->secrets->has_identity) {
		monitor_worker_kill(w, "sign request not allowed now");
		return;
	}
	w->signed_id = true;
	len = kd_signed_id_sign(mon->secrets->identity_sk, mon->identity.id,
				q->ephemeral_pk.data, 32, blob);
	if (len < 0) {
		monitor_worker_kill(w, "cannot sign");
		return;
	}
	rep.signed_id.data = blob;
	rep.signed_id.len = (size_t)len;
	m.msg_case = KDIPC__MONITOR_TO_WORKER__MSG_SIGN_ID;
	m.sign_id = &rep;
	reply(w, &m);
}

static int64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The password may have changed since start: read the verifier again. */
static void refresh_verifier(struct kd_monitor *mon)
{
	struct kd_password_verifier v;

	if (kd_password_load(mon->s.general.state_dir, &v) == 0 &&
	    strcmp(v.salt, mon->secrets->verifier.salt) == 0)
		mon->secrets->verifier = v;
	sodium_memzero(&v, sizeof(v));
}

static void copy_field(char *dst, size_t cap, const char *src)
{
	snprintf(dst, cap, "%s", src ? src : "");
}

/* Only until authorized; on a secure connection only after signing. */
static void handle_login(struct monitor_worker *w,
			 const Kdipc__LoginCheckRequest *q)
{
	struct kd_monitor *mon = w->m;
	Kdipc__MonitorToWorker m = KDIPC__MONITOR_TO_WORKER__INIT;
	Kdipc__LoginCheckReply rep = KDIPC__LOGIN_CHECK_REPLY__INIT;
	struct kd_log_fields f;
	const char *error = NULL;
	int64_t now = wall_ms();

	if (w->login_ok || (w->secure && !w->signed_id) ||
	    q->password.len == 0 || q->password.len > 64) {
		monitor_worker_kill(w, "login check not allowed now");
		return;
	}
	copy_field(w->peer_id, sizeof(w->peer_id), q->peer_id);
	copy_field(w->peer_name, sizeof(w->peer_name), q->peer_name);
	/* The throttle uses the address the monitor saw, never the worker's
	 * word, and a blocked attempt does not even check the password. */
	if (!kd_throttle_allow(mon->throttle, w->ip, now, &error)) {
		f = fields(w, KD_MSGID_LOGIN_THROTTLED);
		kd_log_event(LOG_WARNING, &f,
			     "login from %s (%s) throttled: %s", w->addr,
			     w->peer_id, error);
		rep.result = KDIPC__LOGIN_CHECK_REPLY__RESULT__THROTTLED;
		rep.error = (char *)error;
	} else {
		refresh_verifier(mon);
		if (mon->secrets->verifier.has_password &&
		    kd_password_check(&mon->secrets->verifier, w->challenge,
				      q->password.data, q->password.len)) {
			kd_throttle_success(mon->throttle, w->ip);
			w->login_ok = true;
			f = fields(w, KD_MSGID_LOGIN_SUCCEEDED);
			kd_log_event(LOG_INFO, &f, "login from %s (%s, %s) "
				     "accepted", w->addr, w->peer_id,
				     w->peer_name);
			rep.result = KDIPC__LOGIN_CHECK_REPLY__RESULT__OK;
		} else {
			kd_throttle_failure(mon->throttle, w->ip, now);
			f = fields(w, KD_MSGID_LOGIN_FAILED);
			kd_log_event(LOG_WARNING, &f,
				     "wrong password from %s (%s, %s)",
				     w->addr, w->peer_id, w->peer_name);
			rep.result =
				KDIPC__LOGIN_CHECK_REPLY__RESULT__WRONG_PASSWORD;
			rep.error = "Wrong Password";
		}
	}
	m.msg_case = KDIPC__MONITOR_TO_WORKER__MSG_LOGIN_CHECK;
	m.login_check = &rep;
	reply(w, &m);
}

static const char *kind_text(const struct monitor_worker *w)
{
	if (strcmp(w->how, "direct") == 0)
		return "direct IP, UNENCRYPTED (RustDesk sends direct-IP "
		       "sessions in clear)";
	return w->encrypted ? "end-to-end encrypted" :
			      "UNENCRYPTED: the client could not verify our "
			      "key";
}

static void handle_state(struct monitor_worker *w,
			 const Kdipc__SessionState *s)
{
	struct kd_log_fields f;

	switch (s->state) {
	case KDIPC__SESSION_STATE__STATE__AUTHORIZED:
		if (!w->login_ok) {
			monitor_worker_kill(w, "claims a login it never had");
			return;
		}
		copy_field(w->codec, sizeof(w->codec), s->codec);
		if (w->authorized)
			break; /* an update (codec) */
		w->authorized = true;
		w->encrypted = s->encrypted && w->secure;
		clock_gettime(CLOCK_MONOTONIC, &w->authorized_at);
		f = fields(w, KD_MSGID_SESSION_OPENED);
		kd_log_event(LOG_NOTICE, &f,
			     "session %llu opened: %s (%s) from %s via %s, %s",
			     (unsigned long long)w->conn_id, w->peer_id,
			     w->peer_name, w->addr, w->how, kind_text(w));
		monitor_status_changed(w->m);
		break;
	case KDIPC__SESSION_STATE__STATE__CLOSING:
		copy_field(w->reason, sizeof(w->reason), s->reason);
		break;
	default:
		monitor_worker_kill(w, "unexpected session state");
		break;
	}
}

void monitor_worker_readable(evutil_socket_t fd, short what, void *arg)
{
	struct monitor_worker *w = arg;
	ProtobufCMessage *pm = NULL;
	Kdipc__WorkerToMonitor *m;
	int r;

	(void)what;
	r = kd_ipc_recv(fd, &kdipc__worker_to_monitor__descriptor, &pm, NULL);
	if (r == -EAGAIN)
		return;
	if (r == -ECONNRESET) {
		monitor_worker_close_channel(w); /* it exits; SIGCHLD follows */
		return;
	}
	if (r < 0) {
		monitor_worker_kill(w, "malformed message");
		return;
	}
	m = (Kdipc__WorkerToMonitor *)pm;
	if (!w->hello && m->msg_case != KDIPC__WORKER_TO_MONITOR__MSG_HELLO) {
		monitor_worker_kill(w, "no hello");
	} else {
		switch (m->msg_case) {
		case KDIPC__WORKER_TO_MONITOR__MSG_HELLO:
			if (w->hello)
				monitor_worker_kill(w, "second hello");
			else
				handle_hello(w, m->hello);
			break;
		case KDIPC__WORKER_TO_MONITOR__MSG_SIGN_ID:
			handle_sign(w, m->sign_id);
			break;
		case KDIPC__WORKER_TO_MONITOR__MSG_LOGIN_CHECK:
			handle_login(w, m->login_check);
			break;
		case KDIPC__WORKER_TO_MONITOR__MSG_STATE:
			handle_state(w, m->state);
			break;
		default:
			monitor_worker_kill(w, "unknown request");
			break;
		}
	}
	protobuf_c_message_free_unpacked(pm, NULL);
}

void monitor_worker_reaped(struct monitor_worker *w, int status)
{
	struct kd_log_fields f = fields(w, KD_MSGID_SESSION_CLOSED);
	const char *reason = w->reason[0] ? w->reason : "connection closed";

	w->reaped = true;
	monitor_worker_close_channel(w);
	if (WIFSIGNALED(status) && !w->killed) {
		f.message_id = KD_MSGID_PROTOCOL_ERROR;
		kd_log_event(LOG_ERR, &f, "worker %d of connection %llu died "
			     "of signal %d", (int)w->pid,
			     (unsigned long long)w->conn_id, WTERMSIG(status));
		f.message_id = KD_MSGID_SESSION_CLOSED;
	}
	if (w->authorized) {
		struct timespec now;
		long secs;

		clock_gettime(CLOCK_MONOTONIC, &now);
		secs = (long)(now.tv_sec - w->authorized_at.tv_sec);
		kd_log_event(LOG_NOTICE, &f,
			     "session %llu closed: %s from %s after %ld s (%s)",
			     (unsigned long long)w->conn_id, w->peer_id,
			     w->addr, secs, reason);
	} else {
		f.message_id = NULL;
		kd_log_event(LOG_INFO, &f,
			     "connection %llu from %s closed before login (%s)",
			     (unsigned long long)w->conn_id, w->addr, reason);
	}
}
