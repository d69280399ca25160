/*
 * inject.c - an LD_PRELOAD shim that makes chosen system calls fail, for
 * the fault tests (tests/sys/faults.t). Built by the Makefile into
 * $(B)/libinject.so; not part of the programs.
 *
 *   LD_PRELOAD=build/libinject.so INJECT_FILE=/tmp/x/inject syncspoold ...
 *
 * While the control file $INJECT_FILE exists, each of its lines is a rule
 *
 *   KIND [ERRNO] [COUNT]     e.g. "rename ENOSPC", "commit EIO 3"
 *
 * and a call the rule's KIND covers fails with ERRNO (ENOSPC, EIO, EDQUOT,
 * EROFS, ENOMEM, EPERM, EACCES, ENOENT; default EIO); with COUNT, only the
 * next COUNT such calls do. The file is looked at (stat) on every covered
 * call and read again whenever it changed, so a test switches faults on
 * and off while the process runs: write the file (atomically: a temporary
 * file and mv) or remove it. Lines starting with '#' are ignored.
 *
 *   rename    renameat2, both the libc function and syscall(SYS_renameat2,
 *             ...), which is how src/spool.c calls it; renameat, rename
 *   dirfsync  fsync or fdatasync of a directory
 *   commit    LMDB's writes of a commit's pages to data.mdb and its
 *             syncs: pwrite, pwrite64, writev, pwritev, fsync, fdatasync,
 *             msync. Not the meta page write (see meta): failing that
 *             would make the environment unusable, which `meta` tests on
 *             purpose, and a rule switched on in the middle of a commit
 *             would then do it by chance.
 *   sync      only fsync and fdatasync of data.mdb (the commit's data
 *             sync, before its meta page is written)
 *   meta      only writes to data.mdb through a descriptor opened O_DSYNC:
 *             LMDB's meta page write, the last step of a commit. LMDB
 *             marks its environment unusable (MDB_FATAL_ERROR) after one.
 *   full      statvfs, fstatvfs, statfs, fstatfs report no free blocks and
 *             no free inodes (nothing fails; ERRNO is not used)
 *   reader    a successful read-only mdb_txn_begin() does not return: the
 *             process waits (up to 60 s) inside its read transaction,
 *             holding a reader slot, to be killed there
 *
 * Each fault injected appends a line to $INJECT_LOG when it is set:
 *   "pid=123 kind=rename call=renameat2 errno=ENOSPC"
 * ("reader" logs "pid=123 kind=reader call=mdb_txn_begin waiting").
 *
 * The shim itself uses only stat, open, read, close, readlink, fcntl,
 * fstat and write, none of which it wraps, so it never recurses. It keeps
 * no lock: the programs it is for are single-threaded.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

enum kind { K_RENAME, K_DIRFSYNC, K_COMMIT, K_SYNC, K_META, K_FULL,
	    K_READER, K_COUNT };

static const char *const kind_names[K_COUNT] = {
	"rename", "dirfsync", "commit", "sync", "meta", "full", "reader",
};

static const struct {
	const char *name;
	int e;
} errnos[] = {
	{"ENOSPC", ENOSPC}, {"EIO", EIO}, {"EDQUOT", EDQUOT},
	{"EROFS", EROFS}, {"ENOMEM", ENOMEM}, {"EPERM", EPERM},
	{"EACCES", EACCES}, {"ENOENT", ENOENT},
};

struct rule {
	bool on;
	int e;
	long left; /* calls still to fail; -1: all */
};

static struct rule rules[K_COUNT];
static struct stat seen;  /* the control file as last read */
static bool seen_valid;

static const char *
errno_name(int e)
{
	for (size_t i = 0; i < sizeof(errnos) / sizeof(errnos[0]); i++)
		if (errnos[i].e == e)
			return errnos[i].name;
	return "?";
}

static void
parse_line(char *line)
{
	char *kind = strtok(line, " \t\r"), *err, *count;
	int k;

	if (kind == NULL || kind[0] == '#')
		return;
	for (k = 0; k < K_COUNT; k++)
		if (strcmp(kind, kind_names[k]) == 0)
			break;
	if (k == K_COUNT)
		return;
	rules[k].on = true;
	rules[k].e = EIO;
	rules[k].left = -1;
	err = strtok(NULL, " \t\r");
	count = strtok(NULL, " \t\r");
	if (err != NULL && err[0] >= '0' && err[0] <= '9') {
		count = err;
		err = NULL;
	}
	for (size_t i = 0; err != NULL && i < sizeof(errnos) / sizeof(errnos[0]); i++)
		if (strcmp(err, errnos[i].name) == 0)
			rules[k].e = errnos[i].e;
	if (count != NULL)
		rules[k].left = strtol(count, NULL, 10);
}

/* Bring the rules up to date with the control file. */
static void
reload(void)
{
	const char *path = getenv("INJECT_FILE");
	struct stat st;
	char buf[4096], *line, *save = NULL;
	ssize_t n;
	int fd;

	if (path == NULL || stat(path, &st) < 0) {
		memset(rules, 0, sizeof(rules));
		seen_valid = false;
		return;
	}
	if (seen_valid && st.st_ino == seen.st_ino &&
	    st.st_size == seen.st_size &&
	    st.st_mtim.tv_sec == seen.st_mtim.tv_sec &&
	    st.st_mtim.tv_nsec == seen.st_mtim.tv_nsec &&
	    st.st_ctim.tv_sec == seen.st_ctim.tv_sec &&
	    st.st_ctim.tv_nsec == seen.st_ctim.tv_nsec)
		return;
	memset(rules, 0, sizeof(rules));
	seen = st;
	seen_valid = true;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = '\0';
	for (line = strtok_r(buf, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save))
		parse_line(line);
}

static void
note(enum kind k, const char *call, const char *what)
{
	const char *path = getenv("INJECT_LOG");
	char line[256];
	int fd, n;

	if (path == NULL)
		return;
	n = snprintf(line, sizeof(line), "pid=%ld kind=%s call=%s %s\n",
		     (long)getpid(), kind_names[k], call, what);
	if ((fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
		       0644)) < 0)
		return;
	if (write(fd, line, (size_t)n) < 0) {
		/* Nothing to do: the log is a courtesy. */
	}
	close(fd);
}

/* Should this call of kind k fail? Then errno is set and true returned. */
static bool
fault(enum kind k, const char *call)
{
	char what[64];
	int e;

	reload();
	if (!rules[k].on || rules[k].left == 0)
		return false;
	if (rules[k].left > 0)
		rules[k].left--;
	e = rules[k].e;
	snprintf(what, sizeof(what), "errno=%s", errno_name(e));
	note(k, call, what);
	errno = e;
	return true;
}

static bool
is_dir(int fd)
{
	struct stat st;

	return fstat(fd, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Is fd LMDB's data file? */
static bool
is_data_mdb(int fd)
{
	char proc[64], link[4096];
	ssize_t n;

	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	n = readlink(proc, link, sizeof(link) - 1);
	if (n < 9)
		return false;
	link[n] = '\0';
	return strcmp(link + n - 9, "/data.mdb") == 0;
}

static bool
is_dsync(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	return fl >= 0 && (fl & O_DSYNC) == O_DSYNC;
}

/*
 * A write to fd: does a commit, or meta, rule make it fail? LMDB writes
 * its meta page through a descriptor of its own opened O_DSYNC, its other
 * pages through one without.
 */
static bool
write_fault(int fd, const char *call)
{
	reload();
	if (!rules[K_COMMIT].on && !rules[K_META].on)
		return false;
	if (!is_data_mdb(fd))
		return false;
	return fault(is_dsync(fd) ? K_META : K_COMMIT, call);
}

/* An fsync or fdatasync of fd. */
static bool
sync_fault(int fd, const char *call)
{
	reload();
	if (rules[K_DIRFSYNC].on && is_dir(fd))
		return fault(K_DIRFSYNC, call);
	if ((rules[K_COMMIT].on || rules[K_SYNC].on) && is_data_mdb(fd))
		return fault(rules[K_SYNC].on ? K_SYNC : K_COMMIT, call);
	return false;
}

#define REAL(type, name, args)                                            \
	static type(*real_##name) args;                                   \
	if (real_##name == NULL)                                          \
		*(void **)&real_##name = dlsym(RTLD_NEXT, #name)

/* ---- rename ---- */

long syscall(long nr, ...);
long
syscall(long nr, ...)
{
	REAL(long, syscall, (long, ...));
	long a[6];
	va_list ap;

	/*
	 * The kernel takes at most six arguments; reading six whatever the
	 * call is what glibc's own syscall() does.
	 */
	va_start(ap, nr);
	for (int i = 0; i < 6; i++)
		a[i] = va_arg(ap, long);
	va_end(ap);
	if (nr == SYS_renameat2 && fault(K_RENAME, "syscall(renameat2)"))
		return -1;
	return real_syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
}

int
renameat2(int olddirfd, const char *oldpath, int newdirfd,
	  const char *newpath, unsigned int flags)
{
	REAL(int, renameat2, (int, const char *, int, const char *,
			      unsigned int));

	if (fault(K_RENAME, "renameat2"))
		return -1;
	return real_renameat2(olddirfd, oldpath, newdirfd, newpath, flags);
}

int
renameat(int olddirfd, const char *oldpath, int newdirfd,
	 const char *newpath)
{
	REAL(int, renameat, (int, const char *, int, const char *));

	if (fault(K_RENAME, "renameat"))
		return -1;
	return real_renameat(olddirfd, oldpath, newdirfd, newpath);
}

int
rename(const char *oldpath, const char *newpath)
{
	REAL(int, rename, (const char *, const char *));

	if (fault(K_RENAME, "rename"))
		return -1;
	return real_rename(oldpath, newpath);
}

/* ---- syncs ---- */

int
fsync(int fd)
{
	REAL(int, fsync, (int));

	if (sync_fault(fd, "fsync"))
		return -1;
	return real_fsync(fd);
}

int
fdatasync(int fd)
{
	REAL(int, fdatasync, (int));

	if (sync_fault(fd, "fdatasync"))
		return -1;
	return real_fdatasync(fd);
}

int
msync(void *addr, size_t len, int flags)
{
	REAL(int, msync, (void *, size_t, int));

	/* Only LMDB's MDB_WRITEMAP mode msyncs its map; syncspool does not
	 * use it, but a commit rule should cover it if it ever does. */
	reload();
	if (rules[K_COMMIT].on && fault(K_COMMIT, "msync"))
		return -1;
	return real_msync(addr, len, flags);
}

/* ---- LMDB's writes ---- */

ssize_t
pwrite(int fd, const void *buf, size_t n, off_t off)
{
	REAL(ssize_t, pwrite, (int, const void *, size_t, off_t));

	if (write_fault(fd, "pwrite"))
		return -1;
	return real_pwrite(fd, buf, n, off);
}

ssize_t
pwrite64(int fd, const void *buf, size_t n, off_t off)
{
	REAL(ssize_t, pwrite64, (int, const void *, size_t, off_t));

	if (write_fault(fd, "pwrite64"))
		return -1;
	return real_pwrite64(fd, buf, n, off);
}

ssize_t
writev(int fd, const struct iovec *iov, int iovcnt)
{
	REAL(ssize_t, writev, (int, const struct iovec *, int));

	if (write_fault(fd, "writev"))
		return -1;
	return real_writev(fd, iov, iovcnt);
}

ssize_t
pwritev(int fd, const struct iovec *iov, int iovcnt, off_t off)
{
	REAL(ssize_t, pwritev, (int, const struct iovec *, int, off_t));

	if (write_fault(fd, "pwritev"))
		return -1;
	return real_pwritev(fd, iov, iovcnt, off);
}

/* ---- a full disk ---- */

static bool
full(const char *call)
{
	reload();
	if (!rules[K_FULL].on || rules[K_FULL].left == 0)
		return false;
	if (rules[K_FULL].left > 0)
		rules[K_FULL].left--;
	note(K_FULL, call, "reported full");
	return true;
}

static void
vfs_empty(struct statvfs *v)
{
	v->f_bfree = v->f_bavail = 0;
	v->f_ffree = v->f_favail = 0;
}

int
statvfs(const char *path, struct statvfs *v)
{
	REAL(int, statvfs, (const char *, struct statvfs *));
	int rc = real_statvfs(path, v);

	if (rc == 0 && full("statvfs"))
		vfs_empty(v);
	return rc;
}

int
fstatvfs(int fd, struct statvfs *v)
{
	REAL(int, fstatvfs, (int, struct statvfs *));
	int rc = real_fstatvfs(fd, v);

	if (rc == 0 && full("fstatvfs"))
		vfs_empty(v);
	return rc;
}

int
statfs(const char *path, struct statfs *s)
{
	REAL(int, statfs, (const char *, struct statfs *));
	int rc = real_statfs(path, s);

	if (rc == 0 && full("statfs")) {
		s->f_bfree = s->f_bavail = 0;
		s->f_ffree = 0;
	}
	return rc;
}

int
fstatfs(int fd, struct statfs *s)
{
	REAL(int, fstatfs, (int, struct statfs *));
	int rc = real_fstatfs(fd, s);

	if (rc == 0 && full("fstatfs")) {
		s->f_bfree = s->f_bavail = 0;
		s->f_ffree = 0;
	}
	return rc;
}

/* ---- a reader killed inside its read transaction ---- */

typedef struct MDB_env MDB_env;
typedef struct MDB_txn MDB_txn;
#define INJECT_MDB_RDONLY 0x20000 /* lmdb.h's MDB_RDONLY */

int mdb_txn_begin(MDB_env *env, MDB_txn *parent, unsigned int flags,
		  MDB_txn **txn);
int
mdb_txn_begin(MDB_env *env, MDB_txn *parent, unsigned int flags,
	      MDB_txn **txn)
{
	REAL(int, mdb_txn_begin, (MDB_env *, MDB_txn *, unsigned int,
				  MDB_txn **));
	int rc = real_mdb_txn_begin(env, parent, flags, txn);

	reload();
	if (rc == 0 && (flags & INJECT_MDB_RDONLY) && rules[K_READER].on &&
	    rules[K_READER].left != 0) {
		if (rules[K_READER].left > 0)
			rules[K_READER].left--;
		note(K_READER, "mdb_txn_begin", "waiting");
		/* Bounded, so a test that forgot us cannot leave us behind. */
		for (int i = 0; i < 600; i++) {
			struct timespec ts = {0, 100 * 1000 * 1000};
			nanosleep(&ts, NULL);
		}
	}
	return rc;
}
