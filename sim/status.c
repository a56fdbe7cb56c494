/* status.c — thread-local error record behind PS_ERROR. */
#include "config.h"
#include "status.h"

#include <stdio.h>
#include <string.h>

#define PS_ERRMSG_MAX 1024

static _Thread_local struct {
	ps_status code;
	char msg[PS_ERRMSG_MAX];
	char origin[128];
} last;

ps_status ps_error_setv_(ps_status code, const char *src_file, int src_line, const char *fmt, va_list ap)
{
	last.code = code;
	vsnprintf(last.msg, sizeof last.msg, fmt, ap);
	snprintf(last.origin, sizeof last.origin, "%s:%d", src_file, src_line);
	return code;
}

ps_status ps_error_set_(ps_status code, const char *src_file, int src_line, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	ps_error_setv_(code, src_file, src_line, fmt, ap);
	va_end(ap);
	return code;
}

const char *ps_error_message(void) { return last.msg; }
const char *ps_error_origin(void) { return last.origin; }
ps_status ps_error_code(void) { return last.code; }

void ps_error_clear(void)
{
	last.code = PS_OK;
	last.msg[0] = '\0';
	last.origin[0] = '\0';
}

void ps_error_prefix(const char *fmt, ...)
{
	char pre[PS_ERRMSG_MAX], old[PS_ERRMSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(pre, sizeof pre, fmt, ap);
	va_end(ap);
	memcpy(old, last.msg, sizeof old);
	/* Truncation is intended: the message is capped at PS_ERRMSG_MAX. */
	size_t n = strlen(pre);
	if (n > sizeof last.msg - 3)
		n = sizeof last.msg - 3;
	memcpy(last.msg, pre, n);
	memcpy(last.msg + n, ": ", 2);
	size_t room = sizeof last.msg - n - 3, m = strlen(old);
	if (m > room)
		m = room;
	memcpy(last.msg + n + 2, old, m);
	last.msg[n + 2 + m] = '\0';
}

const char *ps_status_name(ps_status code)
{
	switch (code) {
	case PS_OK: return "ok";
	case PS_ERR_NOMEM: return "out of memory";
	case PS_ERR_IO: return "i/o error";
	case PS_ERR_PARSE: return "parse error";
	case PS_ERR_INVALID: return "invalid value";
	case PS_ERR_RANGE: return "out of range";
	case PS_ERR_NOTFOUND: return "not found";
	case PS_ERR_DB: return "database error";
	case PS_ERR_UNSUPPORTED: return "unsupported";
	case PS_ERR_MPI: return "MPI error";
	case PS_ERR_CUDA: return "CUDA error";
	case PS_ERR_OOM_SIM: return "simulated out of memory";
	case PS_ERR_INTERNAL: return "internal error";
	}
	return "unknown status";
}
