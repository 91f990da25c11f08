/*
 * The reservation of a client id in Redis (docs/INTERNALS.md, "Redis"):
 * the key chat:cid:{<user>}:<client id> holds "<mid> <what> <conv>", the mid
 * the first request with the id took, what that request was ("send",
 * "group.create", "group.add", ...: the op of its record, and its action)
 * and its conversation. A retry of the same request reuses the mid; a
 * reuse of the id for another request is refused before it is produced.
 *
 * Pure: the module builds and reads these, here only.
 */

#ifndef CHAT_CID_H
#define CHAT_CID_H

#include <stddef.h>

#include "chat_ids.h"
#include "chat_keys.h"
#include "chat_mid.h"


#define CHAT_CID_WHAT_MAX   32      /* "group.create", with room */
#define CHAT_CID_KEY_MAX    (CHAT_KEY_LEN(CHAT_KEY_CID, CHAT_ID_MAX) + 1    \
                             + CHAT_CLIENT_ID_MAX)
#define CHAT_CID_VALUE_MAX  (CHAT_MID_LEN + 1 + CHAT_CID_WHAT_MAX + 1      \
                             + CHAT_CONV_MAX)


/* Writes the key of (user, client id) into out (CHAT_CID_KEY_MAX bytes,
 * not NUL-terminated); returns its length. */
size_t chat_cid_key(char *out, chat_str_t user, chat_str_t id);

/*
 * Writes the value of a reservation into out (CHAT_CID_VALUE_MAX bytes,
 * not NUL-terminated): mid (CHAT_MID_LEN bytes), op and action (len 0 for
 * none) of the record, its conv. Returns its length, or 0 when op and
 * action do not fit CHAT_CID_WHAT_MAX or contain a blank.
 */
size_t chat_cid_value(char *out, const char *mid, chat_str_t op,
    chat_str_t action, chat_str_t conv);

/*
 * Reads a stored value against ours (as chat_cid_value() wrote it): 1 when
 * it names the same request, its mid then in *mid (pointing into stored);
 * 0 when it names another request; -1 when it is no reservation. A value
 * of an older version, the mid alone, says nothing of the request: it is
 * taken as the same.
 */
int chat_cid_match(const char *stored, size_t len, const char *ours,
    size_t ours_len, chat_str_t *mid);

#endif /* CHAT_CID_H */
