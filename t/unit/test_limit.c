/* The leaky bucket of rate limits: counts at once, the wait, the drain,
 * and rate parsing. */

#include "test.h"
#include "chat_limit.h"


/* Requests accepted out of n sent at the same instant. */
static int
accepted_at_once(uint64_t rate, uint64_t burst, int n, uint64_t *excess)
{
    int  i, ok;

    ok = 0;

    for (i = 0; i < n; i++) {
        if (chat_limit_take(rate, burst, excess, i ? 0 : CHAT_LIMIT_NEW)
            == 0)
        {
            ok++;
        }
    }

    return ok;
}


TEST(test_limit_burst_plus_one_at_once)
{
    uint64_t  excess = 0;

    CHECK_EQ(accepted_at_once(5000, 3, 10, &excess), 4);
    CHECK_EQ(excess, 3000);

    excess = 0;
    CHECK_EQ(accepted_at_once(20000, 40, 100, &excess), 41);

    excess = 0;
    CHECK_EQ(accepted_at_once(2000, 0, 5, &excess), 1);
}


TEST(test_limit_wait_is_when_next_is_accepted)
{
    uint64_t  excess = 3000, wait;

    /* 5r/s, burst 3, full: one more after 200 ms, not before */
    wait = chat_limit_take(5000, 3, &excess, 0);
    CHECK_EQ(wait, 200);
    CHECK_EQ(excess, 3000);

    CHECK_EQ(chat_limit_take(5000, 3, &excess, 150), 50);
    CHECK_EQ(excess, 3000);

    CHECK_EQ(chat_limit_take(5000, 3, &excess, 200), 0);
    CHECK_EQ(excess, 3000);

    /* rounded up: 3r/s leaves 1/3 s, 334 ms */
    CHECK_EQ(chat_limit_take(3000, 0, &excess, CHAT_LIMIT_NEW), 0);
    CHECK_EQ(excess, 0);
    CHECK_EQ(chat_limit_take(3000, 0, &excess, 0), 334);
}


TEST(test_limit_drains_at_rate)
{
    uint64_t  excess = 4000;

    /* 2r/s: an excess of 4 and the next request drain in 2.5 s */
    CHECK_EQ(chat_limit_idle_ms(2000, 4000), 2500);
    CHECK_EQ(chat_limit_idle_ms(2000, 0), 500);

    /* after 1 s, 2 of the 4 remain, and the request adds 1 */
    CHECK_EQ(chat_limit_take(2000, 10, &excess, 1000), 0);
    CHECK_EQ(excess, 3000);

    /* a long idle bucket starts over, whatever it held */
    excess = 40000;
    CHECK_EQ(chat_limit_take(1000, 40, &excess, (uint64_t) 1 << 40), 0);
    CHECK_EQ(excess, 0);

    /* a new one too, even at a rate that drains nothing in a day */
    excess = 12345;
    CHECK_EQ(chat_limit_take(1, 0, &excess, CHAT_LIMIT_NEW), 0);
    CHECK_EQ(excess, 0);
}


TEST(test_limit_idle_bucket_is_as_good_as_new)
{
    uint64_t  excess, idle, fresh;

    /* 1r/s, burst 0: one accepted; forgetting the bucket any earlier than
     * its idle time would let a second one through */
    excess = 0;
    CHECK_EQ(chat_limit_take(1000, 0, &excess, CHAT_LIMIT_NEW), 0);
    idle = chat_limit_idle_ms(1000, excess);
    CHECK_EQ(idle, 1000);
    CHECK(chat_limit_take(1000, 0, &excess, idle - 1) != 0);

    fresh = 0;
    CHECK_EQ(chat_limit_take(1000, 0, &fresh, CHAT_LIMIT_NEW), 0);
    CHECK_EQ(chat_limit_take(1000, 0, &excess, idle), 0);
    CHECK_EQ(excess, fresh);
}


TEST(test_limit_steady_rate_is_never_limited)
{
    int       i;
    uint64_t  excess = 0;

    /* 10r/s, no burst, one every 100 ms: all accepted */
    for (i = 0; i < 50; i++) {
        CHECK_EQ(chat_limit_take(10000, 0, &excess,
                                 i ? 100 : CHAT_LIMIT_NEW), 0);
    }

    /* one every 90 ms: limited before long */
    for (i = 0; i < 50; i++) {
        if (chat_limit_take(10000, 0, &excess, 90) != 0) {
            break;
        }
    }

    CHECK(i < 50);
}


TEST(test_limit_parse_rate)
{
    uint64_t  r;

    CHECK(chat_limit_parse_rate("20r/s", 5, &r) == 0);
    CHECK_EQ(r, 20000);
    CHECK(chat_limit_parse_rate("30r/m", 5, &r) == 0);
    CHECK_EQ(r, 500);
    CHECK(chat_limit_parse_rate("1r/m", 4, &r) == 0);
    CHECK_EQ(r, 16);
    CHECK(chat_limit_parse_rate("1000000r/s", 10, &r) == 0);

    CHECK(chat_limit_parse_rate("0r/s", 4, &r) == -1);
    CHECK(chat_limit_parse_rate("1000001r/s", 10, &r) == -1);
    CHECK(chat_limit_parse_rate("99999999999999999999r/s", 23, &r) == -1);
    CHECK(chat_limit_parse_rate("r/s", 3, &r) == -1);
    CHECK(chat_limit_parse_rate("5r/h", 4, &r) == -1);
    CHECK(chat_limit_parse_rate("5", 1, &r) == -1);
    CHECK(chat_limit_parse_rate("-5r/s", 5, &r) == -1);
}


TEST(test_limit_cost_charges_that_many_at_once)
{
    uint64_t  excess = 0, wait;

    /* 10r/s, burst 100: a new bucket takes 30 and keeps 29 (the first is
     * free), then 70 more fit, then nothing */
    CHECK_EQ(chat_limit_take_n(10000, 100, 30, &excess, CHAT_LIMIT_NEW), 0);
    CHECK_EQ(excess, 29000);
    CHECK_EQ(chat_limit_take_n(10000, 100, 71, &excess, 0), 0);
    CHECK_EQ(excess, 100000);

    /* full: 5 more need 5 to drain, 500 ms at 10r/s */
    wait = chat_limit_take_n(10000, 100, 5, &excess, 0);
    CHECK_EQ(wait, 500);
    CHECK_EQ(excess, 100000);
    CHECK_EQ(chat_limit_take_n(10000, 100, 5, &excess, 499), 1);
    CHECK_EQ(chat_limit_take_n(10000, 100, 5, &excess, 500), 0);
    CHECK_EQ(excess, 100000);

    /* a cost of 1 is chat_limit_take */
    excess = 3000;
    CHECK_EQ(chat_limit_take_n(5000, 3, 1, &excess, 0),
             chat_limit_take(5000, 3, &excess, 0));
}


TEST(test_limit_cost_zero_is_free_and_big_is_clamped)
{
    uint64_t  excess = 4000, wait;

    CHECK_EQ(chat_limit_take_n(1000, 4, 0, &excess, 0), 0);
    CHECK_EQ(excess, 4000);

    /* 1000 against burst 4 counts as 5: it passes a drained bucket, and
     * the wait of a full one is what 5 need, not what 1000 would */
    excess = 0;
    CHECK_EQ(chat_limit_take_n(1000, 4, 1000, &excess, CHAT_LIMIT_NEW), 0);
    CHECK_EQ(excess, 4000);
    wait = chat_limit_take_n(1000, 4, 1000, &excess, 0);
    CHECK_EQ(wait, 5000);
    CHECK_EQ(chat_limit_take_n(1000, 4, 1000, &excess, wait), 0);
    CHECK_EQ(excess, 4000);
}


int
main(void)
{
    RUN(test_limit_burst_plus_one_at_once);
    RUN(test_limit_wait_is_when_next_is_accepted);
    RUN(test_limit_drains_at_rate);
    RUN(test_limit_idle_bucket_is_as_good_as_new);
    RUN(test_limit_steady_rate_is_never_limited);
    RUN(test_limit_parse_rate);
    RUN(test_limit_cost_charges_that_many_at_once);
    RUN(test_limit_cost_zero_is_free_and_big_is_clamped);

    return test_summary("limit");
}
