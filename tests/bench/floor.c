/*
 * floor - the least a durable spool runner must do per job, as a yardstick
 * for syncspoold (issue 6, `make bench`).
 *
 *   floor [-d] [-w WORKERS] [-n JOBS] [-t SECONDS] SPOOL DBDIR HANDLER [ARG...]
 *
 * WORKERS processes (default: the number of CPUs) share the job files
 * that are, or arrive, in SPOOL/pending. For each job a worker does only
 * what cannot be avoided:
 *
 *   1. claim it: renameat2(pending/NAME -> processing/NAME, NOREPLACE);
 *   2. fork, open the job file as the child's stdin, execv HANDLER, and
 *      wait for it;
 *   3. move it on: rename processing/NAME -> completed/NAME (failed/ when
 *      the handler did not exit 0);
 *   4. one durable commit: an LMDB put (NAME -> outcome) and
 *      mdb_txn_commit() in the environment DBDIR opened with default
 *      flags, i.e. synced (fdatasync of the data, O_DSYNC meta write).
 *
 * No validation, no ids, no history, no logs, no per-venue ordering, and
 * no directory fsync: on a journalled ext4 the commit's fdatasync forces
 * the journal, which carries the renames with it, but on a file system
 * without a journal the renames are then not durable. -d adds what that
 * takes: fsync of processing/ and of completed/ (or failed/) after the
 * move on, before the commit. Workers find files by readdir(3) of
 * pending, each taking the names that hash to it first and any other when
 * its own share is empty; when pending has nothing for it, a worker sleeps
 * in poll(2) on an inotify watch, never spins.
 *
 * It stops once JOBS jobs are done in all (default: run until killed), or
 * after SECONDS (default 300) whatever is done. It prints
 *   floor: jobs=N failed=F seconds=S jobs_per_s=R workers=W claim_ms=..
 *          spawn_ms=.. move_ms=.. dirsync_ms=.. commit_ms=..
 * where S runs from the first claim to the last commit, and the *_ms are
 * the mean wall time of each step per job (spawn: fork, exec and wait for
 * the handler; with 2 workers on 2 CPUs they overlap, so they add up to
 * about workers / rate).
 *
 * Links liblmdb only. Exit status: 0, 1 when a worker failed, 64 usage.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Shared by the workers, in an anonymous shared mapping. */
struct shared {
	int64_t done;        /* jobs moved on and committed, in all */
	int64_t failed;      /* of which the handler failed */
	int64_t first_ns;    /* CLOCK_REALTIME of the first claim; 0 = none */
	int64_t last_ns;     /* ... of the last commit */
	int64_t step_ns[5];  /* summed wall time of each step (enum step) */
};

enum step { STEP_CLAIM, STEP_SPAWN, STEP_MOVE, STEP_DIRSYNC, STEP_COMMIT };

struct floor {
	const char *spool, *dbdir;
	char **handler;      /* argv; handler[0] is the path */
	int workers;
	bool dirsync;        /* -d: fsync the directories of each move */
	int64_t jobs;        /* stop after this many; 0 = never */
	int64_t deadline_ns; /* stop at this CLOCK_REALTIME */
	struct shared *sh;
};

static int64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int
open_dir(const char *spool, const char *name)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/%s", spool, name);
	return open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

/* fork + exec the handler with the job as stdin; its wait status or -1. */
static int
run_handler(struct floor *f, int proc_fd, const char *name)
{
	pid_t pid;
	int status;

	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		int fd = openat(proc_fd, name, O_RDONLY | O_NOFOLLOW);
		if (fd < 0 || dup2(fd, 0) < 0)
			_exit(127);
		execv(f->handler[0], f->handler);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return status;
}

static void
step_add(struct floor *f, enum step s, int64_t *t)
{
	int64_t now = now_ns();

	__atomic_add_fetch(&f->sh->step_ns[s], now - *t, __ATOMIC_RELAXED);
	*t = now;
}

/* One job, claimed already: run, move on, commit. 0 or -1. */
static int
job_do(struct floor *f, MDB_env *env, MDB_dbi dbi, int dirs[4],
       const char *name)
{
	char rec[64];
	MDB_txn *txn;
	MDB_val k, v;
	int status, ok, n;
	int64_t t = now_ns();

	status = run_handler(f, dirs[1], name);
	step_add(f, STEP_SPAWN, &t);
	ok = status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
	if (renameat2(dirs[1], name, dirs[ok ? 2 : 3], name,
		      RENAME_NOREPLACE) < 0) {
		fprintf(stderr, "floor: rename %s: %s\n", name, strerror(errno));
		return -1;
	}
	step_add(f, STEP_MOVE, &t);
	if (f->dirsync && (fsync(dirs[1]) < 0 || fsync(dirs[ok ? 2 : 3]) < 0)) {
		fprintf(stderr, "floor: fsync: %s\n", strerror(errno));
		return -1;
	}
	step_add(f, STEP_DIRSYNC, &t);
	n = snprintf(rec, sizeof(rec), "%s %lld %d",
		     ok ? "completed" : "failed", (long long)now_ns(), status);
	k = (MDB_val){strlen(name), (void *)name};
	v = (MDB_val){(size_t)n, rec};
	if (mdb_txn_begin(env, NULL, 0, &txn) != 0 ||
	    mdb_put(txn, dbi, &k, &v, 0) != 0 || mdb_txn_commit(txn) != 0) {
		fprintf(stderr, "floor: commit %s failed\n", name);
		return -1;
	}
	step_add(f, STEP_COMMIT, &t);
	if (!ok)
		__atomic_add_fetch(&f->sh->failed, 1, __ATOMIC_SEQ_CST);
	__atomic_store_n(&f->sh->last_ns, now_ns(), __ATOMIC_SEQ_CST);
	__atomic_add_fetch(&f->sh->done, 1, __ATOMIC_SEQ_CST);
	return 0;
}

static unsigned
name_hash(const char *s)
{
	unsigned h = 5381;

	while (*s != '\0')
		h = h * 33 + (unsigned char)*s++;
	return h;
}

static int
finished(struct floor *f)
{
	return (f->jobs > 0 &&
		__atomic_load_n(&f->sh->done, __ATOMIC_SEQ_CST) >= f->jobs) ||
	       now_ns() >= f->deadline_ns;
}

/*
 * One pass over pending: claim and do the jobs that hash to worker w
 * (any job when steal). Returns the number done, or -1.
 */
static int
pass(struct floor *f, int w, bool steal, MDB_env *env, MDB_dbi dbi,
     int dirs[4])
{
	struct dirent *de;
	int fd, done = 0;
	int64_t t;
	DIR *dp;

	fd = dup(dirs[0]);
	if (fd < 0 || (dp = fdopendir(fd)) == NULL)
		return -1;
	rewinddir(dp);
	while ((de = readdir(dp)) != NULL && !finished(f)) {
		if (de->d_name[0] == '.')
			continue;
		if (!steal && (int)(name_hash(de->d_name) % (unsigned)f->workers) != w)
			continue;
		t = now_ns();
		if (renameat2(dirs[0], de->d_name, dirs[1], de->d_name,
			      RENAME_NOREPLACE) < 0)
			continue; /* another worker took it */
		step_add(f, STEP_CLAIM, &t);
		if (__atomic_load_n(&f->sh->first_ns, __ATOMIC_SEQ_CST) == 0) {
			int64_t zero = 0; /* the CAS overwrites it on failure */
			__atomic_compare_exchange_n(&f->sh->first_ns, &zero,
						    now_ns(), false,
						    __ATOMIC_SEQ_CST,
						    __ATOMIC_SEQ_CST);
		}
		if (job_do(f, env, dbi, dirs, de->d_name) < 0) {
			closedir(dp);
			return -1;
		}
		done++;
	}
	closedir(dp);
	return done;
}

static int
worker(struct floor *f, int w)
{
	static const char *names[4] = {"pending", "processing", "completed",
				       "failed"};
	int dirs[4], ifd;
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	char buf[4096];

	prctl(PR_SET_PDEATHSIG, SIGTERM);
	for (int i = 0; i < 4; i++)
		if ((dirs[i] = open_dir(f->spool, names[i])) < 0) {
			fprintf(stderr, "floor: %s/%s: %s\n", f->spool,
				names[i], strerror(errno));
			return 1;
		}
	ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	snprintf(buf, sizeof(buf), "%s/pending", f->spool);
	if (ifd < 0 || inotify_add_watch(ifd, buf, IN_MOVED_TO |
					 IN_CLOSE_WRITE) < 0)
		return 1;
	/* Default flags: every commit is synced. */
	if (mdb_env_create(&env) != 0 ||
	    mdb_env_set_mapsize(env, (size_t)1 << 30) != 0 ||
	    mdb_env_open(env, f->dbdir, 0, 0644) != 0 ||
	    mdb_txn_begin(env, NULL, 0, &txn) != 0 ||
	    mdb_dbi_open(txn, NULL, 0, &dbi) != 0 ||
	    mdb_txn_commit(txn) != 0) {
		fprintf(stderr, "floor: cannot open LMDB in %s\n", f->dbdir);
		return 1;
	}
	while (!finished(f)) {
		int n = pass(f, w, false, env, dbi, dirs);
		if (n == 0)
			n = pass(f, w, true, env, dbi, dirs);
		if (n < 0)
			return 1;
		if (n == 0) {
			struct pollfd pfd = {.fd = ifd, .events = POLLIN};
			/* Nothing now: sleep until something lands. */
			if (poll(&pfd, 1, 100) > 0)
				while (read(ifd, buf, sizeof(buf)) > 0)
					;
		}
	}
	mdb_env_close(env);
	return 0;
}

static void
usage(void)
{
	fprintf(stderr, "usage: floor [-d] [-w WORKERS] [-n JOBS] [-t SECONDS] "
		"SPOOL DBDIR HANDLER [ARG...]\n");
	exit(64);
}

int
main(int argc, char **argv)
{
	struct floor f = {.workers = (int)sysconf(_SC_NPROCESSORS_ONLN)};
	long seconds = 300;
	int ch, rc = 0;
	pid_t *pids;
	double secs;

	while ((ch = getopt(argc, argv, "+dw:n:t:")) != -1) {
		switch (ch) {
		case 'd': f.dirsync = true; break;
		case 'w': f.workers = atoi(optarg); break;
		case 'n': f.jobs = atoll(optarg); break;
		case 't': seconds = atol(optarg); break;
		default: usage();
		}
	}
	if (argc - optind < 3 || f.workers < 1 || seconds < 1)
		usage();
	f.spool = argv[optind];
	f.dbdir = argv[optind + 1];
	f.handler = argv + optind + 2;
	f.deadline_ns = now_ns() + (int64_t)seconds * 1000000000;
	f.sh = mmap(NULL, sizeof(*f.sh), PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	pids = calloc((size_t)f.workers, sizeof(*pids));
	if (f.sh == MAP_FAILED || pids == NULL)
		return 1;
	for (int w = 0; w < f.workers; w++) {
		pids[w] = fork();
		if (pids[w] < 0) {
			perror("floor: fork");
			return 1;
		}
		if (pids[w] == 0)
			_exit(worker(&f, w));
	}
	for (int w = 0; w < f.workers; w++) {
		int status;
		while (waitpid(pids[w], &status, 0) < 0 && errno == EINTR)
			;
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			rc = 1;
	}
	secs = f.sh->first_ns != 0
		? (double)(f.sh->last_ns - f.sh->first_ns) / 1e9 : 0;
	printf("floor: jobs=%lld failed=%lld seconds=%.3f jobs_per_s=%.1f "
	       "workers=%d", (long long)f.sh->done, (long long)f.sh->failed,
	       secs, secs > 0 ? (double)f.sh->done / secs : 0.0, f.workers);
	{
		static const char *names[5] = {"claim", "spawn", "move",
					       "dirsync", "commit"};
		for (int s = 0; s < 5; s++)
			printf(" %s_ms=%.3f", names[s], f.sh->done > 0
			       ? (double)f.sh->step_ns[s] / 1e6 /
				 (double)f.sh->done : 0.0);
	}
	printf("\n");
	return rc;
}
