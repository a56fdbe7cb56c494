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

/* ---------------------------------------------------------------- calendar queue */

ps_status calendar_init(struct ps_calendar *q, uint32_t nnodes, uint32_t nbuckets, uint32_t width_log2)
{
	memset(q, 0, sizeof *q);
	if (nbuckets < 64 || (nbuckets & (nbuckets - 1)) || width_log2 > 62)
		return PS_ERROR(PS_ERR_INVALID, "calendar queue: %u buckets of 2^%u", nbuckets, width_log2);
	q->nnodes = nnodes;
	q->nbuckets = nbuckets;
	q->width_log2 = width_log2;
	q->far_min = INT64_MAX;
	q->node = malloc((nnodes ? nnodes : 1) * sizeof *q->node);
	q->scratch = malloc((nnodes ? nnodes : 1) * sizeof *q->scratch);
	q->head = malloc(nbuckets * sizeof *q->head);
	q->tail = malloc(nbuckets * sizeof *q->tail);
	q->bits = calloc(nbuckets / 64, sizeof *q->bits);
	if (!q->node || !q->scratch || !q->head || !q->tail || !q->bits ||
	    event_heap_init(&q->far, nnodes ? nnodes : 1) != PS_OK) {
		calendar_fini(q);
		return PS_ERROR(PS_ERR_NOMEM, "calendar queue: out of memory for %u nodes", nnodes);
	}
	return PS_OK;
}

void calendar_fini(struct ps_calendar *q)
{
	free(q->node);
	free(q->scratch);
	free(q->head);
	free(q->tail);
	free(q->bits);
	event_heap_fini(&q->far);
	memset(q, 0, sizeof *q);
}

static inline int cal_before(const struct ps_cal_node *a, const struct ps_cal_node *b)
{
	return a->time < b->time || (a->time == b->time && a->seq < b->seq);
}

/* File node id (time, seq set) into bucket b in (time, seq) order. */
void calendar_file_slow_(struct ps_calendar *q, uint32_t id, uint32_t b)
{
	struct ps_cal_node *nd = q->node, *x = &nd[id];
	uint64_t bit = (uint64_t)1 << (b & 63);
	x->next = PS_CAL_NONE;
	if (!(q->bits[b >> 6] & bit)) {
		q->bits[b >> 6] |= bit;
		q->head[b] = q->tail[b] = id;
		return;
	}
	if (!cal_before(x, &nd[q->tail[b]])) {
		nd[q->tail[b]].next = id;
		q->tail[b] = id;
		return;
	}
	uint32_t h = q->head[b];
	if (cal_before(x, &nd[h])) {
		x->next = h;
		q->head[b] = id;
		q->walk_steps++;
		return;
	}
	uint32_t p = h; /* the last node before x; the tail is after x */
	while (cal_before(&nd[nd[p].next], x)) {
		p = nd[p].next;
		q->walk_steps++;
	}
	x->next = nd[p].next;
	nd[p].next = id;
	q->walk_steps++;
}

static void calendar_adapt(struct ps_calendar *q);

void calendar_push_walk_(struct ps_calendar *q, uint32_t id, uint32_t b)
{
	calendar_file_slow_(q, id, b);
	calendar_adapt(q);
}

static inline void cal_file(struct ps_calendar *q, uint32_t id)
{
	calendar_file_slow_(q, id, (uint32_t)(q->node[id].time >> q->width_log2) & (q->nbuckets - 1));
}

void calendar_push_far_(struct ps_calendar *q, uint32_t id)
{
	const struct ps_cal_node *x = &q->node[id];
	q->far_pushes++;
	assert(q->far.count < q->far.cap); /* one event per node */
	event_heap_up_(q->far.key, q->far.count++, event_heap_key_(x->time, x->seq, id));
	int64_t abs = x->time >> q->width_log2;
	if (abs < q->far_min)
		q->far_min = abs;
}

void calendar_push_far_adapt_(struct ps_calendar *q, uint32_t id)
{
	calendar_push_far_(q, id);
	calendar_adapt(q);
}

/* Move the far events that the window [cur, cur + nbuckets) now covers
 * into the ring. */
static void calendar_migrate(struct ps_calendar *q)
{
	while (q->far.count) {
		int64_t t = event_heap_top_time(&q->far);
		if ((uint64_t)((t >> q->width_log2) - q->cur) >= q->nbuckets)
			break;
		uint32_t id = event_heap_top(&q->far);
		event_heap_pop(&q->far);
		cal_file(q, id);
	}
	q->far_min = q->far.count ? event_heap_top_time(&q->far) >> q->width_log2 : INT64_MAX;
}

/* Change the bucket width and file every queued event again. */
static void calendar_rewidth(struct ps_calendar *q, uint32_t width_log2)
{
	uint32_t n = 0;
	for (uint32_t w = 0; w < q->nbuckets / 64; w++) {
		for (uint64_t m = q->bits[w]; m; m &= m - 1) {
			uint32_t b = w * 64 + (uint32_t)__builtin_ctzll(m);
			for (uint32_t x = q->head[b]; x != PS_CAL_NONE; x = q->node[x].next)
				q->scratch[n++] = x;
		}
		q->bits[w] = 0;
	}
	while (q->far.count) {
		q->scratch[n++] = event_heap_top(&q->far);
		event_heap_pop(&q->far);
	}
	int64_t from = q->cur << q->width_log2; /* <= every queued time */
	q->width_log2 = width_log2;
	q->cur = from >> width_log2;
	q->far_min = INT64_MAX;
	for (uint32_t i = 0; i < n; i++) {
		uint32_t id = q->scratch[i];
		if ((uint64_t)((q->node[id].time >> width_log2) - q->cur) < q->nbuckets)
			cal_file(q, id);
		else
			calendar_push_far_(q, id);
	}
	q->resizes++;
}

/* From the slow paths, once per 65536 pushes: narrower buckets when pushes
 * walked lists (several distinct times per bucket, out of order), wider
 * when pops skipped empty words or many events fell beyond the window. */
static void calendar_adapt(struct ps_calendar *q)
{
	const uint64_t period = 65536;
	if (q->next_seq - q->period_seq < period)
		return;
	uint32_t w = q->width_log2;
	if (q->walk_steps > period / 4 && w > 0)
		w--;
	else if ((q->skipped_words > period / 4 || q->far_pushes > period / 16) && w < 62)
		w++;
	q->walk_steps = q->skipped_words = q->far_pushes = 0;
	q->period_seq = q->next_seq;
	if (w != q->width_log2)
		calendar_rewidth(q, w);
}

uint32_t calendar_pop_slow_(struct ps_calendar *q)
{
	calendar_adapt(q);
	uint32_t mask = q->nbuckets - 1, nw = q->nbuckets / 64;
	for (;;) {
		uint32_t p = (uint32_t)q->cur & mask, wi = p >> 6;
		uint64_t m = q->bits[wi] & (~(uint64_t)0 << (p & 63));
		for (uint32_t k = 0; !m && k < nw; k++) { /* the starting word again last */
			wi = (wi + 1) & (nw - 1);
			m = q->bits[wi];
			q->skipped_words++;
		}
		if (!m) { /* the ring is empty */
			if (!q->far.count)
				return PS_CAL_NONE;
			q->cur = q->far_min;
			calendar_migrate(q);
			continue;
		}
		uint32_t b = wi * 64 + (uint32_t)__builtin_ctzll(m);
		int64_t abs = q->cur + ((b - p) & mask);
		if (abs >= q->far_min) { /* far events at or before it join the ring first */
			calendar_migrate(q);
			continue;
		}
		q->cur = abs;
		uint32_t id = q->head[b], nx = q->node[id].next;
		q->head[b] = nx;
		if (nx == PS_CAL_NONE)
			q->bits[b >> 6] &= ~((uint64_t)1 << (b & 63));
		return id;
	}
}
