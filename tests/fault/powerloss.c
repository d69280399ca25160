/*
 * powerloss.c - an LD_PRELOAD shim that records what a process has made
 * durable, so that a test can throw away the rest after a kill -9: a
 * power loss at that instant (tests/sys/powerloss.t, with
 * tests/fault/powercut). Built by the Makefile into $(B)/libpowerloss.so;
 * not part of the programs. LevelDB's fault-injection Env, applied to the
 * spool.
 *
 *   LD_PRELOAD=build/libpowerloss.so POWERLOSS_DIR=/tmp/x/pl syncspoold ...
 *
 * $POWERLOSS_DIR/journal gets one line per event, each appended with one
 * write(2) on an O_APPEND descriptor, so a line is either whole or absent
 * after a SIGKILL (the page cache survives the process). Fields are
 * separated by tabs:
 *
 *   R SEQ OLDDIR OLDNAME NEWDIR NEWNAME   before a rename (renameat2, also
 *                                         as syscall(SYS_renameat2, ...),
 *                                         which is how src/spool.c calls
 *                                         it; renameat, rename)
 *   r SEQ ERRNO                           after it: 0 when it was done
 *   S DIR                                 after a successful fsync or
 *                                         fdatasync of a directory
 *   D BYTES                               after a successful fsync or
 *                                         fdatasync of data.mdb: the
 *                                         snapshot below was taken
 *   M OFFSET LENGTH                       after a successful write to
 *                                         data.mdb through a descriptor
 *                                         opened O_DSYNC: LMDB's meta
 *                                         page, the last step of a commit
 *   U DIR NAME                            after a successful unlink of a
 *                                         regular file (unlinkat, unlink)
 *
 * A rename is written down before it is made, so that a kill between the
 * two cannot hide one that was made; powercut checks whether it was.
 * Directory paths are resolved through /proc/self/fd.
 *
 * With POWERLOSS_KILL_AFTER=N the daemon is killed (SIGKILL) as soon as
 * the journal's Nth line is written: a cut point chosen among the events
 * rather than in time, so that it falls between a rename and its fsync,
 * or between an fsync and a commit, as often as anywhere else. The lines
 * are counted in a page shared with the daemon's committer (a fork, which
 * makes the fsyncs and commits), and whichever of the two writes the Nth
 * kills the daemon, and itself (the committer dies with the daemon in
 * any case).
 *
 * $POWERLOSS_DIR/data.mdb.durable is LMDB's data file as a power loss
 * would leave it: a write reaches it only once it is durable. At each
 * fsync or fdatasync of data.mdb the whole file is copied there (to a
 * temporary name, then renamed, so a kill never leaves half a copy); each
 * write through an O_DSYNC descriptor (the meta page) is then applied to
 * it too, after the real write succeeded. A kill between the real call
 * and the snapshot's update is a power loss during that call: the process
 * had not seen it return. LMDB never writes its map (no MDB_WRITEMAP);
 * msync is not followed.
 *
 * The shim calls only open, pread, write, close, fstat, fcntl, readlink,
 * getcwd, kill, mmap (once, at load) and the real rename and pwrite
 * (through their dlsym pointers), so it never enters its own wrappers,
 * and a flag turns them off while it works in any case. It keeps no lock:
 * syncspoold and its committer are single-threaded, they never commit at
 * the same time (one hands its batches to the other), the line count is
 * an atomic add, and a handler is exec'd with a clean environment,
 * without the shim.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

#define REAL(type, name, args)                                            \
	static type(*real_##name) args;                                   \
	if (real_##name == NULL)                                          \
		*(void **)&real_##name = dlsym(RTLD_NEXT, #name)

static bool busy;           /* the shim is at work: wrappers pass through */
static unsigned long seq;   /* renames journaled by this process */
static long *lines;         /* journal lines written, shared across fork */
static pid_t root;          /* the process the shim was loaded into */

__attribute__((constructor)) static void
pl_init(void)
{
	void *p = mmap(NULL, sizeof(*lines), PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	lines = p != MAP_FAILED ? p : NULL;
	root = getpid();
}

static const char *
pl_dir(void)
{
	const char *d = getenv("POWERLOSS_DIR");

	return d != NULL && d[0] != '\0' ? d : NULL;
}

static void
journal(const char *line, size_t n)
{
	const char *after = getenv("POWERLOSS_KILL_AFTER");
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/journal", pl_dir());
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return;
	if (write(fd, line, n) < 0) {
		/* Nothing to do: powercut reports a journal it cannot trust. */
	}
	close(fd);
	/* The cut point chosen by event rather than by time. */
	if (after != NULL && lines != NULL &&
	    __atomic_add_fetch(lines, 1, __ATOMIC_SEQ_CST) ==
		    strtol(after, NULL, 10)) {
		if (getpid() != root)
			kill(root, SIGKILL);
		kill(getpid(), SIGKILL);
	}
}

static void
journalf(const char *fmt, ...)
{
	char line[3 * PATH_MAX];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line))
		n = (int)sizeof(line) - 1;
	journal(line, (size_t)n);
}

/* The path fd names, into buf; false when unknown. */
static bool
fd_path(int fd, char *buf, size_t len)
{
	char proc[64];
	ssize_t n;

	if (fd == AT_FDCWD)
		return getcwd(buf, len) != NULL;
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	n = readlink(proc, buf, len - 1);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	return true;
}

/* Split dirfd + path into the directory's path and the last name. */
static bool
resolve(int dirfd, const char *path, char *dir, size_t dlen, char *name,
	size_t nlen)
{
	char full[2 * PATH_MAX];
	char *slash;
	size_t dn;

	if (path[0] == '/') {
		snprintf(full, sizeof(full), "%s", path);
	} else {
		char base[PATH_MAX];

		if (!fd_path(dirfd, base, sizeof(base)))
			return false;
		snprintf(full, sizeof(full), "%s/%s", base, path);
	}
	slash = strrchr(full, '/');
	if (slash == NULL)
		return false;
	dn = slash == full ? 1 : (size_t)(slash - full); /* "/x": "/" */
	if (dn >= dlen || strlen(slash + 1) >= nlen)
		return false;
	memcpy(name, slash + 1, strlen(slash + 1) + 1);
	memcpy(dir, full, dn);
	dir[dn] = '\0';
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
	char link[PATH_MAX];
	size_t n;

	if (!fd_path(fd, link, sizeof(link)))
		return false;
	n = strlen(link);
	return n >= 9 && strcmp(link + n - 9, "/data.mdb") == 0;
}

static bool
is_dsync(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	return fl >= 0 && (fl & O_DSYNC) == O_DSYNC;
}

/* ---- the durable copy of data.mdb ---- */

/* Copy the data file behind fd to data.mdb.durable, all or nothing. */
static void
snapshot(int fd)
{
	REAL(int, rename, (const char *, const char *));
	char tmp[PATH_MAX], dst[PATH_MAX], buf[65536];
	int out;
	off_t off = 0, total = 0;
	ssize_t n;

	snprintf(tmp, sizeof(tmp), "%s/.data.mdb.durable.tmp", pl_dir());
	snprintf(dst, sizeof(dst), "%s/data.mdb.durable", pl_dir());
	out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (out < 0)
		return;
	while ((n = pread(fd, buf, sizeof(buf), off)) > 0) {
		ssize_t w = 0;

		while (w < n) {
			ssize_t k = write(out, buf + w, (size_t)(n - w));
			if (k < 0 && errno == EINTR)
				continue;
			if (k < 0) {
				close(out);
				return;
			}
			w += k;
		}
		off += n;
		total += n;
	}
	close(out);
	if (n < 0 || real_rename(tmp, dst) < 0)
		return;
	journalf("D\t%lld\n", (long long)total);
}

/* A durable write to the data file: the same write to the copy. */
static void
snapshot_write(const void *data, size_t n, off_t off)
{
	REAL(ssize_t, pwrite, (int, const void *, size_t, off_t));
	char dst[PATH_MAX];
	int fd;

	snprintf(dst, sizeof(dst), "%s/data.mdb.durable", pl_dir());
	/* No copy yet: the environment has never been synced. */
	if ((fd = open(dst, O_WRONLY | O_CLOEXEC)) < 0)
		return;
	if (real_pwrite(fd, data, n, off) == (ssize_t)n)
		journalf("M\t%lld\t%zu\n", (long long)off, n);
	close(fd);
}

/* ---- renames ---- */

/* Before a rename: its line, and its number for rename_done(). */
static unsigned long
rename_intent(int olddirfd, const char *oldpath, int newdirfd,
	      const char *newpath)
{
	char od[PATH_MAX], on[NAME_MAX + 1], nd[PATH_MAX], nn[NAME_MAX + 1];

	if (busy || pl_dir() == NULL)
		return 0;
	busy = true;
	if (resolve(olddirfd, oldpath, od, sizeof(od), on, sizeof(on)) &&
	    resolve(newdirfd, newpath, nd, sizeof(nd), nn, sizeof(nn))) {
		seq++;
		journalf("R\t%lu\t%s\t%s\t%s\t%s\n", seq, od, on, nd, nn);
		busy = false;
		return seq;
	}
	journalf("# cannot resolve a rename of %s\n", oldpath);
	busy = false;
	return 0;
}

static void
rename_done(unsigned long n, int rc, int e)
{
	if (n == 0)
		return;
	busy = true;
	journalf("r\t%lu\t%d\n", n, rc == 0 ? 0 : e);
	busy = false;
	errno = e;
}

long syscall(long nr, ...);
long
syscall(long nr, ...)
{
	REAL(long, syscall, (long, ...));
	unsigned long n = 0;
	long a[6], rc;
	va_list ap;

	/* Six arguments, whatever the call: what glibc's syscall() reads. */
	va_start(ap, nr);
	for (int i = 0; i < 6; i++)
		a[i] = va_arg(ap, long);
	va_end(ap);
	if (nr == SYS_renameat2)
		n = rename_intent((int)a[0], (const char *)a[1], (int)a[2],
				  (const char *)a[3]);
	rc = real_syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
	if (nr == SYS_renameat2)
		rename_done(n, (int)rc, errno);
	return rc;
}

int
renameat2(int olddirfd, const char *oldpath, int newdirfd,
	  const char *newpath, unsigned int flags)
{
	REAL(int, renameat2, (int, const char *, int, const char *,
			      unsigned int));
	unsigned long n = rename_intent(olddirfd, oldpath, newdirfd, newpath);
	int rc = real_renameat2(olddirfd, oldpath, newdirfd, newpath, flags);

	rename_done(n, rc, errno);
	return rc;
}

int
renameat(int olddirfd, const char *oldpath, int newdirfd,
	 const char *newpath)
{
	REAL(int, renameat, (int, const char *, int, const char *));
	unsigned long n = rename_intent(olddirfd, oldpath, newdirfd, newpath);
	int rc = real_renameat(olddirfd, oldpath, newdirfd, newpath);

	rename_done(n, rc, errno);
	return rc;
}

int
rename(const char *oldpath, const char *newpath)
{
	REAL(int, rename, (const char *, const char *));
	unsigned long n = rename_intent(AT_FDCWD, oldpath, AT_FDCWD, newpath);
	int rc = real_rename(oldpath, newpath);

	rename_done(n, rc, errno);
	return rc;
}

/* ---- unlinks ---- */

static void
unlinked(int dirfd, const char *path)
{
	char dir[PATH_MAX], name[NAME_MAX + 1];

	if (busy || pl_dir() == NULL)
		return;
	busy = true;
	if (resolve(dirfd, path, dir, sizeof(dir), name, sizeof(name)))
		journalf("U\t%s\t%s\n", dir, name);
	busy = false;
}

int
unlinkat(int dirfd, const char *path, int flags)
{
	REAL(int, unlinkat, (int, const char *, int));
	int rc = real_unlinkat(dirfd, path, flags);
	int e = errno;

	if (rc == 0 && !(flags & AT_REMOVEDIR))
		unlinked(dirfd, path);
	errno = e;
	return rc;
}

int
unlink(const char *path)
{
	REAL(int, unlink, (const char *));
	int rc = real_unlink(path);
	int e = errno;

	if (rc == 0)
		unlinked(AT_FDCWD, path);
	errno = e;
	return rc;
}

/* ---- syncs ---- */

static void
synced(int fd)
{
	char path[PATH_MAX];

	if (busy || pl_dir() == NULL)
		return;
	busy = true;
	if (is_dir(fd)) {
		if (fd_path(fd, path, sizeof(path)))
			journalf("S\t%s\n", path);
	} else if (is_data_mdb(fd)) {
		snapshot(fd);
	}
	busy = false;
}

int
fsync(int fd)
{
	REAL(int, fsync, (int));
	int rc = real_fsync(fd);
	int e = errno;

	if (rc == 0)
		synced(fd);
	errno = e;
	return rc;
}

int
fdatasync(int fd)
{
	REAL(int, fdatasync, (int));
	int rc = real_fdatasync(fd);
	int e = errno;

	if (rc == 0)
		synced(fd);
	errno = e;
	return rc;
}

/* ---- LMDB's meta page ---- */

static void
written(int fd, const void *buf, ssize_t n, off_t off)
{
	if (n <= 0 || busy || pl_dir() == NULL)
		return;
	busy = true;
	if (is_dsync(fd) && is_data_mdb(fd))
		snapshot_write(buf, (size_t)n, off);
	busy = false;
}

ssize_t
pwrite(int fd, const void *buf, size_t n, off_t off)
{
	REAL(ssize_t, pwrite, (int, const void *, size_t, off_t));
	ssize_t rc = real_pwrite(fd, buf, n, off);
	int e = errno;

	written(fd, buf, rc, off);
	errno = e;
	return rc;
}

ssize_t
pwrite64(int fd, const void *buf, size_t n, off_t off)
{
	REAL(ssize_t, pwrite64, (int, const void *, size_t, off_t));
	ssize_t rc = real_pwrite64(fd, buf, n, off);
	int e = errno;

	written(fd, buf, rc, off);
	errno = e;
	return rc;
}
