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


size_t
chat_key(char *out, const char *prefix, const char *id, size_t id_len)
{
    size_t  n;

    n = strlen(prefix);
    memcpy(out, prefix, n);
    out[n++] = CHAT_KEY_TAG_OPEN[0];
    memcpy(out + n, id, id_len);
    n += id_len;
    out[n++] = CHAT_KEY_TAG_CLOSE[0];

    return n;
}


int
chat_key_id(const char *key, size_t len, const char *prefix, chat_str_t *id)
{
    size_t  n;

    n = strlen(prefix);

    /* "<prefix>{" at least one byte "}" */
    if (len < n + 3 || memcmp(key, prefix, n) != 0
        || key[n] != CHAT_KEY_TAG_OPEN[0]
        || key[len - 1] != CHAT_KEY_TAG_CLOSE[0])
    {
        return -1;
    }

    id->s = key + n + 1;
    id->len = len - n - 2;

    /* a brace inside would end the hash tag before the id does */
    if (memchr(id->s, CHAT_KEY_TAG_CLOSE[0], id->len) != NULL
        || memchr(id->s, CHAT_KEY_TAG_OPEN[0], id->len) != NULL)
    {
        return -1;
    }

    return 0;
}
