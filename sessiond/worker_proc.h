/* The forked worker process: forget the monitor, sandbox, serve one client
 * with the worker core, exit. */
#pragma once
#include "sandbox.h"
#include "secrets.h"
#include "worker.h"

struct kd_worker_proc {
	int conn_fd;    /* the client's connected stream socket */
	int monitor_fd; /* SOCK_SEQPACKET socketpair end to the monitor */
	struct kd_secrets *secrets; /* wiped in the child */
	struct kd_sandbox_user user;
	struct kd_worker_params params; /* to_monitor/on_finished/ctx set here */
};

/* Runs in the child right after fork(); never returns. */
_Noreturn void kd_worker_proc_main(struct kd_worker_proc *wp);
