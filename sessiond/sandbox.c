/* Worker sandbox: identity, no_new_privs, rlimits and a hand-written seccomp
 * BPF allowlist. Denied system calls fail with EPERM rather than killing the
 * worker, so a library that probes for something gets an error it handles;
 * a foreign architecture or the x32 ABI kills the process. */
#include "sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stddef.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>

#include "log.h"

#define WORKER_USER "kvmdesk-session"

#if defined(__x86_64__)
#define SANDBOX_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define SANDBOX_ARCH AUDIT_ARCH_AARCH64
#else
#error "sessiond's worker sandbox knows x86_64 and aarch64 only"
#endif

#define X32_SYSCALL_BIT 0x40000000u

void kd_sandbox_user_lookup(struct kd_sandbox_user *out)
{
	struct passwd *pw;

	memset(out, 0, sizeof(*out));
	if (geteuid() != 0)
		return;
	pw = getpwnam(WORKER_USER);
	if (!pw)
		return;
	out->change = true;
	out->uid = pw->pw_uid;
	out->gid = pw->pw_gid;
}

/* ---- BPF building ------------------------------------------------------- */

#define SYSCALL_NR offsetof(struct seccomp_data, nr)
#define ARCH_NR offsetof(struct seccomp_data, arch)
/* Low 32 bits of argument n (little-endian on both architectures). */
#define ARG_LO(n) (offsetof(struct seccomp_data, args) + 8 * (n))

#define LOAD(off) BPF_STMT(BPF_LD | BPF_W | BPF_ABS, (off))
#define RET(v) BPF_STMT(BPF_RET | BPF_K, (v))
#define ALLOW RET(SECCOMP_RET_ALLOW)
#define DENY RET(SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA))
/* if (A == nr) fall through to the next instruction, else skip one */
#define IF_NR(nr) BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (nr), 0, 1)
#define ALLOW_NR(nr) IF_NR(nr), ALLOW

static const int allowed_plain[] = {
	/* I/O on descriptors we already hold */
	__NR_read, __NR_write, __NR_readv, __NR_writev, __NR_close,
	__NR_sendmsg, __NR_recvmsg, __NR_sendto, __NR_recvfrom,
	__NR_shutdown, __NR_getsockopt, __NR_setsockopt, __NR_getsockname,
	__NR_getpeername, __NR_connect, __NR_fcntl, __NR_fstat, __NR_pipe2,
	__NR_newfstatat, __NR_lseek, __NR_dup, __NR_dup3,
	/* the event loop */
	__NR_epoll_create1, __NR_epoll_ctl, __NR_epoll_pwait, __NR_ppoll,
	__NR_eventfd2, __NR_timerfd_create, __NR_timerfd_settime,
	__NR_timerfd_gettime, __NR_pselect6,
	/* memory */
	__NR_brk, __NR_munmap, __NR_mremap, __NR_madvise, __NR_memfd_create,
	/* time, randomness, threads' primitives */
	__NR_clock_gettime, __NR_clock_getres, __NR_clock_nanosleep,
	__NR_gettimeofday, __NR_nanosleep, __NR_getrandom, __NR_futex,
	__NR_sched_yield, __NR_set_robust_list, __NR_rseq,
	/* signals */
	__NR_rt_sigaction, __NR_rt_sigprocmask, __NR_rt_sigreturn,
	__NR_tgkill, __NR_sigaltstack,
	/* identity queries and exit */
	__NR_getpid, __NR_gettid, __NR_getuid, __NR_geteuid, __NR_getgid,
	__NR_getegid, __NR_uname, __NR_prctl, __NR_exit, __NR_exit_group,
	__NR_restart_syscall,
#ifdef __NR_epoll_pwait2
	__NR_epoll_pwait2,
#endif
#ifdef __NR_epoll_wait
	__NR_epoll_wait,
#endif
#ifdef __NR_epoll_create
	__NR_epoll_create,
#endif
#ifdef __NR_poll
	__NR_poll,
#endif
#ifdef __NR_select
	__NR_select,
#endif
#ifdef __NR_eventfd
	__NR_eventfd,
#endif
#ifdef __NR_fstatat64
	__NR_fstatat64,
#endif
#ifdef __NR_dup2
	__NR_dup2,
#endif
#ifdef __NR_getrlimit
	__NR_getrlimit,
#endif
#ifdef __NR_prlimit64
	__NR_prlimit64,
#endif
#ifdef __NR_statx
	__NR_statx,
#endif
};

#define MAX_FILTER 256

static size_t build_filter(struct sock_filter *f)
{
	size_t n = 0;

#define EMIT(...)                                                          \
	do {                                                               \
		struct sock_filter ins_[] = { __VA_ARGS__ };               \
		memcpy(f + n, ins_, sizeof(ins_));                         \
		n += sizeof(ins_) / sizeof(ins_[0]);                       \
	} while (0)

	EMIT(LOAD(ARCH_NR),
	     BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SANDBOX_ARCH, 1, 0),
	     RET(SECCOMP_RET_KILL_PROCESS));
	EMIT(LOAD(SYSCALL_NR));
#if defined(__x86_64__)
	/* x32 system calls reuse numbers with a high bit: refuse them all */
	EMIT(BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, X32_SYSCALL_BIT, 0, 1),
	     RET(SECCOMP_RET_KILL_PROCESS));
#endif
	for (size_t i = 0; i < sizeof(allowed_plain) / sizeof(allowed_plain[0]);
	     i++)
		EMIT(ALLOW_NR((unsigned)allowed_plain[i]));

	/* socket(): only AF_UNIX (journal, mediad, hidd) */
	EMIT(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_socket, 0, 3),
	     LOAD(ARG_LO(0)),
	     BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AF_UNIX, 0, 1), ALLOW);
	EMIT(LOAD(SYSCALL_NR));
	/* mmap()/mprotect(): never executable */
	EMIT(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_mmap, 1, 0),
	     BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_mprotect, 0, 4),
	     LOAD(ARG_LO(2)),
	     BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, PROT_EXEC, 1, 0), ALLOW,
	     DENY);
	EMIT(LOAD(SYSCALL_NR));
	/* ioctl(): FIONREAD only (libevent sizes its reads with it) */
	EMIT(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_ioctl, 0, 3),
	     LOAD(ARG_LO(1)),
	     BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, FIONREAD, 0, 1), ALLOW);
	/* Everything else, including execve, fork/clone, ptrace, open*,
	 * bind, listen, accept, kill: EPERM. */
	EMIT(DENY);
#undef EMIT
	return n;
}

int kd_sandbox_seccomp(void)
{
	struct sock_filter filter[MAX_FILTER];
	struct sock_fprog prog;
	size_t n = build_filter(filter);

	if (n > MAX_FILTER)
		return -E2BIG;
	prog.len = (unsigned short)n;
	prog.filter = filter;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -errno;
	if (syscall(__NR_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0) {
		if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) < 0)
			return -errno;
	}
	return 0;
}

static int drop_user(const struct kd_sandbox_user *user)
{
	if (!user || !user->change)
		return 0;
	if (setgroups(0, NULL) < 0 || setresgid(user->gid, user->gid, user->gid) < 0 ||
	    setresuid(user->uid, user->uid, user->uid) < 0)
		return -errno;
	if (setuid(0) == 0)
		return -EPERM; /* could regain root: refuse to run */
	return 0;
}

/* Best effort: systemd's SystemCallFilter=~@resources in the unit refuses
 * setrlimit(), and the unit's own limits apply then; the seccomp filter
 * below is what really forbids files and processes. */
static void set_limits(void)
{
	struct rlimit zero = { 0, 0 };
	struct stat st;

	/* A worker never creates files. When stderr is a regular file (a
	 * redirected log), keep the limit or every log line would fail. */
	signal(SIGXFSZ, SIG_IGN);
	if (fstat(STDERR_FILENO, &st) < 0 || !S_ISREG(st.st_mode))
		(void)setrlimit(RLIMIT_FSIZE, &zero);
	/* Not enforced for root, and counts the whole uid. */
	(void)setrlimit(RLIMIT_NPROC, &zero);
	(void)setrlimit(RLIMIT_CORE, &zero);
}

int kd_sandbox_apply(const struct kd_sandbox_user *user)
{
	int r;

	r = drop_user(user);
	if (r < 0) {
		kd_err("worker: cannot switch to user %s: %s", WORKER_USER,
		       strerror(-r));
		return r;
	}
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		return -errno;
	set_limits();
	r = kd_sandbox_seccomp();
	if (r < 0)
		kd_err("worker: seccomp: %s", strerror(-r));
	return r;
}
