/* cmd-export.c — `parasim export`: stored runs as CSV or JSON lines, or one
 * run's trace as a Chrome trace (Perfetto) file.
 *
 *   parasim export [--db PATH] [--format csv|json|chrome-trace] [--run ID] [-o FILE]
 *
 * Data goes to stdout, or to FILE (written to a temporary file beside it and
 * renamed, so a failed export never leaves half a file).  It never creates a
 * database: a missing --db file is an error.  The formatting is in
 * sim/store-export.c. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "status.h"
#include "store.h"

static int parse_run_id(const char *s, long long *out)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || end == s || *end || v < 0)
		return -1;
	*out = v;
	return 0;
}

/* Output to a regular file goes through FILE.XXXXXX and a rename. */
struct output {
	FILE *f;
	const char *path; /* final path, NULL for stdout */
	char *tmp;	  /* temporary path, NULL when writing in place */
};

static int output_open(struct output *o, const char *path)
{
	memset(o, 0, sizeof *o);
	if (!path || strcmp(path, "-") == 0) {
		o->f = stdout;
		return 0;
	}
	o->path = path;
	struct stat sb;
	if (stat(path, &sb) == 0 && !S_ISREG(sb.st_mode)) {
		/* A device or a pipe: write in place. */
		if (!(o->f = fopen(path, "w"))) {
			fprintf(stderr, "parasim export: %s: %s\n", path, strerror(errno));
			return -1;
		}
		return 0;
	}
	size_t len = strlen(path) + 8;
	o->tmp = malloc(len);
	if (!o->tmp) {
		fprintf(stderr, "parasim export: out of memory\n");
		return -1;
	}
	snprintf(o->tmp, len, "%s.XXXXXX", path);
	int fd = mkstemp(o->tmp);
	if (fd < 0) {
		fprintf(stderr, "parasim export: %s: %s\n", path, strerror(errno));
		free(o->tmp);
		o->tmp = NULL;
		return -1;
	}
	mode_t mask = umask(0);
	umask(mask);
	if (fchmod(fd, 0666 & ~mask) != 0 || !(o->f = fdopen(fd, "w"))) {
		fprintf(stderr, "parasim export: %s: %s\n", o->tmp, strerror(errno));
		close(fd);
		unlink(o->tmp);
		free(o->tmp);
		o->tmp = NULL;
		return -1;
	}
	return 0;
}

/* Close the output; keep it only if ok.  Returns 0 if everything was written. */
static int output_close(struct output *o, int ok)
{
	int err = 0;
	if (o->f == stdout) {
		if (fflush(stdout) != 0 || ferror(stdout)) {
			if (ok)
				fprintf(stderr, "parasim export: writing to stdout: %s\n", strerror(errno));
			err = -1;
		}
		return err;
	}
	if (o->f && fclose(o->f) != 0) {
		if (ok)
			fprintf(stderr, "parasim export: %s: %s\n", o->path, strerror(errno));
		err = -1;
	}
	if (o->tmp) {
		if (ok && !err && rename(o->tmp, o->path) != 0) {
			fprintf(stderr, "parasim export: %s: %s\n", o->path, strerror(errno));
			err = -1;
		}
		if (!ok || err)
			unlink(o->tmp);
		free(o->tmp);
	}
	return err;
}

int cmd_export(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"db", required_argument, NULL, 'd'},  {"format", required_argument, NULL, 'f'},
	    {"run", required_argument, NULL, 'r'}, {"output", required_argument, NULL, 'o'},
	    {"help", no_argument, NULL, 'h'},	   {NULL, 0, NULL, 0},
	};
	const char *db = PS_STORE_DEFAULT, *format = "csv", *outpath = NULL;
	long long run_id = -1;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "d:f:r:o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			db = optarg;
			break;
		case 'f':
			format = optarg;
			break;
		case 'r':
			if (parse_run_id(optarg, &run_id) != 0) {
				fprintf(stderr,
					"parasim export: --run '%s': expected a run id (an integer >= 0)\n",
					optarg);
				return cli_usage("export");
			}
			break;
		case 'o':
			outpath = optarg;
			break;
		case 'h':
			printf("usage: %s\n", cli_verb_find("export")->usage);
			return PS_EXIT_OK;
		default:
			return cli_usage("export");
		}
	}
	if (optind < argc) {
		fprintf(stderr, "parasim export: unexpected argument '%s'\n", argv[optind]);
		return cli_usage("export");
	}
	int trace = strcmp(format, "chrome-trace") == 0;
	if (!trace && strcmp(format, "csv") != 0 && strcmp(format, "json") != 0) {
		fprintf(stderr, "parasim export: --format '%s': expected csv, json or chrome-trace\n",
			format);
		return cli_usage("export");
	}
	if (trace && run_id < 0) {
		fprintf(stderr, "parasim export: --format chrome-trace needs --run ID\n");
		return cli_usage("export");
	}
	if (!*db) {
		fprintf(stderr, "parasim export: --db: empty path\n");
		return cli_usage("export");
	}
	struct stat sb;
	if (stat(db, &sb) != 0) {
		if (errno == ENOENT)
			fprintf(stderr,
				"parasim export: %s: no such database (store runs with "
				"`parasim simulate`, or name the file with --db)\n",
				db);
		else
			fprintf(stderr, "parasim export: %s: %s\n", db, strerror(errno));
		return PS_EXIT_FAIL;
	}
	struct ps_store *st;
	if (store_open(db, &st) != PS_OK) {
		cli_error("export");
		return PS_EXIT_FAIL;
	}
	struct output o;
	if (output_open(&o, outpath) != 0) {
		store_close(st);
		return PS_EXIT_FAIL;
	}
	ps_status r =
	    trace ? store_export_chrome_trace(st, run_id, o.f) : store_export(st, format, run_id, o.f);
	if (r != PS_OK)
		cli_error("export");
	int werr = output_close(&o, r == PS_OK);
	store_close(st);
	return r == PS_OK && werr == 0 ? PS_EXIT_OK : PS_EXIT_FAIL;
}
