/* test-event-queue.c — the intrusive (time, seq) heap against a sorted reference. */
#include "config.h"
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "event-queue.h"

struct item {
	int id;
	int64_t time;
	int queued;
	struct ps_event ev;
};

/* Deterministic generator so failures reproduce. */
static uint64_t rng_state;
static uint32_t rng(void)
{
	rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
	return (uint32_t)(rng_state >> 33);
}

/* Reference order: time, then push order (id = push order here). */
static int ref_cmp(const void *a, const void *b)
{
	const struct item *x = *(const struct item *const *)a, *y = *(const struct item *const *)b;
	if (x->time != y->time)
		return x->time < y->time ? -1 : 1;
	return x->id - y->id;
}

/* Check the slots and the heap order over the whole heap; returns the count. */
static size_t check_heap(const struct ps_event_queue *q)
{
	for (size_t i = 0; i < q->count; i++) {
		const struct ps_event_slot *s = &q->heap[i];
		assert_int_equal(s->ev->slot, i);
		if (i > 0) {
			const struct ps_event *p = q->heap[(i - 1) / 2].ev, *e = s->ev;
			int ok = p->time < e->time || (p->time == e->time && p->seq < e->seq);
			assert_true(ok);
		}
	}
	return q->count;
}

static void push_all_pop_sorted(int n, int time_range)
{
	struct item *it = calloc((size_t)n, sizeof *it);
	struct item **ref = calloc((size_t)n, sizeof *ref);
	struct ps_event_queue q;
	assert_int_equal(event_queue_init(&q, 0), PS_OK);
	for (int i = 0; i < n; i++) {
		it[i].id = i;
		it[i].time = (int64_t)(rng() % (uint32_t)time_range);
		ref[i] = &it[i];
		assert_int_equal(event_queue_push(&q, &it[i].ev, it[i].time), PS_OK);
		if (i % 97 == 0)
			assert_int_equal(check_heap(&q), q.count);
	}
	assert_int_equal(event_queue_size(&q), (size_t)n);
	assert_int_equal(check_heap(&q), (size_t)n);
	qsort(ref, (size_t)n, sizeof *ref, ref_cmp);
	for (int i = 0; i < n; i++) {
		struct ps_event *peek = event_queue_peek(&q);
		struct ps_event *e = event_queue_pop(&q);
		assert_ptr_equal(peek, e);
		struct item *x = PS_CONTAINER_OF(e, struct item, ev);
		assert_int_equal(x->id, ref[i]->id);
	}
	assert_null(event_queue_pop(&q));
	assert_int_equal(event_queue_size(&q), 0);
	event_queue_fini(&q);
	free(it);
	free(ref);
}

static void test_random_sorted(void **state)
{
	(void)state;
	rng_state = 1;
	for (int n = 1; n <= 33; n++)
		push_all_pop_sorted(n, 1000);
	push_all_pop_sorted(5000, 1 << 30);
}

static void test_ties_fifo(void **state)
{
	(void)state;
	rng_state = 2;
	/* Few distinct times: most comparisons are ties, broken by push order. */
	push_all_pop_sorted(3000, 4);
	/* All equal: strictly FIFO. */
	push_all_pop_sorted(1000, 1);
}

static void test_remove(void **state)
{
	(void)state;
	rng_state = 3;
	enum { N = 2000 };
	struct item *it = calloc(N, sizeof *it);
	struct item **ref = calloc(N, sizeof *ref);
	struct ps_event_queue q;
	assert_int_equal(event_queue_init(&q, 0), PS_OK);
	for (int i = 0; i < N; i++) {
		it[i].id = i;
		it[i].time = rng() % 500;
		it[i].queued = 1;
		assert_int_equal(event_queue_push(&q, &it[i].ev, it[i].time), PS_OK);
	}
	/* Remove the root, then a random third of the rest. */
	struct item *root = PS_CONTAINER_OF(event_queue_peek(&q), struct item, ev);
	event_queue_remove(&q, &root->ev);
	root->queued = 0;
	int removed = 1;
	for (int i = 0; i < N; i++) {
		struct item *x = &it[i];
		if (x->queued && rng() % 3 == 0) {
			event_queue_remove(&q, &x->ev);
			x->queued = 0;
			removed++;
			if (removed % 50 == 0)
				assert_int_equal(check_heap(&q), q.count);
		}
	}
	assert_true(removed > N / 4);
	int n = 0;
	for (int i = 0; i < N; i++)
		if (it[i].queued)
			ref[n++] = &it[i];
	qsort(ref, (size_t)n, sizeof *ref, ref_cmp);
	assert_int_equal((size_t)n, event_queue_size(&q));
	for (int k = 0; k < n; k++) {
		struct ps_event *e = event_queue_pop(&q);
		assert_ptr_equal(PS_CONTAINER_OF(e, struct item, ev), ref[k]);
	}
	assert_null(event_queue_pop(&q));
	event_queue_fini(&q);
	free(it);
	free(ref);
}

/* Reschedule gives the same order as remove + push. */
static void test_reschedule_equals_remove_push(void **state)
{
	(void)state;
	enum { N = 300 };
	struct item a[N], b[N];
	memset(a, 0, sizeof a);
	memset(b, 0, sizeof b);
	struct ps_event_queue qa, qb;
	assert_int_equal(event_queue_init(&qa, 4), PS_OK);
	assert_int_equal(event_queue_init(&qb, 1000), PS_OK);
	rng_state = 5;
	for (int i = 0; i < N; i++) {
		a[i].id = b[i].id = i;
		int64_t t = rng() % 100;
		event_queue_push(&qa, &a[i].ev, t);
		event_queue_push(&qb, &b[i].ev, t);
	}
	for (int k = 0; k < 2000; k++) {
		int i = (int)(rng() % N);
		int64_t t = rng() % 100;
		event_queue_reschedule(&qa, &a[i].ev, t);
		event_queue_remove(&qb, &b[i].ev);
		event_queue_push(&qb, &b[i].ev, t);
		/* the root handled in place, like the simulator does */
		struct item *ra = PS_CONTAINER_OF(event_queue_peek(&qa), struct item, ev);
		event_queue_reschedule(&qa, &ra->ev, ra->ev.time + 7);
		struct item *rb = PS_CONTAINER_OF(event_queue_pop(&qb), struct item, ev);
		event_queue_push(&qb, &rb->ev, rb->ev.time + 7);
		assert_int_equal(ra->id, rb->id);
		/* replace the root by an outside event, then put the root back */
		if (k % 3 == 0) {
			static struct item xa, xb;
			xa.id = xb.id = -1;
			struct item *oa = PS_CONTAINER_OF(event_queue_peek(&qa), struct item, ev);
			struct item *ob = PS_CONTAINER_OF(event_queue_peek(&qb), struct item, ev);
			assert_int_equal(oa->id, ob->id);
			int64_t t2 = oa->ev.time + rng() % 20;
			event_queue_replace(&qa, &oa->ev, &xa.ev, t2);
			event_queue_push(&qb, &xb.ev, t2);
			event_queue_remove(&qb, &ob->ev);
			assert_int_equal(check_heap(&qa), N);
			struct item *ya = PS_CONTAINER_OF(event_queue_peek(&qa), struct item, ev);
			struct item *yb = PS_CONTAINER_OF(event_queue_peek(&qb), struct item, ev);
			assert_int_equal(ya->id, yb->id);
			event_queue_remove(&qa, &xa.ev);
			event_queue_remove(&qb, &xb.ev);
			event_queue_push(&qa, &oa->ev, t2 + 1);
			event_queue_push(&qb, &ob->ev, t2 + 1);
		}
	}
	assert_int_equal(check_heap(&qa), N);
	for (int i = 0; i < N; i++) {
		struct item *x = PS_CONTAINER_OF(event_queue_pop(&qa), struct item, ev);
		struct item *y = PS_CONTAINER_OF(event_queue_pop(&qb), struct item, ev);
		assert_int_equal(x->id, y->id);
	}
	event_queue_fini(&qa);
	event_queue_fini(&qb);
}

/* Interleaved push/pop/remove with re-pushes, the way a simulator uses it:
 * the popped sequence must be non-decreasing in (time, seq) whenever new
 * events are never earlier than the last popped time. */
static void test_interleaved(void **state)
{
	(void)state;
	rng_state = 4;
	enum { N = 256 };
	struct item it[N];
	memset(it, 0, sizeof it);
	struct ps_event_queue q;
	assert_int_equal(event_queue_init(&q, 0), PS_OK);
	int64_t now = 0;
	uint64_t last_seq = 0;
	int64_t last_time = -1;
	for (int step = 0; step < 100000; step++) {
		int i = (int)(rng() % N);
		unsigned op = rng() % 4;
		if (!it[i].queued) {
			it[i].time = now + rng() % 50;
			assert_int_equal(event_queue_push(&q, &it[i].ev, it[i].time), PS_OK);
			it[i].queued = 1;
		} else if (op == 0) {
			event_queue_remove(&q, &it[i].ev);
			it[i].queued = 0;
		} else if (op == 1) {
			/* move a queued event, later or earlier but not before now */
			it[i].time = now + rng() % 50;
			event_queue_reschedule(&q, &it[i].ev, it[i].time);
		} else {
			struct ps_event *e = event_queue_pop(&q);
			struct item *x = PS_CONTAINER_OF(e, struct item, ev);
			assert_true(e->time > last_time || (e->time == last_time && e->seq > last_seq));
			last_time = e->time;
			last_seq = e->seq;
			now = e->time;
			x->queued = 0;
		}
	}
	size_t n = 0;
	for (int i = 0; i < N; i++)
		n += (size_t)it[i].queued;
	assert_int_equal(n, event_queue_size(&q));
	assert_int_equal(check_heap(&q), n);
	event_queue_fini(&q);
}

/* The tournament tree over ids against a naive scan: pops must come in
 * (time, push order) order through every path of the tree — a popped id
 * pushed again at once, a push of another id while a pop is pending (the
 * two-leaf replay, for siblings, cousins and far leaves), several pushes
 * between pops, and ties. */
static void test_tree_against_scan(void **state)
{
	(void)state;
	for (uint32_t cap = 1; cap <= 300; cap = cap < 8 ? cap + 1 : cap * 3) {
		rng_state = 1000 + cap;
		struct ps_event_tree t;
		assert_int_equal(event_tree_init(&t, cap), PS_OK);
		int64_t *qt = malloc(cap * sizeof *qt);
		uint64_t *qs = malloc(cap * sizeof *qs);
		int *in = calloc(cap, sizeof *in);
		assert_true(qt && qs && in);
		uint64_t seq = 0;
		int64_t now = 0;
		uint32_t n = 0, last = UINT32_MAX;
		for (int step = 0; step < 20000; step++) {
			uint32_t r = rng() % 8;
			if (n && r < 3) { /* pop, checked against the scan */
				uint32_t best = UINT32_MAX;
				for (uint32_t i = 0; i < cap; i++)
					if (in[i] && (best == UINT32_MAX || qt[i] < qt[best] ||
						      (qt[i] == qt[best] && qs[i] < qs[best])))
						best = i;
				int64_t tm = -1;
				uint32_t id = event_tree_pop(&t, &tm);
				assert_int_equal(id, best);
				assert_true(tm == qt[best]);
				in[id] = 0;
				n--;
				now = tm;
				last = id;
				continue;
			}
			/* push: the id just popped, a neighbour of it, or any free id */
			uint32_t id;
			if (r == 3 && last != UINT32_MAX && !in[last])
				id = last;
			else if (r == 4 && last != UINT32_MAX && (last ^ (step % 3 + 1)) < cap &&
				 !in[last ^ (step % 3 + 1)])
				id = last ^ (step % 3 + 1); /* same group of the tree as the popped id */
			else {
				id = rng() % cap;
				for (uint32_t k = 0; k < cap && in[id]; k++)
					id = (id + 1) % cap;
				if (in[id])
					continue;
			}
			qt[id] = now + (rng() % 4 ? (int64_t)(rng() % 5) : 0); /* many ties */
			qs[id] = seq++;
			in[id] = 1;
			n++;
			event_tree_push(&t, id, qt[id]);
			assert_int_equal(event_tree_size(&t), n);
		}
		free(qt);
		free(qs);
		free(in);
		event_tree_fini(&t);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_random_sorted),
	    cmocka_unit_test(test_ties_fifo),
	    cmocka_unit_test(test_remove),
	    cmocka_unit_test(test_interleaved),
	    cmocka_unit_test(test_reschedule_equals_remove_push),
	    cmocka_unit_test(test_tree_against_scan),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
