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

/* --- a tournament tree of small node ids (added by helper "des2") ---
 *
 * The same (time, seq) order as struct ps_event_heap, for a fixed set of
 * ids 0 .. capacity-1 (e.g. one per stream), each queued at most once.
 * Every id holds its key (time, push count, id: the 128-bit key of the
 * keyed heap; all ones when the id is not queued).  Ids are grouped by
 * PS_EVENT_GROUP consecutive ones (a rank's streams); a winner tree has one
 * leaf per group holding the group's smallest key, and each inner node the
 * smallest key below it.  The earliest event is the root's key.
 *
 * A pop only marks the group of the popped id: its leaf and path are
 * replayed (leaf = min of the group's keys, then one comparison per level
 * against the sibling) at the next pop, so the tasks a finished task starts
 * on its own rank's streams cost one store each.  A push into another group
 * lowers that group's leaf and walks up only while the new key is smaller
 * than the node (a queued key never lowers a node below the earliest key,
 * so the walk stops where it meets the marked path, which the replay then
 * rewrites from sound siblings).
 *
 * Ownership: caller-allocated struct; event_tree_init allocates (capacity
 * ids), event_tree_fini frees.  Nothing is allocated by push or pop. */

#define PS_EVENT_GROUP 4

struct ps_event_tree {
	ps_event_key *key;  /* (PS_EVENT_GROUP size) per id */
	ps_event_key *node; /* (2 size) node[1] the root; leaves node[size + group] */
	uint32_t size;	    /* leaves: a power of two >= groups, >= 2 */
	uint32_t count;
	uint32_t next_seq;
	uint32_t popped;    /* group of the id popped last, not replayed yet, or UINT32_MAX */
};

ps_status event_tree_init(struct ps_event_tree *t, uint32_t capacity);
void event_tree_fini(struct ps_event_tree *t);

/* Recompute group g's leaf from its keys and replay its path to the root. */
static inline void event_tree_replay_(struct ps_event_tree *t, uint32_t g)
{
	const ps_event_key *gk = &t->key[(size_t)g * PS_EVENT_GROUP];
	ps_event_key a = gk[0] < gk[1] ? gk[0] : gk[1];
	ps_event_key b = gk[2] < gk[3] ? gk[2] : gk[3];
	ps_event_key k = a < b ? a : b;
	ps_event_key *node = t->node;
	uint32_t n = t->size + g;
	node[n] = k;
	for (; n > 1; n >>= 1) {
		ps_event_key o = node[n ^ 1];
		k = o < k ? o : k;
		node[n >> 1] = k;
	}
}

/* Queue id at time (>= 0); id must not be queued. */
static inline void event_tree_push(struct ps_event_tree *t, uint32_t id, int64_t time)
{
	ps_event_key k = event_heap_key_(time, t->next_seq++, id);
	t->key[id] = k;
	t->count++;
	uint32_t g = id / PS_EVENT_GROUP;
	if (g == t->popped)
		return; /* its replay comes with the next pop */
	ps_event_key *node = t->node;
	for (uint32_t n = t->size + g; n >= 1 && k < node[n]; n >>= 1)
		node[n] = k;
}

/* Remove the earliest event and return its id; *time gets its time.  The
 * tree must not be empty. */
static inline uint32_t event_tree_pop(struct ps_event_tree *t, int64_t *time)
{
	if (t->popped != UINT32_MAX)
		event_tree_replay_(t, t->popped);
	ps_event_key k = t->node[1];
	uint32_t id = (uint32_t)k;
	*time = (int64_t)(uint64_t)(k >> 64);
	t->key[id] = ~(ps_event_key)0;
	t->popped = id / PS_EVENT_GROUP;
	t->count--;
	return id;
}

static inline uint32_t event_tree_size(const struct ps_event_tree *t)
{
	return t->count;
}

#endif
