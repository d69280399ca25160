/*
 * runner.h - running one attempt of a job's handler, per the handler
 * contract of DESIGN.md.
 *
 * The daemon owns the loop; the runner owns one child and its descriptors:
 *
 *   runner_start()    clone(CLONE_VM): the child sets
 *                     itself up (own process group, signal dispositions
 *                     and mask reset, stdin = a sealed memfd holding the
 *                     validated job content, stdout and stderr = pipes to
 *                     the daemon, every other fd closed, cwd "/"), and,
 *                     before anything else that could lead to exec, writes
 *                     its own record (job id, pid, start time, boot id)
 *                     where the daemon said (db/running), so a restarted
 *                     daemon always knows which handler may still be
 *                     alive. Only then does it execve() the provider's
 *                     command with the built environment. If the record
 *                     cannot be written it runs nothing. The record
 *                     needs no round trip through the daemon, which
 *                     either is suspended until the exec (CLONE_VFORK;
 *                     runner_start() then fails if the record could not
 *                     be written) or, with spec.beside, goes on at once
 *                     (clone3() without CLONE_VFORK; runner_reap() then
 *                     reports run->setup_errno).
 *   runner_drain()    read what the handler wrote on one pipe and append it
 *                     to logs/<id>.log, up to log_max bytes for the whole
 *                     file; past that a single "[output truncated]" line is
 *                     written and the rest is read and thrown away, so the
 *                     daemon's memory stays flat. The last complete stderr
 *                     line is kept as the attempt's short error. The log
 *                     and the attempt's header are written on its first
 *                     output: an attempt that prints nothing leaves no
 *                     trace in the log, and a job none of whose attempts
 *                     printed anything has no log file at all.
 *   runner_signal()   signal the handler's whole process group.
 *   runner_peek()     once pidfd is readable: its exit status, not reaped.
 *   runner_reap()     once pidfd is readable: SIGKILL whatever is left in
 *                     the group (before reaping, so the group id cannot be
 *                     reused) and in its cgroup, reap the handler, drain
 *                     the pipes, write the attempt's footer to the log
 *                     and close everything but a cgroup it found empty,
 *                     whose directory it leaves in run->cg_empty_fd for
 *                     cgroup_release().
 *
 * Given a cgroup (cgroup.h), the child moves itself into it first thing,
 * before it records itself or execs, so nothing the handler starts is
 * ever outside it,
 * and kills the cgroup (cgroup.kill) when the handler has exited: what
 * left the process group with setsid() dies too. When the move fails,
 * the handler runs without the cgroup and run->cg_error says why.
 *
 * A handler found alive by a restarted daemon is "adopted": runner_adopt()
 * opens a pidfd for it after checking its start time and the boot id, so a
 * recycled pid is never mistaken for it. An adopted handler is not our
 * child: its exit status is unknown, and it has no pipes.
 *
 * All descriptors are O_CLOEXEC; fds are -1 when closed. Functions return
 * 0 or a negative errno and fill err where they take one.
 *
 * The daemon must: reap handlers only through runner_reap() (never
 * waitpid(-1), which would steal the zombie a pidfd waits on), keep
 * SIGCHLD's disposition at SIG_DFL (SIG_IGN would auto-reap and free the
 * pid), and remove a stale result file before runner_start(), since the
 * runner only passes result_path on.
 */
#ifndef SYNCSPOOL_RUNNER_H
#define SYNCSPOOL_RUNNER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "cgroup.h"
#include "config.h"
#include "job.h"
#include "record.h"

struct runner_nest;

struct runner_spec {
	const struct provider *prov;
	const struct job *job;
	const char *job_id;
	unsigned attempt;          /* 1-based */
	const char *job_path;      /* absolute path of the file in processing */
	const char *result_path;   /* absolute path for SYNCSPOOL_RESULT_FILE;
				      the daemon removes any old file first */
	const char *content;       /* the validated job bytes, fed on stdin */
	size_t content_len;
	const char *cgroup_name;   /* NULL, or the attempt's cgroup ... */
	int cgroup_fd;             /* ... from cgroup_make(), which
				      runner_start() takes over */
	const uint64_t *sig_reset; /* runner_sig_changed(); NULL: reset all */
	bool beside;               /* start it beside the caller, which does
				      not wait for its exec (runner_start()) */
};

/*
 * Where the child records itself before it may exec: len bytes at off in
 * fd (db/running, one line per worker slot), as "<id> <pid> <starttime>
 * <boot id>" ("-" when unknown), padded with spaces, ended by a newline.
 */
#define RUNNER_RECORD_MAX 256

struct runner_record {
	int fd;
	off_t off;
	size_t len;                /* ID_MAX + BOOT_ID_LEN + 48 at least */
	const char *id;            /* the spec's job_id */
};

struct run {
	pid_t pid;              /* also the process group id; 0 when none */
	int pidfd;              /* readable when the handler has exited */
	int out_fd;             /* read end of its stdout, non-blocking */
	int err_fd;             /* read end of its stderr, non-blocking */
	int log_fd;             /* logs/<id>.log, O_APPEND; -1 until the
				   attempt's first output */
	int log_dir;            /* where it is created (not ours to close) */
	char log_id[ID_MAX + 1];
	pid_t log_pid;          /* for the header */
	bool log_persistent;
	int64_t started_wall;   /* util_now_ms() at start, for the header */
	int log_errno;          /* the log could not be opened: why */
	bool adopted;           /* found alive at start-up; not our child */
	int cg_fd;              /* its cgroup's directory; -1: none */
	int cg_error;           /* moving it there failed: -errno; else 0 */
	bool cg_killed;         /* its cgroup.kill was written: see cgroup.h */
	int cg_empty_fd;        /* runner_reap() found its cgroup empty: the
				   cgroup's directory, now the caller's */
	char cg_name[CGROUP_NAME_MAX + 1];
	uint64_t start_ticks;   /* /proc/PID/stat starttime */
	struct runner_nest *nest; /* the child's, until it is reaped */
	int exec_errno;         /* execve() failed with it: the handler has
				   exited 127, its reason on its stderr */
	int setup_errno;        /* it failed before exec and ran nothing:
				   exit 127, why in last_err */
	int64_t started_mono;   /* util_mono_ms() at start */
	unsigned attempt;
	uint64_t log_size;      /* bytes in the log file */
	uint64_t log_max;
	bool log_truncated;     /* this attempt hit log_max */
	bool log_midline;       /* the last byte logged was not a newline */
	char line[ERROR_MAX + 1]; /* stderr line being assembled */
	size_t linelen;
	char last_err[ERROR_MAX + 1];
};

struct run_status {
	int exit_code;          /* -1 when killed by a signal or unknown */
	int signal;             /* 0 when it exited */
	uint64_t duration_ms;
};

/*
 * The handler's environment: the provider's env, PATH
 * (/usr/local/bin:/usr/bin:/bin unless the provider's env sets one), and
 * SYNCSPOOL_JOB_ID, _VENUE_ID, _PROVIDER, _SYNC_TYPE, _ATTEMPT, _JOB_FILE,
 * _RESULT_FILE and SYNCSPOOL_OPTION_<KEY> (key upper-cased) per option.
 * Nothing of the daemon's own environment leaks in. Order: the provider's
 * env, PATH when it had none, the SYNCSPOOL_* variables in the order
 * above, then the options in job order. *envp is one allocation,
 * NULL-terminated; free it with free(). -EINVAL when an option key is
 * not [A-Za-z_][A-Za-z0-9_]*, when two keys differ only in case (they
 * would name one variable), or when a provider env entry is not
 * KEY=VALUE or sets a SYNCSPOOL_ name, which is the daemon's.
 */
int runner_env_build(const struct runner_spec *s, char ***envp, char *err,
		     size_t errlen);

/*
 * Start the handler for one attempt. logdir_fd: the spool's logs
 * directory, where the log is opened (created 0640) as "<job_id>.log"
 * on the handler's first output (run->log_errno: it could not be). rec:
 * where the child records itself before it execs (NULL: nowhere). On
 * success *run is filled and the handler runs, or has failed to exec
 * (run->exec_errno). Started s->beside, it is on its way: whether its
 * exec or its set-up before failed is known once it is reaped
 * (run->exec_errno, run->setup_errno).
 */
int runner_start(const struct runner_spec *s, int logdir_fd,
		 uint64_t log_max, const struct runner_record *rec,
		 struct run *run, char *err, size_t errlen);
/*
 * The signals whose disposition is not SIG_DFL, as bits sig - 1, for
 * runner_spec.sig_reset: the child resets only those, not all 64. Take
 * it again after any change of a disposition.
 */
uint64_t runner_sig_changed(void);

/*
 * fd is run->out_fd or run->err_fd. Reads at most 16 x 64 KiB, so call
 * again while epoll says readable. Returns 1 at EOF or on a read error
 * (the fd is then closed and set to -1; a later epoll event for that
 * number is stale), 0 otherwise, -EINVAL for any other fd.
 */
int runner_drain(struct run *run, int fd);
/*
 * kill(-pid, sig), and for SIGKILL its cgroup too; a group already gone
 * is not an error.
 */
int runner_signal(struct run *run, int sig);
/*
 * Call once pidfd is readable. Fills *st, writes the footer and closes
 * every descriptor; returns 0. If the handler has not exited after all,
 * its group has been sent SIGKILL and -EAGAIN is returned with nothing
 * closed: call again when pidfd is readable. When the status cannot be
 * known (adopted, or reaped by someone else) st has exit_code -1, signal 0.
 */
int runner_reap(struct run *run, struct run_status *st);
/*
 * How the handler exited, without reaping it (waitid's WNOWAIT): until
 * runner_reap() its pid, and so its group id, stay ours. 0 and *st's
 * exit_code or signal (duration_ms 0); -EAGAIN while it runs; -EINVAL
 * for an adopted handler or one never started; another -errno when the
 * status cannot be read.
 */
int runner_peek(const struct run *run, struct run_status *st);

/*
 * 0 and a filled *run when pid is alive with that start time this boot;
 * -ESRCH when it is not (gone, recycled, another boot). Any other error
 * (EMFILE, say) means "could not tell": do not start a second copy.
 */
int runner_adopt(pid_t pid, uint64_t start_ticks, const char *boot_id,
		 struct run *run);
/* Close the descriptors without waiting (daemon exit). */
void runner_abandon(struct run *run);

/* /proc/PID/stat field 22; -ESRCH when there is no such process. */
int runner_proc_start(pid_t pid, uint64_t *ticks);
/* /proc/sys/kernel/random/boot_id, read once and cached; NULL if unreadable. */
const char *runner_boot_id(void);

/*
 * Read the handler's result file (at most RESULT_MAX bytes; longer files
 * are cut at a line boundary) into out, keeping only lines of the form
 * "key: value" with a key of [A-Za-z0-9_.-]{1,64} and a non-empty value
 * of printable ASCII, both trimmed; out holds them as "key: value\n".
 * A missing file gives "" and 0; a symlink -ELOOP; anything but a regular
 * file with one link -EINVAL.
 */
int runner_result_read(int dirfd, const char *name, char out[RESULT_MAX + 1]);
/*
 * The value of key in a result text, into buf (the last line wins);
 * -ENOENT when absent, -ERANGE when buf is too small.
 */
int runner_result_get(const char *result, const char *key, char *buf,
		      size_t len);

/*
 * Persistent handlers (a provider's `mode: persistent`): the daemon keeps
 * handler processes alive and feeds them jobs, one JSON line each on
 * their stdin (runner_job_line()); each answers with one JSON line on its
 * stdout, {"job_id": ..., "exit": N, "error": "...", "result": {...}}
 * (runner_reply_parse()), and what it writes to stderr goes to the
 * current job's log (runner_log_begin/feed/end). The protocol is in
 * syncspool-handler(7).
 */
#define RUNNER_JOBLINE_MAX (1024 * 1024)

struct runner_reply {
	char job_id[ID_MAX + 1];
	int exit_code;
	char error[ERROR_MAX + 1];
	char result[RESULT_MAX + 1];  /* as "key: value" lines */
};

/*
 * Start a persistent handler for provider p, with an environment of the
 * provider's env, PATH, SYNCSPOOL_PROVIDER and SYNCSPOOL_MODE=persistent.
 * run gets its pid, pidfd and the read ends of its stdout and stderr
 * (non-blocking); *in_fd the write end of its stdin (non-blocking, with
 * room for a whole job line). cgroup_fd as in struct runner_spec.
 */
int runner_start_worker(const struct provider *p, const uint64_t *sig_reset,
			int cgroup_fd, const char *cgroup_name,
			struct run *run, int *in_fd, char *err,
			size_t errlen);
/* The job as one JSON line, '\n'-terminated; *line is malloc'd. */
int runner_job_line(const struct runner_spec *s, char **line, size_t *len);
/* One reply line (without its newline). */
int runner_reply_parse(const char *line, size_t len, struct runner_reply *r,
		       char *err, size_t errlen);
/*
 * A job's log for an attempt run by a persistent handler: get ready to
 * write it (run gets attempt, started_mono, pid; the file and its header
 * come with the first output), append the handler's stderr to it
 * (capped, last line kept as last_err), and write the footer and close
 * it, when it was opened.
 */
void runner_log_begin(int logdir_fd, const char *job_id, unsigned attempt,
		      pid_t pid, uint64_t log_max, struct run *run);
void runner_log_feed(struct run *run, const char *buf, size_t len);
void runner_log_end(struct run *run, const struct run_status *st);

#endif
