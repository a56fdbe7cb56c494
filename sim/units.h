/* units.h — quantities with units, written as strings in scenario files.
 *
 * Every parser takes the whole string ("400Gb/s", "936ns", "80GiB") and
 * returns the value in SI base units: bytes, bytes per second, seconds,
 * FLOP/s, dollars per second, watts.  Decimal prefixes (k/K, M, G, T, P) are
 * powers of 1000, binary prefixes (Ki, Mi, Gi, Ti, Pi) powers of 1024.  A
 * lower-case 'b' means bits, 'B' bytes.  Leading/trailing blanks are allowed,
 * one optional blank between number and unit.  Errors (no number, unknown
 * unit, negative, non-finite, overflow beyond 1e30) return PS_ERR_PARSE or
 * PS_ERR_RANGE with a message like `expected a size such as "80GiB", got "80Gq"`;
 * the caller adds file:line:col and the key path.
 *
 * The formatters write the canonical spelling used by `parasim check`:
 * the largest exact-looking prefix, e.g. 85899345920 -> "80GiB",
 * 5e10 B/s -> "50GB/s", 9.36e-7 s -> "936ns".  Parsing the formatted text
 * gives back the same double (round trip exact: %.17g where needed). */
#ifndef PS_UNITS_H
#define PS_UNITS_H

#include <stddef.h>
#include "status.h"

typedef enum {
	UNIT_BYTES,     /* B, KB, MB, GB, TB, PB, KiB .. PiB; also bits: b, Kb, Gb ... */
	UNIT_BANDWIDTH, /* B/s, KB/s .. TB/s, KiB/s .., b/s, Kb/s, Mb/s, Gb/s, Tb/s; "GBps", "Gbps" */
	UNIT_TIME,      /* ps, ns, us, ms, s, min, h */
	UNIT_FLOPS,     /* FLOPS, KFLOPS .. PFLOPS, EFLOPS (also "TFLOP/s") */
	UNIT_MONEY_RATE,/* "$2.10/h", "$0.5/hour", "$100/day" -> dollars per second */
	UNIT_POWER,     /* W, kW, MW */
	UNIT_FLOP,      /* an amount of work: FLOP, GFLOP, TFLOP, PFLOP, EFLOP */
	UNIT_COUNT_
} ps_unit_kind;

/* Parse text as a quantity of the given kind.  *out in SI base units. */
ps_status units_parse(ps_unit_kind kind, const char *text, double *out);

/* Write the canonical text of value into buf (NUL-terminated, truncated to
 * size).  Returns the length that the full text needs, like snprintf. */
int units_format(ps_unit_kind kind, double value, char *buf, size_t size);

/* "size", "bandwidth", "time", ... for messages. */
const char *units_kind_name(ps_unit_kind kind);

#endif
