/*
 * The command line of the load generators: each describes its flags in a
 * table (where each value goes in its settings struct, its range, its
 * help line); one parser reads them with getopt_long and prints the
 * usage. Every flag is long. The flags the generators share mean the
 * same in each (--host, --port, --src, --prefix, --offset, --connections,
 * --connect-rate, --connect-timeout, --mode, --rate, --warmup,
 * --duration, --drain, --body-size, --progress, --json, --min-up-ratio).
 */

#ifndef BENCH_OPTIONS_H
#define BENCH_OPTIONS_H

#include <stddef.h>
#include <netinet/in.h>

typedef enum {
    BENCH_OPT_STRING = 0,   /* const char * */
    BENCH_OPT_FLAG,         /* int, set to 1; takes no value */
    BENCH_OPT_ULONG,        /* unsigned long in [lo, hi] */
    BENCH_OPT_UINT,         /* unsigned in [lo, hi] */
    BENCH_OPT_LONG,         /* long in [lo, hi] */
    BENCH_OPT_DOUBLE,       /* double in [lo, hi] */
    BENCH_OPT_CHOICE        /* int: the index of the value in choices */
} bench_opt_kind_e;

typedef struct {
    const char         *name;
    bench_opt_kind_e    kind;
    size_t              offset;    /* of the field in the settings */
    double              lo;
    double              hi;
    const char         *choices;   /* CHOICE: "msg|idle|typing" */
    const char         *arg;       /* the value's name in the usage */
    const char         *help;
} bench_opt_t;

#define BENCH_OPT_END  { NULL, 0, 0, 0, 0, NULL, NULL, NULL }

/*
 * Fills conf from argv by the table opts (ended by BENCH_OPT_END); what
 * the table does not name keeps its value. Returns 0, 1 after --help
 * (usage on stdout), -1 after a message (usage on stderr).
 */
int bench_options(const char *tool, const char *usage,
    const bench_opt_t *opts, int argc, char **argv, void *conf);

/* Resolves host (a name or an IPv4 address) and src (NULL: none, else an
   IPv4 address) once; 0, or -1 after a message. */
int bench_options_addr(const char *tool, const char *host, unsigned port,
    const char *src, struct sockaddr_in *addr, struct sockaddr_in *src_addr);

#endif
