/*
 * The payload format of a user's channel (chat_keys.h).
 */

#include <string.h>

#include "chat_keys.h"


int
chat_keys_payload_split(const char *payload, size_t len, chat_str_t *target,
    chat_str_t *frame)
{
    const char  *sep;

    sep = len ? memchr(payload, CHAT_KEY_PAYLOAD_SEP[0], len) : NULL;

    if (sep == NULL) {
        return -1;
    }

    target->s = payload;
    target->len = (size_t) (sep - payload);
    frame->s = sep + 1;
    frame->len = len - target->len - 1;

    return 0;
}
