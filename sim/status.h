/* status.h — one result-code discipline for all of parasim.
 *
 * Library functions return a ps_status.  When they fail they record why with
 * PS_ERROR(code, fmt, ...), which keeps the message (for the user) and the
 * source file:line where it was raised (for developers).  Only the command
 * layer (sim/cmd-*.c, sim/main.c) prints messages or exits.
 *
 * The record is thread-local: each thread sees the last error it raised.
 * User-input errors put "file:line:col: key.path: expected ..., got ..." in
 * the message itself; the source location is extra. */
#ifndef PS_STATUS_H
#define PS_STATUS_H

#include <stdarg.h>

typedef enum {
	PS_OK = 0,
	PS_ERR_NOMEM,       /* allocation failed */
	PS_ERR_IO,          /* file or system call failed */
	PS_ERR_PARSE,       /* malformed input text (YAML, units, CSV) */
	PS_ERR_INVALID,     /* well-formed but invalid or inconsistent value */
	PS_ERR_RANGE,       /* numeric value out of range / overflow */
	PS_ERR_NOTFOUND,    /* named thing (preset, run, profile) does not exist */
	PS_ERR_DB,          /* SQLite failure */
	PS_ERR_UNSUPPORTED, /* feature not available in this build / device */
	PS_ERR_MPI,         /* MPI failure */
	PS_ERR_CUDA,        /* CUDA / cuBLAS / NCCL failure */
	PS_ERR_OOM_SIM,     /* not an error of parasim: simulated device ran out of memory */
	PS_ERR_INTERNAL     /* should not happen; a bug */
} ps_status;

/* Record an error; returns code so callers can `return PS_ERROR(...)`. */
ps_status ps_error_set_(ps_status code, const char *src_file, int src_line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
ps_status ps_error_setv_(ps_status code, const char *src_file, int src_line, const char *fmt, va_list ap);
#define PS_ERROR(code, ...) ps_error_set_((code), __FILE__, __LINE__, __VA_ARGS__)

/* The message of the last error raised on this thread ("" if none). */
const char *ps_error_message(void);
/* Where in parasim's source it was raised: "sim/scenario.c:123". */
const char *ps_error_origin(void);
/* The code of the last error raised on this thread. */
ps_status ps_error_code(void);
/* Forget the last error. */
void ps_error_clear(void);
/* Prefix the current message: "context: <old message>". */
void ps_error_prefix(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Human name of a code: "out of memory", "parse error", ... */
const char *ps_status_name(ps_status code);

#endif
