/*
 * The entry point every fuzz target defines: libFuzzer calls it (make
 * fuzz), and so does t/fuzz/replay.c, the main of the gcc builds that
 * replay a target's corpus (make fuzz-replay).
 */

#ifndef FUZZ_H
#define FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* An invariant of a target: a broken one aborts, which both libFuzzer and
 * the replay's sanitizers report as a finding. */
static inline void
must(int cond)
{
    if (!cond) {
        abort();
    }
}


#endif /* FUZZ_H */
