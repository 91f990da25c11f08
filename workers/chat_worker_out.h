/*
 * What a batch publishes: a list of (channel, payload) pairs, kept in one
 * growing buffer, published in order once the batch's transaction has
 * committed.
 *
 * A payload is "<target>\n<frame>" on a user's channel (common/chat_keys.h):
 * target "*" for every device of the user, or one connection id.
 */

#ifndef CHAT_WORKER_OUT_H
#define CHAT_WORKER_OUT_H

#include <stddef.h>
#include <jansson.h>

#include "chat_ids.h"
#include "chat_keys.h"


#define CHAT_WORKER_TARGET_ALL                                                \
    ((chat_str_t) { CHAT_KEY_TARGET_ALL, sizeof(CHAT_KEY_TARGET_ALL) - 1 })

/* What an entry is sent as: a PUBLISH of payload on channel, or a change
 * of the set named by channel (a group's members), payload the member. */
typedef enum {
    CHAT_WORKER_CMD_PUBLISH = 0,
    CHAT_WORKER_CMD_SADD,
    CHAT_WORKER_CMD_SREM
} chat_worker_cmd_e;

typedef struct {
    chat_worker_cmd_e  cmd;
    size_t             channel;       /* offsets into the buffer */
    size_t             channel_len;
    size_t             payload;
    size_t             payload_len;
} chat_worker_pub_t;

typedef struct {
    chat_worker_pub_t  *pubs;
    size_t              npubs;
    size_t              cap;

    char               *buf;
    size_t              len;
    size_t              size;
} chat_worker_out_t;


void chat_worker_out_init(chat_worker_out_t *out);

/* Empties the list, keeping its memory for the next batch. */
void chat_worker_out_reset(chat_worker_out_t *out);

void chat_worker_out_free(chat_worker_out_t *out);

/* Appends a publish of frame (as compact JSON) to user's channel for
 * target. Returns 0, or -1 (out of memory) with out unchanged. */
int chat_worker_out_publish(chat_worker_out_t *out, chat_str_t user,
    chat_str_t target, const json_t *frame);

/* Appends a publish of the payload of publish i (< npubs), target and
 * frame alike, to user's channel: a fan-out serializes its frame once.
 * Returns 0, or -1 (out of memory) with out unchanged. */
int chat_worker_out_publish_same(chat_worker_out_t *out, chat_str_t user,
    size_t i);

/*
 * Appends SADD (cmd) or SREM of user to the set of group's members: the
 * group's current members, which the module reads for group typing.
 * Returns 0, or -1 (out of memory) with out unchanged.
 */
int chat_worker_out_member(chat_worker_out_t *out, chat_worker_cmd_e cmd,
    chat_str_t group, chat_str_t user);

/* The channel and payload of publish i (< npubs); valid until the next
 * change of out. */
chat_str_t chat_worker_out_channel(const chat_worker_out_t *out, size_t i);
chat_str_t chat_worker_out_payload(const chat_worker_out_t *out, size_t i);

#endif /* CHAT_WORKER_OUT_H */
