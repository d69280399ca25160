/*
 * test_audit.c - the start-up checks of a spool directory
 * (spool_audit_dir()) against a table of directories: what it says of
 * each owner, mode, group and file system, as error or warning.
 *
 * Each row is one directory as fstat() and fstatfs() would describe it,
 * seen by a daemon running as euid; the row says how many errors and
 * warnings it must give, and a phrase the first finding must contain.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "spool.h"

#define ROWS(t) (sizeof(t) / sizeof((t)[0]))

#define DAEMON 1000   /* the daemon's user, when not root */
#define OTHER 1001    /* someone else */
#define UPLOAD 2000   /* the uploaders' group */
#define STAFF 3000    /* an admins' group */
#define EXT4 0xef53UL
#define DEV 8         /* the spool's file system */

struct row {
	const char *what;
	const char *name;      /* ".", "pending", ..., "db" */
	mode_t mode;           /* permission bits */
	uid_t uid;
	gid_t gid;
	dev_t dev;
	unsigned long fstype;
	uid_t euid;
	unsigned errors, warnings;
	const char *says;      /* in the first finding; NULL: none */
};

static const struct row rows[] = {
	{"the layout tmpfiles makes: spool", ".", 0750, DAEMON, DAEMON, DEV,
	 EXT4, DAEMON, 0, 0, NULL},
	{"the layout tmpfiles makes: pending", "pending", 03770, DAEMON,
	 UPLOAD, DEV, EXT4, DAEMON, 0, 0, NULL},
	{"the layout tmpfiles makes: processing", "processing", 0750, DAEMON,
	 DAEMON, DEV, EXT4, DAEMON, 0, 0, NULL},
	{"owned by root, daemon not root", "failed", 0755, 0, 0, DEV, EXT4,
	 DAEMON, 0, 0, NULL},
	{"root daemon, root spool", "db", 0755, 0, 0, DEV, EXT4, 0, 0, 0,
	 NULL},

	/* File systems. */
	{"another file system", "failed", 0750, DAEMON, DAEMON, DEV + 1, EXT4,
	 DAEMON, 1, 0, "another file system"},
	{"NFS", ".", 0750, DAEMON, DAEMON, DEV, 0x6969, DAEMON, 1, 0,
	 "is on NFS"},
	{"CIFS", ".", 0750, DAEMON, DAEMON, DEV, 0xff534d42, DAEMON, 1, 0,
	 "is on CIFS"},
	{"SMB2", ".", 0750, DAEMON, DAEMON, DEV, 0xfe534d42, DAEMON, 1, 0,
	 "is on SMB"},
	{"FUSE", ".", 0750, DAEMON, DAEMON, DEV, 0x65735546, DAEMON, 1, 0,
	 "FUSE"},
	{"9p", ".", 0750, DAEMON, DAEMON, DEV, 0x01021997, DAEMON, 1, 0,
	 "is on 9p"},
	{"tmpfs", ".", 0750, DAEMON, DAEMON, DEV, 0x01021994, DAEMON, 0, 1,
	 "lost at the next reboot"},
	{"the file system is judged at the top only", "pending", 0750, DAEMON,
	 DAEMON, DEV, 0x6969, DAEMON, 0, 0, NULL},

	/* Everyone. */
	{"world-writable, no sticky bit", "pending", 0777, DAEMON, DAEMON, DEV,
	 EXT4, DAEMON, 1, 0, "without the sticky bit"},
	{"world-writable with the sticky bit", "pending", 01777, DAEMON,
	 DAEMON, DEV, EXT4, DAEMON, 0, 1, "anyone may queue jobs"},

	/* Owners. */
	{"owned by another user", "processing", 0750, OTHER, DAEMON, DEV,
	 EXT4, DAEMON, 1, 0, "owned by uid 1001"},
	{"owned by another user, root daemon", "processing", 0750, OTHER,
	 OTHER, DEV, EXT4, 0, 0, 1, "or run syncspoold as that user"},

	/* Groups. */
	{"processing writable by the upload group", "processing", 0770,
	 DAEMON, UPLOAD, DEV, EXT4, DAEMON, 0, 1, "uploads into pending"},
	{"paused writable by an admins' group", "paused", 0770, DAEMON, STAFF,
	 DEV, EXT4, DAEMON, 0, 0, NULL},
	{"db writable by its group", "db", 0770, DAEMON, STAFF, DEV, EXT4,
	 DAEMON, 0, 1, "index and the history"},
	{"logs writable by its group", "logs", 0770, DAEMON, STAFF, DEV, EXT4,
	 DAEMON, 0, 1, "handlers' logs"},
	{"pending writable by its group", "pending", 0770, DAEMON, UPLOAD, DEV,
	 EXT4, DAEMON, 0, 0, NULL},

	/* Several at once. */
	{"everything wrong", "processing", 0777, OTHER, UPLOAD, DEV + 1, EXT4,
	 DAEMON, 3, 1, "another file system"},
};

struct found {
	unsigned errors, warnings;
	char first[1024];
};

static void
collect(enum audit_level level, const char *msg, void *arg)
{
	struct found *f = arg;

	if (f->errors + f->warnings == 0)
		snprintf(f->first, sizeof(f->first), "%s", msg);
	if (level == AUDIT_ERROR)
		f->errors++;
	else
		f->warnings++;
}

static void
test_audit_dir(void **state)
{
	/* pending as tmpfiles makes it: the upload group may write. */
	const struct stat pending = {.st_mode = S_IFDIR | 03770,
				     .st_uid = DAEMON, .st_gid = UPLOAD,
				     .st_dev = DEV};
	const struct stat root = {.st_mode = S_IFDIR | 0750, .st_dev = DEV};

	(void)state;
	for (size_t i = 0; i < ROWS(rows); i++) {
		const struct row *r = &rows[i];
		struct stat st = {.st_mode = S_IFDIR | r->mode,
				  .st_uid = r->uid, .st_gid = r->gid,
				  .st_dev = r->dev};
		struct found f = {0};

		spool_audit_dir("/spool/x", r->name, &st, r->fstype, &root,
				&pending, r->euid, collect, &f);
		if (f.errors != r->errors || f.warnings != r->warnings)
			fail_msg("%s: %u errors, %u warnings (want %u, %u); "
				 "first: %s", r->what, f.errors, f.warnings,
				 r->errors, r->warnings, f.first);
		if (r->says != NULL && strstr(f.first, r->says) == NULL)
			fail_msg("%s: said '%s', not '%s'", r->what, f.first,
				 r->says);
		if (r->says == NULL && f.first[0] != '\0')
			fail_msg("%s: said '%s'", r->what, f.first);
	}
}

/* Without pending/ (NULL) no directory is judged by the upload group. */
static void
test_audit_no_pending(void **state)
{
	const struct stat root = {.st_mode = S_IFDIR | 0750, .st_dev = DEV};
	struct stat st = {.st_mode = S_IFDIR | 0770, .st_uid = DAEMON,
			  .st_gid = UPLOAD, .st_dev = DEV};
	struct found f = {0};

	(void)state;
	spool_audit_dir("/spool/processing", "processing", &st, EXT4, &root,
			NULL, DAEMON, collect, &f);
	assert_int_equal(f.errors + f.warnings, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_audit_dir),
		cmocka_unit_test(test_audit_no_pending),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
