/*
 * A user's presence hash, "chat:p:<user>" (chat_keys.h), as every process
 * that reads it decodes it: the module's presence script keeps it
 * (ngx_chat_module/lua/presence.lua), the module answers presence_sub
 * from it, chat-api answers GET /api/presence from it.
 *
 * Its fields: CHAT_PRESENCE_STATUS the status last announced ("online" or
 * "offline"), CHAT_PRESENCE_LAST_SEEN when the last device went away (ms,
 * digits), CHAT_PRESENCE_VERSION the count of announcements. A user is
 * online when the status is "online", else offline, with a last seen when
 * the field holds one; a user never seen has no hash: offline, no last
 * seen.
 */

#ifndef CHAT_PRESENCE_H
#define CHAT_PRESENCE_H

#include <stddef.h>
#include <stdint.h>


#define CHAT_PRESENCE_STATUS     "st"
#define CHAT_PRESENCE_LAST_SEEN  "ls"
#define CHAT_PRESENCE_VERSION    "v"

typedef struct {
    int      online;
    int64_t  last_seen;     /* ms; -1 when none is told */
} chat_presence_t;


/*
 * The presence of the fields read (HMGET st ls): st and ls NULL when the
 * field is missing. A last seen is told only for an offline user, and only
 * when it is digits that an int64 holds: what else Redis holds there was
 * not written by the script and is left out.
 */
void chat_presence_decode(const char *st, size_t st_len, const char *ls,
    size_t ls_len, chat_presence_t *p);

/* A last seen as the hash holds it: ms, digits only; -1 otherwise. */
int64_t chat_presence_ms(const char *s, size_t len);

#endif /* CHAT_PRESENCE_H */
