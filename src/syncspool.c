/*
 * syncspool.c - the admin command: main, the global options and the
 * command table.
 *
 *   syncspool [-c config] command [arguments]
 *
 * Each command of DESIGN.md "Command line" is one function (cli.h) that
 * parses its own options with getopt_long and returns a sysexits(3)
 * status. main owns the one struct cli the command works with, and
 * releases what the command opened in it, whatever the outcome.
 *
 * The CLI writes no LMDB state: it moves job files between the spool's
 * state directories and reads the daemon's index. The man page,
 * man/syncspool.1, documents every command; its SYNOPSIS and the usage
 * text in cli_common.c are the same words.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sysexits.h>
#include <unistd.h>

#include "cli.h"

static const struct command {
	const char *name;
	int (*fn)(struct cli *c, int argc, char **argv);
} commands[] = {
	{"trigger", cmd_trigger},
	{"stop", cmd_stop},
	{"resume", cmd_resume},
	{"retry", cmd_retry},
	{"status", cmd_status},
	{"stats", cmd_stats},
	{"history", cmd_history},
	{"list", cmd_list},
	{"show", cmd_show},
	{"logs", cmd_logs},
	{"check", cmd_check},
};

/* Columns to fit: the terminal's, or 80 when it does not say. */
static unsigned
term_width(void)
{
	struct winsize ws;

	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 40)
		return ws.ws_col;
	return 80;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct cli c;
	int ch, rc;

	memset(&c, 0, sizeof(c));
	c.tty = isatty(STDOUT_FILENO) == 1;
	c.width = c.tty ? term_width() : 80;

	opterr = 0;
	/* '+': stop at the command; its options are its own. */
	while ((ch = getopt_long(argc, argv, "+:c:", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			c.config_opt = optarg;
			break;
		case 'h':
			cli_usage(NULL, stdout);
			return EX_OK;
		case ':':
			return cli_usage_error(NULL, "option -c needs a file");
		default:
			if (optopt != 0)
				return cli_usage_error(NULL,
						       "option -%c is unknown",
						       optopt);
			return cli_usage_error(NULL, "option %s is unknown",
					       argv[optind - 1]);
		}
	}
	if (optind >= argc)
		return cli_usage_error(NULL, "missing command");

	const char *name = argv[optind];
	int sub_argc = argc - optind;
	char **sub_argv = argv + optind;

	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(name, commands[i].name) != 0)
			continue;
		/* Each command parses its own argv afresh (GNU: optind 0). */
		optind = 0;
		rc = commands[i].fn(&c, sub_argc, sub_argv);
		cli_close(&c);
		if (fflush(stdout) == EOF || ferror(stdout)) {
			cli_warn("cannot write the output: %m");
			if (rc == EX_OK)
				rc = EX_IOERR;
		}
		return rc;
	}
	char clean[256];
	return cli_usage_error(NULL, "unknown command '%s'",
			       cli_clean(name, clean, sizeof(clean)));
}
