/*
 * runner.c - one attempt of a handler: its environment, the spawn and
 * its record in db/running, its output into logs/<id>.log, signals,
 * reaping, adoption after a restart, and the result file. See runner.h
 * for the contract.
 *
 * Between clone() and execve() the child runs in the daemon's memory, so
 * it runs only async-signal-safe code, never allocates and changes no
 * state of libc's: the parent prepares everything it needs (argv, envp,
 * the descriptors, an empty signal set, its record's text) in a struct
 * runner_nest before it clones. A handler of runner_start() is started
 * beside the daemon, which goes on at once rather than wait for the exec
 * (see runner_spawn()): the child then makes only raw system calls,
 * since even errno is shared with the daemon's thread, and its nest is
 * freed only once it has left our memory.
 *
 * The handler's pid is also its process group id. That id stays ours
 * until runner_reap() reaps the leader: a zombie still holds its pid, and
 * the kernel never hands out a pid that is in use as a group id. So every
 * kill(-pid) up to the reap reaches our handler's group and nobody else.
 */
#include <assert.h>
#include <jansson.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/futex.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "runner.h"

#ifndef MFD_NOEXEC_SEAL
#define MFD_NOEXEC_SEAL 0x0008U /* Linux 6.3; glibc 2.36 lacks it */
#endif
#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x00001000 /* Linux 5.2 */
#endif

/*
 * Under AddressSanitizer the child's frames poison the shadow of the
 * stack it borrows from our frame, and it never returns to clear it.
 */
#if defined(__SANITIZE_ADDRESS__)
#define RUNNER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define RUNNER_ASAN 1
#endif
#endif
#ifdef RUNNER_ASAN
#include <sanitizer/asan_interface.h>
#define RUNNER_UNPOISON(p, n) __asan_unpoison_memory_region((p), (n))
#else
#define RUNNER_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

/*
 * The child's code is not instrumented by AddressSanitizer, whose
 * per-thread state a child running beside us would share with us.
 */
#define RUNNER_CHILD __attribute__((no_sanitize_address))

#define RUNNER_PATH "/usr/local/bin:/usr/bin:/bin"
#define RUNNER_CHUNK (64 * 1024)  /* one read() from a handler's pipe */
#define RUNNER_DRAIN_READS 16     /* reads per runner_drain() call */
#define RUNNER_REAP_ROUNDS 64     /* runner_drain()-sized rounds at reap */
#define RUNNER_STACK (64 * 1024)  /* the child's stack, until it execs */

#if defined(__x86_64__) && defined(SYS_clone3)
/*
 * clone3(2)'s arguments (linux/sched.h, not included: it clashes with
 * <sched.h>). CLONE_INTO_CGROUP (Linux 5.7) starts the child in a cgroup:
 * moving it there afterwards, through cgroup.procs, takes the cgroup
 * core's global write lock, which waits for an RCU grace period and cost
 * up to tens of milliseconds a start here.
 */
struct runner_clone_args {
	uint64_t flags;
	uint64_t pidfd;
	uint64_t child_tid;
	uint64_t parent_tid;
	uint64_t exit_signal;
	uint64_t stack;
	uint64_t stack_size;
	uint64_t tls;
	uint64_t set_tid;
	uint64_t set_tid_size;
	uint64_t cgroup;
};
#define RUNNER_CLONE_INTO_CGROUP 0x200000000ULL
#define RUNNER_HAVE_CLONE3 1

/*
 * clone3() with CLONE_VM: the child starts on its own stack just after
 * the system call, so it must not return into this function's frame; it
 * calls fn(arg) and exits with what that returns (fn execs or _exits
 * first). libc has no clone3() wrapper that does this. Returns the pid,
 * or a negative errno.
 */
static long
runner_clone3(struct runner_clone_args *ca, int (*fn)(void *), void *arg)
{
	register long rax __asm__("rax") = SYS_clone3;
	register void *rdi __asm__("rdi") = ca;
	register long rsi __asm__("rsi") = (long)sizeof(*ca);
	register void *r12 __asm__("r12") = (void *)fn;
	register void *r13 __asm__("r13") = arg;

	__asm__ volatile("syscall\n\t"
			 "test %%rax, %%rax\n\t"
			 "jnz 1f\n\t"
			 "xor %%ebp, %%ebp\n\t"
			 "mov %%r13, %%rdi\n\t"
			 "call *%%r12\n\t"
			 "mov %%eax, %%edi\n\t"
			 "mov $60, %%eax\n\t" /* SYS_exit */
			 "syscall\n\t"
			 "hlt\n"
			 "1:"
			 : "+r"(rax)
			 : "r"(rdi), "r"(rsi), "r"(r12), "r"(r13)
			 : "rcx", "r11", "memory");
	return rax;
}
#endif
#define RUNNER_CLOSE_MAX (1U << 20) /* close loop bound without close_range */

/*
 * The child's system calls: the result, or -errno, and errno untouched.
 * A child started beside us shares our thread's errno (its TLS is ours),
 * so it must not write it; libc's wrappers do on failure.
 */
#if defined(__x86_64__)
static inline long
runner_sys(long n, long a, long b, long c, long d)
{
	register long r10 __asm__("r10") = d;
	long ret;

	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10)
			 : "rcx", "r11", "memory");
	return ret;
}
#else
/* Without clone3() here every child is a vfork() child: errno is fine. */
static long
runner_sys(long n, long a, long b, long c, long d)
{
	long ret = syscall(n, a, b, c, d);

	return ret < 0 ? -errno : ret;
}
#endif
#define RUNNER_SYS(n, a, b, c, d) \
	runner_sys((n), (long)(a), (long)(b), (long)(c), (long)(d))

/* ---- small helpers ---- */

static void
runner_close(int *fd)
{
	if (*fd >= 0) {
		/* Not retried on EINTR: on Linux the fd is gone either way. */
		close(*fd);
		*fd = -1;
	}
}

static void
runner_run_init(struct run *run)
{
	memset(run, 0, sizeof(*run));
	run->cg_empty_fd = -1;
	run->pidfd = -1;
	run->out_fd = -1;
	run->err_fd = -1;
	run->log_fd = -1;
	run->cg_fd = -1;
	run->log_dir = -1;
}

/* Take over the cgroup a caller made for the run (fd -1: none). */
static void
runner_cgroup_take(struct run *run, int fd, const char *name)
{
	if (name == NULL || fd < 0)
		return;
	run->cg_fd = fd;
	snprintf(run->cg_name, sizeof(run->cg_name), "%s", name);
}

/* Write all of buf; *done gets what was written even on failure. */
static int
runner_write_all(int fd, const char *buf, size_t len, size_t *done)
{
	size_t off = 0;
	int r = 0;

	while (off < len) {
		ssize_t n = write(fd, buf + off, len - off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			break;
		}
		off += (size_t)n;
	}
	if (done != NULL)
		*done = off;
	return r;
}

static int
runner_pidfd_open(pid_t pid)
{
	/* glibc 2.36 has no wrapper. The kernel sets FD_CLOEXEC itself. */
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

/* ---- the environment ---- */

/*
 * The environment is built twice by the same code: once to count entries
 * and bytes (vec NULL), once to write them into one allocation.
 */
struct runner_envbuf {
	char **vec;   /* NULL while sizing */
	char *str;    /* next free byte, when writing */
	size_t n;     /* entries so far */
	size_t bytes; /* string bytes so far, NULs included */
};

/*
 * Add prefix + name + "=" + value, name upper-cased when upper is set.
 * With value NULL, name is a whole "KEY=VALUE" entry already.
 */
static void
runner_env_add(struct runner_envbuf *b, const char *prefix, const char *name,
	       bool upper, const char *value)
{
	size_t lp = strlen(prefix), ln = strlen(name);
	size_t lv = value != NULL ? strlen(value) + 1 : 0;
	size_t len = lp + ln + lv + 1;

	if (b->vec != NULL) {
		char *p = b->str;

		memcpy(p, prefix, lp);
		for (size_t i = 0; i < ln; i++) {
			char c = name[i];
			/* ASCII only: keys are checked, and no locale applies. */
			p[lp + i] = upper && c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c;
		}
		if (value != NULL) {
			p[lp + ln] = '=';
			memcpy(p + lp + ln + 1, value, lv - 1);
		}
		p[len - 1] = '\0';
		b->vec[b->n] = p;
		b->str += len;
	}
	b->n++;
	b->bytes += len;
}

static void
runner_env_fill(const struct runner_spec *s, const char *attempt,
		struct runner_envbuf *b)
{
	const struct provider *p = s->prov;
	const struct job *j = s->job;
	bool have_path = false;

	for (size_t i = 0; p->env != NULL && i < p->nenv; i++) {
		runner_env_add(b, "", p->env[i], false, NULL);
		if (strncmp(p->env[i], "PATH=", 5) == 0)
			have_path = true;
	}
	if (!have_path)
		runner_env_add(b, "PATH", "", false, RUNNER_PATH);
	runner_env_add(b, "SYNCSPOOL_JOB_ID", "", false, s->job_id);
	runner_env_add(b, "SYNCSPOOL_VENUE_ID", "", false, j->venue_id);
	runner_env_add(b, "SYNCSPOOL_PROVIDER", "", false, p->name);
	runner_env_add(b, "SYNCSPOOL_SYNC_TYPE", "", false, j->sync_type);
	runner_env_add(b, "SYNCSPOOL_ATTEMPT", "", false, attempt);
	runner_env_add(b, "SYNCSPOOL_JOB_FILE", "", false, s->job_path);
	runner_env_add(b, "SYNCSPOOL_RESULT_FILE", "", false, s->result_path);
	for (size_t i = 0; i < j->noptions; i++)
		runner_env_add(b, "SYNCSPOOL_OPTION_", j->options[i].key, true,
			       j->options[i].value);
}

static bool
runner_env_key_valid(const char *k)
{
	if (k == NULL || !(k[0] == '_' || (k[0] >= 'A' && k[0] <= 'Z') ||
			   (k[0] >= 'a' && k[0] <= 'z')))
		return false;
	for (; *k != '\0'; k++)
		if (!(*k == '_' || (*k >= 'A' && *k <= 'Z') ||
		      (*k >= 'a' && *k <= 'z') || (*k >= '0' && *k <= '9')))
			return false;
	return true;
}

static int
runner_env_check(const struct runner_spec *s, char *err, size_t errlen)
{
	const struct provider *p;
	const struct job *j;

	if (s == NULL || s->prov == NULL || s->job == NULL ||
	    s->job_id == NULL || s->job_path == NULL ||
	    s->result_path == NULL || s->prov->name == NULL) {
		util_seterr(err, errlen, "runner: incomplete job spec");
		return -EINVAL;
	}
	p = s->prov;
	j = s->job;
	for (size_t i = 0; p->env != NULL && i < p->nenv; i++) {
		const char *e = p->env[i], *eq = e != NULL ? strchr(e, '=') : NULL;
		if (eq == NULL || eq == e) {
			util_seterr(err, errlen, "provider %s: env entry %zu is "
				    "not KEY=VALUE", p->name, i + 1);
			return -EINVAL;
		}
		if (strncmp(e, "SYNCSPOOL_", 10) == 0) {
			util_seterr(err, errlen, "provider %s: env sets %.*s; "
				    "SYNCSPOOL_ variables are the daemon's",
				    p->name, (int)(eq - e), e);
			return -EINVAL;
		}
	}
	for (size_t i = 0; i < j->noptions; i++) {
		const char *k = j->options[i].key;
		if (!runner_env_key_valid(k) || j->options[i].value == NULL) {
			util_seterr(err, errlen, "option '%s' cannot be passed "
				    "in the environment (keys are "
				    "[A-Za-z_][A-Za-z0-9_]*)", k ? k : "");
			return -EINVAL;
		}
		for (size_t m = 0; m < i; m++) {
			if (strcasecmp(k, j->options[m].key) != 0)
				continue;
			util_seterr(err, errlen, "options '%s' and '%s' would "
				    "both be SYNCSPOOL_OPTION_%s", j->options[m].key,
				    k, k);
			return -EINVAL;
		}
	}
	return 0;
}

int
runner_env_build(const struct runner_spec *s, char ***envp, char *err,
		 size_t errlen)
{
	struct runner_envbuf b = {0};
	char attempt[16];
	char **vec;
	size_t nvec;
	int r;

	*envp = NULL;
	if ((r = runner_env_check(s, err, errlen)) < 0)
		return r;
	snprintf(attempt, sizeof(attempt), "%u", s->attempt);
	runner_env_fill(s, attempt, &b);
	nvec = b.n + 1;
	vec = malloc(nvec * sizeof(*vec) + b.bytes);
	if (vec == NULL) {
		util_seterr(err, errlen, "runner: out of memory for the "
			    "environment");
		return -ENOMEM;
	}
	b = (struct runner_envbuf){.vec = vec, .str = (char *)(vec + nvec)};
	runner_env_fill(s, attempt, &b);
	assert(b.n == nvec - 1);
	vec[b.n] = NULL;
	*envp = vec;
	return 0;
}

/* ---- the child ---- */

/*
 * What the child needs, prepared before clone(), and what it reports
 * back: it runs in our memory (CLONE_VM), so it writes its report here,
 * and the parent reads it once the child has left our memory, at once
 * after a CLONE_VFORK clone, at the reap for one started beside us.
 */
struct runner_child {
	char *const *argv;
	char *const *envp;
	int fds[3];           /* become 0, 1 and 2 */
	int drop[3];          /* the daemon's ends: stdout, stderr, stdin */
	unsigned maxfd;       /* for the close loop without close_range() */
	uint64_t sig_reset;   /* bit sig - 1: dispositions to reset */
	bool have_rec;        /* false: nothing to record */
	struct runner_record rec; /* its id points at rec_id */
	char rec_id[ID_MAX + 1];
	const char *boot_id;
	uint64_t boot_ns;     /* CLOCK_BOOTTIME just before the clone */
	uint64_t tick_ns;     /* ns in a /proc clock tick; 0: unknown */
	int cg_procs;         /* its cgroup's cgroup.procs, or -1 */
	/* Written by the child. */
	int cg_err;           /* errno of its move into the cgroup; 0: none */
	bool shared;          /* it ran in this memory (not so under valgrind) */
	bool exec_failed;     /* execve() itself returned */
	bool stdio;           /* 0-2 are the handler's now */
	int err;              /* errno of the step that failed; 0: none */
	const char *failed;   /* that step */
	const char *failed_path;
	uint64_t ticks;       /* its /proc starttime */
};

/*
 * A child and everything it uses in our memory until it execs: its
 * stack, its struct runner_child, argv and envp (copies, so that a
 * reload may free the config meanwhile). One allocation.
 */
struct runner_nest {
	struct runner_child c;
	uint32_t tid;         /* CLONE_CHILD_CLEARTID: 0 once it has left */
	char **argv;          /* one allocation */
	char **envp;          /* one allocation, ours */
	char stack[RUNNER_STACK] __attribute__((aligned(16)));
};

/* Append s to buf (size len) at *at, never past len - 1. */
static RUNNER_CHILD void
runner_child_cat(char *buf, size_t len, size_t *at, const char *s)
{
	while (*s != '\0' && *at + 1 < len)
		buf[(*at)++] = *s++;
}

/* Append v in decimal: snprintf() is not async-signal-safe. */
static RUNNER_CHILD void
runner_child_num(char *buf, size_t len, size_t *at, uint64_t v)
{
	char digits[24];
	size_t n = 0;

	do
		digits[n++] = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	while (n > 0 && *at + 1 < len)
		buf[(*at)++] = digits[--n];
}

/*
 * Field 22 (starttime) of a /proc/PID/stat text. "pid (comm) state ppid
 * ...": comm may hold spaces and ')', but nothing after it does, so the
 * last ')' ends it. Pure code: the child uses it too.
 */
static RUNNER_CHILD int
runner_stat_ticks(const char *buf, size_t len, uint64_t *ticks)
{
	const char *p = NULL, *end = buf + len;
	uint64_t v = 0;

	for (const char *q = buf; q < end; q++)
		if (*q == ')')
			p = q;
	if (p == NULL)
		return -EINVAL;
	p++;
	for (int field = 3; field < 22; field++) {
		while (p < end && *p == ' ')
			p++;
		if (p == end)
			return -EINVAL;
		while (p < end && *p != ' ')
			p++;
	}
	while (p < end && *p == ' ')
		p++;
	if (p == end || *p < '0' || *p > '9')
		return -EINVAL;
	for (; p < end && *p >= '0' && *p <= '9'; p++) {
		if (v > (UINT64_MAX - 9) / 10)
			return -EINVAL;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	if (p < end && *p != ' ' && *p != '\n')
		return -EINVAL;
	*ticks = v;
	return 0;
}

/*
 * "syncspool: <what> [<path>]: <reason>\n" on fd 2 once that is the
 * handler's (before, it is the daemon's own), then exit 127.
 * strerrordesc_np() is a lookup in glibc's static table: no locale, no
 * allocation, no errno, unlike strerror(). The parent learns what failed
 * from c.
 */
static RUNNER_CHILD void __attribute__((noreturn))
runner_child_fail(struct runner_child *c, const char *what, const char *path,
		  int e)
{
	char buf[512];
	const char *desc = strerrordesc_np(e);
	size_t at = 0;

	c->err = e != 0 ? e : EIO;
	c->failed = what;
	c->failed_path = path;
	if (c->stdio) {
		runner_child_cat(buf, sizeof(buf), &at, "syncspool: ");
		runner_child_cat(buf, sizeof(buf), &at, what);
		if (path != NULL) {
			runner_child_cat(buf, sizeof(buf), &at, " ");
			runner_child_cat(buf, sizeof(buf), &at, path);
		}
		runner_child_cat(buf, sizeof(buf), &at, ": ");
		runner_child_cat(buf, sizeof(buf), &at,
				 desc != NULL ? desc : "error");
		buf[at++] = '\n';
		/* If this fails there is no one left to tell; 127 says enough. */
		(void)RUNNER_SYS(SYS_write, STDERR_FILENO, buf, at, 0);
	}
	for (;;)
		(void)RUNNER_SYS(SYS_exit_group, 127, 0, 0, 0);
}

/* The start time as /proc/self/stat gives it: the slow way. */
static RUNNER_CHILD int
runner_child_proc_ticks(struct runner_child *c)
{
	char buf[1024];
	long fd, n;

	fd = RUNNER_SYS(SYS_openat, AT_FDCWD, "/proc/self/stat",
			O_RDONLY | O_CLOEXEC, 0);
	if (fd < 0)
		return (int)fd;
	do
		n = RUNNER_SYS(SYS_read, fd, buf, sizeof(buf), 0);
	while (n == -EINTR);
	(void)RUNNER_SYS(SYS_close, fd, 0, 0, 0);
	if (n <= 0)
		return n < 0 ? (int)n : -EINVAL;
	return runner_stat_ticks(buf, (size_t)n, &c->ticks);
}

/*
 * The child's own start time, which a restarted daemon checks: the
 * kernel's CLOCK_BOOTTIME when it made the process, in clock ticks
 * (proc(5), field 22). That instant lies between the parent's reading
 * just before the clone and ours now; when both fall in one tick, that
 * tick is the answer, with no need to read /proc.
 */
static RUNNER_CHILD int
runner_child_ticks(struct runner_child *c)
{
	struct timespec ts;

	if (c->tick_ns != 0 &&
	    RUNNER_SYS(SYS_clock_gettime, CLOCK_BOOTTIME, &ts, 0, 0) == 0) {
		uint64_t now = (uint64_t)ts.tv_sec * 1000000000U +
			       (uint64_t)ts.tv_nsec;
		if (now / c->tick_ns == c->boot_ns / c->tick_ns) {
			c->ticks = c->boot_ns / c->tick_ns;
			return 0;
		}
	}
	return runner_child_proc_ticks(c);
}

/*
 * "<job id> <pid> <starttime> <boot id>", padded with spaces to the
 * record's length, ended by a newline: written by the child itself, so
 * that no handler can exec before a restarted daemon could find it, and
 * no round trip to the parent stands in the way.
 */
static RUNNER_CHILD int
runner_child_record(struct runner_child *c, pid_t pid)
{
	const struct runner_record *rec = &c->rec;
	char line[RUNNER_RECORD_MAX];
	size_t at = 0;
	long n;

	runner_child_cat(line, sizeof(line), &at, c->rec_id);
	runner_child_cat(line, sizeof(line), &at, " ");
	runner_child_num(line, sizeof(line), &at, (uint64_t)pid);
	runner_child_cat(line, sizeof(line), &at, " ");
	runner_child_num(line, sizeof(line), &at, c->ticks);
	runner_child_cat(line, sizeof(line), &at, " ");
	runner_child_cat(line, sizeof(line), &at, c->boot_id);
	while (at < rec->len - 1)
		line[at++] = ' ';
	line[at++] = '\n';
	do
		n = RUNNER_SYS(SYS_pwrite64, rec->fd, line, at, rec->off);
	while (n == -EINTR);
	if (n < 0)
		return (int)n;
	return (size_t)n == at ? 0 : -EIO;
}

static RUNNER_CHILD int
runner_child_run(void *arg)
{
	struct runner_child *c = arg;
	uint64_t none = 0;
	pid_t pid;
	int fds[3];
	long r;

	c->shared = true;
	/*
	 * The daemon's ends go first: were the child to keep a pipe's read
	 * end, the handler's writes would never see EPIPE after the daemon
	 * died.
	 */
	for (int i = 0; i < 3; i++)
		if (c->drop[i] >= 0)
			(void)RUNNER_SYS(SYS_close, c->drop[i], 0, 0, 0);
	/* Raw: the pid must be the kernel's, whatever libc has cached. */
	pid = (pid_t)RUNNER_SYS(SYS_getpid, 0, 0, 0, 0);
	if ((r = RUNNER_SYS(SYS_setpgid, 0, 0, 0, 0)) < 0)
		runner_child_fail(c, "setpgid", NULL, (int)-r);
	/*
	 * Into its cgroup first, so that nothing it runs is ever outside
	 * ("0": the writer). Failing that it runs as without cgroups, and
	 * the parent says why.
	 */
	if (c->cg_procs >= 0 &&
	    (r = RUNNER_SYS(SYS_write, c->cg_procs, "0\n", 2, 0)) != 2)
		c->cg_err = r < 0 ? (int)-r : EIO;
	if ((r = runner_child_ticks(c)) < 0)
		runner_child_fail(c, "read", "/proc/self/stat", (int)-r);
	/*
	 * Before anything that could exec: the record is the gate. Done
	 * while the record's fd still has its number, before the dup2()s.
	 */
	if (c->have_rec && (r = runner_child_record(c, pid)) < 0)
		runner_child_fail(c, "write", "db/running", (int)-r);

	/*
	 * Dispositions before the mask (the parent blocked every signal
	 * around clone()): a signal already pending must meet SIG_DFL when
	 * it is unblocked, never a handler of the daemon's running in the
	 * daemon's memory. Only those the parent found changed
	 * (runner_sig_changed()), glibc's two internal real-time signals
	 * among them. An all-zero kernel sigaction is SIG_DFL, no flags,
	 * empty mask whatever the architecture's field order.
	 */
	for (int sig = 1; sig < NSIG && sig <= 64; sig++) {
		unsigned long ksa[4] = {0};
		if (!(c->sig_reset & (1ULL << (sig - 1))) || sig == SIGKILL ||
		    sig == SIGSTOP)
			continue;
		(void)RUNNER_SYS(SYS_rt_sigaction, sig, ksa, NULL,
				 sizeof(none));
	}

	/*
	 * Lift every source above the targets first: the daemon may run
	 * with 0-2 closed, so a source can sit on a target, and dup3()
	 * refuses to put an fd onto itself.
	 */
	for (int i = 0; i < 3; i++) {
		fds[i] = c->fds[i];
		if (fds[i] > STDERR_FILENO)
			continue;
		r = RUNNER_SYS(SYS_fcntl, fds[i], F_DUPFD, STDERR_FILENO + 1, 0);
		if (r < 0)
			runner_child_fail(c, "fcntl(F_DUPFD)", NULL, (int)-r);
		fds[i] = (int)r;
	}
	for (int i = 0; i < 3; i++)
		if ((r = RUNNER_SYS(SYS_dup3, fds[i], i, 0, 0)) < 0)
			runner_child_fail(c, "dup2", NULL, (int)-r);
	c->stdio = true;

	/*
	 * Every other descriptor goes: the handler must not hold another
	 * child's pipes, the lock or the LMDB descriptor, and exec would
	 * keep those without FD_CLOEXEC.
	 */
	r = RUNNER_SYS(SYS_close_range, STDERR_FILENO + 1, ~0U, 0, 0);
	if (r < 0) {
		if (r != -ENOSYS)
			runner_child_fail(c, "close_range", NULL, (int)-r);
		for (unsigned fd = STDERR_FILENO + 1; fd <= c->maxfd; fd++)
			(void)RUNNER_SYS(SYS_close, fd, 0, 0, 0);
	}
	if ((r = RUNNER_SYS(SYS_chdir, "/", 0, 0, 0)) < 0)
		runner_child_fail(c, "chdir", "/", (int)-r);
	r = RUNNER_SYS(SYS_rt_sigprocmask, SIG_SETMASK, &none, NULL,
		       sizeof(none));
	if (r < 0)
		runner_child_fail(c, "sigprocmask", NULL, (int)-r);
	r = RUNNER_SYS(SYS_execve, c->argv[0], c->argv, c->envp, 0);
	c->exec_failed = true;
	runner_child_fail(c, "exec", c->argv[0], (int)-r);
}

/* ---- the parent's side of runner_start() ---- */

static int
runner_memfd_make(const char *content, size_t len, int *out, char *err,
		  size_t errlen)
{
	const unsigned seals = F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK |
			       F_SEAL_SEAL;
	int fd = -1, r;

	fd = memfd_create("syncspool-job", MFD_CLOEXEC | MFD_ALLOW_SEALING |
					   MFD_NOEXEC_SEAL);
	if (fd < 0 && errno == EINVAL)
		/* Before Linux 6.3 MFD_NOEXEC_SEAL is unknown. */
		fd = memfd_create("syncspool-job", MFD_CLOEXEC |
						   MFD_ALLOW_SEALING);
	if (fd < 0) {
		r = -errno;
		util_seterr(err, errlen, "memfd_create: %s", strerror(-r));
		goto fail;
	}
	if (len > 0 && (r = runner_write_all(fd, content, len, NULL)) < 0) {
		util_seterr(err, errlen, "write job to memfd: %s", strerror(-r));
		goto fail;
	}
	if (fcntl(fd, F_ADD_SEALS, seals) < 0 || lseek(fd, 0, SEEK_SET) < 0) {
		r = -errno;
		util_seterr(err, errlen, "seal job memfd: %s", strerror(-r));
		goto fail;
	}
	*out = fd;
	return 0;
fail:
	runner_close(&fd);
	return r;
}

/* A pipe with both ends O_CLOEXEC and the read end (ours) non-blocking. */
static int
runner_pipe_make(int p[2], char *err, size_t errlen)
{
	int r;

	if (pipe2(p, O_CLOEXEC) < 0) {
		r = -errno;
		util_seterr(err, errlen, "pipe2: %s", strerror(-r));
		goto fail;
	}
	/* Only our end: the handler's stdout stays blocking, as it expects. */
	if (fcntl(p[0], F_SETFL, O_NONBLOCK) < 0) {
		r = -errno;
		util_seterr(err, errlen, "fcntl(O_NONBLOCK): %s", strerror(-r));
		goto fail;
	}
	return 0;
fail:
	runner_close(&p[0]);
	runner_close(&p[1]);
	return r;
}

static int
runner_log_open(int dirfd, const char *id, struct run *run, char *err,
		size_t errlen)
{
	char name[ID_MAX + sizeof(".log")];
	struct stat st;
	int fd = -1, r;

	snprintf(name, sizeof(name), "%s.log", id);
	/* O_NONBLOCK: a FIFO planted under the name must not hang us. */
	fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC |
				 O_NOFOLLOW | O_NONBLOCK, 0640);
	if (fd < 0) {
		r = -errno;
		util_seterr(err, errlen, "open logs/%s: %s", name, strerror(-r));
		goto fail;
	}
	if (fstat(fd, &st) < 0) {
		r = -errno;
		util_seterr(err, errlen, "fstat logs/%s: %s", name, strerror(-r));
		goto fail;
	}
	if (!S_ISREG(st.st_mode) || st.st_nlink != 1) {
		r = -EINVAL;
		util_seterr(err, errlen, "logs/%s is not a regular file with "
			    "one link; move it away", name);
		goto fail;
	}
	run->log_fd = fd;
	run->log_size = (uint64_t)st.st_size;
	return 0;
fail:
	runner_close(&fd);
	return r;
}

/*
 * Where the attempt's log goes once it has something to say: the file is
 * created on the attempt's first output, not before. Most handlers print
 * nothing, and creating an inode per job was among the daemon's dearest
 * steps (ext4 without a journal is slow to find a free inode after many
 * deletions).
 */
static void
runner_log_later(struct run *run, int logdir_fd, const char *job_id,
		 unsigned attempt, pid_t pid, bool persistent,
		 uint64_t log_max)
{
	run->log_dir = logdir_fd;
	snprintf(run->log_id, sizeof(run->log_id), "%s", job_id);
	run->attempt = attempt;
	run->log_pid = pid;
	run->log_persistent = persistent;
	run->log_max = log_max;
	run->started_wall = util_now_ms();
}

static void runner_log_write(struct run *run, const char *buf, size_t len);

/*
 * Open the log and write the attempt's header, which says when the
 * attempt started, not when it first printed. false when there is no log
 * to write to; an open that failed is not tried again in this attempt
 * (run->log_errno says why), and the output is lost, never the job.
 */
static bool
runner_log_ready(struct run *run)
{
	char head[192], when[RFC3339_LEN], err[8];
	int n, r;

	if (run->log_fd >= 0)
		return true;
	if (run->log_dir < 0 || run->log_errno != 0)
		return false;
	r = runner_log_open(run->log_dir, run->log_id, run, err, sizeof(err));
	if (r < 0) {
		run->log_errno = -r;
		return false;
	}
	n = snprintf(head, sizeof(head), "=== attempt %u, started %s, %spid "
		     "%d ===\n", run->attempt,
		     util_time_format(run->started_wall, when),
		     run->log_persistent ? "persistent handler " : "",
		     (int)run->log_pid);
	runner_log_write(run, head, (size_t)n);
	return true;
}

/*
 * Append to the log and count it. The log is best effort: a failed write
 * (ENOSPC, say) loses output, never the job.
 */
static void
runner_log_write(struct run *run, const char *buf, size_t len)
{
	size_t done = 0;

	if (run->log_fd < 0 || len == 0)
		return;
	(void)runner_write_all(run->log_fd, buf, len, &done);
	run->log_size += done;
	if (done > 0)
		run->log_midline = buf[done - 1] != '\n';
}

/* Handler output: kept up to log_max for the whole file, then one notice. */
static void
runner_log_output(struct run *run, const char *buf, size_t len)
{
	uint64_t room;
	char note[64];
	int n;

	if (run->log_truncated || len == 0 || !runner_log_ready(run))
		return;
	room = run->log_size < run->log_max ? run->log_max - run->log_size : 0;
	if (len <= room) {
		runner_log_write(run, buf, len);
		return;
	}
	runner_log_write(run, buf, (size_t)room);
	n = snprintf(note, sizeof(note), "\n[output truncated at %llu bytes]\n",
		     (unsigned long long)run->log_max);
	runner_log_write(run, note, (size_t)n);
	run->log_truncated = true;
}

/* ---- nests ---- */

/* A copy of a NULL-terminated vector and its strings, in one allocation. */
static char **
runner_vec_dup(char *const *v)
{
	size_t n = 0, bytes = 0;
	char **out, *str;

	for (; v[n] != NULL; n++)
		bytes += strlen(v[n]) + 1;
	out = malloc((n + 1) * sizeof(*out) + bytes);
	if (out == NULL)
		return NULL;
	str = (char *)(out + n + 1);
	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(v[i]) + 1;
		memcpy(str, v[i], len);
		out[i] = str;
		str += len;
	}
	out[n] = NULL;
	return out;
}

/*
 * A nest for a child that will exec argv with envp, which the nest takes
 * over (it is freed with the nest, even when this fails); rec where the
 * child records itself (NULL: nowhere). NULL when out of memory.
 */
static struct runner_nest *
runner_nest_new(char *const *argv, char **envp,
		const struct runner_record *rec, const uint64_t *sig_reset)
{
	static unsigned maxfd;
	static uint64_t tick_ns;
	const char *boot = runner_boot_id();
	struct runner_nest *n;
	struct runner_child *c;

	n = malloc(sizeof(*n));
	if (n == NULL || (n->argv = runner_vec_dup(argv)) == NULL) {
		free(n);
		free(envp);
		return NULL;
	}
	if (maxfd == 0) {
		struct rlimit rl;
		long hz = sysconf(_SC_CLK_TCK);
		maxfd = RUNNER_CLOSE_MAX;
		if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < maxfd)
			maxfd = (unsigned)rl.rlim_cur;
		if (hz > 0 && 1000000000L % hz == 0)
			tick_ns = (uint64_t)(1000000000L / hz);
	}
	n->envp = envp;
	n->tid = 0;
	c = &n->c;
	memset(c, 0, sizeof(*c));
	c->argv = n->argv;
	c->envp = n->envp;
	c->maxfd = maxfd;
	c->tick_ns = tick_ns;
	c->sig_reset = sig_reset != NULL ? *sig_reset : ~0ULL;
	if (rec != NULL) {
		c->have_rec = true;
		c->rec = *rec;
		snprintf(c->rec_id, sizeof(c->rec_id), "%s", rec->id);
		c->rec.id = c->rec_id;
	}
	c->boot_id = boot != NULL ? boot : "-";
	c->cg_procs = -1;
	return n;
}

static void
runner_nest_free(struct runner_nest *n)
{
	if (n == NULL)
		return;
	RUNNER_UNPOISON(n->stack, sizeof(n->stack));
	free(n->argv);
	free(n->envp);
	free(n);
}

/*
 * Whether the child of a nest has left our memory: exited, or exec'd,
 * either of which clears n->tid (CLONE_CHILD_CLEARTID). At its reap it
 * has; at the daemon's exit it may still be setting itself up, and is
 * given a second, after which the nest is left to it.
 */
static bool
runner_nest_left(struct runner_nest *n)
{
	struct timespec t = {.tv_sec = 1};
	uint32_t v;

	while ((v = __atomic_load_n(&n->tid, __ATOMIC_ACQUIRE)) != 0) {
		if (syscall(SYS_futex, &n->tid, FUTEX_WAIT, v, &t, NULL, 0) <
			    0 && errno == ETIMEDOUT)
			return __atomic_load_n(&n->tid, __ATOMIC_ACQUIRE) == 0;
	}
	return true;
}

/*
 * What the child reported, once it has left our memory: it failed to
 * exec (exec_errno; it has said why on its stderr), or failed before
 * that and ran nothing (setup_errno, and why as last_err unless it said
 * so on its stderr). The nest is freed.
 */
static void
runner_nest_report(struct run *run, struct runner_nest *n)
{
	const struct runner_child *c = &n->c;

	if (c->shared && c->exec_failed) {
		run->exec_errno = c->err;
	} else if (c->shared && c->err != 0) {
		run->setup_errno = c->err;
		if (run->last_err[0] == '\0')
			snprintf(run->last_err, sizeof(run->last_err),
			 "handler set-up: %s%s%s: %s", c->failed,
			 c->failed_path != NULL ? " " : "",
			 c->failed_path != NULL ? c->failed_path : "",
			 strerror(c->err));
	}
	runner_nest_free(n);
}

/* The child of run's nest has exited, or the daemon is leaving. */
static void
runner_nest_done(struct run *run)
{
	struct runner_nest *n = run->nest;

	if (n == NULL)
		return;
	run->nest = NULL;
	if (runner_nest_left(n))
		runner_nest_report(run, n);
	/* Else it is the child's until it execs: the daemon is exiting. */
}

static uint64_t
runner_boot_ns(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_BOOTTIME, &ts) < 0)
		return 0;
	return (uint64_t)ts.tv_sec * 1000000000U + (uint64_t)ts.tv_nsec;
}

/*
 * Start the child of runner_start() and runner_start_worker() from nest
 * n, which is taken over: stdin_fd becomes its stdin (the caller closes
 * its copy), keep_fd is a parent-only descriptor the child must not hold
 * (-1: none). On success run has the pid, pidfd, start time and the
 * daemon's ends of stdout and stderr. On failure before exec nothing is
 * left running and run's descriptors are closed.
 *
 * Started `beside` us, the child sets itself up and execs while the
 * daemon goes on: clone3(CLONE_VM) without CLONE_VFORK, on the nest's
 * stack, the nest kept in run->nest until the reap, when the child's
 * report is read (a failed exec or set-up then shows in run->exec_errno
 * or run->setup_errno). The daemon waited for every handler's exec
 * otherwise, about a quarter of a millisecond a job, and was the
 * bottleneck of a burst. Else (a handler that starts while no other
 * runs, whose start is quickest when it takes the CPU we give up; a
 * persistent handler; or where clone3() is refused: valgrind, Linux <
 * 5.7, another architecture) it is clone(CLONE_VM | CLONE_VFORK): we are
 * suspended until the child has exec'd or exited, and the report is read
 * at once.
 *
 * Never fork(): it copied the daemon's page tables (its heap and the
 * LMDB map) for a child that threw them away at exec, and the daemon then
 * took copy-on-write faults on every page it touched.
 */
static int
runner_spawn(struct runner_nest *n, int stdin_fd, int keep_fd, bool beside,
	     struct run *run, char *err, size_t errlen)
{
	struct runner_child *c = &n->c;
	int out[2] = {-1, -1}, errp[2] = {-1, -1};
	int flags = CLONE_VM | CLONE_VFORK | SIGCHLD;
	sigset_t all, old;
	bool apart = false;
	uint64_t boot1;
	int pidfd = -1;
	pid_t pid = -1;
	int r;

	if (c->have_rec && (c->rec.len > RUNNER_RECORD_MAX ||
			    c->rec.len < ID_MAX + BOOT_ID_LEN + 48)) {
		util_seterr(err, errlen, "runner: bad record length %zu",
			    c->rec.len);
		runner_nest_free(n);
		return -EINVAL;
	}
	if ((r = runner_pipe_make(out, err, errlen)) < 0 ||
	    (r = runner_pipe_make(errp, err, errlen)) < 0)
		goto fail;
	c->fds[0] = stdin_fd;
	c->fds[1] = out[1];
	c->fds[2] = errp[1];
	c->drop[0] = out[0];
	c->drop[1] = errp[0];
	c->drop[2] = keep_fd;

	/*
	 * Every signal blocked until the child has reset its dispositions:
	 * a handler of ours must never run on the child's side of our
	 * memory. The child has a mask of its own from the clone on.
	 */
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, &old);
#ifdef RUNNER_HAVE_CLONE3
	{
		struct runner_clone_args ca = {
			.flags = CLONE_VM | CLONE_PIDFD,
			.pidfd = (uint64_t)(uintptr_t)&pidfd,
			.exit_signal = SIGCHLD,
			.stack = (uint64_t)(uintptr_t)n->stack,
			.stack_size = sizeof(n->stack),
		};
		long rc;

		if (beside) {
			ca.flags |= CLONE_CHILD_CLEARTID;
			ca.child_tid = (uint64_t)(uintptr_t)&n->tid;
			n->tid = 1;
		} else {
			ca.flags |= CLONE_VFORK;
		}
		if (run->cg_fd >= 0) {
			ca.flags |= RUNNER_CLONE_INTO_CGROUP;
			ca.cgroup = (uint64_t)run->cg_fd;
		}
		c->boot_ns = runner_boot_ns();
		rc = runner_clone3(&ca, runner_child_run, c);
		/* Else (valgrind, Linux < 5.7, a cgroup it refuses): below. */
		if (rc > 0) {
			pid = (pid_t)rc;
			apart = beside;
		} else {
			pidfd = -1;
			n->tid = 0;
		}
	}
#endif
	if (pid < 0 && run->cg_fd >= 0) {
		/* The child moves itself, first thing. */
		c->cg_procs = openat(run->cg_fd, "cgroup.procs",
				     O_WRONLY | O_CLOEXEC);
		if (c->cg_procs < 0) {
			run->cg_error = -errno;
			runner_close(&run->cg_fd);
		}
	}
	if (pid < 0) {
		c->boot_ns = runner_boot_ns();
		pid = clone(runner_child_run, n->stack + sizeof(n->stack),
			    flags | CLONE_PIDFD, c, &pidfd);
		if (pid < 0 && errno == EINVAL) {
			/* Before Linux 5.2: no CLONE_PIDFD; pidfd_open() below. */
			pidfd = -1;
			pid = clone(runner_child_run, n->stack + sizeof(n->stack),
				    flags, c, NULL);
		}
	}
	r = pid < 0 ? -errno : 0;
	boot1 = runner_boot_ns();
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (c->cg_procs >= 0)
		close(c->cg_procs); /* the child's copy is its own */
	if (pid < 0) {
		util_seterr(err, errlen, "clone: %s", strerror(-r));
		goto fail;
	}
	if (!apart && c->shared && c->err != 0 && !c->exec_failed) {
		/* It exited before exec, having run nothing: reap it now. */
		r = -c->err;
		util_seterr(err, errlen, "handler set-up: %s%s%s: %s",
			    c->failed, c->failed_path != NULL ? " " : "",
			    c->failed_path != NULL ? c->failed_path : "",
			    strerror(c->err));
		runner_close(&pidfd);
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		pid = -1;
		goto fail;
	}
	run->pid = pid;
	if (run->cg_fd >= 0 && !apart) {
		/* A copy (valgrind) says nothing: move it from here. */
		run->cg_error = c->shared ? -c->cg_err :
					    cgroup_place(run->cg_fd, pid);
		if (run->cg_error < 0)
			runner_close(&run->cg_fd);
	}
	runner_close(&out[1]);
	runner_close(&errp[1]);
	run->out_fd = out[0];
	run->err_fd = errp[0];
	out[0] = errp[0] = -1;
	run->pidfd = pidfd >= 0 ? pidfd : runner_pidfd_open(pid);
	pidfd = -1;
	if (run->pidfd < 0) {
		r = -errno;
		util_seterr(err, errlen, "pidfd_open(%d): %s", (int)pid,
			    strerror(-r));
		goto fail;
	}
	if (apart) {
		/*
		 * Its group, from our side too: a kill(-pid) of ours must
		 * reach it even before it has made the group itself. (Once it
		 * has exec'd this fails, and need not succeed.)
		 */
		(void)setpgid(pid, pid);
		/* Its start time, as runner_child_ticks() finds it. */
		if (c->tick_ns != 0 && c->boot_ns / c->tick_ns ==
					boot1 / c->tick_ns)
			run->start_ticks = c->boot_ns / c->tick_ns;
		else if ((r = runner_proc_start(pid, &run->start_ticks)) < 0) {
			util_seterr(err, errlen, "/proc/%d/stat: %s", (int)pid,
				    strerror(-r));
			goto fail;
		}
		run->nest = n;
		n = NULL;
	} else if (c->shared) {
		run->start_ticks = c->ticks;
		run->exec_errno = c->exec_failed ? c->err : 0;
	} else {
		/*
		 * clone() made a copy after all (valgrind does so): the
		 * child reports nothing, and may not have made its group
		 * yet. Whichever of us runs first makes it.
		 */
		(void)setpgid(pid, pid);
		if ((r = runner_proc_start(pid, &run->start_ticks)) < 0) {
			util_seterr(err, errlen, "/proc/%d/stat: %s", (int)pid,
				    strerror(-r));
			goto fail;
		}
	}
	runner_nest_free(n);
	run->started_mono = util_mono_ms();
	return 0;
fail:
	if (pid > 0) {
		kill(pid, SIGKILL);
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
	runner_close(&out[0]);
	runner_close(&out[1]);
	runner_close(&errp[0]);
	runner_close(&errp[1]);
	runner_close(&run->out_fd);
	runner_close(&run->err_fd);
	runner_close(&run->pidfd);
	run->pid = 0;
	if (n != NULL && !runner_nest_left(n))
		n = NULL; /* still in use by a child we could not wait for */
	runner_nest_free(n);
	return r;
}

int
runner_start(const struct runner_spec *s, int logdir_fd, uint64_t log_max,
	     const struct runner_record *rec, struct run *run, char *err,
	     size_t errlen)
{
	struct runner_nest *nest;
	char **envp = NULL;
	int memfd = -1;
	int r;

	runner_run_init(run);
	runner_cgroup_take(run, s->cgroup_fd, s->cgroup_name);
	if ((r = runner_env_check(s, err, errlen)) < 0)
		goto fail;
	if (!util_name_valid(s->job_id, ID_MAX)) {
		util_seterr(err, errlen, "job id '%s' is not a valid id",
			    s->job_id);
		r = -EINVAL;
		goto fail;
	}
	if (s->prov->command == NULL || s->prov->command[0] == NULL ||
	    s->prov->command[0][0] != '/') {
		util_seterr(err, errlen, "provider %s: command must be an "
			    "absolute path", s->prov->name);
		r = -EINVAL;
		goto fail;
	}
	if (rec != NULL && strcmp(rec->id, s->job_id) != 0) {
		util_seterr(err, errlen, "runner: record of %s for job %s",
			    rec->id, s->job_id);
		r = -EINVAL;
		goto fail;
	}
	if ((r = runner_env_build(s, &envp, err, errlen)) < 0)
		goto fail;
	if ((r = runner_memfd_make(s->content, s->content_len, &memfd, err,
				   errlen)) < 0)
		goto fail;
	runner_log_later(run, logdir_fd, s->job_id, s->attempt, 0, false,
			 log_max);
	nest = runner_nest_new(s->prov->command, envp, rec, s->sig_reset);
	envp = NULL;
	if (nest == NULL) {
		util_seterr(err, errlen, "runner: out of memory");
		r = -ENOMEM;
		goto fail;
	}
	if ((r = runner_spawn(nest, memfd, -1, s->beside, run, err,
			      errlen)) < 0)
		goto fail;
	runner_close(&memfd);
	run->log_pid = run->pid;
	return 0;

fail:
	runner_close(&memfd);
	runner_abandon(run);
	runner_run_init(run);
	free(envp);
	return r;
}

/*
 * The signals whose disposition is not SIG_DFL now, as bits sig - 1;
 * glibc's internal ones (which sigaction() refuses) always count.
 */
uint64_t
runner_sig_changed(void)
{
	uint64_t set = 0;

	for (int sig = 1; sig < NSIG && sig <= 64; sig++) {
		struct sigaction sa;
		if (sig == SIGKILL || sig == SIGSTOP)
			continue;
		if (sigaction(sig, NULL, &sa) < 0 || sa.sa_handler != SIG_DFL)
			set |= 1ULL << (sig - 1);
	}
	return set;
}

/* ---- output ---- */

static bool
runner_char_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/*
 * A stderr line is complete (or the stream ended): trim it, make it
 * printable ASCII (tabs become spaces, other bytes '?', which also keeps
 * it valid UTF-8 for JSON) and keep it as last_err if anything is left.
 */
static void
runner_line_end(struct run *run)
{
	size_t len = run->linelen;

	while (len > 0 && runner_char_blank(run->line[len - 1]))
		len--;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)run->line[i];
		if (c == '\t')
			run->line[i] = ' ';
		else if (c < 0x20 || c >= 0x7f)
			run->line[i] = '?';
	}
	if (len > 0) {
		memcpy(run->last_err, run->line, len);
		run->last_err[len] = '\0';
	}
	run->linelen = 0;
}

/* Leading blanks are skipped and bytes past ERROR_MAX dropped. */
static void
runner_line_feed(struct run *run, const char *buf, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		char c = buf[i];
		if (c == '\n')
			runner_line_end(run);
		else if (run->linelen == 0 && runner_char_blank(c))
			continue;
		else if (run->linelen < ERROR_MAX)
			run->line[run->linelen++] = c;
	}
}

enum runner_read {
	RUNNER_READ_AGAIN, /* the pipe is empty for now */
	RUNNER_READ_MORE,  /* the budget ran out; more may be waiting */
	RUNNER_READ_EOF,   /* EOF or an error: the fd is closed */
};

static enum runner_read
runner_pipe_read(struct run *run, int *fdp, int reads)
{
	char buf[RUNNER_CHUNK];
	bool is_err = fdp == &run->err_fd;

	for (int i = 0; i < reads; i++) {
		ssize_t n = read(*fdp, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return RUNNER_READ_AGAIN;
		if (n <= 0)
			goto eof;
		if (is_err)
			runner_line_feed(run, buf, (size_t)n);
		runner_log_output(run, buf, (size_t)n);
	}
	return RUNNER_READ_MORE;
eof:
	if (is_err && run->linelen > 0)
		runner_line_end(run);
	runner_close(fdp);
	return RUNNER_READ_EOF;
}

int
runner_drain(struct run *run, int fd)
{
	int *fdp;

	if (fd >= 0 && fd == run->out_fd)
		fdp = &run->out_fd;
	else if (fd >= 0 && fd == run->err_fd)
		fdp = &run->err_fd;
	else
		return -EINVAL;
	if (runner_pipe_read(run, fdp, RUNNER_DRAIN_READS) == RUNNER_READ_EOF)
		return 1;
	return 0;
}

/* ---- signals, reaping ---- */

int
runner_signal(struct run *run, int sig)
{
	/* pid 0 or 1 would make kill() reach our own group or everyone. */
	if (run->pid <= 1)
		return -ESRCH;
	/* The end of it: what left the group, too. */
	if (sig == SIGKILL && run->cg_fd >= 0) {
		(void)cgroup_kill(run->cg_fd);
		run->cg_killed = true;
	}
	/*
	 * XXX An adopted handler is not our child: once it has exited and
	 * been reaped, and nothing is left in its group, the id could in
	 * principle be reused by a new group leader before we notice.
	 */
	if (kill(-run->pid, sig) < 0 && errno != ESRCH)
		return -errno;
	return 0;
}

/* Read a pipe to EOF, but stop at EAGAIN: see runner_reap(). */
static void
runner_reap_drain(struct run *run, int *fdp)
{
	for (int i = 0; i < RUNNER_REAP_ROUNDS && *fdp >= 0; i++)
		if (runner_pipe_read(run, fdp, RUNNER_DRAIN_READS) !=
		    RUNNER_READ_MORE)
			break;
	if (*fdp >= 0) {
		if (fdp == &run->err_fd && run->linelen > 0)
			runner_line_end(run);
		runner_close(fdp);
	}
}

static void
runner_footer_write(struct run *run, const struct run_status *st)
{
	char buf[192], how[64];
	const char *name;
	int n;

	if (st->signal != 0) {
		name = sigabbrev_np(st->signal);
		snprintf(how, sizeof(how), "signal %d (%s%s)", st->signal,
			 name != NULL ? "SIG" : "", name != NULL ? name : "?");
	} else if (st->exit_code >= 0) {
		snprintf(how, sizeof(how), "exit %d", st->exit_code);
	} else {
		snprintf(how, sizeof(how), "status unknown");
	}
	n = snprintf(buf, sizeof(buf), "%s=== attempt %u ended: %s, after "
		     "%llu ms ===\n", run->log_midline ? "\n" : "", run->attempt,
		     how, (unsigned long long)st->duration_ms);
	runner_log_write(run, buf, (size_t)n);
}

int
runner_reap(struct run *run, struct run_status *st)
{
	siginfo_t si;
	int r;

	st->exit_code = -1;
	st->signal = 0;
	st->duration_ms = 0;
	/*
	 * What left the group (setsid) is still in the cgroup, and dies
	 * with it. cgroup.kill is synchronous: SIGKILL is sent to every
	 * process in it, forks in flight included, before it returns. An
	 * empty cgroup is not killed, so that it can be used again (see
	 * cgroup.h): with the leader gone, nothing is left to fork into it.
	 */
	if (run->cg_fd >= 0 && cgroup_populated(run->cg_fd) != 0) {
		(void)cgroup_kill(run->cg_fd);
		run->cg_killed = true;
	} else if (run->cg_fd >= 0 && !run->cg_killed && !run->adopted) {
		/*
		 * Found empty, and the leader is gone: nothing can enter it
		 * now. Its directory is the caller's (cgroup_release()).
		 */
		run->cg_empty_fd = run->cg_fd;
		run->cg_fd = -1;
	}
	if (run->adopted) {
		runner_abandon(run);
		run->pid = 0;
		return 0;
	}
	if (run->pid <= 1 || run->pidfd < 0)
		return -EINVAL;

	/*
	 * Kill the stragglers before reaping the leader: while the leader is
	 * an unreaped zombie, its pid (our group id) cannot be handed out
	 * again, so this kill reaches our group and only it. After the
	 * reap it might name someone else's group.
	 */
	(void)kill(-run->pid, SIGKILL);
	memset(&si, 0, sizeof(si));
	do
		r = waitid(P_PIDFD, (id_t)run->pidfd, &si, WEXITED | WNOHANG);
	while (r < 0 && errno == EINTR);
	if (r == 0 && si.si_pid == 0)
		return -EAGAIN;
	if (r == 0 && si.si_code == CLD_EXITED) {
		st->exit_code = si.si_status;
	} else if (r == 0) {
		st->signal = si.si_status; /* CLD_KILLED or CLD_DUMPED */
	}
	/*
	 * r < 0: reaped behind our back (ECHILD), or a broken pidfd. The
	 * status is unknown; finish anyway, so the loop is not stuck on a
	 * readable pidfd (the job is then retried as "any other exit").
	 */
	st->duration_ms = (uint64_t)(util_mono_ms() - run->started_mono);

	/*
	 * The group is dead, so EOF normally follows what is buffered. A
	 * process that left the group (setsid) may still hold a pipe: stop
	 * at EAGAIN rather than wait for it. SIGKILL is delivered
	 * asynchronously too, so EAGAIN is possible briefly; nothing
	 * written before the kill is lost, since it is already buffered.
	 */
	runner_reap_drain(run, &run->out_fd);
	runner_reap_drain(run, &run->err_fd);
	/* It has exited: what it reported is complete. */
	runner_nest_done(run);
	runner_footer_write(run, st);
	runner_abandon(run);
	run->pid = 0;
	return 0;
}

int
runner_peek(const struct run *run, struct run_status *st)
{
	siginfo_t si;
	int r;

	st->exit_code = -1;
	st->signal = 0;
	st->duration_ms = 0;
	if (run->adopted || run->pid <= 1 || run->pidfd < 0)
		return -EINVAL;
	memset(&si, 0, sizeof(si));
	do
		r = waitid(P_PIDFD, (id_t)run->pidfd, &si,
			   WEXITED | WNOHANG | WNOWAIT);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return -errno;
	if (si.si_pid == 0)
		return -EAGAIN;
	if (si.si_code == CLD_EXITED)
		st->exit_code = si.si_status;
	else
		st->signal = si.si_status; /* CLD_KILLED or CLD_DUMPED */
	return 0;
}

void
runner_abandon(struct run *run)
{
	runner_nest_done(run);
	runner_close(&run->cg_fd);
	runner_close(&run->pidfd);
	runner_close(&run->out_fd);
	runner_close(&run->err_fd);
	runner_close(&run->log_fd);
}

/* ---- adoption and /proc ---- */

/* Is pid a zombie ("pid (comm) Z ...")? */
static bool
runner_proc_zombie(pid_t pid)
{
	char path[32], buf[1024], *p;
	size_t got;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (util_file_read_at(AT_FDCWD, path, buf, sizeof(buf), &got) < 0)
		return false;
	p = strrchr(buf, ')');
	return p != NULL && p[1] == ' ' && (p[2] == 'Z' || p[2] == 'X');
}

int
runner_adopt(pid_t pid, uint64_t start_ticks, const char *boot_id,
	     struct run *run)
{
	const char *now = runner_boot_id();
	uint64_t ticks;
	int pidfd = -1, r;

	runner_run_init(run);
	if (pid <= 1 || boot_id == NULL || now == NULL ||
	    strcmp(boot_id, now) != 0)
		return -ESRCH;
	if ((r = runner_proc_start(pid, &ticks)) < 0)
		return r;
	if (ticks != start_ticks)
		return -ESRCH;
	pidfd = runner_pidfd_open(pid);
	if (pidfd < 0)
		return -errno;
	/*
	 * The pid may have died and been reused between the check and
	 * pidfd_open(). The pidfd pins whichever process it names now, so
	 * the same check passing again proves it is the handler.
	 */
	r = runner_proc_start(pid, &ticks);
	if (r == 0 && ticks != start_ticks)
		r = -ESRCH;
	/*
	 * A zombie has ended: an orphan waits for its new parent to reap
	 * it, which may be never. There is nothing to wait for.
	 */
	if (r == 0 && runner_proc_zombie(pid))
		r = -ESRCH;
	if (r < 0)
		goto fail;
	run->pid = pid;
	run->pidfd = pidfd;
	run->adopted = true;
	run->start_ticks = start_ticks;
	run->started_mono = util_mono_ms();
	return 0;
fail:
	runner_close(&pidfd);
	return r;
}

int
runner_proc_start(pid_t pid, uint64_t *ticks)
{
	/* Fields 1-22 fit easily: comm is at most 64 bytes, numbers 20. */
	char path[32], buf[1024];
	size_t got;
	int r;

	if (pid <= 0)
		return -ESRCH;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	r = util_file_read_at(AT_FDCWD, path, buf, sizeof(buf), &got);
	if (r == -ENOENT)
		return -ESRCH;
	if (r < 0)
		return r;
	return runner_stat_ticks(buf, got, ticks);
}

const char *
runner_boot_id(void)
{
	/*
	 * XXX A static cache, against the no-globals rule: the boot id is
	 * constant while we run and the daemon has one thread.
	 */
	static char id[BOOT_ID_LEN + 1];
	char buf[64];
	size_t got;

	if (id[0] != '\0')
		return id;
	if (util_file_read_at(AT_FDCWD, "/proc/sys/kernel/random/boot_id",
			      buf, sizeof(buf), &got) < 0)
		return NULL;
	while (got > 0 && (buf[got - 1] == '\n' || buf[got - 1] == ' '))
		got--;
	if (got != BOOT_ID_LEN)
		return NULL;
	memcpy(id, buf, BOOT_ID_LEN);
	id[BOOT_ID_LEN] = '\0';
	return id;
}

/* ---- the result file ---- */

/*
 * Printable text: no control bytes, and anything past ASCII well-formed
 * UTF-8 (shortest forms, no surrogates), so a value like "Zürich" is kept
 * and JSON output stays valid.
 */
static bool
runner_text_valid(const char *p, size_t len)
{
	const unsigned char *s = (const unsigned char *)p;

	for (size_t i = 0; i < len;) {
		unsigned char c = s[i];
		size_t n;
		uint32_t cp;

		if (c < 0x80) {
			if (c < 0x20 || c == 0x7f)
				return false;
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			n = 1, cp = c & 0x1f;
		else if (c >= 0xe0 && c <= 0xef)
			n = 2, cp = c & 0x0f;
		else if (c >= 0xf0 && c <= 0xf4)
			n = 3, cp = c & 0x07;
		else
			return false;
		if (i + n >= len)
			return false; /* cut short */
		for (size_t k = 1; k <= n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
		    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) ||
		    (cp >= 0x80 && cp < 0xa0))
			return false;
		i += n + 1;
	}
	return true;
}

static bool
runner_char_key(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
}

/*
 * One line (len bytes, no newline). When it is "key: value", append it
 * normalised to out; returns false only when it would not fit, which
 * ends the text at the previous line.
 */
static bool
runner_result_line(const char *line, size_t len, char *out, size_t *outlen)
{
	size_t k = 0, v, vend, need;

	while (len > 0 && runner_char_blank(*line))
		line++, len--;
	while (len > 0 && runner_char_blank(line[len - 1]))
		len--;
	while (k < len && runner_char_key(line[k]))
		k++;
	if (k == 0 || k > 64 || k >= len || line[k] != ':')
		return true;
	for (v = k + 1; v < len && runner_char_blank(line[v]); v++)
		;
	vend = len;
	if (v == vend)
		return true; /* an empty value says nothing */
	if (!runner_text_valid(line + v, vend - v))
		return true;
	need = k + 2 + (vend - v) + 1;
	if (*outlen + need > RESULT_MAX)
		return false;
	memcpy(out + *outlen, line, k);
	memcpy(out + *outlen + k, ": ", 2);
	memcpy(out + *outlen + k + 2, line + v, vend - v);
	*outlen += need;
	out[*outlen - 1] = '\n';
	return true;
}

int
runner_result_read(int dirfd, const char *name, char out[RESULT_MAX + 1])
{
	/* One byte more than kept tells a longer file from an exact fit. */
	char raw[RESULT_MAX + 1];
	struct stat st;
	size_t n = 0, outlen = 0, start = 0;
	int fd = -1, r;

	out[0] = '\0';
	fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC |
				 O_NONBLOCK);
	if (fd < 0) {
		r = errno == ENOENT ? 0 : -errno;
		goto fail;
	}
	if (fstat(fd, &st) < 0) {
		r = -errno;
		goto fail;
	}
	if (!S_ISREG(st.st_mode) || st.st_nlink != 1) {
		r = -EINVAL;
		goto fail;
	}
	while (n < sizeof(raw)) {
		ssize_t got = read(fd, raw + n, sizeof(raw) - n);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			r = -errno;
			goto fail;
		}
		if (got == 0)
			break;
		n += (size_t)got;
	}
	runner_close(&fd);

	/* Whole lines only; a last line without newline counts at EOF. */
	for (size_t i = 0; i <= n; i++) {
		bool eol = i < n ? raw[i] == '\n' : n <= RESULT_MAX && i > start;
		if (!eol)
			continue;
		if (!runner_result_line(raw + start, i - start, out, &outlen))
			break;
		start = i + 1;
	}
	out[outlen] = '\0';
	return 0;
fail:
	runner_close(&fd);
	return r;
}

int
runner_result_get(const char *result, const char *key, char *buf, size_t len)
{
	const char *found = NULL, *p = result;
	size_t klen, flen = 0;

	if (result == NULL || key == NULL || *key == '\0')
		return -EINVAL;
	klen = strlen(key);
	while (*p != '\0') {
		const char *nl = strchr(p, '\n');
		size_t ll = nl != NULL ? (size_t)(nl - p) : strlen(p);

		if (ll > klen && memcmp(p, key, klen) == 0 && p[klen] == ':') {
			const char *v = p + klen + 1;
			while (v < p + ll && *v == ' ')
				v++;
			found = v;
			flen = (size_t)(p + ll - v);
		}
		p += ll + (nl != NULL);
	}
	if (found == NULL)
		return -ENOENT;
	if (flen >= len)
		return -ERANGE;
	memcpy(buf, found, flen);
	buf[flen] = '\0';
	return 0;
}

/* ---- persistent handlers ---- */

static void
runner_worker_env_fill(const struct provider *p, struct runner_envbuf *b)
{
	bool have_path = false;

	for (size_t i = 0; p->env != NULL && i < p->nenv; i++) {
		runner_env_add(b, "", p->env[i], false, NULL);
		if (strncmp(p->env[i], "PATH=", 5) == 0)
			have_path = true;
	}
	if (!have_path)
		runner_env_add(b, "PATH", "", false, RUNNER_PATH);
	runner_env_add(b, "SYNCSPOOL_PROVIDER", "", false, p->name);
	runner_env_add(b, "SYNCSPOOL_MODE", "", false, "persistent");
}

int
runner_start_worker(const struct provider *p, const uint64_t *sig_reset,
		    int cgroup_fd, const char *cgroup_name, struct run *run,
		    int *in_fd, char *err, size_t errlen)
{
	struct runner_envbuf b = {0};
	struct runner_nest *nest;
	char **envp = NULL;
	int in[2] = {-1, -1};
	int r;

	runner_run_init(run);
	runner_cgroup_take(run, cgroup_fd, cgroup_name);
	*in_fd = -1;
	if (p->command == NULL || p->command[0] == NULL ||
	    p->command[0][0] != '/') {
		util_seterr(err, errlen, "provider %s: command must be an "
			    "absolute path", p->name);
		r = -EINVAL;
		goto fail;
	}
	runner_worker_env_fill(p, &b);
	envp = malloc((b.n + 1) * sizeof(*envp) + b.bytes);
	if (envp == NULL) {
		util_seterr(err, errlen, "runner: out of memory");
		r = -ENOMEM;
		goto fail;
	}
	b = (struct runner_envbuf){.vec = envp, .str = (char *)(envp + b.n + 1)};
	runner_worker_env_fill(p, &b);
	envp[b.n] = NULL;
	if (pipe2(in, O_CLOEXEC) < 0) {
		r = -errno;
		util_seterr(err, errlen, "pipe2: %s", strerror(-r));
		goto fail;
	}
	/*
	 * Room for a whole job line (64 KiB of job and its envelope): a line
	 * is written only to an idle worker, whose pipe is then empty, so a
	 * non-blocking write of it never stalls the daemon.
	 */
	(void)fcntl(in[1], F_SETPIPE_SZ, RUNNER_JOBLINE_MAX);
	if (fcntl(in[1], F_SETFL, O_NONBLOCK) < 0) {
		r = -errno;
		util_seterr(err, errlen, "fcntl: %s", strerror(-r));
		goto fail;
	}
	/*
	 * No job yet, so nothing to record: it may start at once. A rare
	 * start, and the code that watches it wants to know how the exec
	 * went at once: not beside us.
	 */
	nest = runner_nest_new(p->command, envp, NULL, sig_reset);
	envp = NULL;
	if (nest == NULL) {
		util_seterr(err, errlen, "runner: out of memory");
		r = -ENOMEM;
		goto fail;
	}
	if ((r = runner_spawn(nest, in[0], in[1], false, run, err,
			      errlen)) < 0)
		goto fail;
	runner_close(&in[0]);
	*in_fd = in[1];
	return 0;
fail:
	runner_close(&in[0]);
	runner_close(&in[1]);
	runner_abandon(run);
	runner_run_init(run);
	free(envp);
	return r;
}

void
runner_log_begin(int logdir_fd, const char *job_id, unsigned attempt,
		 pid_t pid, uint64_t log_max, struct run *run)
{
	runner_run_init(run);
	runner_log_later(run, logdir_fd, job_id, attempt, pid, true, log_max);
	run->pid = pid;
	run->started_mono = util_mono_ms();
}

void
runner_log_feed(struct run *run, const char *buf, size_t len)
{
	runner_line_feed(run, buf, len);
	runner_log_output(run, buf, len);
}

void
runner_log_end(struct run *run, const struct run_status *st)
{
	if (run->linelen > 0)
		runner_line_end(run);
	runner_footer_write(run, st);
	runner_close(&run->log_fd);
}

int
runner_job_line(const struct runner_spec *s, char **line, size_t *len)
{
	json_t *o, *opts;
	char *text;
	size_t n;

	*line = NULL;
	*len = 0;
	opts = json_object();
	o = json_object();
	if (o == NULL || opts == NULL)
		goto fail;
	for (size_t i = 0; i < s->job->noptions; i++)
		json_object_set_new(opts, s->job->options[i].key,
				    json_string(s->job->options[i].value));
	json_object_set_new(o, "job_id", json_string(s->job_id));
	json_object_set_new(o, "venue_id", json_string(s->job->venue_id));
	json_object_set_new(o, "provider", json_string(s->prov->name));
	json_object_set_new(o, "sync_type", json_string(s->job->sync_type));
	json_object_set_new(o, "attempt", json_integer(s->attempt));
	json_object_set_new(o, "job_file", json_string(s->job_path));
	json_object_set_new(o, "result_file", json_string(s->result_path));
	json_object_set_new(o, "options", opts);
	opts = NULL;
	json_object_set_new(o, "job", json_stringn(s->content,
						   s->content_len));
	/* Compact, one line: JSON escapes every newline inside strings. */
	text = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII);
	json_decref(o);
	if (text == NULL)
		return -ENOMEM;
	n = strlen(text);
	if (n + 1 > RUNNER_JOBLINE_MAX) {
		free(text);
		return -E2BIG;
	}
	*line = realloc(text, n + 2);
	if (*line == NULL) {
		free(text);
		return -ENOMEM;
	}
	(*line)[n] = '\n';
	(*line)[n + 1] = '\0';
	*len = n + 1;
	return 0;
fail:
	json_decref(o);
	json_decref(opts);
	return -ENOMEM;
}

/* Keep a result value as a "key: value" line, as the result file would. */
static void
runner_reply_result(json_t *result, char out[RESULT_MAX + 1])
{
	const char *key;
	json_t *v;
	size_t at = 0;

	out[0] = '\0';
	json_object_foreach(result, key, v) {
		char val[256], line[RESULT_MAX + 1];
		int n;
		if (json_is_string(v))
			snprintf(val, sizeof(val), "%s", json_string_value(v));
		else if (json_is_integer(v))
			snprintf(val, sizeof(val), "%lld",
				 (long long)json_integer_value(v));
		else if (json_is_real(v))
			snprintf(val, sizeof(val), "%g", json_real_value(v));
		else if (json_is_boolean(v))
			snprintf(val, sizeof(val), "%s",
				 json_is_true(v) ? "true" : "false");
		else
			continue;
		n = snprintf(line, sizeof(line), "%s: %s\n", key, val);
		if (n < 0 || at + (size_t)n > RESULT_MAX)
			break;
		memcpy(out + at, line, (size_t)n + 1);
		at += (size_t)n;
	}
	/* The same rules as a result file: only clean "key: value" lines. */
	{
		char raw[RESULT_MAX + 1];
		size_t start = 0, outlen = 0;

		memcpy(raw, out, at + 1);
		for (size_t i = 0; i < at; i++) {
			if (raw[i] != '\n')
				continue;
			if (!runner_result_line(raw + start, i - start, out,
						&outlen))
				break;
			start = i + 1;
		}
		out[outlen] = '\0';
	}
}

int
runner_reply_parse(const char *line, size_t len, struct runner_reply *r,
		   char *err, size_t errlen)
{
	json_error_t je;
	json_t *o, *v;
	int rc = -EINVAL;

	memset(r, 0, sizeof(*r));
	o = json_loadb(line, len, JSON_REJECT_DUPLICATES, &je);
	if (o == NULL || !json_is_object(o)) {
		util_seterr(err, errlen, "the handler's reply is not a JSON "
			    "object: %s", o == NULL ? je.text : "(not an "
			    "object)");
		goto out;
	}
	v = json_object_get(o, "job_id");
	if (!json_is_string(v) || strlen(json_string_value(v)) > ID_MAX) {
		util_seterr(err, errlen, "the handler's reply has no job_id");
		goto out;
	}
	snprintf(r->job_id, sizeof(r->job_id), "%s", json_string_value(v));
	v = json_object_get(o, "exit");
	if (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    json_integer_value(v) > 255) {
		util_seterr(err, errlen, "the handler's reply has no exit "
			    "status (0 to 255)");
		goto out;
	}
	r->exit_code = (int)json_integer_value(v);
	v = json_object_get(o, "error");
	if (json_is_string(v)) {
		snprintf(r->error, sizeof(r->error), "%s",
			 json_string_value(v));
		for (char *c = r->error; *c != '\0'; c++)
			if ((unsigned char)*c < 0x20 || (unsigned char)*c >= 0x7f)
				*c = '?';
	}
	v = json_object_get(o, "result");
	if (json_is_object(v))
		runner_reply_result(v, r->result);
	rc = 0;
out:
	json_decref(o);
	return rc;
}
