/*
 * Client id reservations (chat_cid.h).
 */

#include <string.h>

#include "chat_cid.h"
#include "chat_keys.h"


static char *
chat_cid_put(char *p, chat_str_t s)
{
    memcpy(p, s.s, s.len);
    return p + s.len;
}


size_t
chat_cid_key(char *out, chat_str_t user, chat_str_t id)
{
    char  *p;

    /* the user's hash tag: the key lives on the shard of the user's
     * other keys */
    p = out;
    p += chat_key(p, CHAT_KEY_CID, user.s, user.len);
    *p++ = ':';
    p = chat_cid_put(p, id);

    return (size_t) (p - out);
}


size_t
chat_cid_value(char *out, const char *mid, chat_str_t op, chat_str_t action,
    chat_str_t conv)
{
    char  *p;

    if (op.len + 1 + action.len > CHAT_CID_WHAT_MAX
        || memchr(op.s, ' ', op.len) != NULL
        || (action.len && memchr(action.s, ' ', action.len) != NULL))
    {
        return 0;
    }

    p = out;
    memcpy(p, mid, CHAT_MID_LEN);
    p += CHAT_MID_LEN;
    *p++ = ' ';
    p = chat_cid_put(p, op);

    if (action.len) {
        *p++ = '.';
        p = chat_cid_put(p, action);
    }

    *p++ = ' ';
    p = chat_cid_put(p, conv);

    return (size_t) (p - out);
}


int
chat_cid_match(const char *stored, size_t len, const char *ours,
    size_t ours_len, chat_str_t *mid)
{
    if (len < CHAT_MID_LEN || (len > CHAT_MID_LEN && stored[CHAT_MID_LEN]
                                                    != ' '))
    {
        return -1;
    }

    mid->s = stored;
    mid->len = CHAT_MID_LEN;

    if (len == CHAT_MID_LEN) {
        return 1;
    }

    /* what follows the mid is what the request was, in both */
    return ours_len == len
           && memcmp(stored + CHAT_MID_LEN, ours + CHAT_MID_LEN,
                     len - CHAT_MID_LEN) == 0;
}
