/*
 * The command line of the load generators: the flags they share
 * (bench_load_opts: --host, --port, --src, --prefix, --offset,
 * --connections, --connect-rate, --connect-timeout, --rate, --warmup,
 * --duration, --drain, --body-size, --progress, --json, --min-up-ratio)
 * mean the same in each, so that the suite drives all three the same
 * way; each adds its own in a table of the same kind (where a value goes
 * in its settings, its range, its help line). One parser reads both with
 * getopt_long and prints the usage, defaults included. Every flag is long.
 */

#ifndef BENCH_OPTIONS_H
#define BENCH_OPTIONS_H

#include <stddef.h>
#include <netinet/in.h>

#define BENCH_LOAD_BODY_MAX  (60 * 1024)   /* --body-size */

/*
 * The settings every load generator has: the first members of each one's
 * settings struct, so that the shared flags' offsets hold in all three.
 */
#define BENCH_LOAD_CONF                                                      \
    const char          *host;                                               \
    unsigned             port;                                               \
    const char          *src;                                                \
    const char          *prefix;                                             \
    unsigned long        offset;                                             \
    unsigned long        connections;                                        \
    int                  mode;            /* the generator's own modes */    \
    double               connect_rate;                                       \
    double               connect_timeout;                                    \
    double               rate;                                               \
    double               warmup;                                             \
    double               duration;                                           \
    double               drain;                                              \
    unsigned             body_size;                                          \
    int                  progress;                                           \
    const char          *json_path;                                          \
    double               min_up_ratio;                                       \
    struct sockaddr_in   addr;            /* host and port, resolved */      \
    struct sockaddr_in   src_addr

typedef struct {
    BENCH_LOAD_CONF;
} bench_load_conf_t;

/* In each generator: its settings type begins with BENCH_LOAD_CONF. */
#define BENCH_LOAD_CONF_OF(type)                                             \
    _Static_assert(offsetof(type, src_addr)                                  \
                   == offsetof(bench_load_conf_t, src_addr),                 \
                   #type " begins with BENCH_LOAD_CONF")

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
 * Fills conf (which begins with BENCH_LOAD_CONF) from argv by the shared
 * flags and the table opts (ended by BENCH_OPT_END); what no flag names
 * keeps its value, shown as the default in the usage. Then resolves
 * host and src. Returns 0, 1 after --help (usage on stdout), -1 after a
 * message.
 */
int bench_options(const char *tool, const char *usage,
    const bench_opt_t *opts, int argc, char **argv, void *conf);

#endif
