/* event-queue.h — the simulator's event queue: an intrusive binary min-heap.
 *
 * Events are ordered by (time, seq).  seq is assigned by every push (and
 * reschedule/replace) from a counter in the queue, so events with equal
 * times come out in the order they were queued (FIFO) and a run is
 * deterministic whatever the heap's internal layout.
 *
 * Intrusive: the caller embeds a struct ps_event in its own struct (one per
 * thing that can be pending, e.g. one per stream) and gets its struct back
 * with PS_CONTAINER_OF.  The event records its slot in the heap, so any
 * queued event can be removed or moved in O(log n).  The heap itself is an
 * array of slots (key copied in, so comparisons never chase pointers)
 * sized once by event_queue_init; push, pop, remove, reschedule and
 * replace never allocate — the queue only grows (doubling) when more
 * events are queued at once than its initial capacity.  (libuv's
 * heap-inl.h links the nodes as a pointer tree instead; on the simulator's
 * 2M-event runs the array form sifts in about 15% fewer instructions and
 * needs no pointer surgery.)
 *
 * It does not own the events: the caller keeps them alive while queued and
 * must not push an event that is already queued.
 *
 * Ownership: struct ps_event_queue is caller-allocated; event_queue_init
 * allocates its slot array and event_queue_fini frees it. */
#ifndef PS_EVENT_QUEUE_H
#define PS_EVENT_QUEUE_H

#include <stddef.h>
#include <stdint.h>
#include "status.h"

#define PS_CONTAINER_OF(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

struct ps_event {
	int64_t time; /* when it fires (the caller's unit, e.g. picoseconds) */
	uint64_t seq; /* queue order, breaks ties in time */
	size_t slot;  /* position in the heap while queued (private) */
};

struct ps_event_slot { /* private: a heap slot with the key copied in */
	int64_t time;
	uint64_t seq;
	struct ps_event *ev;
};

struct ps_event_queue {
	struct ps_event_slot *heap; /* (cap) heap[0] is the earliest */
	size_t count, cap;
	uint64_t next_seq;
};

/* Prepare an empty queue with room for capacity simultaneous events
 * (0: a small default).  PS_ERR_NOMEM if the slot array cannot be had. */
ps_status event_queue_init(struct ps_event_queue *q, size_t capacity);
void event_queue_fini(struct ps_event_queue *q);

/* Queue e to fire at time; e must not be queued already.  Allocates only
 * when the queue is full (then PS_ERR_NOMEM is possible). */
ps_status event_queue_push(struct ps_event_queue *q, struct ps_event *e, int64_t time);

/* The earliest event (smallest (time, seq)), or NULL; it stays queued. */
static inline struct ps_event *event_queue_peek(const struct ps_event_queue *q)
{
	return q->count ? q->heap[0].ev : NULL;
}

/* Remove and return the earliest event, or NULL when empty. */
struct ps_event *event_queue_pop(struct ps_event_queue *q);

/* Remove e, which must be queued in q. */
void event_queue_remove(struct ps_event_queue *q, struct ps_event *e);

/* Move the queued event e to a new time, with a fresh seq: the same order
 * as event_queue_remove then event_queue_push, in one sift.  A simulator
 * that handles the earliest event in place (peek, handle, then reschedule
 * or pop) saves a pop and a push per event. */
void event_queue_reschedule(struct ps_event_queue *q, struct ps_event *e, int64_t time);

/* Put the unqueued event e, at time, in the slot of the queued event old,
 * which leaves the queue: the same order as event_queue_push(e) then
 * event_queue_remove(old), in one sift. */
void event_queue_replace(struct ps_event_queue *q, struct ps_event *old, struct ps_event *e, int64_t time);

static inline size_t event_queue_size(const struct ps_event_queue *q)
{
	return q->count;
}

/* --- a keyed heap of small node ids (added by helper "desperf") ---
 *
 * The same (time, seq) order as struct ps_event_queue, for callers whose
 * events are small integer ids (e.g. one per stream) rather than embedded
 * structs: a binary min-heap of 16-byte keys (time, seq, id) compared as
 * one unsigned 128-bit number, so a comparison is two instructions and
 * never chases a pointer.  seq counts pushes (32 bits: at most 2^32 - 1
 * pushes per init), so equal times come out first in, first out.  Times
 * must be >= 0.  An id is queued at most once.
 *
 * The simulator handles the earliest event in place: event_heap_top, then
 * event_heap_replace_top for its first new event (one sift instead of a pop
 * and a push) or event_heap_pop when there is none.  Sifting down goes to a
 * leaf along the smaller children and back up (Floyd's bottom-up heuristic:
 * about one comparison per level instead of two).
 *
 * Ownership: caller-allocated struct; event_heap_init allocates the key
 * array (capacity ids, fixed), event_heap_fini frees it. */

typedef unsigned __int128 ps_event_key;

struct ps_event_heap {
	ps_event_key *key; /* (cap) key[0] is the smallest */
	uint32_t count, cap;
	uint32_t next_seq;
};

ps_status event_heap_init(struct ps_event_heap *h, uint32_t capacity);
void event_heap_fini(struct ps_event_heap *h);

static inline ps_event_key event_heap_key_(int64_t time, uint32_t seq, uint32_t id)
{
	return (ps_event_key)(uint64_t)time << 64 | (ps_event_key)seq << 32 | id;
}

/* Put k in the hole at i, a leaf or above: up while smaller than the parent. */
static inline void event_heap_up_(ps_event_key *key, uint32_t i, ps_event_key k)
{
	while (i > 0) {
		uint32_t p = (i - 1) / 2;
		if (!(k < key[p]))
			break;
		key[i] = key[p];
		i = p;
	}
	key[i] = k;
}

/* Fill the hole at 0 with k: the hole goes down to a leaf along the smaller
 * children, then k goes up from there. */
static inline void event_heap_down_(ps_event_key *key, uint32_t n, ps_event_key k)
{
	uint32_t i = 0, c;
	while ((c = 2 * i + 1) + 1 < n) {
		c += key[c + 1] < key[c];
		key[i] = key[c];
		i = c;
	}
	if (c < n) { /* one child only */
		key[i] = key[c];
		i = c;
	}
	event_heap_up_(key, i, k);
}

/* Number of ids queued. */
static inline uint32_t event_heap_size(const struct ps_event_heap *h)
{
	return h->count;
}

/* The id of the earliest event; the heap must not be empty. */
static inline uint32_t event_heap_top(const struct ps_event_heap *h)
{
	return (uint32_t)h->key[0];
}

/* The time of the earliest event; the heap must not be empty. */
static inline int64_t event_heap_top_time(const struct ps_event_heap *h)
{
	return (int64_t)(uint64_t)(h->key[0] >> 64);
}

/* Queue id at time (count < capacity). */
static inline void event_heap_push(struct ps_event_heap *h, uint32_t id, int64_t time)
{
	event_heap_up_(h->key, h->count++, event_heap_key_(time, h->next_seq++, id));
}

/* Remove the earliest event and queue id at time, in one sift: the same
 * order as event_heap_pop then event_heap_push. */
static inline void event_heap_replace_top(struct ps_event_heap *h, uint32_t id, int64_t time)
{
	event_heap_down_(h->key, h->count, event_heap_key_(time, h->next_seq++, id));
}

/* Remove the earliest event; the heap must not be empty. */
static inline void event_heap_pop(struct ps_event_heap *h)
{
	uint32_t n = --h->count;
	if (n)
		event_heap_down_(h->key, n, h->key[n]);
}

/* --- a calendar queue of small node ids (added by helper "desperf") ---
 *
 * The (time, seq) order again — seq counts pushes, so equal times come out
 * first in, first out — for a simulator whose clock never goes back: every
 * time pushed is >= the time of the last pop, and >= 0.  Nodes are ids
 * 0 .. nnodes-1 (e.g. one per stream), each queued at most once, at most
 * 2^32 - 1 pushes per init.
 *
 * A calendar queue (R. Brown, "Calendar queues: a fast O(1) priority queue
 * implementation for the simulation event set problem", CACM 31(10), 1988):
 * a ring of nbuckets buckets of width 2^width_log2 time units covers the
 * window [cur, cur + nbuckets) of absolute buckets (time >> width_log2);
 * each bucket is a list sorted by (time, seq), so a pop takes the head of
 * the first non-empty bucket (a bitmap finds it) and a push appends at the
 * tail in the usual case (a later time, or an equal time pushed later).
 * Events beyond the window wait in a struct ps_event_heap and move into
 * the ring when the window reaches them.  With buckets about as wide as the
 * gap between consecutive events, a push and a pop are O(1).  The width
 * adapts: every 65536 pops the queue narrows its buckets (and files the
 * queued events again) when pushes walked lists, or widens them when pops
 * skipped many empty buckets or many events landed beyond the window.  The
 * order never depends on the width.
 *
 * Ownership: caller-allocated struct; calendar_init allocates, calendar_fini
 * frees.  Nothing is allocated by push or pop. */

#define PS_CAL_NONE UINT32_MAX

struct ps_cal_node { /* private */
	int64_t time;
	uint32_t seq;
	uint32_t next; /* in its bucket; PS_CAL_NONE at the tail */
};

struct ps_calendar {
	/* Hot: read by every push and pop. */
	struct ps_cal_node *node; /* (nnodes) */
	uint32_t *head, *tail;	  /* (nbuckets) valid where bits has the bucket's bit */
	uint64_t *bits;		  /* (nbuckets / 64) bit b: bucket b is not empty */
	int64_t cur;		  /* absolute bucket of the scan position */
	int64_t far_min;	  /* absolute bucket of the earliest far event, INT64_MAX if none */
	uint32_t nbuckets, width_log2;
	uint32_t next_seq;
	/* Cold. */
	uint32_t nnodes;
	uint32_t *scratch;	  /* (nnodes) for re-filing */
	struct ps_event_heap far; /* (time, seq, id) of events beyond the window */
	/* Adaptation: counters since the push numbered period_seq. */
	uint32_t period_seq;
	uint64_t walk_steps, skipped_words, far_pushes;
	uint64_t resizes; /* how many times the width changed (for tests) */
};

/* Room for nodes 0 .. nnodes-1 in nbuckets buckets (a power of two >= 64)
 * of initial width 2^width_log2 (0 .. 62).  PS_ERR_INVALID on bad sizes,
 * PS_ERR_NOMEM when the arrays cannot be had. */
ps_status calendar_init(struct ps_calendar *q, uint32_t nnodes, uint32_t nbuckets, uint32_t width_log2);
void calendar_fini(struct ps_calendar *q);

/* Internal (out of line: the rare paths). */
void calendar_file_slow_(struct ps_calendar *q, uint32_t id, uint32_t b);
void calendar_push_far_(struct ps_calendar *q, uint32_t id);
void calendar_push_walk_(struct ps_calendar *q, uint32_t id, uint32_t b);
void calendar_push_far_adapt_(struct ps_calendar *q, uint32_t id);
uint32_t calendar_pop_slow_(struct ps_calendar *q);

/* Queue node id (not queued now) at time (>= the last popped time). */
static inline void calendar_push(struct ps_calendar *q, uint32_t id, int64_t time)
{
	struct ps_cal_node *const nd = q->node;
	uint32_t *const head = q->head, *const tail = q->tail;
	uint64_t *const bits = q->bits;
	const uint32_t nb = q->nbuckets, seq = q->next_seq;
	const int64_t abs = time >> q->width_log2, cur = q->cur;
	q->next_seq = seq + 1;
	nd[id].time = time;
	nd[id].seq = seq;
	nd[id].next = PS_CAL_NONE;
	if ((uint64_t)(abs - cur) >= nb) {
		calendar_push_far_adapt_(q, id);
		return;
	}
	uint32_t b = (uint32_t)abs & (nb - 1);
	uint64_t bit = (uint64_t)1 << (b & 63), word = bits[b >> 6];
	if (!(word & bit)) { /* an empty bucket */
		bits[b >> 6] = word | bit;
		head[b] = id;
		tail[b] = id;
		return;
	}
	uint32_t t = tail[b];
	if (time >= nd[t].time) { /* after the tail (a later seq) */
		nd[t].next = id;
		tail[b] = id;
	} else {
		calendar_push_walk_(q, id, b);
	}
}

/* Remove and return the node with the earliest (time, seq), or PS_CAL_NONE
 * when the queue is empty; *time is its time. */
static inline uint32_t calendar_pop(struct ps_calendar *q, int64_t *time)
{
	struct ps_cal_node *const nd = q->node;
	uint32_t *const head = q->head;
	uint64_t *const bits = q->bits;
	int64_t cur = q->cur;
	const int64_t far_min = q->far_min;
	uint32_t p = (uint32_t)cur & (q->nbuckets - 1);
	uint64_t word = bits[p >> 6], m = word & (~(uint64_t)0 << (p & 63));
	if (!m)
		goto slow;
	uint32_t c = (uint32_t)__builtin_ctzll(m), b = (p & ~63u) + c;
	cur += b - p;
	if (cur >= far_min)
		goto slow;
	q->cur = cur;
	uint32_t id = head[b], nx = nd[id].next;
	*time = nd[id].time;
	head[b] = nx;
	if (nx == PS_CAL_NONE)
		bits[p >> 6] = word & ~((uint64_t)1 << c);
	return id;
slow:
	id = calendar_pop_slow_(q);
	if (id != PS_CAL_NONE)
		*time = nd[id].time;
	return id;
}

#endif
