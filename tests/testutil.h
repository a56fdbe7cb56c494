/* testutil.h — helpers shared by the cmocka tests (header-only).
 *
 * test_run_parasim(): run the built `parasim` binary with arguments,
 * capture stdout and stderr, return the exit status.  Paths come from the
 * environment set by `make check` (PS_BUILDDIR, PS_SRCDIR, PS_TEST_DATA). */
#ifndef PS_TESTUTIL_H
#define PS_TESTUTIL_H

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static inline const char *test_env(const char *name, const char *fallback)
{
	const char *v = getenv(name);
	return v && *v ? v : fallback;
}

/* Path under the test data folder, in a static rotating buffer. */
static inline const char *test_data(const char *rel)
{
	static char buf[8][2048];
	static int i;
	i = (i + 1) % 8;
	snprintf(buf[i], sizeof buf[i], "%s/%s", test_env("PS_TEST_DATA", "tests/data"), rel);
	return buf[i];
}

static inline char *test_slurp_fd(int fd)
{
	size_t cap = 4096, len = 0;
	char *s = malloc(cap);
	for (;;) {
		if (len + 1024 >= cap) {
			cap *= 2;
			s = realloc(s, cap);
		}
		ssize_t r = read(fd, s + len, cap - len - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		len += (size_t)r;
	}
	s[len] = '\0';
	return s;
}

/* Run `parasim args...` (NULL-terminated).  *out and *err (may be NULL) get
 * malloc'd captured text.  Returns the exit status, or -1 if it crashed
 * (signal) — a crash is always a test failure. */
static inline int test_run_parasim(char **out, char **err, const char *arg0, ...)
{
	const char *argv[64];
	char bin[2048];
	int n = 0;
	snprintf(bin, sizeof bin, "%s/parasim", test_env("PS_BUILDDIR", "."));
	argv[n++] = bin;
	va_list ap;
	va_start(ap, arg0);
	for (const char *a = arg0; a && n < 63; a = va_arg(ap, const char *))
		argv[n++] = a;
	va_end(ap);
	argv[n] = NULL;
	char tmpo[] = "/tmp/ps-test-outXXXXXX", tmpe[] = "/tmp/ps-test-errXXXXXX";
	int fo = mkstemp(tmpo), fe = mkstemp(tmpe);
	unlink(tmpo);
	unlink(tmpe);
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		dup2(fo, 1);
		dup2(fe, 2);
		execv(bin, (char *const *)argv);
		_exit(127);
	}
	int status = 0;
	waitpid(pid, &status, 0);
	lseek(fo, 0, SEEK_SET);
	lseek(fe, 0, SEEK_SET);
	char *o = test_slurp_fd(fo), *e = test_slurp_fd(fe);
	close(fo);
	close(fe);
	if (out)
		*out = o;
	else
		free(o);
	if (err)
		*err = e;
	else
		free(e);
	if (WIFSIGNALED(status))
		return -1;
	return WEXITSTATUS(status);
}

#endif
