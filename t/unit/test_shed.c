/* The shed level: pressure to level, up at once, down with hysteresis. */

#include "test.h"
#include "chat_shed_level.h"


static const chat_shed_conf_t  conf = {
    { 500, 600, 700, 800, 900 }, 10, 1000
};


TEST(test_shed_pressure_is_thousandths_capped)
{
    CHECK_EQ(chat_shed_pressure(0, 100), 0);
    CHECK_EQ(chat_shed_pressure(50, 100), 500);
    CHECK_EQ(chat_shed_pressure(100, 100), 1000);
    CHECK_EQ(chat_shed_pressure(1000, 100), 2000);
    CHECK_EQ(chat_shed_pressure(5, 0), 0);        /* no limit: not used */
}


TEST(test_shed_rises_at_once_to_the_level_reached)
{
    chat_shed_state_t  st = { 0, 0 };

    CHECK_EQ(chat_shed_step(&conf, &st, 499, 10, 1), 0);
    CHECK_EQ(st.level, 0);

    CHECK_EQ(chat_shed_step(&conf, &st, 500, 20, 0), 1);
    CHECK_EQ(st.level, 1);

    /* a jump skips levels; raising needs no hold time */
    CHECK_EQ(chat_shed_step(&conf, &st, 850, 21, 0), 1);
    CHECK_EQ(st.level, 4);
    CHECK_EQ(st.since, 21);

    CHECK_EQ(chat_shed_step(&conf, &st, 2000, 22, 0), 1);
    CHECK_EQ(st.level, 5);
}


TEST(test_shed_lowers_only_after_hold_and_below_margin)
{
    chat_shed_state_t  st = { 0, 0 };

    (void) chat_shed_step(&conf, &st, 700, 0, 1);
    CHECK_EQ(st.level, 3);

    /* below the start, but within the hold time */
    CHECK_EQ(chat_shed_step(&conf, &st, 0, 999, 1), 0);
    CHECK_EQ(st.level, 3);

    /* after it, but within the margin of level 3's start (700 - 10%) */
    CHECK_EQ(chat_shed_step(&conf, &st, 650, 1000, 1), 0);
    CHECK_EQ(st.level, 3);

    /* 590: out of level 3's margin, still within level 2's (600 - 10%) */
    CHECK_EQ(chat_shed_step(&conf, &st, 590, 1000, 1), 1);
    CHECK_EQ(st.level, 2);
    CHECK_EQ(st.since, 1000);

    /* a quick check never lowers */
    CHECK_EQ(chat_shed_step(&conf, &st, 0, 5000, 0), 0);
    CHECK_EQ(st.level, 2);

    CHECK_EQ(chat_shed_step(&conf, &st, 0, 5000, 1), 1);
    CHECK_EQ(st.level, 0);
}


TEST(test_shed_does_not_flap_around_a_threshold)
{
    unsigned           i, changes;
    chat_shed_state_t  st = { 0, 0 };

    changes = 0;

    /* pressure alternating just above and below level 1's start */
    for (i = 0; i < 100; i++) {
        changes += chat_shed_step(&conf, &st, i % 2 ? 480 : 510, i * 50, 1);
    }

    CHECK_EQ(changes, 1);
    CHECK_EQ(st.level, 1);
}


TEST(test_shed_a_level_that_starts_low_can_be_left)
{
    chat_shed_conf_t   c = { { 100, 200, 300, 400, 500 }, 10, 0 };
    chat_shed_state_t  st = { 0, 0 };

    (void) chat_shed_step(&c, &st, 100, 1, 1);
    CHECK_EQ(st.level, 1);

    CHECK_EQ(chat_shed_step(&c, &st, 90, 2, 1), 0);
    CHECK_EQ(chat_shed_step(&c, &st, 89, 3, 1), 1);
    CHECK_EQ(st.level, 0);
}


TEST(test_shed_unused_levels_are_never_reached)
{
    chat_shed_conf_t   c = { { 200, 400, 1001, 2001, 2001 }, 0, 0 };
    chat_shed_state_t  st = { 0, 0 };

    (void) chat_shed_step(&c, &st, 2000, 1, 1);
    CHECK_EQ(st.level, 3);
}


int
main(void)
{
    RUN(test_shed_pressure_is_thousandths_capped);
    RUN(test_shed_rises_at_once_to_the_level_reached);
    RUN(test_shed_lowers_only_after_hold_and_below_margin);
    RUN(test_shed_does_not_flap_around_a_threshold);
    RUN(test_shed_a_level_that_starts_low_can_be_left);
    RUN(test_shed_unused_levels_are_never_reached);

    return test_summary("test_shed");
}
