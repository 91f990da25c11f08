/*
 * The command line of chat-bench.
 */

#ifndef BENCH_OPTIONS_H
#define BENCH_OPTIONS_H

#include "bench.h"

/* Fills cf from argv: 0, 1 after --help, -1 on an error (printed). */
int bench_options(int argc, char **argv, bench_conf_t *cf);

#endif
