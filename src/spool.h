/*
 * spool.h - the spool directory: its state directories, safe opening of
 * job files, moves, names and ids, and the daemon's lock.
 *
 *   spool/pending processing completed failed paused   job files
 *   spool/logs                                         <id>.log, <id>.result
 *   spool/db                                           LMDB, syncspoold.lock
 *
 * The directory a file sits in is its state. A job file is named
 * "<id>.yaml" once the daemon has accepted it; anything else in pending
 * is a new upload. All access goes through directory descriptors opened
 * once by spool_open(), with the *at() calls and O_NOFOLLOW, so a
 * symlink planted in the spool is never followed.
 *
 * Moves use renameat2(RENAME_NOREPLACE): nothing is ever overwritten. A
 * move does not sync; the caller fsyncs the directories it touched
 * (spool_sync) before it records the move anywhere, so that many moves
 * can share one fsync.
 *
 * Functions return 0 or a negative errno and fill err where they take one.
 */
#ifndef SYNCSPOOL_SPOOL_H
#define SYNCSPOOL_SPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "record.h"
#include "util.h"

#define SPOOL_LOCK_NAME "syncspoold.lock"
#define SPOOL_STAMP_LEN 22 /* ".20250102T030001Z.4f2a" */

struct spool {
	char *path;                 /* absolute */
	int root_fd;
	int dir_fd[STATE_COUNT];    /* indexed by enum job_state; [0] unused (-1) */
	int logs_fd;
	int db_fd;
	int lock_fd;                /* the daemon's, once spool_lock() took it */
};

/*
 * Open the spool at path and its directories (O_DIRECTORY|O_CLOEXEC).
 * create: make missing directories (the daemon); otherwise a missing one
 * is an error naming it.
 */
int spool_open(const char *path, bool create, struct spool *sp, char *err,
	       size_t errlen);
void spool_close(struct spool *sp);

/*
 * The start-up checks of a spool, one directory at a time (name: ".",
 * a state's directory, "logs" or "db"; st and fstype: its fstat() and
 * fstatfs(); root: the spool directory's fstat(); pending: pending/'s, or
 * NULL; euid: the user syncspoold runs as). Errors, which stop the daemon:
 * a directory on another file system than the spool (a move must be one
 * rename); a spool on NFS, CIFS/SMB, FUSE, 9p or Ceph (renames, locks,
 * syncs and inotify do not keep their promises there); a directory
 * writable by everyone without the sticky bit; one owned by another user
 * than the daemon's or root (a warning when the daemon runs as root).
 * Warnings: a spool on tmpfs; a directory writable by everyone, with the
 * sticky bit; db/ or logs/ writable by their group; another directory
 * writable by the group that uploads into pending/.
 */
void spool_audit_dir(const char *path, const char *name, const struct stat *st,
		     unsigned long fstype, const struct stat *root,
		     const struct stat *pending, uid_t euid, audit_cb cb,
		     void *arg);
/* spool_audit_dir() for every directory of an open spool; the errors. */
unsigned spool_audit(struct spool *sp, uid_t euid, audit_cb cb, void *arg);

/* "pending", ...: the directory of a state (state_name()). */
const char *spool_dir_name(enum job_state s);

/*
 * Take the daemon's lock (a POSIX write lock on db/syncspoold.lock, which
 * then holds our pid). -EAGAIN when another daemon holds it, with its pid
 * in *holder and in err.
 */
int spool_lock(struct spool *sp, pid_t *holder, char *err, size_t errlen);
/* The pid holding the daemon's lock, or 0 when no daemon runs. */
int spool_lock_holder(struct spool *sp, pid_t *holder);

/* Move from/name to to/newname (newname NULL: same name), no replace. */
int spool_move(struct spool *sp, enum job_state from, const char *name,
	       enum job_state to, const char *newname);
/* fsync a state directory (or the logs directory with STATE_NONE). */
int spool_sync(struct spool *sp, enum job_state s);

/* Names a client is still writing: leading '.', or *.part, *.filepart, *.tmp. */
bool spool_name_ignored(const char *name);
/* "<id>.yaml" -> id when id is a valid id; else -EINVAL. */
int spool_name_to_id(const char *name, char id[ID_MAX + 1]);
/* id -> "<id>.yaml". */
void spool_id_to_name(const char *id, char name[ID_MAX + 8]);

/*
 * The readable part of an uploaded name that a new id keeps: the name
 * without .yaml/.yml, without an earlier id's time stamp, with any byte
 * outside [A-Za-z0-9._-] turned into '_', starting with an alphanumeric
 * ("job" when nothing is left), at most ID_MAX - SPOOL_STAMP_LEN bytes.
 */
void spool_stem(const char *name, char stem[ID_MAX + 1]);
/* stem + ".YYYYMMDDTHHMMSSZ." + 4 hex digits of rnd. */
void spool_id_make(const char *stem, int64_t now_ms, uint32_t rnd,
		   char id[ID_MAX + 1]);
/* True when id ends in a time stamp spool_id_make() would write. */
bool spool_id_stamped(const char *id);

/*
 * Read a job file safely: open O_RDONLY|O_NOFOLLOW|O_NONBLOCK|O_CLOEXEC
 * relative to the state directory, fstat it, and refuse anything but a
 * regular file with one link of at most max bytes. On success *buf is
 * malloc'd (NUL-terminated; *len excludes the NUL) and *st is the fstat.
 * Errors: -ELOOP symlink, -EISDIR directory, -EINVAL other non-regular
 * file (FIFO, socket, device), -EMLINK hard links, -EFBIG too large,
 * -ENOENT gone; err says which in words.
 */
int spool_read_job(struct spool *sp, enum job_state s, const char *name,
		   size_t max, char **buf, size_t *len, struct stat *st,
		   char *err, size_t errlen);

/*
 * Is anyone holding name open for writing? Tries a read lease
 * (F_SETLEASE F_RDLCK) and drops it at once. 1: a writer holds it;
 * 0: no writer; -EACCES / -EPERM when leases are not ours to take (not
 * the file's owner, no CAP_LEASE): callers then rely on the settle time.
 */
int spool_has_writer(struct spool *sp, enum job_state s, const char *name);

/*
 * Write a new job file into pending durably under name: create
 * ".<name>.XXXXXX" with O_EXCL, write, fsync, close, rename into view
 * with RENAME_NOREPLACE, fsync pending. -EEXIST when name is taken.
 */
int spool_write_new(struct spool *sp, const char *name, const char *content,
		    size_t len, char *err, size_t errlen);

#endif
