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

#endif
