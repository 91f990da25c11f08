/*
 * Log-linear latency histogram (see histogram.h).
 */

#include <string.h>

#include "histogram.h"


static unsigned
hist_index(uint64_t v)
{
    unsigned  msb, e;

    if (v < (1u << HIST_SUB_BITS)) {
        return (unsigned) v;
    }

    msb = 63 - (unsigned) __builtin_clzll(v);
    e = msb - HIST_SUB_BITS + 1;

    /* v >> e is in [HIST_HALF, 2 * HIST_HALF): the bucket within its octave */
    return e * HIST_HALF + (unsigned) (v >> e);
}


uint64_t
hist_bucket_lower(unsigned i)
{
    unsigned  e;

    if (i < (1u << HIST_SUB_BITS)) {
        return i;
    }

    e = i / HIST_HALF - 1;

    return (uint64_t) (i - e * HIST_HALF) << e;
}


/* The middle of bucket i: the value reported for a percentile in it. */
static uint64_t
hist_bucket_mid(unsigned i)
{
    unsigned  e;

    if (i < (1u << HIST_SUB_BITS)) {
        return i;
    }

    e = i / HIST_HALF - 1;

    return hist_bucket_lower(i) + ((1ULL << e) >> 1);
}


void
hist_init(hist_t *h)
{
    memset(h, 0, sizeof(hist_t));
}


void
hist_record(hist_t *h, uint64_t ns)
{
    if (h->total == 0 || ns < h->min) {
        h->min = ns;
    }

    if (ns > h->max) {
        h->max = ns;
    }

    h->total++;
    h->sum += (double) ns;

    if (ns > HIST_MAX_NS) {
        h->overflow++;
        ns = HIST_MAX_NS;
    }

    h->counts[hist_index(ns)]++;
}


uint64_t
hist_percentile(const hist_t *h, double p)
{
    unsigned  i;
    uint64_t  rank, seen, v;

    if (h->total == 0) {
        return 0;
    }

    /* the smallest value that at least p% of the values are not above */
    rank = (uint64_t) ((p / 100.0) * (double) h->total + 0.999999);
    if (rank < 1) {
        rank = 1;
    }
    if (rank > h->total) {
        rank = h->total;
    }

    seen = 0;

    for (i = 0; i < HIST_BUCKETS; i++) {
        seen += h->counts[i];

        if (seen >= rank) {
            v = hist_bucket_mid(i);

            /* a bucket's middle may lie outside what was seen */
            if (v > h->max) {
                v = h->max;
            }
            if (v < h->min) {
                v = h->min;
            }

            return v;
        }
    }

    return h->max;
}
