/*
 * cli.h - the syncspool(1) admin command: what its modules share.
 *
 *   syncspool.c    main: the global options, the command table, usage
 *   cli_common.c   opening the config, the spool and the index; usage
 *                  text; output helpers (tables, times, durations, JSON)
 *   cli_move.c     trigger, stop, resume, retry: commands that move files
 *   cli_read.c     status, history, list, show: commands that read LMDB
 *   cli_logs.c     logs and check
 *
 * The CLI never writes LMDB. It moves files (renameat2 with
 * RENAME_NOREPLACE, through spool_move()) and reads the index with
 * short read transactions (store_open(dir, false, ...)). A move means
 * the same whether the CLI or an admin's mv makes it; the daemon records
 * it when it sees it, or at its next start.
 *
 * Every command function takes the shared struct cli and its own argv
 * (argv[0] is the command's name) and returns a sysexits(3) status. It
 * prints its own messages; whatever it opened through cli_open() is
 * released by cli_close() in main.
 */
#ifndef SYNCSPOOL_CLI_H
#define SYNCSPOOL_CLI_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include <jansson.h>

#include "config.h"
#include "record.h"
#include "spool.h"
#include "store.h"
#include "util.h"

/* The state the CLI holds for one command: owned by main. */
struct cli {
	const char *config_opt;  /* -c, or NULL */
	const char *config_path; /* config_find()'s answer */
	struct config cfg;
	bool have_cfg;
	struct spool sp;
	bool have_spool;
	struct store *st;        /* NULL: no index (not created yet) */
	bool no_index;           /* store_open() said -ENOENT */
	bool stale_noted;        /* cli_note_stale() has spoken */
	pid_t daemon;            /* the lock holder's pid; 0 when none */
	bool tty;                /* stdout is a terminal */
	unsigned width;          /* columns to fit human output into */
};

/* What cli_open() must provide; each implies the ones before it. */
enum cli_need {
	NEED_CONFIG = 1,
	NEED_SPOOL,
	NEED_STORE,   /* the index, or st == NULL with a note when absent */
};

/*
 * Load the config, open the spool, find the daemon, open the index, as
 * far as need says. Returns EX_OK, or prints why and returns EX_CONFIG
 * (bad config) or EX_UNAVAILABLE (spool or index unusable).
 */
int cli_open(struct cli *c, enum cli_need need);
void cli_close(struct cli *c);

/* "syncspool: " + message on stderr (stdout is flushed first). */
void cli_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* cli_warn() the command's usage error, then its usage; returns EX_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/*
 * Usage of one command (NULL: all) on f. The text matches the SYNOPSIS
 * of man/syncspool.1 word for word.
 */
void cli_usage(const char *cmd, FILE *f);
/* "CMD: unexpected argument 'ARG'" and the usage; returns EX_USAGE. */
int cli_extra_arg(const char *cmd, const char *arg);
/* Has the command's usage text; false for an unknown command. */
bool cli_command_known(const char *cmd);

/*
 * getopt_long() with the CLI's messages: returns the option, or -1 at
 * the end; an unknown option or a missing argument prints a usage error
 * and returns '?'; --help prints the command's usage and returns 'h'.
 * optstring must start with ':'.
 */
int cli_getopt(int argc, char **argv, const char *optstring,
	       const struct option *longopts);

/*
 * Checks shared by the commands, each printing its own message. They
 * return EX_OK or the exit status to leave with.
 */
int cli_check_provider(const struct cli *c, const char *provider,
		       const struct provider **out);
int cli_check_venue(const char *venue);
int cli_check_id(const char *id);

/* The daemon is not running: say that the index may lag the files. */
void cli_note_stale(struct cli *c);

/*
 * Find the job file "<id>.yaml": the state directory it is in, trying
 * hint first; STATE_NONE when it is in none.
 */
enum job_state cli_locate(struct cli *c, const char *id, enum job_state hint);

/*
 * Text output. cli_clean() copies s into buf (of len bytes) with every
 * control byte replaced by '?', so a handler's output cannot drive the
 * terminal. cli_fit() additionally cuts it to cols columns with an
 * ellipsis, only when stdout is a terminal.
 */
const char *cli_clean(const char *s, char *buf, size_t len);
const char *cli_fit(const struct cli *c, const char *s, size_t cols,
		    char *buf, size_t len);
/* Display columns of a UTF-8 string (code points). */
size_t cli_cols(const char *s);

/* A time for humans: RFC 3339 to the second; "-" when 0. */
const char *cli_time(int64_t ms, char buf[RFC3339_LEN]);
/* "1h", "90s", "1.2s", "350ms": the shortest exact-enough form. */
const char *cli_duration(uint64_t ms, char *buf, size_t len);
/* "exit 3", "SIGTERM", "-" */
const char *cli_exit(int32_t exit_code, int32_t sig, char *buf, size_t len);

/*
 * A table for humans: cells are copied (and cleaned). Columns marked cut
 * may be shortened with an ellipsis when stdout is a terminal narrower
 * than the table; columns marked right are right-aligned. A row may carry
 * note lines, printed indented below it ("error: ..."). own_line names
 * (1-based; 0: none) the column that is never cut: when the table is
 * still wider than the terminal, that column leaves the grid, each
 * row's cell on a line of its own (above the row for the first column,
 * else under it as "head value").
 */
#define CLI_TABLE_MAXCOLS 10
struct cli_table {
	size_t ncols;
	const char *head[CLI_TABLE_MAXCOLS];
	bool right[CLI_TABLE_MAXCOLS];
	bool cut[CLI_TABLE_MAXCOLS];
	size_t own_line;
	char **cells;  /* nrows * ncols */
	char **notes;  /* nrows; NULL or '\n'-separated lines */
	size_t nrows, cap;
};
int cli_table_add(struct cli_table *t, const char *const *row);
/* Add a note line to the last row. */
int cli_table_note(struct cli_table *t, const char *line);
void cli_table_print(const struct cli *c, const struct cli_table *t,
		     const char *indent);
void cli_table_free(struct cli_table *t);

/*
 * JSON: each returns a new reference (NULL only on ENOMEM). A time of 0
 * is null; otherwise an RFC 3339 string. Strings from files, handlers
 * and the index go through cli_json_str(), since jansson refuses
 * (returns NULL for) anything that is not UTF-8.
 */
json_t *cli_json_time(int64_t ms);
/* A string of untrusted bytes: invalid UTF-8 becomes U+FFFD. */
json_t *cli_json_str(const char *s);
json_t *cli_json_event(const struct event *e);
json_t *cli_json_result(const char *result);
json_t *cli_json_counts(const uint64_t counts[STATE_COUNT]);
/* json_dumpf() doc to stdout with a newline, and drop the reference. */
int cli_json_print(json_t *doc);

/* A growable list of strings; cli_strv_free() releases it. */
struct cli_strv {
	char **v;
	size_t n, cap;
};
int cli_strv_add(struct cli_strv *sv, const char *s);
bool cli_strv_has(const struct cli_strv *sv, const char *s);
void cli_strv_free(struct cli_strv *sv);

/* The commands. */
int cmd_trigger(struct cli *c, int argc, char **argv);
int cmd_stop(struct cli *c, int argc, char **argv);
int cmd_resume(struct cli *c, int argc, char **argv);
int cmd_retry(struct cli *c, int argc, char **argv);
int cmd_status(struct cli *c, int argc, char **argv);
int cmd_stats(struct cli *c, int argc, char **argv);
int cmd_history(struct cli *c, int argc, char **argv);
int cmd_list(struct cli *c, int argc, char **argv);
int cmd_show(struct cli *c, int argc, char **argv);
int cmd_logs(struct cli *c, int argc, char **argv);
int cmd_check(struct cli *c, int argc, char **argv);

#endif
