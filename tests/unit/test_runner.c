/*
 * test_runner.c - the handler runner. Pure parts, table-driven: the
 * environment, the result file, /proc parsing. Then real handlers run
 * through /bin/sh and friends: stdin, the log and its cap, descriptors,
 * signal state, process groups, the db/running record, exec failure and
 * adoption.
 *
 * The test process makes itself a child subreaper, so a handler's
 * orphaned grandchildren become its children: it can then see how they
 * died, and a container's PID 1 that never reaps cannot leave zombies
 * that look alive to kill(pid, 0).
 *
 * Nothing here sleeps blindly: every wait is a poll() on a pidfd or a
 * pipe with a deadline.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "runner.h"

#define DEADLINE_MS 20000 /* generous: sanitizers and busy machines */
#define JOB_ID "venue-1-demo.20250102T030001Z.4f2a"

/* ---- the environment ---- */

#define FIXED_ENV                                                    \
	"SYNCSPOOL_JOB_ID=" JOB_ID, "SYNCSPOOL_VENUE_ID=venue-1",    \
	    "SYNCSPOOL_PROVIDER=square", "SYNCSPOOL_SYNC_TYPE=delta", \
	    "SYNCSPOOL_ATTEMPT=3",                                   \
	    "SYNCSPOOL_JOB_FILE=/spool/processing/" JOB_ID ".yaml",  \
	    "SYNCSPOOL_RESULT_FILE=/spool/logs/" JOB_ID ".result"
#define DEFAULT_PATH "PATH=/usr/local/bin:/usr/bin:/bin"

struct env_case {
	const char *name;
	const char *penv[4];    /* provider env; NULL-terminated */
	const char *opts[5][2]; /* key, value; a NULL key ends */
	int rc;
	const char *want[20];   /* the whole environment, in order */
};

static const struct env_case env_cases[] = {
	{"bare", {NULL}, {{NULL, NULL}}, 0, {DEFAULT_PATH, FIXED_ENV, NULL}},
	{"options upper-cased, in job order",
	 {NULL},
	 {{"since", "2025-01-01"}, {"Mixed_Key9", "a b=c"}, {"_x", ""},
	  {"LIMIT", "10"}, {NULL, NULL}},
	 0,
	 {DEFAULT_PATH, FIXED_ENV, "SYNCSPOOL_OPTION_SINCE=2025-01-01",
	  "SYNCSPOOL_OPTION_MIXED_KEY9=a b=c", "SYNCSPOOL_OPTION__X=",
	  "SYNCSPOOL_OPTION_LIMIT=10", NULL}},
	{"provider env first, no PATH of its own",
	 {"SQUARE_API_BASE=https://example.invalid", "EMPTY=", NULL},
	 {{"since", "x"}, {NULL, NULL}},
	 0,
	 {"SQUARE_API_BASE=https://example.invalid", "EMPTY=", DEFAULT_PATH,
	  FIXED_ENV, "SYNCSPOOL_OPTION_SINCE=x", NULL}},
	{"provider PATH replaces the default",
	 {"A=1", "PATH=/opt/square/bin", NULL},
	 {{NULL, NULL}},
	 0,
	 {"A=1", "PATH=/opt/square/bin", FIXED_ENV, NULL}},
	{"keys equal but for case", {NULL},
	 {{"since", "a"}, {"SINCE", "b"}, {NULL, NULL}}, -EINVAL, {NULL}},
	{"key not a variable name", {NULL},
	 {{"a-b", "x"}, {NULL, NULL}}, -EINVAL, {NULL}},
	{"key starting with a digit", {NULL},
	 {{"9a", "x"}, {NULL, NULL}}, -EINVAL, {NULL}},
	{"provider sets a SYNCSPOOL_ variable",
	 {"SYNCSPOOL_JOB_ID=evil", NULL}, {{NULL, NULL}}, -EINVAL, {NULL}},
	{"provider entry without =", {"NOVALUE", NULL}, {{NULL, NULL}},
	 -EINVAL, {NULL}},
	{"provider entry with empty name", {"=x", NULL}, {{NULL, NULL}},
	 -EINVAL, {NULL}},
};

static void
test_env_table(void **state)
{
	(void)state;
	/* The test's own environment must not reach the handler. */
	assert_int_equal(setenv("SECRET", "x", 1), 0);

	for (size_t c = 0; c < sizeof(env_cases) / sizeof(env_cases[0]); c++) {
		const struct env_case *ec = &env_cases[c];
		char *cmd[] = {"/bin/true", NULL};
		struct job_option opts[5];
		struct provider prov = {.name = "square", .command = cmd,
					.ncommand = 1};
		struct job job = {.venue_id = "venue-1", .provider = "square",
				  .sync_type = "delta", .options = opts};
		struct runner_spec s = {
			.prov = &prov, .job = &job, .job_id = JOB_ID,
			.attempt = 3,
			.job_path = "/spool/processing/" JOB_ID ".yaml",
			.result_path = "/spool/logs/" JOB_ID ".result",
		};
		char err[ERRLEN] = "", **env = NULL;
		size_t n = 0, size;

		while (ec->penv[prov.nenv] != NULL)
			prov.nenv++;
		prov.env = prov.nenv > 0 ? (char **)ec->penv : NULL;
		for (; ec->opts[job.noptions][0] != NULL; job.noptions++) {
			opts[job.noptions].key = (char *)ec->opts[job.noptions][0];
			opts[job.noptions].value = (char *)ec->opts[job.noptions][1];
		}
		print_message("env: %s\n", ec->name);
		int rc = runner_env_build(&s, &env, err, sizeof(err));
		assert_int_equal(rc, ec->rc);
		if (rc < 0) {
			assert_null(env);
			assert_true(err[0] != '\0');
			continue;
		}
		for (; env[n] != NULL; n++) {
			assert_non_null(ec->want[n]);
			assert_string_equal(env[n], ec->want[n]);
			assert_true(strncmp(env[n], "SECRET=", 7) != 0);
		}
		assert_null(ec->want[n]);
		/* One allocation: every string lies inside the block. */
		size = malloc_usable_size(env);
		for (size_t i = 0; i < n; i++) {
			assert_true(env[i] > (char *)env);
			assert_true(env[i] + strlen(env[i]) < (char *)env + size);
		}
		free(env);
	}
	unsetenv("SECRET");
}

/* ---- the result file ---- */

#define K64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abc.-_"
#define K65 K64 "x"

/* A scratch directory, used by the result tests and every spawn test. */
struct fx {
	char dir[64];
	int dirfd;
	char *cmd[8];
	char script[512];
	struct provider prov;
	struct job job;
	struct job_option opts[3];
	char job_path[160], result_path[160];
	struct runner_spec spec;
	struct run run;
	struct run_status st;
	bool started;
	const struct runner_record *rec; /* NULL: none */
};

static int
fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/test_runner.XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	f->dirfd = open(f->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (f->dirfd < 0)
		return -1;
	f->prov.name = "demo";
	f->prov.command = f->cmd;
	snprintf(f->job.venue_id, sizeof(f->job.venue_id), "venue-1");
	snprintf(f->job.provider, sizeof(f->job.provider), "demo");
	snprintf(f->job.sync_type, sizeof(f->job.sync_type), "full");
	f->opts[0].key = "since";
	f->opts[0].value = "2025-01-01";
	f->job.options = f->opts;
	f->job.noptions = 1;
	snprintf(f->job_path, sizeof(f->job_path), "%s/%s.yaml", f->dir,
		 JOB_ID);
	snprintf(f->result_path, sizeof(f->result_path), "%s/%s.result",
		 f->dir, JOB_ID);
	f->spec = (struct runner_spec){
		.prov = &f->prov, .job = &f->job, .job_id = JOB_ID,
		.attempt = 1, .job_path = f->job_path,
		.result_path = f->result_path,
		.content = "venue_id: venue-1\nprovider: demo\n",
		.content_len = strlen("venue_id: venue-1\nprovider: demo\n"),
	};
	f->run.pidfd = f->run.out_fd = f->run.err_fd = -1;
	f->run.log_fd = f->run.cg_fd = -1;
	*state = f;
	return 0;
}

static void
fx_rm_all(int dirfd)
{
	DIR *d;
	struct dirent *e;
	int fd = dup(dirfd);

	if (fd < 0 || (d = fdopendir(fd)) == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (unlinkat(dirfd, e->d_name, 0) < 0 && errno == EISDIR)
			unlinkat(dirfd, e->d_name, AT_REMOVEDIR);
	}
	closedir(d);
}

static int
fx_teardown(void **state)
{
	struct fx *f = *state;

	/* A test that failed half way leaves a handler: end it. */
	if (f->started && f->run.pid > 0) {
		struct pollfd p = {.fd = f->run.pidfd, .events = POLLIN};
		kill(-f->run.pid, SIGKILL);
		poll(&p, 1, DEADLINE_MS);
		runner_reap(&f->run, &f->st);
	}
	runner_abandon(&f->run);
	/* Orphans killed by the tests are our children (subreaper). */
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
	fx_rm_all(f->dirfd);
	close(f->dirfd);
	rmdir(f->dir);
	free(f);
	return 0;
}

static void
fx_write(struct fx *f, const char *name, const char *buf, size_t len)
{
	int fd = openat(f->dirfd, name, O_WRONLY | O_CREAT | O_TRUNC |
					    O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, buf, len), (ssize_t)len);
	close(fd);
}

static void
test_result_read_table(void **state)
{
	static const struct {
		const char *name, *content, *want;
	} rows[] = {
		{"good", "records: 42\ncursor: 2025-01-02T03:00:00Z\n",
		 "records: 42\ncursor: 2025-01-02T03:00:00Z\n"},
		{"tidied", "  records:42 \r\nnote:\tsome words\t\n",
		 "records: 42\nnote: some words\n"},
		{"junk dropped",
		 "hello\n: x\n# c: x\nbad key: x\nempty:\nk: bad\001\n"
		 "space : x\nok: 1\n\n",
		 "ok: 1\n"},
		{"UTF-8 values kept", "city: Z\xc3\xbcrich\nname: \xe6\x9d\xb1\n"
		 "smile: \xf0\x9f\x99\x82\n",
		 "city: Z\xc3\xbcrich\nname: \xe6\x9d\xb1\nsmile: \xf0\x9f\x99\x82\n"},
		{"invalid UTF-8 dropped",
		 "a: \xc3\nb: \xc0\xaf\nc: \xed\xa0\x80\nd: \xf5\x80\x80\x80\n"
		 "e: \xe2\x82\nf: \xc2\x85\nok: 1\n",
		 "ok: 1\n"},
		{"duplicates kept", "a: 1\na: 2\n", "a: 1\na: 2\n"},
		{"no final newline", "records: 5", "records: 5\n"},
		{"key of 64 kept, 65 dropped", K64 ": v\n" K65 ": v\n",
		 K64 ": v\n"},
		{"empty file", "", ""},
	};
	struct fx *f = *state;
	char out[RESULT_MAX + 1];

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		print_message("result: %s\n", rows[i].name);
		fx_write(f, "r", rows[i].content, strlen(rows[i].content));
		memset(out, 'Z', sizeof(out));
		assert_int_equal(runner_result_read(f->dirfd, "r", out), 0);
		assert_string_equal(out, rows[i].want);
	}
}

static void
test_result_read_long(void **state)
{
	struct fx *f = *state;
	char out[RESULT_MAX + 1], *buf, *want;
	size_t len = 0, wlen = 0;

	/* 300 lines of 24 bytes: cut at the last whole line within the cap. */
	buf = malloc(300 * 24 + 1);
	want = malloc(RESULT_MAX + 1);
	assert_non_null(buf);
	assert_non_null(want);
	for (int i = 0; i < 300; i++) {
		size_t l = (size_t)sprintf(buf + len, "key%03d: value-xxxxxxxxx\n", i);
		assert_int_equal(l, 24);
		if (wlen + l <= RESULT_MAX) {
			memcpy(want + wlen, buf + len, l);
			wlen += l;
		}
		len += l;
	}
	want[wlen] = '\0';
	assert_true(wlen < len && wlen > RESULT_MAX - 24);
	fx_write(f, "long", buf, len);
	assert_int_equal(runner_result_read(f->dirfd, "long", out), 0);
	assert_string_equal(out, want);

	/* A line longer than the cap is dropped whole, never cut. */
	len = (size_t)sprintf(buf, "records: 1\nnote: ");
	memset(buf + len, 'a', 5000);
	len += 5000;
	len += (size_t)sprintf(buf + len, "\ncursor: 2\n");
	fx_write(f, "longline", buf, len);
	assert_int_equal(runner_result_read(f->dirfd, "longline", out), 0);
	assert_string_equal(out, "records: 1\n");
	free(buf);
	free(want);
}

static void
test_result_read_files(void **state)
{
	struct fx *f = *state;
	char out[RESULT_MAX + 1];

	memset(out, 'Z', sizeof(out));
	assert_int_equal(runner_result_read(f->dirfd, "missing", out), 0);
	assert_string_equal(out, "");

	fx_write(f, "real", "records: 1\n", 11);
	assert_int_equal(symlinkat("real", f->dirfd, "link"), 0);
	assert_int_equal(runner_result_read(f->dirfd, "link", out), -ELOOP);
	/* A FIFO must neither hang the open nor be read. */
	assert_int_equal(mkfifoat(f->dirfd, "fifo", 0600), 0);
	assert_int_equal(runner_result_read(f->dirfd, "fifo", out), -EINVAL);
	assert_int_equal(mkdirat(f->dirfd, "dir", 0700), 0);
	assert_int_equal(runner_result_read(f->dirfd, "dir", out), -EINVAL);
	assert_int_equal(linkat(f->dirfd, "real", f->dirfd, "hard", 0), 0);
	assert_int_equal(runner_result_read(f->dirfd, "hard", out), -EINVAL);
}

static void
test_result_get_table(void **state)
{
	static const char *text =
		"records: 10\ncursor: 2025-01-02T03:00:00Z\nrecords: 20\n"
		"recordsx: 1\nempty: \n";
	static const struct {
		const char *key;
		size_t len;
		int rc;
		const char *want;
	} rows[] = {
		{"records", 64, 0, "20"}, /* the last line wins */
		{"cursor", 64, 0, "2025-01-02T03:00:00Z"},
		{"recordsx", 64, 0, "1"},
		{"record", 64, -ENOENT, NULL},
		{"cursor", 20, -ERANGE, NULL},
		{"cursor", 21, 0, "2025-01-02T03:00:00Z"},
		{"empty", 8, 0, ""},
		{"", 8, -EINVAL, NULL},
	};
	char buf[64];

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		int rc = runner_result_get(text, rows[i].key, buf, rows[i].len);
		assert_int_equal(rc, rows[i].rc);
		if (rc == 0)
			assert_string_equal(buf, rows[i].want);
	}
	assert_int_equal(runner_result_get("", "records", buf, 8), -ENOENT);
}

/* ---- /proc ---- */

static void
test_proc_start(void **state)
{
	char name[17] = "", maxbuf[32] = "";
	uint64_t a = 0, b = 0;
	const char *id;
	FILE *fp;
	long pid_max = 0;

	(void)state;
	assert_int_equal(runner_proc_start(getpid(), &a), 0);
	assert_true(a > 0);
	/* comm may hold spaces and ')': the parse must find the last one. */
	assert_int_equal(prctl(PR_GET_NAME, name), 0);
	assert_int_equal(prctl(PR_SET_NAME, "a) b (c) 1 2 3"), 0);
	assert_int_equal(runner_proc_start(getpid(), &b), 0);
	assert_int_equal(prctl(PR_SET_NAME, name), 0);
	assert_int_equal(a, b);

	fp = fopen("/proc/sys/kernel/pid_max", "re");
	assert_non_null(fp);
	assert_non_null(fgets(maxbuf, sizeof(maxbuf), fp));
	fclose(fp);
	pid_max = strtol(maxbuf, NULL, 10);
	assert_int_equal(runner_proc_start((pid_t)pid_max, &b), -ESRCH);
	assert_int_equal(runner_proc_start(0, &b), -ESRCH);

	id = runner_boot_id();
	assert_non_null(id);
	assert_int_equal(strlen(id), BOOT_ID_LEN);
	assert_ptr_equal(runner_boot_id(), id);
}

/* ---- spawn helpers ---- */

static void
fx_sh(struct fx *f, const char *script)
{
	snprintf(f->script, sizeof(f->script), "%s", script);
	f->cmd[0] = "/bin/sh";
	f->cmd[1] = "-c";
	f->cmd[2] = f->script;
	f->cmd[3] = NULL;
	f->prov.ncommand = 3;
}

static void
fx_start(struct fx *f, uint64_t log_max)
{
	char err[ERRLEN] = "";
	int rc = runner_start(&f->spec, f->dirfd, log_max, f->rec, &f->run,
			      err, sizeof(err));

	if (rc != 0)
		print_error("runner_start: %s\n", err);
	assert_int_equal(rc, 0);
	f->started = true;
	assert_true(f->run.pid > 0);
	assert_true(f->run.pidfd >= 0 && f->run.out_fd >= 0 &&
		    f->run.err_fd >= 0);
	/* The log comes with the first output, not before. */
	assert_int_equal(f->run.log_fd, -1);
}

static int64_t
fx_left(int64_t deadline)
{
	int64_t left = deadline - util_mono_ms();
	return left > 0 ? left : 0;
}

/* One poll round: drain what is readable; true once the pidfd is. */
static bool
fx_pump(struct fx *f, int64_t timeout_ms)
{
	struct pollfd p[3] = {
		{.fd = f->run.pidfd, .events = POLLIN},
		{.fd = f->run.out_fd, .events = POLLIN},
		{.fd = f->run.err_fd, .events = POLLIN},
	};
	int n = poll(p, 3, (int)timeout_ms);

	assert_true(n >= 0 || errno == EINTR);
	if (n <= 0)
		return false;
	if (p[1].revents != 0)
		assert_true(runner_drain(&f->run, f->run.out_fd) >= 0);
	if (p[2].revents != 0)
		assert_true(runner_drain(&f->run, f->run.err_fd) >= 0);
	return p[0].revents != 0;
}

/* Wait for the handler to exit, then reap it into f->st. */
static void
fx_finish(struct fx *f)
{
	int64_t deadline = util_mono_ms() + DEADLINE_MS;

	while (!fx_pump(f, fx_left(deadline)))
		assert_true(fx_left(deadline) > 0);
	assert_int_equal(runner_reap(&f->run, &f->st), 0);
	assert_int_equal(f->run.pidfd, -1);
	assert_int_equal(f->run.out_fd, -1);
	assert_int_equal(f->run.err_fd, -1);
	assert_int_equal(f->run.log_fd, -1);
	assert_int_equal(f->run.pid, 0);
}

static char *
fx_log(struct fx *f, size_t *lenp)
{
	struct stat st;
	char *buf;
	int fd = openat(f->dirfd, JOB_ID ".log", O_RDONLY | O_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	buf = malloc((size_t)st.st_size + 1);
	assert_non_null(buf);
	assert_int_equal(read(fd, buf, (size_t)st.st_size), st.st_size);
	buf[st.st_size] = '\0';
	close(fd);
	if (lenp != NULL)
		*lenp = (size_t)st.st_size;
	return buf;
}

/* Pump until the log holds needle; the handler must still be running. */
static void
fx_wait_log(struct fx *f, const char *needle)
{
	int64_t deadline = util_mono_ms() + DEADLINE_MS;

	for (;;) {
		/* No log until the handler's first output. */
		bool exists = faccessat(f->dirfd, JOB_ID ".log", F_OK, 0) == 0;
		char *log = exists ? fx_log(f, NULL) : NULL;
		bool found = log != NULL && strstr(log, needle) != NULL;
		free(log);
		if (found)
			return;
		assert_true(fx_left(deadline) > 0);
		assert_false(fx_pump(f, 50));
	}
}

/*
 * The log is header, body, footer: check header and footer and return
 * the body (into a malloc'd buffer, length in *len).
 */
static char *
fx_body(struct fx *f, unsigned attempt, size_t *len)
{
	char want[64], *log, *body, *foot;
	size_t loglen;
	const char *p;

	log = fx_log(f, &loglen);
	snprintf(want, sizeof(want), "=== attempt %u, started 20", attempt);
	assert_memory_equal(log, want, strlen(want));
	p = strstr(log, " ===\n");
	assert_non_null(p);
	p += 5;
	snprintf(want, sizeof(want), "\n=== attempt %u ended: ", attempt);
	/* The footer is the last line; search back from the end. */
	foot = NULL;
	for (size_t i = loglen; i-- > (size_t)(p - log) - 1;)
		if (strncmp(log + i, want, strlen(want)) == 0) {
			foot = log + i;
			break;
		}
	assert_non_null(foot);
	assert_true(log[loglen - 1] == '\n');
	assert_null(memchr(foot + 1, '\n', loglen - (size_t)(foot + 1 - log) - 1));
	*len = (size_t)(foot + 1 - p);
	body = malloc(*len + 1);
	assert_non_null(body);
	memcpy(body, p, *len);
	body[*len] = '\0';
	free(log);
	return body;
}

/* A pid of ours that must end by sig: see how it died, then that it is gone. */
static void
fx_expect_dead(pid_t pid, int sig)
{
	struct pollfd p;
	siginfo_t si;
	int fd = (int)syscall(SYS_pidfd_open, pid, 0);

	if (fd >= 0) {
		p = (struct pollfd){.fd = fd, .events = POLLIN};
		assert_int_equal(poll(&p, 1, DEADLINE_MS), 1);
		memset(&si, 0, sizeof(si));
		assert_int_equal(waitid(P_PIDFD, (id_t)fd, &si, WEXITED), 0);
		assert_int_equal(si.si_code, CLD_KILLED);
		assert_int_equal(si.si_status, sig);
		close(fd);
	} else {
		assert_int_equal(errno, ESRCH);
	}
	assert_int_equal(kill(pid, 0), -1);
	assert_int_equal(errno, ESRCH);
}

/* ---- spawn tests ---- */

/* (a) stdin is exactly the content, sealed; stdout lands after the header. */
static void
test_spawn_stdin_and_log(void **state)
{
	static const char content[] = "venue_id: venue-1\n\0binary\xff\n";
	struct fx *f = *state;
	char *body;
	size_t len;

	fx_sh(f, "cat; if printf x >&0 2>/dev/null; then echo writable; fi; "
		 "echo done");
	f->spec.content = content;
	f->spec.content_len = sizeof(content) - 1;
	fx_start(f, 1 << 20);
	fx_finish(f);
	assert_int_equal(f->st.exit_code, 0);
	assert_int_equal(f->st.signal, 0);

	body = fx_body(f, 1, &len);
	assert_int_equal(len, sizeof(content) - 1 + strlen("done\n"));
	assert_memory_equal(body, content, sizeof(content) - 1);
	assert_string_equal(body + sizeof(content) - 1, "done\n");
	free(body);
}

/* The same with the test's fd 0 closed, so the memfd is born as fd 0. */
static void
test_spawn_stdio_closed(void **state)
{
	struct fx *f = *state;
	int saved = fcntl(0, F_DUPFD_CLOEXEC, 3);
	char *body;
	size_t len;

	assert_true(saved >= 0);
	close(0);
	fx_sh(f, "cat");
	fx_start(f, 1 << 20);
	/* fd 0 is the runner's again now (a pipe, say): wait to restore. */
	fx_finish(f);
	assert_int_equal(dup2(saved, 0), 0);
	close(saved);
	assert_int_equal(f->st.exit_code, 0);
	body = fx_body(f, 1, &len);
	assert_string_equal(body, f->spec.content);
	free(body);
}

/* The environment the handler sees is the built one, and only that. */
static void
test_spawn_env(void **state)
{
	struct fx *f = *state;
	char err[ERRLEN], **env, *body, *want;
	size_t len, wlen = 0;

	assert_int_equal(setenv("SECRET", "x", 1), 0);
	f->cmd[0] = "/usr/bin/env";
	f->cmd[1] = NULL;
	fx_start(f, 1 << 20);
	fx_finish(f);
	unsetenv("SECRET");
	assert_int_equal(f->st.exit_code, 0);

	assert_int_equal(runner_env_build(&f->spec, &env, err, sizeof(err)), 0);
	want = calloc(1, 8192);
	assert_non_null(want);
	for (size_t i = 0; env[i] != NULL; i++)
		wlen += (size_t)snprintf(want + wlen, 8192 - wlen, "%s\n", env[i]);
	free(env);
	body = fx_body(f, 1, &len);
	assert_string_equal(body, want);
	assert_null(strstr(body, "SECRET"));
	free(body);
	free(want);
}

/* (b) Only 0, 1 and 2 reach the handler, whatever the daemon leaks. */
static void
test_spawn_only_stdio(void **state)
{
	struct fx *f = *state;
	int extra[4], p[2];
	char *body;
	size_t len;

	/* Without O_CLOEXEC on purpose. */
	for (int i = 0; i < 3; i++)
		assert_true((extra[i] = open("/dev/null", O_RDONLY)) >= 0);
	assert_int_equal(pipe(p), 0);
	extra[3] = dup2(extra[0], 200);
	assert_int_equal(extra[3], 200);

	/* ls lists its own fds: 0-2 plus the one it reads the dir with. */
	f->cmd[0] = "/bin/ls";
	f->cmd[1] = "-1";
	f->cmd[2] = "/proc/self/fd";
	f->cmd[3] = NULL;
	fx_start(f, 1 << 20);
	fx_finish(f);
	for (int i = 0; i < 4; i++)
		close(extra[i]);
	close(p[0]);
	close(p[1]);
	assert_int_equal(f->st.exit_code, 0);
	body = fx_body(f, 1, &len);
	assert_string_equal(body, "0\n1\n2\n3\n");
	free(body);
}

/* (c) The cap holds for the whole file, across attempts. */
static void
test_spawn_log_cap(void **state)
{
	static const char note[] = "\n[output truncated at 4096 bytes]\n";
	struct fx *f = *state;
	char *log, *p;
	size_t len, len1;

	fx_sh(f, "head -c 1000000 /dev/zero | tr '\\0' a; echo tail");
	fx_start(f, 4096);
	fx_finish(f);
	assert_int_equal(f->st.exit_code, 0);
	assert_true(f->run.log_truncated);
	log = fx_log(f, &len1);
	assert_int_equal(f->run.log_size, len1);
	p = strstr(log, note);
	assert_non_null(p);
	assert_int_equal(p - log, 4096);
	assert_null(strstr(p + 1, note));
	assert_null(strstr(log, "tail"));
	assert_memory_equal(p + strlen(note), "=== attempt 1 ended: exit 0, ",
			    strlen("=== attempt 1 ended: exit 0, "));
	assert_true(len1 < 4096 + strlen(note) + 80);
	free(log);

	/* Attempt 2 starts past the cap: only its frame and one note. */
	f->spec.attempt = 2;
	fx_sh(f, "echo hello");
	fx_start(f, 4096);
	fx_finish(f);
	log = fx_log(f, &len);
	assert_null(strstr(log + len1, "hello"));
	p = strstr(log + len1, note);
	assert_non_null(p);
	assert_non_null(strstr(log + len1, "=== attempt 2, started "));
	assert_non_null(strstr(p, "=== attempt 2 ended: exit 0, "));
	free(log);
}

/* (d) A grandchild left behind is killed at reap. */
static void
test_spawn_grandchild_killed(void **state)
{
	struct fx *f = *state;
	char *log, *p;
	int gpid = 0;

	fx_sh(f, "sleep 100 & echo \"bg $!\"");
	fx_start(f, 1 << 20);
	fx_finish(f);
	assert_int_equal(f->st.exit_code, 0);
	log = fx_log(f, NULL);
	p = strstr(log, "bg ");
	assert_non_null(p);
	assert_int_equal(sscanf(p, "bg %d", &gpid), 1);
	free(log);
	assert_true(gpid > 1);
	fx_expect_dead(gpid, SIGKILL);
}

/* (e) SIGTERM to the group ends the handler and its child. */
static void
test_spawn_sigterm(void **state)
{
	struct fx *f = *state;
	char *log, *p;
	int gpid = 0;

	fx_sh(f, "sleep 100 & echo \"bg $!\"; sleep 100");
	fx_start(f, 1 << 20);
	fx_wait_log(f, "bg ");
	assert_int_equal(runner_signal(&f->run, SIGTERM), 0);
	fx_finish(f);
	assert_int_equal(f->st.exit_code, -1);
	assert_int_equal(f->st.signal, SIGTERM);
	log = fx_log(f, NULL);
	assert_non_null(strstr(log, "ended: signal 15 (SIGTERM), after "));
	p = strstr(log, "bg ");
	assert_int_equal(sscanf(p, "bg %d", &gpid), 1);
	free(log);
	fx_expect_dead(gpid, SIGTERM);
}

/* (f) exec failure: 127 and the reason in the log and as the error. */
static void
test_spawn_exec_fails(void **state)
{
	static const char msg[] = "syncspool: exec /nonexistent/syncspool-handler: "
				  "No such file or directory";
	struct fx *f = *state;
	char *body;
	size_t len;

	f->cmd[0] = "/nonexistent/syncspool-handler";
	f->cmd[1] = NULL;
	/* Waited for, the parent knows at once... */
	fx_start(f, 1 << 20);
	assert_int_equal(f->run.exec_errno, ENOENT);
	fx_finish(f);
	assert_int_equal(f->st.exit_code, 127);
	free(fx_log(f, &len));
	assert_int_equal(unlinkat(f->dirfd, JOB_ID ".log", 0), 0);
	/* ... beside it, from the nest, once the child has exited. */
	f->spec.beside = true;
	fx_start(f, 1 << 20);
	fx_finish(f);
	assert_int_equal(f->run.exec_errno, ENOENT);
	assert_int_equal(f->run.setup_errno, 0);
	assert_null(f->run.nest);
	assert_int_equal(f->st.exit_code, 127);
	assert_string_equal(f->run.last_err, msg);
	body = fx_body(f, 1, &len);
	assert_int_equal(len, strlen(msg) + 1);
	assert_memory_equal(body, msg, strlen(msg));
	free(body);
}

/*
 * (g) The handler's record is written by its own process before exec:
 * the handler finds it, with its pid, its start time and the boot id,
 * and the daemon's copy of the start time is the same.
 */
static void
test_spawn_record(void **state)
{
	struct fx *f = *state;
	struct runner_record rec;
	char script[256], want[RUNNER_RECORD_MAX + 1], got[RUNNER_RECORD_MAX];
	char *body;
	size_t len;
	uint64_t ticks, now;
	pid_t pid;
	int fd, n;

	fd = openat(f->dirfd, "running", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	/* Slot 1: the line before it must stay as it is. */
	assert_int_equal(pwrite(fd, "x\n", 2, 0), 2);
	rec = (struct runner_record){.fd = fd, .off = 256, .len = 256,
				     .id = JOB_ID};
	f->rec = &rec;
	/* The handler's first act: copy its line, as it found it, to stdout. */
	snprintf(script, sizeof(script), "dd if=%s/running bs=256 skip=1 "
		 "count=1 status=none; echo pid $$", f->dir);
	fx_sh(f, script);
	fx_start(f, 1 << 20);
	pid = f->run.pid;
	ticks = f->run.start_ticks;
	/* Alive or a zombie until reaped: /proc still has it. */
	assert_int_equal(runner_proc_start(pid, &now), 0);
	assert_true(ticks == now);
	fx_finish(f);
	assert_int_equal(f->st.exit_code, 0);

	assert_int_equal(pread(fd, got, 2, 0), 2);
	assert_memory_equal(got, "x\n", 2);
	assert_int_equal(pread(fd, got, sizeof(got), 256), 256);
	close(fd);
	body = fx_body(f, 1, &len);
	assert_true(len > 256);
	assert_memory_equal(body, got, 256);
	/* The pid the handler saw as its own is the one recorded. */
	assert_int_equal(sscanf(body + 256, "pid %d", &n), 1);
	assert_int_equal(n, pid);
	n = snprintf(want, sizeof(want), "%s %d %llu %s", JOB_ID, (int)pid,
		     (unsigned long long)ticks, runner_boot_id());
	assert_true(n > 0 && n < 255);
	memset(want + n, ' ', (size_t)(255 - n));
	want[255] = '\n';
	assert_memory_equal(got, want, 256);
	free(body);
}

/*
 * The start time is worked out from the clock, not read from /proc,
 * unless the clone straddles a clock tick: over many starts, both the
 * daemon's copy and the child's record must be what /proc says, or a
 * restarted daemon would take a live handler for a stranger.
 */
static void
test_spawn_ticks_many(void **state)
{
	struct fx *f = *state;
	struct runner_record rec;
	char got[257];
	unsigned long long recorded;
	uint64_t now;
	int fd, pid;

	fd = openat(f->dirfd, "running", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	rec = (struct runner_record){.fd = fd, .off = 0, .len = 256,
				     .id = JOB_ID};
	f->rec = &rec;
	f->cmd[0] = "/bin/true";
	f->cmd[1] = NULL;
	for (int i = 0; i < 300; i++) {
		struct pollfd p;
		f->spec.beside = i % 2 == 0;
		fx_start(f, 1 << 20);
		p = (struct pollfd){.fd = f->run.pidfd, .events = POLLIN};
		assert_int_equal(poll(&p, 1, DEADLINE_MS), 1);
		/* A zombie until reaped: /proc still has it. */
		assert_int_equal(runner_proc_start(f->run.pid, &now), 0);
		assert_true(f->run.start_ticks == now);
		assert_int_equal(pread(fd, got, 256, 0), 256);
		got[256] = '\0';
		assert_int_equal(sscanf(got, JOB_ID " %d %llu", &pid,
					&recorded), 2);
		assert_int_equal(pid, f->run.pid);
		assert_true(recorded == now);
		fx_finish(f);
		assert_int_equal(f->st.exit_code, 0);
	}
	f->rec = NULL;
	close(fd);
}

/* Nothing of a handler that never ran is left: no process, no fds, no marker. */
static void
fx_expect_nothing_left(struct fx *f)
{
	assert_int_equal(f->run.pid, 0);
	assert_int_equal(f->run.pidfd, -1);
	assert_int_equal(f->run.out_fd, -1);
	assert_int_equal(f->run.log_fd, -1);
	assert_null(f->run.nest);
	assert_int_equal(faccessat(f->dirfd, "marker", F_OK, 0), -1);
	assert_int_equal(errno, ENOENT);
}

/* The record cannot be written: the handler never runs, nothing is left. */
static void
test_spawn_record_fails(void **state)
{
	struct fx *f = *state;
	struct runner_record rec;
	char err[ERRLEN] = "", script[256];
	int fd;

	fd = openat(f->dirfd, "running", O_RDONLY | O_CREAT | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	rec = (struct runner_record){.fd = fd, .off = 0, .len = 256,
				     .id = JOB_ID};
	snprintf(script, sizeof(script), "touch %s/marker", f->dir);
	fx_sh(f, script);
	/* Waited for: runner_start() fails, and nothing is left. */
	assert_int_equal(runner_start(&f->spec, f->dirfd, 1 << 20, &rec,
				      &f->run, err, sizeof(err)), -EBADF);
	assert_non_null(strstr(err, "db/running"));
	fx_expect_nothing_left(f);

	/* Started beside us: its failure shows at the reap. */
	f->spec.beside = true;
	f->rec = &rec;
	fx_start(f, 1 << 20);
	fx_finish(f);
	assert_int_equal(f->run.setup_errno, EBADF);
	assert_int_equal(f->run.exec_errno, 0);
	assert_int_equal(f->st.exit_code, 127);
	assert_string_equal(f->run.last_err, "handler set-up: write "
			    "db/running: Bad file descriptor");
	fx_expect_nothing_left(f);
	/* Nothing was logged: it never reached the handler's stdio. */
	assert_int_equal(faccessat(f->dirfd, JOB_ID ".log", F_OK, 0), -1);
	close(fd);
}

/* (h) A handler that ignores SIGTERM survives the grace, not SIGKILL. */
static void
test_spawn_ignores_sigterm(void **state)
{
	struct fx *f = *state;
	struct pollfd p;

	fx_sh(f, "trap '' TERM; echo ready; exec sleep 100");
	fx_start(f, 1 << 20);
	fx_wait_log(f, "ready\n");
	assert_int_equal(runner_signal(&f->run, SIGTERM), 0);
	p = (struct pollfd){.fd = f->run.pidfd, .events = POLLIN};
	assert_int_equal(poll(&p, 1, 300), 0); /* the grace period */
	assert_int_equal(runner_signal(&f->run, SIGKILL), 0);
	fx_finish(f);
	assert_int_equal(f->st.signal, SIGKILL);
	assert_int_equal(f->st.exit_code, -1);
}

/* (i) Adoption checks start time and boot id, before and after pidfd. */
static void
test_adopt(void **state)
{
	const char *boot = runner_boot_id();
	struct run run;
	struct run_status st;
	struct pollfd p;
	uint64_t ticks;
	int gate[2];
	pid_t pid;
	char c;

	(void)state;
	assert_non_null(boot);
	assert_int_equal(pipe2(gate, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* Lives until the test closes its end of the pipe. */
		close(gate[1]);
		while (read(gate[0], &c, 1) < 0 && errno == EINTR)
			;
		_exit(0);
	}
	close(gate[0]);
	assert_int_equal(runner_proc_start(pid, &ticks), 0);

	assert_int_equal(runner_adopt(pid, ticks + 1, boot, &run), -ESRCH);
	assert_int_equal(run.pidfd, -1);
	assert_int_equal(runner_adopt(pid, ticks,
				      "00000000-0000-0000-0000-000000000000",
				      &run), -ESRCH);
	assert_int_equal(runner_adopt(pid, ticks, NULL, &run), -ESRCH);
	assert_int_equal(runner_adopt(0, ticks, boot, &run), -ESRCH);

	assert_int_equal(runner_adopt(pid, ticks, boot, &run), 0);
	assert_true(run.adopted);
	assert_int_equal(run.pid, pid);
	assert_true(run.pidfd >= 0);
	assert_int_equal(run.out_fd, -1);
	assert_int_equal(run.err_fd, -1);
	assert_int_equal(run.log_fd, -1);

	close(gate[1]);
	p = (struct pollfd){.fd = run.pidfd, .events = POLLIN};
	assert_int_equal(poll(&p, 1, DEADLINE_MS), 1);
	assert_int_equal(runner_reap(&run, &st), 0);
	assert_int_equal(st.exit_code, -1);
	assert_int_equal(st.signal, 0);
	assert_int_equal(run.pidfd, -1);
	assert_int_equal(waitpid(pid, NULL, 0), pid);
	assert_int_equal(runner_adopt(pid, ticks, boot, &run), -ESRCH);
}

/* (j) The handler starts with no signal blocked and none ignored. */
static void
fx_signal_state(void **state, bool only_changed)
{
	struct fx *f = *state;
	struct sigaction ign = {.sa_handler = SIG_IGN}, old_int, old_pipe;
	sigset_t block, old_mask;
	uint64_t changed;
	char *body;
	size_t len;

	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	sigaddset(&block, SIGTERM);
	assert_int_equal(sigprocmask(SIG_BLOCK, &block, &old_mask), 0);
	assert_int_equal(sigaction(SIGINT, &ign, &old_int), 0);
	assert_int_equal(sigaction(SIGPIPE, &ign, &old_pipe), 0);
	if (only_changed) {
		/* The daemon's way: only what differs from SIG_DFL is reset. */
		changed = runner_sig_changed();
		assert_true(changed & (1ULL << (SIGINT - 1)));
		assert_true(changed & (1ULL << (SIGPIPE - 1)));
		assert_false(changed & (1ULL << (SIGUSR1 - 1)));
		f->spec.sig_reset = &changed;
	}

	f->cmd[0] = "/bin/grep";
	f->cmd[1] = "-E";
	f->cmd[2] = "^Sig(Blk|Ign):";
	f->cmd[3] = "/proc/self/status";
	f->cmd[4] = NULL;
	fx_start(f, 1 << 20);
	fx_finish(f);

	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGPIPE, &old_pipe, NULL);
	sigprocmask(SIG_SETMASK, &old_mask, NULL);
	assert_int_equal(f->st.exit_code, 0);
	body = fx_body(f, 1, &len);
	assert_string_equal(body, "SigBlk:\t0000000000000000\n"
				  "SigIgn:\t0000000000000000\n");
	free(body);
}

static void
test_spawn_signal_state(void **state)
{
	fx_signal_state(state, false);
}

static void
test_spawn_signal_state_changed(void **state)
{
	fx_signal_state(state, true);
}

/* The short error: the last non-empty stderr line, tidied. */
static void
test_spawn_last_error(void **state)
{
	static const struct {
		const char *script, *want;
	} rows[] = {
		{"echo first >&2; printf '  second\\tline  \\r\\n\\n' >&2; echo out",
		 "second line"},
		{"printf 'a\\001b\\n' >&2; printf 'partial' >&2", "partial"},
		{"printf 'x\\001\\303\\251y\\n' >&2", "x???y"},
		{"head -c 1000 /dev/zero | tr '\\0' e >&2; echo >&2", NULL},
		{"echo only stdout", ""},
	};
	struct fx *f = *state;
	char want[ERROR_MAX + 1];

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const char *w = rows[i].want;
		if (w == NULL) {
			memset(want, 'e', ERROR_MAX);
			want[ERROR_MAX] = '\0';
			w = want;
		}
		f->spec.attempt = (unsigned)i + 1;
		fx_sh(f, rows[i].script);
		fx_start(f, 1 << 20);
			fx_finish(f);
		assert_int_equal(f->st.exit_code, 0);
		assert_string_equal(f->run.last_err, w);
	}
}

/* Output without a final newline still leaves the footer on its own line. */
static void
test_spawn_footer_own_line(void **state)
{
	struct fx *f = *state;
	char *body;
	size_t len;

	fx_sh(f, "printf 'no newline'; exit 3");
	fx_start(f, 1 << 20);
	fx_finish(f);
	assert_int_equal(f->st.exit_code, 3);
	body = fx_body(f, 1, &len);
	assert_string_equal(body, "no newline\n");
	free(body);
}

/* contrib/handlers/demo end to end: a temporary failure, then success. */
static void
test_demo_handler(void **state)
{
	struct fx *f = *state;
	char path[4096], out[RESULT_MAX + 1], val[64];

	if (getcwd(path, sizeof(path) - 32) == NULL)
		skip();
	strcat(path, "/contrib/handlers/demo");
	if (access(path, X_OK) < 0)
		skip(); /* not run from the top of the tree */
	f->cmd[0] = path;
	f->cmd[1] = "--provider";
	f->cmd[2] = "square";
	f->cmd[3] = NULL;
	f->opts[0] = (struct job_option){"sleep", "0.05"};
	f->opts[1] = (struct job_option){"fail_attempts", "1"};
	f->job.noptions = 2;

	fx_start(f, 1 << 20);
	fx_finish(f);
	assert_int_equal(f->st.exit_code, 75);
	assert_non_null(strstr(f->run.last_err, "provider unavailable"));
	assert_int_equal(runner_result_read(f->dirfd, JOB_ID ".result", out), 0);
	assert_string_equal(out, "");

	f->spec.attempt = 2;
	fx_start(f, 1 << 20);
	fx_finish(f);
	assert_int_equal(f->st.exit_code, 0);
	assert_int_equal(runner_result_read(f->dirfd, JOB_ID ".result", out), 0);
	assert_int_equal(runner_result_get(out, "records", val, sizeof(val)), 0);
	assert_string_equal(val, "22"); /* 2 lines of job, attempt 2 */
	assert_int_equal(runner_result_get(out, "cursor", val, sizeof(val)), 0);
	assert_int_equal(strlen(val), strlen("2025-01-02T03:00:00Z"));
	char *log = fx_log(f, NULL);
	assert_non_null(strstr(log, "syncing venue venue-1 with provider square "
				    "(type full, attempt 2)"));
	free(log);
}

static void
test_misc_errors(void **state)
{
	struct fx *f = *state;
	struct run run;
	char err[ERRLEN] = "";

	memset(&run, 0, sizeof(run));
	run.out_fd = run.err_fd = run.pidfd = run.log_fd = -1;
	assert_int_equal(runner_signal(&run, SIGTERM), -ESRCH);
	assert_int_equal(runner_drain(&run, 0), -EINVAL);
	assert_int_equal(runner_drain(&run, -1), -EINVAL);

	f->cmd[0] = "relative/handler";
	f->cmd[1] = NULL;
	assert_int_equal(runner_start(&f->spec, f->dirfd, 4096, NULL, &run,
				      err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "absolute"));
	assert_int_equal(run.pidfd, -1);

	f->cmd[0] = "/bin/true";
	f->spec.job_id = "../escape";
	assert_int_equal(runner_start(&f->spec, f->dirfd, 4096, NULL, &run,
				      err, sizeof(err)), -EINVAL);

	/*
	 * A symlink where the log goes is refused, not followed: the
	 * output is lost, the job is not, and log_errno says why.
	 */
	f->spec.job_id = JOB_ID;
	assert_int_equal(symlinkat("/dev/null", f->dirfd, JOB_ID ".log"), 0);
	fx_sh(f, "echo lost");
	fx_start(f, 4096);
	fx_finish(f);
	assert_int_equal(f->st.exit_code, 0);
	assert_int_equal(f->run.log_errno, ELOOP);
}

/*
 * A handler that prints nothing leaves no log: the file is created on the
 * first output, header first, and an attempt that printed nothing adds
 * nothing to a log an earlier attempt made.
 */
static void
test_spawn_quiet_no_log(void **state)
{
	struct fx *f = *state;
	char *body;
	size_t len;

	f->cmd[0] = "/bin/true";
	f->cmd[1] = NULL;
	fx_start(f, 1 << 20);
	assert_int_equal(f->run.log_fd, -1);
	fx_finish(f);
	assert_int_equal(f->st.exit_code, 0);
	assert_int_equal(f->run.log_errno, 0);
	assert_int_equal(faccessat(f->dirfd, JOB_ID ".log", F_OK, 0), -1);
	assert_int_equal(errno, ENOENT);

	/* Attempt 2 prints, late: the header still says when it started. */
	f->spec.attempt = 2;
	fx_sh(f, "sleep 0.2; echo late");
	fx_start(f, 1 << 20);
	fx_finish(f);
	body = fx_body(f, 2, &len);
	assert_string_equal(body, "late\n");
	free(body);

	/* Attempt 3 is quiet again: the log stays as attempt 2 left it. */
	f->spec.attempt = 3;
	f->cmd[0] = "/bin/true";
	f->cmd[1] = NULL;
	fx_start(f, 1 << 20);
	fx_finish(f);
	body = fx_body(f, 2, &len);
	assert_string_equal(body, "late\n");
	free(body);
}

/*
 * runner_peek(): the exit status while the handler stays a zombie, as
 * often as asked, and runner_reap() then finds the same; -EAGAIN while
 * it runs; -EINVAL with nothing started.
 */
static void
test_spawn_peek(void **state)
{
	static const struct {
		const char *name, *script;
		bool beside;
		int exit_code, signal;
	} rows[] = {
		{"exit 0", "exit 0", false, 0, 0},
		{"exit 0 beside", "exit 0", true, 0, 0},
		{"exit 3", "exit 3", true, 3, 0},
		{"killed", "kill -KILL $$", true, -1, SIGKILL},
	};
	struct fx *f = *state;
	struct run_status st;

	assert_int_equal(runner_peek(&f->run, &st), -EINVAL);
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		int64_t deadline = util_mono_ms() + DEADLINE_MS;
		char proc[32], script[256];
		pid_t pid;

		print_message("peek: %s\n", rows[i].name);
		unlinkat(f->dirfd, "go", 0);
		snprintf(script, sizeof(script), "while [ ! -e %s/go ]; do "
			 "sleep 0.01; done; %s", f->dir, rows[i].script);
		fx_sh(f, script);
		f->spec.beside = rows[i].beside;
		fx_start(f, 1 << 20);
		pid = f->run.pid;
		assert_int_equal(runner_peek(&f->run, &st), -EAGAIN);
		fx_write(f, "go", "", 0);
		while (!fx_pump(f, fx_left(deadline)))
			assert_true(fx_left(deadline) > 0);
		for (int round = 0; round < 2; round++) {
			memset(&st, 0x55, sizeof(st));
			assert_int_equal(runner_peek(&f->run, &st), 0);
			assert_int_equal(st.exit_code, rows[i].exit_code);
			assert_int_equal(st.signal, rows[i].signal);
			assert_int_equal(st.duration_ms, 0);
		}
		/* Not reaped: the zombie, and so its group id, is ours still. */
		snprintf(proc, sizeof(proc), "/proc/%d", (int)pid);
		assert_int_equal(access(proc, F_OK), 0);
		fx_finish(f);
		assert_int_equal(f->st.exit_code, rows[i].exit_code);
		assert_int_equal(f->st.signal, rows[i].signal);
		assert_int_equal(runner_peek(&f->run, &st), -EINVAL);
		unlinkat(f->dirfd, JOB_ID ".log", 0);
	}
}

#define SPAWN(t) cmocka_unit_test_setup_teardown(t, fx_setup, fx_teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_env_table),
		SPAWN(test_result_read_table),
		SPAWN(test_result_read_long),
		SPAWN(test_result_read_files),
		cmocka_unit_test(test_result_get_table),
		cmocka_unit_test(test_proc_start),
		SPAWN(test_spawn_stdin_and_log),
		SPAWN(test_spawn_stdio_closed),
		SPAWN(test_spawn_env),
		SPAWN(test_spawn_only_stdio),
		SPAWN(test_spawn_log_cap),
		SPAWN(test_spawn_grandchild_killed),
		SPAWN(test_spawn_sigterm),
		SPAWN(test_spawn_exec_fails),
		SPAWN(test_spawn_record),
		SPAWN(test_spawn_ticks_many),
		SPAWN(test_spawn_record_fails),
		SPAWN(test_spawn_ignores_sigterm),
		cmocka_unit_test(test_adopt),
		SPAWN(test_spawn_signal_state),
		SPAWN(test_spawn_signal_state_changed),
		SPAWN(test_spawn_last_error),
		SPAWN(test_spawn_footer_own_line),
		SPAWN(test_demo_handler),
		SPAWN(test_misc_errors),
		SPAWN(test_spawn_quiet_no_log),
		SPAWN(test_spawn_peek),
	};

	/* The fd 0 test needs 0-2 open to begin with; a harness may not. */
	for (int fd = 0; fd < 3; fd++)
		if (fcntl(fd, F_GETFD) < 0 && open("/dev/null", O_RDWR) != fd)
			return 1;
	/* Orphaned grandchildren become ours: see the top comment. */
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0) {
		perror("prctl(PR_SET_CHILD_SUBREAPER)");
		return 1;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
