/*
 * The frames both processes send to a client (docs/PROTOCOL.md sections 3
 * and 4): the module (sent of a 1:1 message, every error it finds itself)
 * and the chat-workers (msg, group, receipt, history, sent of a group
 * message, group_ok, error), built in one place so that a frame has one
 * shape whoever sends it; and the sync markers (sync_done, sync_more) the
 * workers end a page of pending messages with and the module keeps for
 * itself, built and recognized by one pair of functions.
 *
 * Each builder returns a new JSON object (NULL when out of memory); an
 * answer's "id" comes right after its "type", and is left out when id.len
 * is 0.
 */

#ifndef CHAT_FRAME_H
#define CHAT_FRAME_H

#include <stdint.h>
#include <jansson.h>

#include "chat_ids.h"
#include "chat_proto.h"


/* The longest sync marker: a longer frame is never one. */
#define CHAT_FRAME_MARKER_MAX  (64 + 2 * CHAT_CONV_MAX)

typedef enum {
    CHAT_FRAME_MARKER_BAD = -1,   /* a sync_more without a valid cursor */
    CHAT_FRAME_MARKER_NONE = 0,   /* any other frame */
    CHAT_FRAME_MARKER_DONE,
    CHAT_FRAME_MARKER_MORE
} chat_frame_marker_e;

/* A message, as the msg frame carries it: to (a DM's other member) or
 * group, and media (borrowed, NULL when none). */
typedef struct {
    chat_str_t   mid;
    chat_str_t   conv;
    int64_t      seq;
    chat_str_t   from;
    chat_str_t   to;
    chat_str_t   group;
    chat_str_t   body;
    int64_t      ts;
    chat_str_t   id;
    json_t      *media;         /* chat_media_object(), or NULL */
    int64_t      expires;       /* ms; 0: the message does not expire */
} chat_frame_msg_t;


/* {"type":"msg","mid","conv","seq","from","body","ts","id", "to" or
 * "group", "media" when there is some, "expires" when it is not 0}. */
json_t *chat_frame_msg(const chat_frame_msg_t *msg);

/* {"type":"group","conv","seq","event","by","members","ts"}: a membership
 * change; event and members are referenced. */
json_t *chat_frame_group_event(chat_str_t conv, int64_t seq, json_t *event,
    chat_str_t by, json_t *members, int64_t ts);

/* {"type":"conv","conv","seq","event":"ttl","ttl","by","ts"}: a conv_set
 * (docs/PROTOCOL.md 3, disappearing messages), to every member. */
json_t *chat_frame_conv_event(chat_str_t conv, int64_t seq, int64_t ttl,
    chat_str_t by, int64_t ts);

/* {"type":"conv_ok","id","conv","seq"}: the answer to a conv_set. */
json_t *chat_frame_conv_ok(chat_str_t id, chat_str_t conv, int64_t seq);

/* {"type":"receipt","conv","status","seq","by","ts"}. */
json_t *chat_frame_receipt(chat_str_t conv, chat_receipt_status_e status,
    int64_t seq, chat_str_t by, int64_t ts);

/* {"type":"sent","id","mid","conv","ts"}: a message is in the log (1:1,
 * from the module) or stored (group, from its worker). */
json_t *chat_frame_sent(chat_str_t id, chat_str_t mid, chat_str_t conv,
    int64_t ts);

/* {"type":"group_ok","id","group","seq"}. */
json_t *chat_frame_group_ok(chat_str_t id, chat_str_t group, int64_t seq);

/* {"type":"history","id","conv","messages","more":false}; messages is
 * referenced, the caller fills it and sets "more". */
json_t *chat_frame_history(chat_str_t id, chat_str_t conv, json_t *messages);

/* {"type":"error","id","code","message"}. */
json_t *chat_frame_error(chat_str_t id, const char *code, const char *message);

/* An error that says when to try again: "retry_after", in seconds. */
json_t *chat_frame_error_retry(chat_str_t id, const char *code,
    const char *message, double retry_after);

/* {"type":"sync_done"}: the last page of pending messages is out. */
json_t *chat_frame_sync_done(void);

/* {"type":"sync_more","conv","seq"}: the last message of a page, where
 * the next page starts after. */
json_t *chat_frame_sync_more(chat_str_t conv, int64_t seq);

/*
 * Whether frame is a sync marker, by its "type" (not its bytes). For
 * CHAT_FRAME_MARKER_MORE, the cursor: conv copied into conv_buf
 * (CHAT_CONV_MAX bytes), *conv_len and *seq set.
 */
chat_frame_marker_e chat_frame_sync_marker(const char *frame, size_t len,
    char *conv_buf, size_t *conv_len, int64_t *seq);

#endif /* CHAT_FRAME_H */
