/*
 * sched.c - the daemon's queue: timer heap, per venue+provider ready
 * heaps, per provider run queues; outcomes and back-off. See sched.h.
 */
#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "sched.h"

enum outcome
sched_outcome(int exit_code, int signal, bool timed_out)
{
	if (timed_out || signal != 0 || exit_code < 0)
		return OUTCOME_RETRY;
	if (exit_code == 0)
		return OUTCOME_COMPLETED;
	/* sysexits.h: 64 EX_USAGE .. 78 EX_CONFIG; 75 EX_TEMPFAIL retries. */
	if (exit_code >= 64 && exit_code <= 78 && exit_code != 75)
		return OUTCOME_FAILED;
	return OUTCOME_RETRY;
}

const char *
sched_outcome_name(enum outcome o)
{
	switch (o) {
	case OUTCOME_COMPLETED:
		return "completed";
	case OUTCOME_RETRY:
		return "retry";
	case OUTCOME_FAILED:
		return "failed";
	}
	return "?";
}

uint64_t
sched_backoff(uint64_t initial_ms, uint64_t max_ms, unsigned attempt,
	      uint64_t rnd)
{
	uint64_t cap = initial_ms;

	if (attempt == 0)
		attempt = 1;
	for (unsigned i = 1; i < attempt && cap < max_ms; i++)
		cap = cap > max_ms / 2 ? max_ms : cap * 2;
	if (cap > max_ms)
		cap = max_ms;
	if (cap == UINT64_MAX)
		return rnd;
	return rnd % (cap + 1);
}

bool
sched_expired(int64_t since, int64_t next, uint64_t max_age_ms)
{
	return max_age_ms > 0 && next > since &&
	       (uint64_t)(next - since) > max_age_ms;
}

bool
sched_retry_at(int64_t now, int64_t since, uint64_t max_age_ms, bool deferred,
	       uint64_t defer_ms, uint64_t initial_ms, uint64_t max_ms,
	       unsigned attempt, uint64_t rnd, int64_t *at)
{
	uint64_t delay = deferred ? defer_ms
				  : sched_backoff(initial_ms, max_ms, attempt, rnd);
	int64_t next = delay > (uint64_t)(INT64_MAX - now) ? INT64_MAX
							   : now + (int64_t)delay;

	if (sched_expired(since, next, max_age_ms))
		return false;
	*at = next;
	return true;
}

/* ---- token bucket ---- */

void
sched_bucket_init(struct sched_bucket *b, uint64_t count, uint64_t period_ms,
		  int64_t now)
{
	b->count = count;
	b->period_ms = period_ms > 0 ? period_ms : 1;
	b->level = count * b->period_ms; /* full: a burst may start at once */
	b->last = now;
}

static void
bucket_refill(struct sched_bucket *b, int64_t now)
{
	uint64_t cap = b->count * b->period_ms, add;

	if (now <= b->last)
		return; /* the clock went back: wait for it */
	add = (uint64_t)(now - b->last);
	add = add > cap / (b->count ? b->count : 1) ? cap : add * b->count;
	b->level = cap - b->level < add ? cap : b->level + add;
	b->last = now;
}

bool
sched_bucket_take(struct sched_bucket *b, int64_t now)
{
	if (b->count == 0)
		return true;
	bucket_refill(b, now);
	if (b->level < b->period_ms)
		return false;
	b->level -= b->period_ms;
	return true;
}

int64_t
sched_bucket_ready(struct sched_bucket *b, int64_t now)
{
	uint64_t missing;

	if (b->count == 0)
		return now;
	bucket_refill(b, now);
	if (b->level >= b->period_ms)
		return now;
	missing = b->period_ms - b->level;
	/* Counted from the last refill: a clock that went back waits. */
	return (now > b->last ? now : b->last) +
	       (int64_t)((missing + b->count - 1) / b->count);
}

/* ---- circuit breaker ---- */

const char *
sched_breaker_name(enum breaker_state s)
{
	switch (s) {
	case BREAKER_CLOSED:
		return "closed";
	case BREAKER_OPEN:
		return "open";
	case BREAKER_HALF_OPEN:
		return "half_open";
	}
	return "?";
}

bool
sched_breaker_allows(struct sched_breaker *b, int64_t now)
{
	switch (b->state) {
	case BREAKER_CLOSED:
		return true;
	case BREAKER_OPEN:
		if (now < b->until)
			return false;
		b->state = BREAKER_HALF_OPEN;
		b->probing = false;
		/* FALLTHROUGH */
	case BREAKER_HALF_OPEN:
		return !b->probing;
	}
	return true;
}

void
sched_breaker_started(struct sched_breaker *b)
{
	if (b->state == BREAKER_HALF_OPEN)
		b->probing = true;
}

enum breaker_change
sched_breaker_result(struct sched_breaker *b, bool ok, int64_t now)
{
	bool was_open = b->state != BREAKER_CLOSED;

	if (b->threshold == 0)
		return BREAKER_SAME;
	b->probing = false;
	if (ok) {
		b->failures = 0;
		b->state = BREAKER_CLOSED;
		return was_open ? BREAKER_CLOSED_AGAIN : BREAKER_SAME;
	}
	if (b->failures < UINT_MAX)
		b->failures++;
	if (b->state == BREAKER_HALF_OPEN ||
	    (b->state == BREAKER_CLOSED && b->failures >= b->threshold)) {
		b->state = BREAKER_OPEN;
		b->until = now + (int64_t)b->cooldown_ms;
		return BREAKER_OPENED;
	}
	return BREAKER_SAME;
}

void
sched_breaker_abandoned(struct sched_breaker *b)
{
	/* A cancelled probe says nothing: let another job probe. */
	b->probing = false;
}

/* ---- binary heap of pointers, with positions reported back ---- */

static void
heap_set(struct sched_heap *h, size_t i, void *item)
{
	h->items[i] = item;
	h->moved(item, i);
}

static void
heap_up(struct sched_heap *h, size_t i)
{
	void *item = h->items[i];

	while (i > 0) {
		size_t parent = (i - 1) / 2;
		if (!h->before(item, h->items[parent]))
			break;
		heap_set(h, i, h->items[parent]);
		i = parent;
	}
	heap_set(h, i, item);
}

static void
heap_down(struct sched_heap *h, size_t i)
{
	void *item = h->items[i];

	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, best = i;
		void *bestitem = item;
		if (l < h->n && h->before(h->items[l], bestitem))
			best = l, bestitem = h->items[l];
		if (r < h->n && h->before(h->items[r], bestitem))
			best = r, bestitem = h->items[r];
		if (best == i)
			break;
		heap_set(h, i, bestitem);
		i = best;
	}
	heap_set(h, i, item);
}

static int
heap_push(struct sched_heap *h, void *item)
{
	if (h->n == h->cap) {
		size_t cap = h->cap ? h->cap * 2 : 8;
		void **items = realloc(h->items, cap * sizeof(*items));
		if (items == NULL)
			return -ENOMEM;
		h->items = items;
		h->cap = cap;
	}
	h->items[h->n++] = item;
	heap_up(h, h->n - 1);
	return 0;
}

static void
heap_remove(struct sched_heap *h, size_t i)
{
	assert(i < h->n);
	h->n--;
	if (i == h->n)
		return;
	heap_set(h, i, h->items[h->n]);
	heap_up(h, i);
	heap_down(h, i);
}

static void *
heap_top(const struct sched_heap *h)
{
	return h->n > 0 ? h->items[0] : NULL;
}

/* ---- orders ---- */

static bool
job_due_before(const void *a, const void *b)
{
	const struct sched_job *x = a, *y = b;

	if (x->due != y->due)
		return x->due < y->due;
	return x->seq < y->seq;
}

static bool
job_ready_before(const void *a, const void *b)
{
	const struct sched_job *x = a, *y = b;

	if (x->priority != y->priority)
		return x->priority > y->priority;
	return x->seq < y->seq;
}

static bool
group_before(const void *a, const void *b)
{
	const struct sched_group *x = a, *y = b;
	const struct sched_job *jx = heap_top(&x->ready);
	const struct sched_job *jy = heap_top(&y->ready);

	if (jx->priority != jy->priority)
		return jx->priority > jy->priority;
	if (x->turn != y->turn)
		return x->turn < y->turn;
	return jx->seq < jy->seq;
}

static void
job_moved(void *item, size_t idx)
{
	((struct sched_job *)item)->heap_idx = idx;
}

static void
group_moved(void *item, size_t idx)
{
	((struct sched_group *)item)->runq_idx = idx;
}

/* ---- groups and providers ---- */

static uint64_t
hash2(const char *a, const char *b)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *a; a++)
		h = (h ^ (unsigned char)*a) * 1099511628211ULL;
	h = (h ^ 0xff) * 1099511628211ULL;
	for (; *b; b++)
		h = (h ^ (unsigned char)*b) * 1099511628211ULL;
	return h;
}

void
sched_init(struct sched *s, unsigned workers)
{
	memset(s, 0, sizeof(*s));
	s->timers.before = job_due_before;
	s->timers.moved = job_moved;
	s->workers = workers;
}

struct sched_job *
sched_merge_target(struct sched_group *g, const char *type)
{
	for (struct sched_merge *m = g->merge; m != NULL; m = m->next)
		if (strcmp(m->type, type) == 0)
			/* Kept lazily: a job no longer queued does not count. */
			return m->job->queued ? m->job : NULL;
	return NULL;
}

int
sched_merge_note(struct sched_group *g, const char *type, struct sched_job *j)
{
	struct sched_merge *m;
	size_t n = strlen(type);

	for (m = g->merge; m != NULL; m = m->next) {
		if (strcmp(m->type, type) != 0)
			continue;
		if (!m->job->queued)
			m->job = j;
		return 0;
	}
	m = malloc(sizeof(*m) + n + 1);
	if (m == NULL)
		return -ENOMEM;
	m->job = j;
	memcpy(m->type, type, n + 1);
	m->next = g->merge;
	g->merge = m;
	return 0;
}

void
sched_merge_forget(struct sched_group *g, struct sched_job *j)
{
	struct sched_merge **pp = &g->merge, *m;

	while ((m = *pp) != NULL) {
		if (m->job == j) {
			*pp = m->next;
			free(m);
		} else {
			pp = &m->next;
		}
	}
}

static void
group_free(struct sched_group *g)
{
	for (struct sched_merge *m = g->merge, *next; m != NULL; m = next) {
		next = m->next;
		free(m);
	}
	free(g->ready.items);
	free(g->venue);
	free(g);
}

void
sched_free(struct sched *s)
{
	for (size_t i = 0; i < s->nbuckets; i++) {
		struct sched_group *g = s->buckets[i], *next;
		for (; g != NULL; g = next) {
			next = g->hnext;
			group_free(g);
		}
	}
	for (size_t i = 0; i < s->nprovs; i++) {
		free(s->provs[i]->runq.items);
		free(s->provs[i]->name);
		free(s->provs[i]);
	}
	free(s->provs);
	free(s->buckets);
	free(s->timers.items);
	memset(s, 0, sizeof(*s));
}

static struct sched_provider *
provider_get(struct sched *s, const char *name)
{
	struct sched_provider *p, **provs;

	for (size_t i = 0; i < s->nprovs; i++)
		if (strcmp(s->provs[i]->name, name) == 0)
			return s->provs[i];
	provs = realloc(s->provs, (s->nprovs + 1) * sizeof(*provs));
	if (provs == NULL)
		return NULL;
	s->provs = provs;
	p = calloc(1, sizeof(*p));
	if (p == NULL || (p->name = strdup(name)) == NULL) {
		free(p);
		return NULL;
	}
	p->limit = 1;
	p->runq.before = group_before;
	p->runq.moved = group_moved;
	s->provs[s->nprovs++] = p;
	return p;
}

struct sched_provider *
sched_provider_find(struct sched *s, const char *provider)
{
	for (size_t i = 0; i < s->nprovs; i++)
		if (strcmp(s->provs[i]->name, provider) == 0)
			return s->provs[i];
	return NULL;
}

int
sched_provider_policy(struct sched *s, const char *provider,
		      uint64_t rate_count, uint64_t rate_period_ms,
		      unsigned breaker_failures, uint64_t cooldown_ms,
		      int64_t now)
{
	struct sched_provider *p = provider_get(s, provider);

	if (p == NULL)
		return -ENOMEM;
	if (p->rate.count != rate_count || p->rate.period_ms != rate_period_ms)
		sched_bucket_init(&p->rate, rate_count, rate_period_ms, now);
	p->breaker.threshold = breaker_failures;
	p->breaker.cooldown_ms = cooldown_ms;
	if (breaker_failures == 0) {
		p->breaker.state = BREAKER_CLOSED;
		p->breaker.failures = 0;
		p->breaker.probing = false;
	}
	return 0;
}

int
sched_provider_limit(struct sched *s, const char *provider, unsigned limit)
{
	struct sched_provider *p = provider_get(s, provider);

	if (p == NULL)
		return -ENOMEM;
	p->limit = limit > 0 ? limit : 1;
	return 0;
}

static int
grow_buckets(struct sched *s)
{
	size_t n = s->nbuckets ? s->nbuckets * 2 : 64;
	struct sched_group **b = calloc(n, sizeof(*b));

	if (b == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < s->nbuckets; i++) {
		struct sched_group *g = s->buckets[i], *next;
		for (; g != NULL; g = next) {
			size_t k = hash2(g->provider, g->venue) & (n - 1);
			next = g->hnext;
			g->hnext = b[k];
			b[k] = g;
		}
	}
	free(s->buckets);
	s->buckets = b;
	s->nbuckets = n;
	return 0;
}

struct sched_group *
sched_group_get(struct sched *s, const char *provider, const char *venue)
{
	struct sched_group *g;
	struct sched_provider *p;
	size_t k;

	if (s->nbuckets > 0) {
		k = hash2(provider, venue) & (s->nbuckets - 1);
		for (g = s->buckets[k]; g != NULL; g = g->hnext)
			if (strcmp(g->provider, provider) == 0 &&
			    strcmp(g->venue, venue) == 0)
				return g;
	}
	if (s->ngroups >= s->nbuckets && grow_buckets(s) < 0)
		return NULL;
	p = provider_get(s, provider);
	if (p == NULL)
		return NULL;
	g = calloc(1, sizeof(*g));
	if (g == NULL || (g->venue = strdup(venue)) == NULL) {
		free(g);
		return NULL;
	}
	g->provider = p->name;
	g->prov = p;
	g->ready.before = job_ready_before;
	g->ready.moved = job_moved;
	k = hash2(provider, venue) & (s->nbuckets - 1);
	g->hnext = s->buckets[k];
	s->buckets[k] = g;
	s->ngroups++;
	return g;
}

bool
sched_group_release(struct sched *s, struct sched_group *g)
{
	struct sched_group **pp;

	if (g->running || g->ready.n > 0 || g->nwaiting > 0 || g->refs > 0)
		return false;
	assert(!g->in_runq);
	pp = &s->buckets[hash2(g->provider, g->venue) & (s->nbuckets - 1)];
	for (; *pp != NULL; pp = &(*pp)->hnext) {
		if (*pp == g) {
			*pp = g->hnext;
			s->ngroups--;
			group_free(g);
			return true;
		}
	}
	assert(!"group not in its bucket");
	return false;
}

/* Put g in or out of its provider's run queue as the invariant says. */
static void
group_update(struct sched_group *g)
{
	bool want = !g->running && g->ready.n > 0;
	struct sched_heap *q = &g->prov->runq;

	if (g->in_runq && !want) {
		heap_remove(q, g->runq_idx);
		g->in_runq = false;
	} else if (g->in_runq) {
		/* Its top job may have changed: restore the heap order. */
		heap_up(q, g->runq_idx);
		heap_down(q, g->runq_idx);
	} else if (want) {
		if (heap_push(q, g) == 0)
			g->in_runq = true;
	}
}

int
sched_add(struct sched *s, struct sched_job *j, int64_t now)
{
	int rc;

	assert(!j->queued && j->group != NULL);
	if (j->due > now) {
		rc = heap_push(&s->timers, j);
		if (rc == 0)
			j->group->nwaiting++;
	} else {
		rc = heap_push(&j->group->ready, j);
		if (rc == 0)
			group_update(j->group);
	}
	if (rc == 0)
		j->queued = true;
	return rc;
}

void
sched_remove(struct sched *s, struct sched_job *j)
{
	struct sched_group *g = j->group;

	if (!j->queued)
		return;
	if (g->ready.n > j->heap_idx && g->ready.items[j->heap_idx] == j) {
		heap_remove(&g->ready, j->heap_idx);
		group_update(g);
	} else {
		assert(s->timers.items[j->heap_idx] == j);
		heap_remove(&s->timers, j->heap_idx);
		g->nwaiting--;
	}
	j->queued = false;
}

void
sched_advance(struct sched *s, int64_t now)
{
	struct sched_job *j;

	while ((j = heap_top(&s->timers)) != NULL && j->due <= now) {
		heap_remove(&s->timers, 0);
		j->group->nwaiting--;
		j->queued = false;
		/* Cannot fail for want of memory only if pushed back. */
		if (sched_add(s, j, now) < 0) {
			j->due = now + 1000;
			heap_push(&s->timers, j);
			j->group->nwaiting++;
			j->queued = true;
			break;
		}
	}
}

struct sched_job *
sched_next(struct sched *s, int64_t now)
{
	struct sched_group *best = NULL;
	struct sched_job *j;

	sched_advance(s, now);
	if (s->running >= s->workers)
		return NULL;
	for (size_t i = 0; i < s->nprovs; i++) {
		struct sched_provider *p = s->provs[i];
		struct sched_group *g = heap_top(&p->runq);
		if (g == NULL || p->running >= p->limit)
			continue;
		/* Held back, not failed: no attempt is used while waiting. */
		if (!sched_breaker_allows(&p->breaker, now) ||
		    sched_bucket_ready(&p->rate, now) > now)
			continue;
		if (best == NULL || group_before(g, best))
			best = g;
	}
	if (best == NULL)
		return NULL;
	sched_bucket_take(&best->prov->rate, now);
	sched_breaker_started(&best->prov->breaker);
	j = heap_top(&best->ready);
	heap_remove(&best->ready, 0);
	j->queued = false;
	best->running = true;
	best->turn = ++s->turn;
	best->prov->running++;
	s->running++;
	group_update(best);
	return j;
}

void
sched_start(struct sched *s, struct sched_group *g)
{
	assert(!g->running);
	g->running = true;
	g->turn = ++s->turn;
	g->prov->running++;
	s->running++;
	group_update(g);
}

void
sched_done(struct sched *s, struct sched_group *g)
{
	assert(g->running && g->prov->running > 0 && s->running > 0);
	g->running = false;
	g->prov->running--;
	s->running--;
	group_update(g);
}

int64_t
sched_next_due(struct sched *s, int64_t now)
{
	const struct sched_job *j = heap_top(&s->timers);
	int64_t at = j != NULL ? j->due : INT64_MAX;

	for (size_t i = 0; i < s->nprovs; i++) {
		struct sched_provider *p = s->provs[i];
		int64_t t;
		if (p->runq.n == 0 || p->running >= p->limit)
			continue;
		if (p->breaker.state == BREAKER_OPEN && p->breaker.until < at)
			at = p->breaker.until;
		t = sched_bucket_ready(&p->rate, now);
		if (t > now && t < at)
			at = t;
	}
	return at;
}
