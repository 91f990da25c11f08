/* The shed level's state machine; see chat_shed_level.h. */

#include "chat_shed_level.h"


unsigned
chat_shed_pressure(uint64_t value, uint64_t limit)
{
    if (limit == 0) {
        return 0;
    }

    if (value >= 2 * limit) {
        return 2 * CHAT_SHED_FULL;
    }

    return (unsigned) (value * CHAT_SHED_FULL / limit);
}


/* How many levels start at or below pressure, each start lowered by
 * margin percent. */
static unsigned
chat_shed_reached(const chat_shed_conf_t *conf, unsigned pressure,
    unsigned margin)
{
    unsigned  n;

    for (n = 0; n < CHAT_SHED_LEVELS; n++) {
        if (conf->start[n] - conf->start[n] * margin / 100 > pressure) {
            break;
        }
    }

    return n;
}


int
chat_shed_step(const chat_shed_conf_t *conf, chat_shed_state_t *st,
    unsigned pressure, uint64_t now, int lower)
{
    unsigned  up, down;

    up = chat_shed_reached(conf, pressure, 0);

    if (up > st->level) {
        st->level = up;
        st->since = now;
        return 1;
    }

    if (!lower || up == st->level || now - st->since < conf->hold_ms) {
        return 0;
    }

    /* a level is kept while the pressure is within margin of its start */
    down = chat_shed_reached(conf, pressure, conf->margin);

    if (down >= st->level) {
        return 0;
    }

    st->level = down;
    st->since = now;

    return 1;
}
