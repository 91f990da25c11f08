/*
 * The shed level, how far the edge sheds before it breaks: a measured
 * pressure, in thousandths of "full", mapped to a level 0..5, with
 * hysteresis so the level does not flap around a threshold:
 *
 *   - up at once, to the highest level whose start the pressure reached;
 *   - down only once the pressure is margin percent below a level's start
 *     (relative, so a level that starts low can still be left), and not
 *     sooner than hold_ms after the level last changed.
 *
 * Pure: no clock of its own and no I/O, so it is unit-tested alone.
 */

#ifndef CHAT_SHED_LEVEL_H
#define CHAT_SHED_LEVEL_H

#include <stdint.h>


#define CHAT_SHED_LEVELS  5
#define CHAT_SHED_FULL    1000          /* pressure of a signal at its limit */


typedef struct {
    unsigned   start[CHAT_SHED_LEVELS];  /* ascending, in thousandths */
    unsigned   margin;                   /* percent of a level's start */
    uint64_t   hold_ms;
} chat_shed_conf_t;


typedef struct {
    unsigned   level;
    uint64_t   since;                    /* ms, when it last changed */
} chat_shed_state_t;


/* value over limit in thousandths, at most 2 * CHAT_SHED_FULL; a limit of 0
 * means the signal is not used (0). */
unsigned chat_shed_pressure(uint64_t value, uint64_t limit);

/*
 * Moves st by pressure at time now; lower 0 keeps the level from going
 * down (a quick check on the way of a write only raises it). Returns 1
 * when the level changed.
 */
int chat_shed_step(const chat_shed_conf_t *conf, chat_shed_state_t *st,
    unsigned pressure, uint64_t now, int lower);


#endif /* CHAT_SHED_LEVEL_H */
