/*
 * What the load generators count and how they report it: one set of
 * counters (bench_stats_t) for chat-bench, nchan-bench and xmpp-bench, a
 * summary on stdout and one JSON object (--json) in the layout
 * bench/merge_results.py merges. Histograms go into the JSON as [bucket
 * lower bound ns, count] pairs, so that the results of processes run in
 * parallel merge exactly.
 */

#ifndef BENCH_REPORT_H
#define BENCH_REPORT_H

#include <stddef.h>
#include <stdint.h>

#include "histogram.h"

#define BENCH_TABLE_MAX  24    /* distinct keys per table */
#define BENCH_KEY_MAX    32

typedef struct {
    char      key[BENCH_KEY_MAX];
    uint64_t  n;
} bench_count_t;

/* counts by a short string key: error codes, failure reasons, close codes */
typedef struct {
    bench_count_t  e[BENCH_TABLE_MAX];
    unsigned       n;
    uint64_t       other;   /* keys that did not fit */
} bench_table_t;

typedef struct {
    /* connections */
    uint64_t        up;            /* came up */
    uint64_t        failed;        /* never came up */
    uint64_t        dropped;       /* up, then closed before the end */
    uint64_t        up_at_end;     /* still up when the close phase began */
    uint64_t        closed_clean;  /* close handshake completed at the end */
    bench_table_t   fail_reasons;
    bench_table_t   drop_reasons;
    bench_table_t   close_codes;   /* close frames the server sent */

    /* requests whose send time is in the measured window */
    uint64_t        ticks;
    uint64_t        attempted;
    uint64_t        answered;      /* chat: "sent" or "pong"; nchan: replies */
    uint64_t        errors;
    bench_table_t   error_codes;
    uint64_t        skipped_inflight;
    uint64_t        skipped_down;
    uint64_t        skipped_backpressure;
    uint64_t        max_lag_ns;    /* how late the sender ran on a tick */

    /* deliveries of messages (or typings) sent in the measured window */
    uint64_t        delivered;
    uint64_t        out_of_order;  /* arrived after a later one */
    uint64_t        duplicates;    /* arrived again (not measured again) */
    uint64_t        typing_lost;   /* typings skipped by a later match */

    /* frames of any time */
    uint64_t        echoes;        /* own msg frames echoed back */
    uint64_t        stale;         /* messages of another run */
    uint64_t        foreign;       /* messages from others */
    uint64_t        unmatched;     /* replies or typings matching nothing */
    uint64_t        replies;       /* nchan: publish replies */
    uint64_t        parse_errors;
    uint64_t        other_frames;
    uint64_t        server_pings;
    uint64_t        receipts_sent;

    /* totals over the whole run, for ending the drain early */
    uint64_t        all_ok;        /* sends that went out (chat: "sent") */
    uint64_t        all_delivered; /* peer messages of this run received */

    hist_t          e2e;           /* send -> the peer's delivery */
    hist_t          reply;         /* send -> its answer */
    hist_t          error;         /* request -> its error frame */
} bench_stats_t;

/* One run, as the report needs it. */
typedef struct {
    const char            *tool;       /* "chat-bench" */
    const char            *run;
    const char            *mode;
    const char            *host;
    unsigned               port;
    const char            *src;        /* NULL: none */
    const char            *answer;     /* what answers a send; NULL: none */
    unsigned long          requested;  /* connections */
    double                 rate;       /* sends per second offered */
    double                 warmup;
    int                    e2e;        /* sends reach a peer: e2e latency */
    uint64_t               t_start, t_up, t_measure, t_end;   /* ns */
    const char            *config;     /* the settings, a JSON object */
    const char            *extra;      /* more top-level JSON members,
                                          each followed by ',' */
    const bench_stats_t   *st;
} bench_report_t;

void bench_stats_init(bench_stats_t *st);

/* Counts key (len bytes, cut to BENCH_KEY_MAX - 1) in t. */
void bench_count(bench_table_t *t, const char *key, size_t len);

void bench_report_text(const bench_report_t *r);

/* Writes the JSON file; 0, or -1 after a message. */
int bench_report_json(const bench_report_t *r, const char *path);

#endif
