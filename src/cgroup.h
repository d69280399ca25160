/*
 * cgroup.h - a cgroup v2 per handler, where the machine allows it.
 *
 * A process group holds a handler's processes only while they stay in it:
 * setsid() leaves it, and a daemonizing grandchild outlives the kill of
 * the group. A cgroup cannot be left by the processes in it (moving one
 * takes write access to the cgroup files, which a handler does not have),
 * and cgroup.kill (Linux 5.14) kills everything in it at once, forks in
 * flight included. So where the daemon may make cgroups (root on a cgroup2
 * mount, or a systemd unit with Delegate=yes), each handler runs in one of
 * its own:
 *
 *   <the daemon's cgroup>/syncspool.<dev>.<ino>/<name>
 *
 * <dev>.<ino> names the spool's directory, so two daemons that share a
 * cgroup never touch each other's handlers; <name> is "run@<n>" for an
 * attempt and "worker.<provider>@<n>" for a persistent handler, with <n>
 * unique for the daemon's life. The child starts in its cgroup, before it
 * may run anything. Once the handler has exited, a cgroup still holding
 * processes is killed and removed when empty; one its handler left empty
 * is kept, idle, for the next attempt (making and removing a cgroup costs
 * the kernel more than a handler's whole start: see tests/bench/README.md).
 * A cgroup that has been killed is never used again: on the kernels seen
 * here (6.18), a child cloned into a cgroup after its cgroup.kill was
 * written is killed at birth. At start-up, what a previous daemon left is
 * killed and removed, except the cgroups of the handlers it adopts.
 *
 * When cgroup_open() fails, the daemon keeps to process groups and says
 * why, once. Functions return 0 or a negative errno.
 */
#ifndef SYNCSPOOL_CGROUP_H
#define SYNCSPOOL_CGROUP_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Cgroups that were killed but not yet empty, retried by cgroup_sweep(). */
#define CGROUP_DYING_MAX 256
#define CGROUP_NAME_MAX 200 /* "worker.<provider>@<n>" */
/* Emptied cgroups kept for the next handlers; more are removed. */
#define CGROUP_IDLE_MAX 64

struct cgroup_idle {
	int fd;                           /* its directory */
	char name[CGROUP_NAME_MAX + 1];
};

struct cgroups {
	int fd;                  /* syncspool.<dev>.<ino>; -1: not used */
	int parent_fd;           /* the daemon's cgroup */
	char leaf[64];           /* "syncspool.<dev>.<ino>" */
	char path[PATH_MAX];     /* its path in the file system */
	char rel[PATH_MAX];      /* its path as /proc/PID/cgroup gives it */
	char (*dying)[CGROUP_NAME_MAX + 1];
	size_t ndying;
	struct cgroup_idle *idle;         /* empty, never killed: reusable */
	size_t nidle;
};

/*
 * Find the daemon's own cgroup and make syncspool.<dev>.<ino> in it (dev
 * and ino: the spool's). On failure cg is left unused (cg->fd == -1) and
 * err says why, for the fallback's log line.
 */
int cgroup_open(struct cgroups *cg, dev_t dev, ino_t ino, char *err,
		size_t errlen);
/* Close; with remove, also remove syncspool.<dev>.<ino> if it is empty. */
void cgroup_close(struct cgroups *cg, bool remove);
static inline bool
cgroup_on(const struct cgroups *cg)
{
	return cg->fd >= 0;
}

/* Make the cgroup called name; *fd: its directory, O_CLOEXEC. */
int cgroup_make(struct cgroups *cg, const char *name, int *fd);
/*
 * An idle cgroup for the next handler: its name, and its directory in *fd
 * (the caller's to close); -ENOENT when none is idle.
 */
int cgroup_reuse(struct cgroups *cg, char name[CGROUP_NAME_MAX + 1], int *fd);
/*
 * A handler of the cgroup name has ended. Unless it was killed (or keep is
 * false), an empty one goes idle for cgroup_reuse(); else cgroup_remove().
 * empty_fd: -1, or the cgroup's directory, found empty after its handler
 * was reaped (so nothing can enter it), which is taken over and kept
 * without looking again; else the cgroup is opened and looked at here.
 */
void cgroup_release(struct cgroups *cg, const char *name, bool killed,
		    bool keep, int empty_fd);
/* Move pid into the cgroup whose directory is fd. */
int cgroup_place(int fd, pid_t pid);
/* SIGKILL every process in the cgroup whose directory is fd. */
int cgroup_kill(int fd);
/* 1 while a process is in the cgroup, 0 when none is. */
int cgroup_populated(int fd);
/*
 * Remove name. One still populated (its processes are dying) is kept for
 * cgroup_sweep(); so is one that the list has no room for, which the
 * next start-up removes.
 */
void cgroup_remove(struct cgroups *cg, const char *name);
/* Try again to remove what is dying; the number still left. */
size_t cgroup_sweep(struct cgroups *cg);
/*
 * pid's cgroup when it is one of ours: its name, and its directory in
 * *fd (O_CLOEXEC); -ENOENT when it is not ours, -ESRCH when pid is gone.
 */
int cgroup_of(const struct cgroups *cg, pid_t pid,
	      char name[CGROUP_NAME_MAX + 1], int *fd);
/*
 * Start-up: kill and remove every cgroup of ours that keep() does not
 * claim. *killed: how many still held processes.
 */
int cgroup_clear(struct cgroups *cg, bool (*keep)(const char *name, void *arg),
		 void *arg, size_t *killed);

#endif
