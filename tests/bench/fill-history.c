/*
 * fill-history - give a spool's LMDB a long history, fast, for the
 * benchmark's status and history latencies (issue 6, `make bench`).
 *
 *   fill-history [-n EVENTS] [-p PROVIDERS] [-v VENUES] [-b BATCH]
 *                DBDIR TARGET_PROVIDER TARGET_VENUE
 *
 * Writes EVENTS (default 1,000,000) history events through the project's
 * store module, as the daemon would: jobs of three events each (queued,
 * started, completed, with a duration and exit 0), each job's record in
 * state completed, spread round-robin over PROVIDERS x VENUES
 * venue+providers (defaults 5 x 2,000: providers "square", "stripe",
 * "mailchimp", "quickbooks", "bench"; venues "v0"...), except that every
 * 100th job belongs to TARGET_PROVIDER/TARGET_VENUE, so that one has a
 * long history of its own (1% of the events). Times run over the last 30
 * days, oldest first, so that retention's default 90 days keeps them.
 * Changes are committed in batches of BATCH events (default 60,000).
 *
 * Prints "fill-history: events=N jobs=J vps=V target_events=T seconds=S".
 * Exit status: 0, 1 on a store error, 64 usage.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "record.h"
#include "store.h"
#include "util.h"

static const char *providers[] = {"square", "stripe", "mailchimp",
				  "quickbooks", "bench"};

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
usage(void)
{
	fprintf(stderr, "usage: fill-history [-n EVENTS] [-p PROVIDERS] "
		"[-v VENUES] [-b BATCH] DBDIR TARGET_PROVIDER TARGET_VENUE\n");
	exit(64);
}

static void
stamp(int64_t ms, char out[17])
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm);
}

int
main(int argc, char **argv)
{
	long events = 1000000, nprov = 5, nvenue = 2000, batch = 60000;
	const char *dbdir, *tprov, *tvenue;
	int64_t t0 = now_ms(), base, step;
	long njobs, target_events = 0, queued = 0;
	char err[512];
	struct store *st;
	int ch, rc;

	while ((ch = getopt(argc, argv, "n:p:v:b:")) != -1) {
		switch (ch) {
		case 'n': events = atol(optarg); break;
		case 'p': nprov = atol(optarg); break;
		case 'v': nvenue = atol(optarg); break;
		case 'b': batch = atol(optarg); break;
		default: usage();
		}
	}
	if (argc - optind != 3 || events < 3 || nprov < 1 || nvenue < 1 ||
	    nprov > (long)(sizeof(providers) / sizeof(providers[0])) ||
	    batch < 3)
		usage();
	dbdir = argv[optind];
	tprov = argv[optind + 1];
	tvenue = argv[optind + 2];
	if ((rc = store_open(dbdir, true, &st, err, sizeof(err))) < 0) {
		fprintf(stderr, "fill-history: %s\n", err);
		return 1;
	}
	njobs = (events + 2) / 3;
	base = t0 - 30LL * 86400 * 1000;
	step = 30LL * 86400 * 1000 / njobs;
	for (long k = 0; k < njobs; k++) {
		char venue[VENUE_MAX + 1], ts[17];
		const char *prov;
		struct jobrec r;
		struct event e;
		int64_t t = base + k * step;
		static const enum event_type seq[3] = {EV_QUEUED, EV_STARTED,
						       EV_COMPLETED};

		if (k % 100 == 0) {
			prov = tprov;
			snprintf(venue, sizeof(venue), "%s", tvenue);
			target_events += 3;
		} else {
			long vp = k % (nprov * nvenue);
			prov = providers[vp % nprov];
			snprintf(venue, sizeof(venue), "v%ld", vp / nprov);
		}
		stamp(t, ts);
		jobrec_init(&r);
		snprintf(r.id, sizeof(r.id), "%s-%s.%s.%04lx", venue, prov, ts,
			 (unsigned long)(k & 0xffff));
		snprintf(r.name, sizeof(r.name), "%s-%s.yaml", venue, prov);
		snprintf(r.venue, sizeof(r.venue), "%s", venue);
		snprintf(r.provider, sizeof(r.provider), "%s", prov);
		snprintf(r.sync_type, sizeof(r.sync_type), "full");
		r.state = STATE_COMPLETED;
		r.created = t;
		r.updated = t + 40;
		r.attempts = 1;
		r.max_attempts = 5;
		r.ino = (uint64_t)k + 1;
		r.last_exit = 0;
		for (int i = 0; i < 3; i++) {
			event_init(&e);
			e.time = t + (i == 0 ? 0 : i == 1 ? 5 : 40);
			e.type = seq[i];
			snprintf(e.job_id, sizeof(e.job_id), "%s", r.id);
			snprintf(e.venue, sizeof(e.venue), "%s", venue);
			snprintf(e.provider, sizeof(e.provider), "%s", prov);
			snprintf(e.sync_type, sizeof(e.sync_type), "full");
			e.attempt = i == 0 ? 0 : 1;
			if (seq[i] == EV_COMPLETED) {
				e.exit_code = 0;
				e.duration_ms = 35;
				snprintf(e.result, sizeof(e.result),
					 "records: %ld\n", k % 1000);
			}
			if (store_add_event(st, &e) < 0)
				goto oom;
		}
		if (store_put_job(st, &r) < 0)
			goto oom;
		queued += 3;
		if (queued >= batch || k == njobs - 1) {
			if (store_commit(st, err, sizeof(err)) < 0) {
				fprintf(stderr, "fill-history: commit: %s\n", err);
				store_close(st);
				return 1;
			}
			queued = 0;
		}
	}
	store_close(st);
	printf("fill-history: events=%ld jobs=%ld vps=%ld target_events=%ld "
	       "seconds=%.1f\n", njobs * 3, njobs, nprov * nvenue + 1,
	       target_events, (double)(now_ms() - t0) / 1000);
	return 0;
oom:
	fprintf(stderr, "fill-history: cannot queue a change\n");
	store_close(st);
	return 1;
}
