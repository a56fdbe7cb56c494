/* event-queue.c — intrusive binary min-heap ordered by (time, seq).
 *
 * heap[0 .. count) is a binary heap (children of i at 2i+1, 2i+2) of slots
 * holding each queued event's key and a pointer to it; each event knows
 * its slot.  Sifting moves a hole instead of swapping: the moving event is
 * held aside, the slots it passes shift by one level, and it is written
 * once where it stops.
 *
 * It does not own the events and allocates only in init and when the
 * queue outgrows its capacity. */
#include "config.h"
#include "event-queue.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

static inline int slot_less(const struct ps_event_slot *a, const struct ps_event_slot *b)
{
	return a->time < b->time || (a->time == b->time && a->seq < b->seq);
}

static inline void slot_put(struct ps_event_queue *q, size_t i, const struct ps_event_slot *s)
{
	q->heap[i] = *s;
	s->ev->slot = i;
}

ps_status event_queue_init(struct ps_event_queue *q, size_t capacity)
{
	q->count = 0;
	q->next_seq = 0;
	q->cap = capacity ? capacity : 16;
	q->heap = malloc(q->cap * sizeof *q->heap);
	if (!q->heap) {
		q->cap = 0;
		return PS_ERROR(PS_ERR_NOMEM, "event queue: out of memory for %zu events", capacity);
	}
	return PS_OK;
}

void event_queue_fini(struct ps_event_queue *q)
{
	free(q->heap);
	q->heap = NULL;
	q->count = q->cap = 0;
}

/* Place s, whose hole is at i, where the heap order holds: up, else down. */
static void sift(struct ps_event_queue *q, size_t i, struct ps_event_slot s)
{
	struct ps_event_slot *h = q->heap;
	size_t n = q->count;
	if (i > 0 && slot_less(&s, &h[(i - 1) / 2])) {
		do {
			size_t p = (i - 1) / 2;
			if (!slot_less(&s, &h[p]))
				break;
			slot_put(q, i, &h[p]);
			i = p;
		} while (i > 0);
	} else {
		for (;;) {
			size_t c = 2 * i + 1;
			if (c >= n)
				break;
			if (c + 1 < n && slot_less(&h[c + 1], &h[c]))
				c++;
			if (!slot_less(&h[c], &s))
				break;
			slot_put(q, i, &h[c]);
			i = c;
		}
	}
	slot_put(q, i, &s);
}

ps_status event_queue_push(struct ps_event_queue *q, struct ps_event *e, int64_t time)
{
	if (q->count == q->cap) {
		size_t cap = q->cap ? 2 * q->cap : 16;
		struct ps_event_slot *h = realloc(q->heap, cap * sizeof *h);
		if (!h)
			return PS_ERROR(PS_ERR_NOMEM, "event queue: out of memory for %zu events", cap);
		q->heap = h;
		q->cap = cap;
	}
	e->time = time;
	e->seq = q->next_seq++;
	struct ps_event_slot s = {time, e->seq, e};
	sift(q, q->count++, s);
	return PS_OK;
}

void event_queue_remove(struct ps_event_queue *q, struct ps_event *e)
{
	assert(q->count > 0 && e->slot < q->count && q->heap[e->slot].ev == e);
	size_t i = e->slot;
	struct ps_event_slot last = q->heap[--q->count];
	if (i < q->count)
		sift(q, i, last);
}

struct ps_event *event_queue_pop(struct ps_event_queue *q)
{
	if (!q->count)
		return NULL;
	struct ps_event *e = q->heap[0].ev;
	event_queue_remove(q, e);
	return e;
}

void event_queue_reschedule(struct ps_event_queue *q, struct ps_event *e, int64_t time)
{
	assert(e->slot < q->count && q->heap[e->slot].ev == e);
	e->time = time;
	e->seq = q->next_seq++;
	struct ps_event_slot s = {time, e->seq, e};
	sift(q, e->slot, s);
}

void event_queue_replace(struct ps_event_queue *q, struct ps_event *old, struct ps_event *e, int64_t time)
{
	assert(old->slot < q->count && q->heap[old->slot].ev == old);
	e->time = time;
	e->seq = q->next_seq++;
	struct ps_event_slot s = {time, e->seq, e};
	sift(q, old->slot, s);
}

/* ---------------------------------------------------------------- keyed heap */

ps_status event_heap_init(struct ps_event_heap *h, uint32_t capacity)
{
	h->count = 0;
	h->next_seq = 0;
	h->cap = capacity ? capacity : 1;
	h->key = malloc((size_t)h->cap * sizeof *h->key);
	if (!h->key) {
		h->cap = 0;
		return PS_ERROR(PS_ERR_NOMEM, "event heap: out of memory for %u events", capacity);
	}
	return PS_OK;
}

void event_heap_fini(struct ps_event_heap *h)
{
	free(h->key);
	h->key = NULL;
	h->count = h->cap = 0;
}

/* ---------------------------------------------------------------- tournament tree */

ps_status event_tree_init(struct ps_event_tree *t, uint32_t capacity)
{
	memset(t, 0, sizeof *t);
	uint32_t groups = capacity / PS_EVENT_GROUP + (capacity % PS_EVENT_GROUP != 0);
	uint32_t size = 2;
	while (size < groups) {
		if (size > UINT32_MAX / 8)
			return PS_ERROR(PS_ERR_NOMEM, "event tree: %u ids", capacity);
		size *= 2;
	}
	t->node = malloc(2 * (size_t)size * sizeof *t->node);
	t->key = malloc((size_t)size * PS_EVENT_GROUP * sizeof *t->key);
	if (!t->node || !t->key) {
		event_tree_fini(t);
		return PS_ERROR(PS_ERR_NOMEM, "event tree: out of memory for %u ids", capacity);
	}
	t->size = size;
	t->popped = UINT32_MAX;
	for (uint32_t i = 0; i < 2 * size; i++)
		t->node[i] = ~(ps_event_key)0;
	for (size_t i = 0; i < (size_t)size * PS_EVENT_GROUP; i++)
		t->key[i] = ~(ps_event_key)0;
	return PS_OK;
}

void event_tree_fini(struct ps_event_tree *t)
{
	free(t->node);
	free(t->key);
	t->node = NULL;
	t->key = NULL;
	t->size = t->count = 0;
}
