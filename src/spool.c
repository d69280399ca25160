/*
 * spool.c - the spool directory: state directories, safe reads, moves,
 * names and ids, and the daemon's lock. See spool.h for the contract.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/vfs.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "spool.h"

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#endif

static int
xrenameat2(int olddirfd, const char *oldpath, int newdirfd,
	   const char *newpath, unsigned int flags)
{
	return (int)syscall(SYS_renameat2, olddirfd, oldpath, newdirfd, newpath,
			    flags);
}

const char *
spool_dir_name(enum job_state s)
{
	return state_name(s);
}

static int
open_dir(int at, const char *name, bool create, int *out, char *err,
	 size_t errlen, const char *where)
{
	int fd;

	if (create && mkdirat(at, name, 0755) < 0 && errno != EEXIST) {
		util_seterr(err, errlen, "cannot create %s/%s: %s", where, name,
			    strerror(errno));
		return -errno;
	}
	fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		util_seterr(err, errlen,
			    "cannot open directory %s/%s: %s (create it, or "
			    "start syncspoold once, which creates the spool)",
			    where, name, strerror(e));
		return -e;
	}
	*out = fd;
	return 0;
}

int
spool_open(const char *path, bool create, struct spool *sp, char *err,
	   size_t errlen)
{
	int rc;

	memset(sp, 0, sizeof(*sp));
	sp->root_fd = sp->logs_fd = sp->db_fd = sp->lock_fd = -1;
	for (int s = 0; s < STATE_COUNT; s++)
		sp->dir_fd[s] = -1;
	sp->path = realpath(path, NULL);
	if (sp->path == NULL) {
		rc = -errno;
		util_seterr(err, errlen, "spool %s: %s", path, strerror(errno));
		goto fail;
	}
	rc = open_dir(AT_FDCWD, sp->path, false, &sp->root_fd, err, errlen,
		      "spool");
	if (rc < 0)
		goto fail;
	for (int s = STATE_PENDING; s < STATE_COUNT; s++) {
		rc = open_dir(sp->root_fd, state_name(s), create,
			      &sp->dir_fd[s], err, errlen, sp->path);
		if (rc < 0)
			goto fail;
	}
	rc = open_dir(sp->root_fd, "logs", create, &sp->logs_fd, err, errlen,
		      sp->path);
	if (rc < 0)
		goto fail;
	rc = open_dir(sp->root_fd, "db", create, &sp->db_fd, err, errlen,
		      sp->path);
	if (rc < 0)
		goto fail;
	return 0;
fail:
	spool_close(sp);
	return rc;
}

void
spool_close(struct spool *sp)
{
	int *fds[] = {&sp->root_fd, &sp->logs_fd, &sp->db_fd, &sp->lock_fd};

	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
		if (*fds[i] >= 0)
			close(*fds[i]);
		*fds[i] = -1;
	}
	for (int s = 0; s < STATE_COUNT; s++) {
		if (sp->dir_fd[s] >= 0)
			close(sp->dir_fd[s]);
		sp->dir_fd[s] = -1;
	}
	free(sp->path);
	sp->path = NULL;
}

/* File systems, by statfs(2)'s f_type, that a spool must not be on. */
static const struct {
	unsigned long magic;
	const char *what;
} spool_remote_fs[] = {
	{0x6969, "NFS"},
	{0xff534d42, "CIFS"},
	{0xfe534d42, "SMB"},
	{0x517b, "SMB"},
	{0x65735546, "a FUSE file system"},
	{0x01021997, "9p"},
	{0x00c36400, "Ceph"},
};
#define SPOOL_TMPFS_MAGIC 0x01021994

void
spool_audit_dir(const char *path, const char *name, const struct stat *st,
		unsigned long fstype, const struct stat *root,
		const struct stat *pending, uid_t euid, audit_cb cb, void *arg)
{
	bool is_pending = strcmp(name, "pending") == 0;
	bool is_db = strcmp(name, "db") == 0 || strcmp(name, "logs") == 0;
	bool top = strcmp(name, ".") == 0;

	if (st->st_dev != root->st_dev)
		util_audit(cb, arg, AUDIT_ERROR, "%s is on another file system "
			   "than the spool: a job moves by one rename, which "
			   "cannot cross file systems; keep every spool "
			   "directory on one", path);
	for (size_t i = 0; top && i < sizeof(spool_remote_fs) /
				      sizeof(spool_remote_fs[0]); i++)
		if (fstype == spool_remote_fs[i].magic)
			util_audit(cb, arg, AUDIT_ERROR, "%s is on %s, whose "
				   "renames, locks and syncs do not keep the "
				   "promises the spool needs, and whose other "
				   "clients' changes inotify never sees; put "
				   "the spool on a local file system", path,
				   spool_remote_fs[i].what);
	if (top && fstype == SPOOL_TMPFS_MAGIC)
		util_audit(cb, arg, AUDIT_WARNING, "%s is on tmpfs: every job "
			   "and the history are lost at the next reboot", path);
	if ((st->st_mode & S_IWOTH) && !(st->st_mode & S_ISVTX))
		util_audit(cb, arg, AUDIT_ERROR, "%s is writable by everyone "
			   "without the sticky bit, so anyone could remove or "
			   "replace others' jobs; chmod o-w (or +t) it, and "
			   "give uploaders a group instead", path);
	else if (st->st_mode & S_IWOTH)
		util_audit(cb, arg, AUDIT_WARNING, "%s is writable by everyone: "
			   "anyone may %s; chmod o-w it and give uploaders a "
			   "group instead", path, is_pending ? "queue jobs" :
			   "add files there");
	if (st->st_uid != euid && st->st_uid != 0)
		util_audit(cb, arg, euid == 0 ? AUDIT_WARNING : AUDIT_ERROR,
			   "%s is owned by uid %ld, not by the user syncspoold "
			   "runs as (uid %ld), so that user can change what "
			   "the daemon trusts; chown it to uid %ld%s", path,
			   (long)st->st_uid, (long)euid,
			   euid == 0 ? (long)st->st_uid : (long)euid,
			   euid == 0 ? ", or run syncspoold as that user" : "");
	/*
	 * pending is the uploaders' (group-writable on purpose); another
	 * directory their group may write lets them stop, fail or forge
	 * jobs. The index and the logs are the daemon's alone.
	 */
	if (!is_pending && !top && (st->st_mode & S_IWGRP)) {
		if (is_db)
			util_audit(cb, arg, AUDIT_WARNING, "%s is writable by "
				   "its group (gid %ld), which can then change "
				   "the %s; chmod g-w it", path,
				   (long)st->st_gid, strcmp(name, "db") == 0 ?
				   "index and the history" : "handlers' logs");
		else if (pending != NULL && (pending->st_mode & S_IWGRP) &&
			 pending->st_gid == st->st_gid &&
			 pending->st_gid != 0)
			util_audit(cb, arg, AUDIT_WARNING, "%s is writable by "
				   "gid %ld, the group that uploads into "
				   "pending/: uploaders could stop, fail or "
				   "forge jobs; chmod g-w it, or give "
				   "pending/ another group", path,
				   (long)st->st_gid);
	}
}

/* Audit one open directory of the spool. */
static void
spool_audit_fd(struct spool *sp, int fd, const char *name,
	       const struct stat *root, const struct stat *pending, uid_t euid,
	       audit_cb cb, void *arg)
{
	char path[PATH_MAX + 16];
	struct statfs sfs;
	struct stat st;

	if (strcmp(name, ".") == 0)
		snprintf(path, sizeof(path), "%s", sp->path);
	else
		snprintf(path, sizeof(path), "%s/%s", sp->path, name);
	if (fstat(fd, &st) < 0 || fstatfs(fd, &sfs) < 0) {
		util_audit(cb, arg, AUDIT_ERROR, "%s: %s", path,
			   strerror(errno));
		return;
	}
	spool_audit_dir(path, name, &st, (unsigned long)sfs.f_type, root,
			pending, euid, cb, arg);
}

struct spool_audit_count {
	audit_cb cb;
	void *arg;
	unsigned errors;
};

static void
spool_audit_counted(enum audit_level level, const char *msg, void *arg)
{
	struct spool_audit_count *c = arg;

	if (level == AUDIT_ERROR)
		c->errors++;
	c->cb(level, msg, c->arg);
}

unsigned
spool_audit(struct spool *sp, uid_t euid, audit_cb cb, void *arg)
{
	struct spool_audit_count c = {.cb = cb, .arg = arg};
	struct stat root, pending;
	const struct stat *pp = NULL;

	if (fstat(sp->root_fd, &root) < 0) {
		util_audit(spool_audit_counted, &c, AUDIT_ERROR, "%s: %s",
			   sp->path, strerror(errno));
		return c.errors;
	}
	if (fstat(sp->dir_fd[STATE_PENDING], &pending) == 0)
		pp = &pending;
	spool_audit_fd(sp, sp->root_fd, ".", &root, pp, euid,
		       spool_audit_counted, &c);
	for (int s = STATE_PENDING; s < STATE_COUNT; s++)
		spool_audit_fd(sp, sp->dir_fd[s], state_name(s), &root, pp,
			       euid, spool_audit_counted, &c);
	spool_audit_fd(sp, sp->logs_fd, "logs", &root, pp, euid,
		       spool_audit_counted, &c);
	spool_audit_fd(sp, sp->db_fd, "db", &root, pp, euid,
		       spool_audit_counted, &c);
	return c.errors;
}

/* The pid holding a POSIX write lock on fd's file, or 0. */
static int
lock_query(int fd, pid_t *holder)
{
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};

	if (fcntl(fd, F_GETLK, &fl) < 0)
		return -errno;
	*holder = fl.l_type == F_UNLCK ? 0 : fl.l_pid;
	return 0;
}

int
spool_lock(struct spool *sp, pid_t *holder, char *err, size_t errlen)
{
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
	char buf[32];
	int fd, rc, n;

	*holder = 0;
	/*
	 * A classic POSIX lock, not flock(): F_GETLK tells others the
	 * holder's pid without taking the lock. Such a lock is dropped when
	 * the process closes any fd on the file, so this file is opened once
	 * and only here; it is not inherited by handlers (fork drops it).
	 */
	fd = openat(sp->db_fd, SPOOL_LOCK_NAME,
		    O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0) {
		rc = -errno;
		util_seterr(err, errlen, "cannot open %s/db/%s: %s", sp->path,
			    SPOOL_LOCK_NAME, strerror(errno));
		return rc;
	}
	if (fcntl(fd, F_SETLK, &fl) < 0) {
		rc = -errno;
		if (rc == -EAGAIN || rc == -EACCES) {
			rc = -EAGAIN;
			lock_query(fd, holder);
			util_seterr(err, errlen,
				    "another syncspoold (pid %ld) already runs "
				    "on %s; stop it first",
				    (long)*holder, sp->path);
		} else {
			util_seterr(err, errlen, "cannot lock %s/db/%s: %s",
				    sp->path, SPOOL_LOCK_NAME, strerror(-rc));
		}
		close(fd);
		return rc;
	}
	n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) < 0 || pwrite(fd, buf, (size_t)n, 0) != n) {
		rc = -errno;
		util_seterr(err, errlen, "cannot write %s/db/%s: %s", sp->path,
			    SPOOL_LOCK_NAME, strerror(errno));
		close(fd);
		return rc;
	}
	sp->lock_fd = fd;
	return 0;
}

int
spool_lock_holder(struct spool *sp, pid_t *holder)
{
	int fd, rc;

	*holder = 0;
	if (sp->lock_fd >= 0) {
		*holder = getpid();
		return 0;
	}
	fd = openat(sp->db_fd, SPOOL_LOCK_NAME,
		    O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	/* F_GETLK with a write lock type needs only a readable fd. */
	rc = lock_query(fd, holder);
	close(fd);
	return rc;
}

int
spool_move(struct spool *sp, enum job_state from, const char *name,
	   enum job_state to, const char *newname)
{
	if (from <= STATE_NONE || from >= STATE_COUNT || to <= STATE_NONE ||
	    to >= STATE_COUNT)
		return -EINVAL;
	if (xrenameat2(sp->dir_fd[from], name, sp->dir_fd[to],
		       newname != NULL ? newname : name, RENAME_NOREPLACE) < 0)
		return -errno;
	return 0;
}

int
spool_sync(struct spool *sp, enum job_state s)
{
	int fd;

	if (s < STATE_NONE || s >= STATE_COUNT)
		return -EINVAL;
	fd = s == STATE_NONE ? sp->logs_fd : sp->dir_fd[s];
	if (fsync(fd) < 0)
		return -errno;
	return 0;
}

static bool
has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

bool
spool_name_ignored(const char *name)
{
	return name[0] == '.' || has_suffix(name, ".part") ||
	       has_suffix(name, ".filepart") || has_suffix(name, ".tmp");
}

int
spool_name_to_id(const char *name, char id[ID_MAX + 1])
{
	size_t n = strlen(name);

	if (!has_suffix(name, ".yaml") || n - 5 > ID_MAX || n == 5)
		return -EINVAL;
	memcpy(id, name, n - 5);
	id[n - 5] = '\0';
	return util_name_valid(id, ID_MAX) ? 0 : -EINVAL;
}

void
spool_id_to_name(const char *id, char name[ID_MAX + 8])
{
	snprintf(name, ID_MAX + 8, "%s.yaml", id);
}

/* Does s (of length n) end in ".YYYYMMDDTHHMMSSZ.hhhh"? */
static bool
stamped(const char *s, size_t n)
{
	static const char shape[] = ".########T######Z.xxxx";
	const char *p;

	if (n < SPOOL_STAMP_LEN)
		return false;
	p = s + n - SPOOL_STAMP_LEN;
	for (size_t i = 0; i < SPOOL_STAMP_LEN; i++) {
		unsigned char c = (unsigned char)p[i];
		switch (shape[i]) {
		case '#':
			if (!isdigit(c))
				return false;
			break;
		case 'x':
			if (!isxdigit(c) || isupper(c))
				return false;
			break;
		default:
			if (c != (unsigned char)shape[i])
				return false;
		}
	}
	return true;
}

bool
spool_id_stamped(const char *id)
{
	return util_name_valid(id, ID_MAX) && stamped(id, strlen(id));
}

void
spool_stem(const char *name, char stem[ID_MAX + 1])
{
	const size_t max = ID_MAX - SPOOL_STAMP_LEN;
	size_t n = strlen(name), out = 0;

	if (has_suffix(name, ".yaml"))
		n -= 5;
	else if (has_suffix(name, ".yml"))
		n -= 4;
	/* A re-dropped job file keeps its stem, not a second stamp. */
	while (stamped(name, n))
		n -= SPOOL_STAMP_LEN;
	for (size_t i = 0; i < n && out < max; i++) {
		unsigned char c = (unsigned char)name[i];
		bool ok = c < 128 && (isalnum(c) || c == '.' || c == '_' ||
				      c == '-');
		if (out == 0 && !(c < 128 && isalnum(c)))
			continue; /* an id starts with an alphanumeric */
		stem[out++] = ok ? (char)c : '_';
	}
	if (out == 0)
		memcpy(stem, "job", (out = 3));
	stem[out] = '\0';
}

void
spool_id_make(const char *stem, int64_t now_ms, uint32_t rnd,
	      char id[ID_MAX + 1])
{
	time_t t = (time_t)(now_ms / 1000);
	struct tm tm;
	char ts[20];

	gmtime_r(&t, &tm);
	strftime(ts, sizeof(ts), "%Y%m%dT%H%M%SZ", &tm);
	snprintf(id, ID_MAX + 1, "%.*s.%.16s.%04x",
		 (int)(ID_MAX - SPOOL_STAMP_LEN), stem, ts,
		 (unsigned)(rnd & 0xffff));
}

int
spool_read_job(struct spool *sp, enum job_state s, const char *name,
	       size_t max, char **buf, size_t *len, struct stat *st,
	       char *err, size_t errlen)
{
	char *data = NULL;
	size_t got = 0, cap;
	int fd = -1, rc;

	*buf = NULL;
	*len = 0;
	/*
	 * O_NONBLOCK so a FIFO cannot block the open; O_NOFOLLOW so a
	 * symlink fails with ELOOP instead of being followed.
	 */
	fd = openat(sp->dir_fd[s], name,
		    O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		rc = -errno;
		if (rc == -ELOOP)
			util_seterr(err, errlen, "is a symbolic link; "
				    "job files must be regular files");
		else
			util_seterr(err, errlen, "cannot open: %s",
				    strerror(errno));
		goto fail;
	}
	if (fstat(fd, st) < 0) {
		rc = -errno;
		util_seterr(err, errlen, "fstat: %s", strerror(errno));
		goto fail;
	}
	if (S_ISDIR(st->st_mode)) {
		rc = -EISDIR;
		util_seterr(err, errlen, "is a directory, not a job file");
		goto fail;
	}
	if (!S_ISREG(st->st_mode)) {
		rc = -EINVAL;
		util_seterr(err, errlen,
			    "is not a regular file (a FIFO, socket or device)");
		goto fail;
	}
	if (st->st_nlink != 1) {
		rc = -EMLINK;
		util_seterr(err, errlen,
			    "has %lu hard links; a job file must have one, so "
			    "nobody can change it from elsewhere",
			    (unsigned long)st->st_nlink);
		goto fail;
	}
	if ((uint64_t)st->st_size > max) {
		rc = -EFBIG;
		util_seterr(err, errlen,
			    "is %lld bytes; job files are at most %zu bytes",
			    (long long)st->st_size, max);
		goto fail;
	}
	/*
	 * Room for what fstat says, one byte more to see EOF and the NUL,
	 * grown only if a writer grew the file. A buffer of max (64 KiB for
	 * a job of a hundred bytes) for every read made each one a malloc
	 * and a free of 64 KiB, and glibc's free() of a chunk that big
	 * first coalesces every small free chunk (malloc_consolidate): 6 to
	 * 8 % of the daemon's CPU while it accepted 100,000 uploads.
	 */
	cap = (size_t)st->st_size + 2;
	data = malloc(cap);
	if (data == NULL) {
		rc = -ENOMEM;
		util_seterr(err, errlen, "out of memory");
		goto fail;
	}
	/* Read to EOF, not to st_size: a writer may have grown the file. */
	for (;;) {
		ssize_t r;
		if (got + 2 > cap) {
			/* Full; got <= max, so cap < max + 2 here. */
			size_t ncap = cap * 2 < max + 2 ? cap * 2 : max + 2;
			char *nd = realloc(data, ncap);
			if (nd == NULL) {
				rc = -ENOMEM;
				util_seterr(err, errlen, "out of memory");
				goto fail;
			}
			data = nd;
			cap = ncap;
		}
		r = read(fd, data + got, cap - 1 - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = -errno;
			util_seterr(err, errlen, "read: %s", strerror(errno));
			goto fail;
		}
		if (r == 0)
			break;
		got += (size_t)r;
		if (got > max) {
			rc = -EFBIG;
			util_seterr(err, errlen,
				    "grew past %zu bytes while being read; job "
				    "files are at most %zu bytes", max, max);
			goto fail;
		}
	}
	data[got] = '\0';
	close(fd);
	*buf = data;
	*len = got;
	return 0;
fail:
	free(data);
	if (fd >= 0)
		close(fd);
	return rc;
}

int
spool_has_writer(struct spool *sp, enum job_state s, const char *name)
{
	int fd, rc = 0;

	fd = openat(sp->dir_fd[s], name,
		    O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	/*
	 * A read lease is granted only when nobody has the file open for
	 * writing (fcntl(2), "Leases"). It is dropped at once, so a writer
	 * that opens the file now is never delayed by a lease break.
	 */
	if (fcntl(fd, F_SETLEASE, F_RDLCK) < 0) {
		rc = errno == EAGAIN || errno == EBUSY ? 1 : -errno;
	} else {
		fcntl(fd, F_SETLEASE, F_UNLCK);
	}
	close(fd);
	return rc;
}

int
spool_write_new(struct spool *sp, const char *name, const char *content,
		size_t len, char *err, size_t errlen)
{
	char tmp[NAME_MAX + 1];
	int fd = -1, rc, pfd = sp->dir_fd[STATE_PENDING];
	size_t off = 0;
	uint32_t rnd = 0;

	if (getrandom(&rnd, sizeof(rnd), 0) < 0)
		rnd = (uint32_t)getpid() ^ (uint32_t)util_mono_ms();
	/* A dot-name: the daemon never takes it while it is being written. */
	snprintf(tmp, sizeof(tmp), ".%.200s.%08x", name, rnd);
	fd = openat(pfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
			O_CLOEXEC, 0644);
	if (fd < 0) {
		rc = -errno;
		util_seterr(err, errlen, "cannot create %s/pending/%s: %s",
			    sp->path, tmp, strerror(errno));
		return rc;
	}
	while (off < len) {
		ssize_t w = write(fd, content + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			rc = -errno;
			util_seterr(err, errlen, "write %s/pending/%s: %s",
				    sp->path, tmp, strerror(errno));
			goto fail;
		}
		off += (size_t)w;
	}
	if (fsync(fd) < 0) {
		rc = -errno;
		util_seterr(err, errlen, "fsync %s/pending/%s: %s", sp->path,
			    tmp, strerror(errno));
		goto fail;
	}
	rc = close(fd);
	fd = -1;
	if (rc < 0) {
		rc = -errno;
		util_seterr(err, errlen, "close %s/pending/%s: %s", sp->path,
			    tmp, strerror(errno));
		goto fail;
	}
	if (xrenameat2(pfd, tmp, pfd, name, RENAME_NOREPLACE) < 0) {
		rc = -errno;
		util_seterr(err, errlen, "cannot rename %s/pending/%s to %s: %s",
			    sp->path, tmp, name, strerror(errno));
		goto fail;
	}
	if (fsync(pfd) < 0) {
		rc = -errno;
		util_seterr(err, errlen, "fsync %s/pending: %s", sp->path,
			    strerror(errno));
		/* The file is in view; only its durability is in doubt. */
		return rc;
	}
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	unlinkat(pfd, tmp, 0);
	return rc;
}
