/*
 * Every Redis key and channel the module and the chat-workers share, and
 * the payload formats on them (docs/INTERNALS.md, "Redis"): the one place
 * they are spelled. A name is a prefix; a key or channel of an id (a user,
 * a group, an instance) is "<prefix>{<id>}", built and read only by
 * chat_key() and chat_key_id() below. The braces are Redis Cluster's hash
 * tag: every key and channel of one user hashes to the slot of the user's
 * id, so the presence script, which updates "chat:p:{<user>}" and
 * publishes on "chat:pr:{<user>}", runs on one shard, and a user's
 * deliveries, sessions, presence and client ids live together (one
 * shard's failover touches its own users only). A plain Redis ignores
 * them.
 */

#ifndef CHAT_KEYS_H
#define CHAT_KEYS_H

#include <stddef.h>

#include "chat_ids.h"


/*
 * A user's frames, "chat:u:{<user>}": the module subscribes once per user
 * it serves, the chat-workers publish (and group typing, from a Lua
 * script). The payload is "<target>\n<frame>": target CHAT_KEY_TARGET_ALL
 * for every device of the user, or the connection id an answer is for.
 */
#define CHAT_KEY_USER_CHANNEL     "chat:u:"
#define CHAT_KEY_TARGET_ALL       "*"
#define CHAT_KEY_PAYLOAD_SEP      "\n"

/* The current members of a group, the set "chat:gm:{<group>}": the workers
 * keep it (SADD, SREM) in the order of the group's log, the module reads
 * it for group typing. */
#define CHAT_KEY_GROUP_MEMBERS    "chat:gm:"

/* A client id's reservation, "chat:cid:{<user>}:<client id>"
 * (chat_cid.h). */
#define CHAT_KEY_CID              "chat:cid:"

/* The session registry, one sorted set per user, "chat:sess:{<user>}". */
#define CHAT_KEY_SESSIONS         "chat:sess:"

/* Presence: the hash of a user, "chat:p:{<user>}"; its changes on the
 * channel "chat:pr:{<user>}", payload "<version>\n<presence frame>"; the
 * instances that keep it, the sorted set "chat:insts", and the users each
 * one holds online, the set "chat:iu:{<instance>}". */
#define CHAT_KEY_PRESENCE         "chat:p:"
#define CHAT_KEY_PRESENCE_CHANNEL "chat:pr:"
#define CHAT_KEY_INSTANCES        "chat:insts"
#define CHAT_KEY_INSTANCE_USERS   "chat:iu:"


#define CHAT_KEY_TAG_OPEN         "{"
#define CHAT_KEY_TAG_CLOSE        "}"

/* The size of the key of an id of id_len bytes under prefix (a string
 * literal), no NUL: a buffer of this size holds chat_key()'s output. */
#define CHAT_KEY_LEN(prefix, id_len)                                        \
    (sizeof(prefix) - 1 + sizeof(CHAT_KEY_TAG_OPEN CHAT_KEY_TAG_CLOSE) - 1  \
     + (id_len))

/* Writes "<prefix>{<id>}" into out (CHAT_KEY_LEN bytes, not
 * NUL-terminated); returns its length. */
size_t chat_key(char *out, const char *prefix, const char *id, size_t id_len);

/* The id of a key or channel "<prefix>{<id>}" (pointing into key): 0, or
 * -1 when key is not one of prefix (another prefix, no braces, an empty
 * id). */
int chat_key_id(const char *key, size_t len, const char *prefix,
    chat_str_t *id);


/*
 * Splits a payload of a user's channel into its target and its frame
 * (pointing into payload). 0, or -1 when it has no separator.
 */
int chat_keys_payload_split(const char *payload, size_t len,
    chat_str_t *target, chat_str_t *frame);

#endif /* CHAT_KEYS_H */
