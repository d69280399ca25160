/*
 * cli_logs.c - `logs`: a job's handler output, and `check`: the config
 * and the spool, validated the way `nginx -t` does.
 *
 * logs -f follows logs/<id>.log while the job is live: while its file is
 * in processing, and, while the daemon runs, in pending (waiting for its
 * turn, or for another attempt after a back-off). It waits on inotify
 * (the logs directory for writes to the log, pending and processing for
 * the file's moves) and on a pidfd of the daemon (a pending job of a
 * daemon that has gone will not run), never on a timer: the watches are
 * added before the first look, so no write and no move can fall between
 * a look and the wait. When the file has left processing for good the
 * handler may still be writing its last lines (a cancelled handler is
 * killed after the move, and the daemon writes the attempt's footer when
 * it has reaped it), so the log is followed up to the attempt's footer,
 * for at most LOGS_LINGER_MS.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sysexits.h>
#include <unistd.h>

#include "cli.h"

#define LOGS_LINGER_MS 10000

/* ---- logs ------------------------------------------------------------- */

struct follow {
	int log_fd;      /* -1 until the log exists */
	ino_t ino;       /* and which file it is */
	dev_t dev;
	off_t off;       /* bytes of it copied to stdout */
	int in_fd;       /* inotify */
	int wd_logs, wd_proc, wd_pend;
	int daemon_fd;   /* pidfd of the daemon; -1: none, or gone */
	bool daemon_gone; /* it has exited since we started */
	const char *id;
	char log_name[ID_MAX + 8];
	char job_name[ID_MAX + 8];
	char line[64];   /* the start of the line being copied */
	size_t linelen;
	bool attempt_open; /* a header seen, its footer not yet */
};

/* Watch the attempt headers and footers go by (runner.c writes them). */
static void
log_track(struct follow *f, const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (p[i] != '\n') {
			if (f->linelen + 1 < sizeof(f->line))
				f->line[f->linelen++] = p[i];
			continue;
		}
		f->line[f->linelen] = '\0';
		if (strncmp(f->line, "=== attempt ", 12) == 0) {
			if (strstr(f->line, " ended: ") != NULL)
				f->attempt_open = false;
			else if (strstr(f->line, ", started ") != NULL)
				f->attempt_open = true;
		}
		f->linelen = 0;
	}
}

static int
log_open(struct cli *c, struct follow *f)
{
	struct stat st;
	int fd;

	fd = openat(c->sp.logs_fd, f->log_name,
		    O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return -EINVAL;
	}
	if (f->log_fd >= 0 && st.st_ino == f->ino && st.st_dev == f->dev) {
		close(fd); /* the same file: go on where we are */
		return 0;
	}
	if (f->log_fd >= 0)
		close(f->log_fd);
	f->ino = st.st_ino;
	f->dev = st.st_dev;
	f->log_fd = fd;
	f->off = 0;
	f->linelen = 0;
	f->attempt_open = false;
	return 0;
}

/* Copy what the log has beyond what we have copied; 0 or -errno. */
static int
log_drain(struct follow *f)
{
	char buf[65536];
	struct stat st;

	if (f->log_fd < 0)
		return 0;
	/* Cut shorter than what we read (a rewrite): start over. */
	if (fstat(f->log_fd, &st) == 0 && st.st_size < f->off)
		f->off = 0;
	for (;;) {
		ssize_t n = pread(f->log_fd, buf, sizeof(buf), f->off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		if (fwrite(buf, 1, (size_t)n, stdout) != (size_t)n)
			return -EIO;
		log_track(f, buf, (size_t)n);
		f->off += n;
	}
	return fflush(stdout) == EOF ? -EIO : 0;
}

/* Where the job's file is: pending, processing, or elsewhere (NONE). */
static enum job_state
job_where(struct cli *c, const struct follow *f)
{
	enum job_state s = cli_locate(c, f->id, STATE_PROCESSING);

	return s == STATE_PENDING || s == STATE_PROCESSING ? s : STATE_NONE;
}

/*
 * Wait for inotify events or the daemon's exit (timeout_ms -1: for
 * ever) and read them. Returns 1 when something about our log or job
 * happened (or the queue overflowed, which could hide it, or the daemon
 * exited), 0 on timeout, or -errno. *reopen is set when the log was
 * created or replaced.
 */
static int
follow_wait(struct follow *f, int timeout_ms, bool *reopen)
{
	char buf[4096]
		__attribute__((aligned(__alignof__(struct inotify_event))));
	struct pollfd pfd[2] = {
		{.fd = f->in_fd, .events = POLLIN},
		{.fd = f->daemon_fd, .events = POLLIN},
	};
	int hit = 0;
	ssize_t n;

	int pr = poll(pfd, f->daemon_fd >= 0 ? 2 : 1, timeout_ms);
	if (pr < 0)
		return errno == EINTR ? 1 : -errno;
	if (pr == 0)
		return 0;
	if (f->daemon_fd >= 0 && pfd[1].revents != 0) {
		/* The daemon has exited: nothing runs a pending job now. */
		close(f->daemon_fd);
		f->daemon_fd = -1;
		f->daemon_gone = true;
		hit = 1;
	}
	if (pfd[0].revents == 0)
		return hit;
	n = read(f->in_fd, buf, sizeof(buf));
	if (n < 0)
		return errno == EINTR || errno == EAGAIN ? 1 : -errno;
	for (char *p = buf; p < buf + n;) {
		const struct inotify_event *ev = (const void *)p;
		p += sizeof(*ev) + ev->len;
		if (ev->mask & IN_Q_OVERFLOW) {
			hit = 1;
			*reopen = true;
			continue;
		}
		if (ev->len == 0)
			continue;
		if (ev->wd == f->wd_logs &&
		    strcmp(ev->name, f->log_name) == 0) {
			hit = 1;
			if (ev->mask & (IN_CREATE | IN_MOVED_TO))
				*reopen = true;
		} else if ((ev->wd == f->wd_proc || ev->wd == f->wd_pend) &&
			   strcmp(ev->name, f->job_name) == 0) {
			hit = 1;
		}
	}
	return hit;
}

/* Is the daemon we found at the start still there? */
static bool
daemon_alive(const struct cli *c)
{
	return c->daemon != 0 && kill(c->daemon, 0) == 0;
}

static int
logs_follow(struct cli *c, struct follow *f)
{
	char path[PATH_MAX];
	bool reopen = false;
	int rc;

	f->in_fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	if (f->in_fd < 0) {
		cli_warn("inotify: %m: cannot follow the log");
		return EX_OSERR;
	}
	snprintf(path, sizeof(path), "%s/logs", c->sp.path);
	f->wd_logs = inotify_add_watch(f->in_fd, path,
				       IN_MODIFY | IN_CREATE | IN_MOVED_TO |
				       IN_CLOSE_WRITE | IN_ONLYDIR);
	if (f->wd_logs < 0) {
		cli_warn("inotify_add_watch %s: %m: cannot follow the log",
			 path);
		return EX_OSERR;
	}
	snprintf(path, sizeof(path), "%s/processing", c->sp.path);
	f->wd_proc = inotify_add_watch(f->in_fd, path,
				       IN_MOVED_FROM | IN_DELETE |
				       IN_MOVED_TO | IN_CREATE | IN_ONLYDIR);
	if (f->wd_proc < 0) {
		cli_warn("inotify_add_watch %s: %m: cannot follow the log",
			 path);
		return EX_OSERR;
	}
	snprintf(path, sizeof(path), "%s/pending", c->sp.path);
	f->wd_pend = inotify_add_watch(f->in_fd, path,
				       IN_MOVED_FROM | IN_DELETE |
				       IN_MOVED_TO | IN_CREATE | IN_ONLYDIR);
	if (f->wd_pend < 0) {
		cli_warn("inotify_add_watch %s: %m: cannot follow the log",
			 path);
		return EX_OSERR;
	}
	/* A daemon in another pid namespace has no pidfd here: no matter. */
	if (c->daemon != 0)
		f->daemon_fd = (int)syscall(SYS_pidfd_open, c->daemon, 0);
	/* Watches first, then the first look: nothing falls in between. */
	if (f->log_fd < 0)
		log_open(c, f);
	if (c->daemon == 0 && job_where(c, f) != STATE_NONE) {
		/* Nothing runs it, nothing writes: no point in waiting. */
		rc = log_drain(f);
		cli_warn("syncspoold is not running on %s: nothing runs the "
			 "job now", c->sp.path);
		return rc < 0 ? EX_IOERR : EX_OK;
	}
	/*
	 * While it runs, or waits to run (its turn, or its next attempt)
	 * under a daemon that is still there.
	 */
	for (;;) {
		enum job_state where = job_where(c, f);
		if (where == STATE_NONE ||
		    (where == STATE_PENDING &&
		     (f->daemon_gone ||
		      (f->daemon_fd < 0 && !daemon_alive(c)))))
			break;
		if ((rc = log_drain(f)) < 0)
			goto fail;
		rc = follow_wait(f, -1, &reopen);
		if (rc < 0)
			goto fail;
		if (reopen || f->log_fd < 0) {
			log_drain(f); /* the old file's last bytes */
			log_open(c, f);
			reopen = false;
		}
	}
	/* Done with: the last lines, up to the attempt's footer. */
	int64_t deadline = util_mono_ms() + LOGS_LINGER_MS;
	for (;;) {
		if ((rc = log_drain(f)) < 0)
			goto fail;
		int64_t left = deadline - util_mono_ms();
		if (!f->attempt_open || left <= 0)
			break;
		rc = follow_wait(f, (int)left, &reopen);
		if (rc < 0)
			goto fail;
		if (reopen || f->log_fd < 0) {
			log_drain(f);
			log_open(c, f);
			reopen = false;
		}
	}
	return EX_OK;
fail:
	if (rc == -EIO)
		return EX_IOERR;
	cli_warn("following %s/logs/%s: %s", c->sp.path, f->log_name,
		 strerror(-rc));
	return EX_IOERR;
}

int
cmd_logs(struct cli *c, int argc, char **argv)
{
	static const struct option longopts[] = {
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct follow f = {.log_fd = -1, .in_fd = -1, .daemon_fd = -1};
	bool follow = false;
	const char *id;
	int ch, rc;

	while ((ch = cli_getopt(argc, argv, ":f", longopts)) != -1) {
		switch (ch) {
		case 'f':
			follow = true;
			break;
		case 'h':
			return EX_OK;
		default:
			return EX_USAGE;
		}
	}
	if (optind >= argc)
		return cli_usage_error("logs", "logs: missing job id");
	if (optind + 1 < argc)
		return cli_extra_arg("logs", argv[optind + 1]);
	id = argv[optind];
	if ((rc = cli_check_id(id)) != EX_OK)
		return rc;
	if ((rc = cli_open(c, NEED_SPOOL)) != EX_OK)
		return rc;
	snprintf(f.log_name, sizeof(f.log_name), "%s.log", id);
	spool_id_to_name(id, f.job_name);
	f.id = id;

	rc = log_open(c, &f);
	if (rc == -ENOENT &&
	    cli_locate(c, id, STATE_PROCESSING) == STATE_NONE) {
		cli_warn("no such job %s (and no log %s/logs/%s)", id,
			 c->sp.path, f.log_name);
		return EX_NOINPUT;
	}
	if (rc < 0 && rc != -ENOENT) {
		cli_warn("cannot read %s/logs/%s: %s", c->sp.path, f.log_name,
			 strerror(-rc));
		return EX_NOINPUT;
	}
	if (follow) {
		rc = logs_follow(c, &f);
	} else {
		rc = log_drain(&f) < 0 ? EX_IOERR : EX_OK;
	}
	/*
	 * The daemon creates the log on a handler's first output: a job
	 * whose handlers printed nothing (or that has not run) has none.
	 * Said on stderr, so that stdout stays exactly the log.
	 */
	if (rc == EX_OK && f.log_fd < 0)
		cli_warn("no output for %s: its handler has printed nothing "
			 "(there is no %s/logs/%s)", id, c->sp.path,
			 f.log_name);
	if (f.log_fd >= 0)
		close(f.log_fd);
	if (f.in_fd >= 0)
		close(f.in_fd);
	if (f.daemon_fd >= 0)
		close(f.daemon_fd);
	return rc;
}

/* ---- check ------------------------------------------------------------ */

struct report {
	unsigned errors;
	unsigned warnings;
};

static void __attribute__((format(printf, 3, 4)))
say(struct report *r, const char *level, const char *fmt, ...)
{
	va_list ap;

	if (strcmp(level, "error") == 0)
		r->errors++;
	else if (strcmp(level, "warning") == 0)
		r->warnings++;
	fputs("syncspool: ", stdout);
	if (*level != '\0')
		printf("%s: ", level);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
}

static void
check_audit(enum audit_level level, const char *msg, void *arg)
{
	say(arg, level == AUDIT_ERROR ? "error" : "warning", "%s", msg);
}

/*
 * The user the daemon runs as, which the checks are for: the owner of
 * db/, which the daemon made, else whoever runs this.
 */
static uid_t
check_uid(const char *spool)
{
	char path[PATH_MAX];
	struct stat st;

	snprintf(path, sizeof(path), "%s/db", spool);
	return stat(path, &st) == 0 ? st.st_uid : geteuid();
}

/*
 * One directory of the spool: there, a directory, usable, and what the
 * daemon's start-up checks say of it (spool_audit_dir()).
 */
static void
check_dir(struct report *r, const char *spool, const char *name,
	  const struct stat *root, const struct stat *pending, uid_t uid,
	  bool need_write)
{
	char path[PATH_MAX];
	struct statfs sfs;
	struct stat st;

	if (strcmp(name, ".") == 0)
		snprintf(path, sizeof(path), "%s", spool);
	else
		snprintf(path, sizeof(path), "%s/%s", spool, name);
	if (lstat(path, &st) < 0) {
		if (errno == ENOENT)
			say(r, "error", "%s is missing: create it (mkdir %s), "
			    "or start syncspoold once, which creates the "
			    "spool", path, path);
		else
			say(r, "error", "%s: %s", path, strerror(errno));
		return;
	}
	if (S_ISLNK(st.st_mode)) {
		say(r, "error", "%s is a symbolic link: the spool's "
		    "directories are never followed through links; make it "
		    "a real directory", path);
		return;
	}
	if (!S_ISDIR(st.st_mode)) {
		say(r, "error", "%s is not a directory: move it away and "
		    "create the directory", path);
		return;
	}
	if (statfs(path, &sfs) < 0) {
		say(r, "error", "%s: %s", path, strerror(errno));
		return;
	}
	spool_audit_dir(path, name, &st, (unsigned long)sfs.f_type, root,
			pending, uid, check_audit, r);
	if (need_write && faccessat(AT_FDCWD, path, W_OK | X_OK,
				    AT_EACCESS) < 0)
		say(r, strcmp(name, "pending") == 0 ? "error" : "warning",
		    "%s is not writable by you: commands that move or add "
		    "jobs there will fail (run them as the spool's owner, "
		    "or give its group write access)", path);
}

static void
check_spool(struct cli *c, struct report *r)
{
	static const char *const dirs[] = {"pending", "processing", "completed",
					   "failed", "paused", "logs", "db"};
	const char *spool = c->cfg.spool;
	char path[PATH_MAX];
	struct stat st, pst;
	const struct stat *pending = NULL;
	unsigned before = r->errors;
	uid_t uid = check_uid(spool);

	if (stat(spool, &st) < 0) {
		say(r, "error", "the spool %s: %s: create it, or fix `spool:` "
		    "in %s", spool, strerror(errno), c->config_path);
		return;
	}
	if (!S_ISDIR(st.st_mode)) {
		say(r, "error", "the spool %s is not a directory: fix `spool:` "
		    "in %s", spool, c->config_path);
		return;
	}
	snprintf(path, sizeof(path), "%s/pending", spool);
	if (lstat(path, &pst) == 0 && S_ISDIR(pst.st_mode))
		pending = &pst;
	check_dir(r, spool, ".", &st, pending, uid, false);
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
		check_dir(r, spool, dirs[i], &st, pending, uid,
			  strcmp(dirs[i], "db") != 0 &&
			  strcmp(dirs[i], "logs") != 0 &&
			  strcmp(dirs[i], "completed") != 0);
	if (r->errors == before)
		say(r, "", "the spool %s is ok: its directories are there, on "
		    "one local filesystem", spool);
	/* The config and the handlers, as the daemon checks them. */
	config_audit(&c->cfg, uid, check_audit, r);

	struct statvfs vfs;
	if (statvfs(spool, &vfs) == 0 && vfs.f_blocks > 0) {
		unsigned sp = (unsigned)(vfs.f_bavail * 100 / vfs.f_blocks);
		unsigned in = vfs.f_files == 0 ? 100 :
			      (unsigned)(vfs.f_favail * 100 / vfs.f_files);
		if (sp < c->cfg.min_free_pct || in < c->cfg.min_free_pct)
			say(r, "warning", "the spool's filesystem has %u%% "
			    "space and %u%% inodes free, under min_free %u%%: "
			    "syncspoold claims no jobs until there is more",
			    sp, in, c->cfg.min_free_pct);
	}
}

static void
check_index(struct cli *c, struct report *r)
{
	char db[PATH_MAX], err[ERRLEN];
	struct store *st = NULL;
	struct spool sp;
	pid_t pid = 0;
	int rc;

	snprintf(db, sizeof(db), "%s/db", c->cfg.spool);
	rc = store_open(db, false, &st, err, sizeof(err));
	if (rc == -ENOENT)
		say(r, "note", "no index in %s yet: syncspoold creates it when "
		    "it first starts", db);
	else if (rc < 0)
		say(r, "error", "the index in %s cannot be read: %s", db, err);
	else
		say(r, "", "the index in %s is readable", db);
	if (st != NULL)
		store_close(st);
	if (spool_open(c->cfg.spool, false, &sp, err, sizeof(err)) == 0) {
		if (spool_lock_holder(&sp, &pid) == 0 && pid != 0)
			say(r, "", "syncspoold is running, pid %d", (int)pid);
		else
			say(r, "note", "syncspoold is not running");
		spool_close(&sp);
	}
}

int
cmd_check(struct cli *c, int argc, char **argv)
{
	static const struct option longopts[] = {
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct report r = {0, 0};
	char err[ERRLEN];
	int ch;

	while ((ch = cli_getopt(argc, argv, ":", longopts)) != -1) {
		if (ch == 'h')
			return EX_OK;
		return EX_USAGE;
	}
	if (optind < argc)
		return cli_extra_arg("check", argv[optind]);
	c->config_path = config_find(c->config_opt);
	if (config_load(c->config_path, &c->cfg, err, sizeof(err)) < 0) {
		say(&r, "error", "%s", err);
		say(&r, "", "the configuration file %s test failed",
		    c->config_path);
		return EX_CONFIG;
	}
	c->have_cfg = true;
	say(&r, "", "the configuration file %s syntax is ok", c->config_path);
	if (c->cfg.nproviders == 0) {
		say(&r, "warning", "no providers are configured: every job "
		    "will fail; add one under `providers:`");
	} else {
		printf("syncspool: %zu provider%s:", c->cfg.nproviders,
		       c->cfg.nproviders == 1 ? "" : "s");
		for (size_t i = 0; i < c->cfg.nproviders; i++)
			printf("%s %s", i > 0 ? "," : "",
			       c->cfg.providers[i].name);
		printf("\n");
	}
	check_spool(c, &r);
	if (r.errors == 0)
		check_index(c, &r);
	if (r.errors > 0) {
		say(&r, "", "the configuration file %s test failed: %u "
		    "problem%s above", c->config_path, r.errors,
		    r.errors == 1 ? "" : "s");
		return EX_UNAVAILABLE;
	}
	say(&r, "", "the configuration file %s test is successful%s",
	    c->config_path, r.warnings > 0 ? ", with warnings" : "");
	return EX_OK;
}
