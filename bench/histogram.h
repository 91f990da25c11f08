/*
 * A fixed-size log-linear latency histogram of nanosecond values.
 *
 * Values below 2^HIST_SUB_BITS ns are counted exactly; above, every power of
 * two is cut into 2^(HIST_SUB_BITS - 1) equal buckets, so a bucket is at most
 * 1/64 (1.6%) of its value wide. Values above HIST_MAX_NS (10 s) are counted
 * in the top bucket and in "overflow"; min and max are exact. The memory is
 * fixed (about 15 KB) however many values are recorded.
 */

#ifndef BENCH_HISTOGRAM_H
#define BENCH_HISTOGRAM_H

#include <stdint.h>

#define HIST_SUB_BITS  7
#define HIST_HALF      (1u << (HIST_SUB_BITS - 1))
#define HIST_MAX_NS    10000000000ULL            /* 10 s */
/* HIST_MAX_NS < 2^34: the largest exponent is 34 - HIST_SUB_BITS */
#define HIST_BUCKETS   ((34 - HIST_SUB_BITS + 2) * HIST_HALF)

typedef struct {
    uint64_t  counts[HIST_BUCKETS];
    uint64_t  total;
    uint64_t  overflow;
    uint64_t  min;
    uint64_t  max;
    double    sum;
} hist_t;

void hist_init(hist_t *h);
void hist_record(hist_t *h, uint64_t ns);
/* The value at percentile p (0 < p <= 100), in ns; 0 when empty. */
uint64_t hist_percentile(const hist_t *h, double p);
/* The lowest value of bucket i (exported buckets: [lower, count] pairs). */
uint64_t hist_bucket_lower(unsigned i);

#endif
