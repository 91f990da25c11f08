/*
 * The store of chat-worker (docs/INTERNALS.md, "Store"): conversations,
 * members, messages and watermarks behind one opaque handle.
 *
 * A backend is chosen by the scheme of the URI given to chat_store_open()
 * ("sqlite:/path/to/file.db", store/sqlite/; "postgres:<libpq conninfo>",
 * store/postgres/); backends implement the operations of
 * chat_store_backend.h. One handle is used by one thread.
 *
 * Every write happens between chat_store_begin() and chat_store_commit()
 * (or chat_store_rollback()); the worker opens one transaction per batch of
 * Kafka records. Reads see the writes of the open transaction.
 *
 * A commit survives a crash of the process, not of the machine: that takes
 * chat_store_sync(), which the worker calls before it commits the Kafka
 * offsets of what it stored (chat_worker_kafka.c), so that one sync covers
 * every batch of a commit interval.
 *
 * Every operation returns CHAT_STORE_OK, CHAT_STORE_ERROR (the reason is in
 * chat_store_errstr()) or one of the other codes documented with it.
 * Strings are passed and returned as chat_str_t (not NUL-terminated); a body
 * may hold NUL bytes.
 */

#ifndef CHAT_STORE_H
#define CHAT_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "chat_ids.h"
#include "chat_proto.h"


#define CHAT_STORE_OK          0
#define CHAT_STORE_ERROR      -1
#define CHAT_STORE_NOT_FOUND   1    /* find_by_client_id: no such message */
#define CHAT_STORE_EXISTS      2    /* insert_message: seq or mid taken */
#define CHAT_STORE_STOP        3    /* returned by a callback: enough */

#define CHAT_STORE_ERRSTR_LEN  256


typedef struct chat_store_s  chat_store_t;

/* The kinds of rows of a conversation: a message, or a membership change
 * of a group, whose body is {"event":..,"members":[..]} and whose sender
 * is the user who made it. */
#define CHAT_STORE_KIND_MSG    0
#define CHAT_STORE_KIND_GROUP  1
/* a conv_set (docs/PROTOCOL.md 3): body {"event":"ttl","ttl":N}, sender
 * the user who set it */
#define CHAT_STORE_KIND_CONV   2

/* A stored message; media.len is 0 when it has none, else media holds the
 * compact JSON text {"id","mime","size"} of its media (the URL is signed
 * when it is read, common/chat_media.h) and media_id the id alone, which
 * keeps the media from the sweep while the message lives. */
typedef struct {
    int         kind;           /* CHAT_STORE_KIND_*; 0 is a message */
    chat_str_t  conv;
    int64_t     seq;
    chat_str_t  mid;
    chat_str_t  sender;
    chat_str_t  client_id;
    chat_str_t  body;
    chat_str_t  media;
    chat_str_t  media_id;       /* len 0 when none */
    int64_t     ts;
    int64_t     expires;        /* ms; 0: never (its conversation's ttl
                                   was 0 when it was accepted) */
} chat_store_msg_t;

/* The (conv, user) watermarks after chat_store_raise_watermark(), and
 * before it (the range a receipt covers is (before, after]). */
typedef struct {
    int         rose;           /* 1 when either went up */
    int64_t     delivered_seq;
    int64_t     read_seq;
    int64_t     delivered_before;
    int64_t     read_before;
} chat_store_marks_t;

/* A current member of a conversation (chat_store_roster()). */
typedef struct {
    chat_str_t  user;
    int         admin;
    int64_t     joined_seq;     /* sees the rows above it */
} chat_store_member_t;

/* Called for each row of pending(), history() and members(); the strings
 * are valid during the call only. Returning CHAT_STORE_STOP ends the
 * iteration early and the operation returns CHAT_STORE_OK; returning any
 * other non-zero value stops it, and the operation then returns
 * CHAT_STORE_ERROR. */
typedef int (*chat_store_msg_pt)(const chat_store_msg_t *msg, void *data);
typedef int (*chat_store_user_pt)(chat_str_t user, void *data);
typedef int (*chat_store_member_pt)(const chat_store_member_t *member,
    void *data);
/* Called for each (conv, user) of push_due(), with the same rules. */
typedef int (*chat_store_due_pt)(chat_str_t conv, chat_str_t user,
    void *data);


/*
 * Opens the store named by uri, creating its schema when missing. Returns
 * NULL with a reason in err (errlen bytes, NUL-terminated) on failure.
 */
chat_store_t *chat_store_open(const char *uri, char *err, size_t errlen);

void chat_store_close(chat_store_t *store);

/* The reason of the last CHAT_STORE_ERROR; never NULL. */
const char *chat_store_errstr(chat_store_t *store);

/* A store URI for a log line or a message: a password in it (libpq's
 * "password=..." or a URI's "user:password@") written as "***". Truncated
 * to size. */
void chat_store_uri_redacted(const char *uri, char *out, size_t size);

/*
 * Who the last CHAT_STORE_ERROR since chat_store_clear_error() was about:
 * CHAT_STORE_FAULT_STORE for a failure of the store itself (locked, I/O,
 * full, read-only, out of memory: trying again later may succeed),
 * CHAT_STORE_FAULT_DATA for the data given to it (a constraint, a value
 * too big, a bad conversation id: trying again cannot), or
 * CHAT_STORE_FAULT_NONE when there was none.
 */
#define CHAT_STORE_FAULT_NONE   0
#define CHAT_STORE_FAULT_STORE  1
#define CHAT_STORE_FAULT_DATA   2

int chat_store_fault(chat_store_t *store);
void chat_store_clear_error(chat_store_t *store);

int chat_store_begin(chat_store_t *store);
int chat_store_commit(chat_store_t *store);
/* Safe to call when no transaction is open. */
int chat_store_rollback(chat_store_t *store);
/* Makes every committed transaction durable (a power loss keeps it). */
int chat_store_sync(chat_store_t *store);

/*
 * Looks up the message that sender sent with client_id. On CHAT_STORE_OK,
 * msg's strings stay valid until the next find_by_client_id() on the handle
 * or its close; CHAT_STORE_NOT_FOUND when there is none. A message that
 * expiry deleted is still found (its tombstone: the same conv, seq, mid and
 * ts, of its kind; a message's body, media and media_id empty), so that a
 * retry of its send answers the same mid and creates nothing.
 */
int chat_store_find_by_client_id(chat_store_t *store, chat_str_t sender,
    chat_str_t client_id, chat_store_msg_t *msg);

/* The last seq of conv into *seq: 0 when conv has no message yet. */
int chat_store_conv_last_seq(chat_store_t *store, chat_str_t conv,
    int64_t *seq);

/*
 * Stores msg and makes msg->seq the last seq of its conversation. At the
 * first message of a conversation its row is created (created_ms = msg->ts),
 * with both users as members for a DM. The caller assigns msg->seq (last
 * seq + 1) and has checked (sender, client_id) with find_by_client_id();
 * CHAT_STORE_EXISTS, with nothing written, when the (conv, seq), the mid or
 * the (sender, client_id) is already taken.
 */
int chat_store_insert_message(chat_store_t *store,
    const chat_store_msg_t *msg);

/*
 * Raises the watermark of user in conv: DELIVERED raises delivered_seq to
 * seq, READ raises read_seq and delivered_seq to seq. Never lowers either;
 * the caller clamps seq to the conversation's last seq. Fills marks with
 * the values after the call and whether either rose.
 */
int chat_store_raise_watermark(chat_store_t *store, chat_str_t conv,
    chat_str_t user, chat_receipt_status_e status, int64_t seq,
    chat_store_marks_t *marks);

/*
 * Calls cb for the pending messages of user: in each conversation user is
 * a member of, the messages with seq above the user's delivered watermark
 * (and above the seq they joined at, and at most the seq they left at)
 * that another member sent; ordered by conv, then seq; at most limit of
 * them. Only those after the cursor (after_conv, after_seq) come: conv
 * above after_conv, or conv equal to it and seq above after_seq; an empty
 * after_conv (and after_seq 0) starts at the first. A caller that pages
 * asks for one more than it keeps, to learn whether more remain. Group
 * and conv events that another member made are pending like messages (a
 * user added or removed while away learns it so); rows expired at now_ms
 * are skipped.
 */
int chat_store_pending(chat_store_t *store, chat_str_t user,
    chat_str_t after_conv, int64_t after_seq, int64_t limit, int64_t now_ms,
    chat_store_msg_pt cb, void *data);

/*
 * Calls cb for the messages of conv that user may read (kind MSG only, not
 * expired at now_ms), within the user's window of the conversation (above
 * the seq they joined at, and at most the seq they left at when they
 * left); at most limit of them. With after_seq CHAT_STORE_NEWEST: those
 * with seq below before_seq (any seq when before_seq is 0), newest first;
 * with after_seq 0 or above: those with seq above it, oldest first
 * (before_seq is then 0), from the first when it is 0.
 * CHAT_STORE_NOT_FOUND, without calling cb, when user has no member row in
 * conv (never a member, or no such conversation yet).
 */
#define CHAT_STORE_NEWEST  (-1)     /* history: no after_seq */

int chat_store_history(chat_store_t *store, chat_str_t conv,
    chat_str_t user, int64_t before_seq, int64_t after_seq, int64_t limit,
    int64_t now_ms, chat_store_msg_pt cb, void *data);

/*
 * The conversation's log as user may see it: like history newest first
 * below before_seq, but group and conv events come too, each in its seq.
 * What a connection reads to fill a gap in the seqs it was sent (the
 * module's order filter), where an event missed is as missing as a
 * message.
 */
int chat_store_log(chat_store_t *store, chat_str_t conv, chat_str_t user,
    int64_t before_seq, int64_t limit, int64_t now_ms, chat_store_msg_pt cb,
    void *data);

/* Calls cb for each current member of conv, in user order; none when conv
 * does not exist. */
int chat_store_members(chat_store_t *store, chat_str_t conv,
    chat_store_user_pt cb, void *data);

/* Calls cb for each current member of conv with their role, the oldest
 * first (by joined_seq, then user); none when conv does not exist. */
int chat_store_roster(chat_store_t *store, chat_str_t conv,
    chat_store_member_pt cb, void *data);

/*
 * Makes user a current member of conv from joined_seq on (they see the
 * rows above it), an admin or not. A former member's row is reopened: the
 * window they had before is lost, they read only from joined_seq on.
 */
int chat_store_member_join(chat_store_t *store, chat_str_t conv,
    chat_str_t user, int admin, int64_t joined_seq);

/* Ends the membership of user in conv at left_seq (they still see it). */
int chat_store_member_leave(chat_store_t *store, chat_str_t conv,
    chat_str_t user, int64_t left_seq);

/* Records the name and creation time of group conv (created once). */
int chat_store_group_create(chat_store_t *store, chat_str_t conv,
    chat_str_t name, int64_t created_ms);

/*
 * Calls cb for each distinct sender of a message (not a group event) of
 * conv with lo < seq <= hi, in no particular order.
 */
int chat_store_senders(chat_store_t *store, chat_str_t conv, int64_t lo,
    int64_t hi, chat_store_user_pt cb, void *data);


/*
 * Disappearing messages (docs/PROTOCOL.md 3): a conversation's ttl, in
 * seconds, 0 meaning forever. The conv_set row itself is an insert_message
 * of kind CONV; this records the value that the messages accepted after it
 * get (expires = ts + ttl * 1000). conv_ttl: 0 for a conversation without
 * a row yet. conv_set_ttl: after the conv_set row is inserted (which
 * creates the conversation's row); CHAT_STORE_NOT_FOUND when there is no
 * such conversation, CHAT_STORE_ERROR (the data's fault) for a ttl below 0.
 */
int chat_store_conv_ttl(chat_store_t *store, chat_str_t conv, int64_t *ttl);
int chat_store_conv_set_ttl(chat_store_t *store, chat_str_t conv,
    int64_t ttl);

/* A group as GET /api/groups/{group} shows it, for user. */
typedef struct {
    chat_str_t  name;
    int64_t     created_ms;
    int64_t     ttl;
    int         member;         /* user is a current member */
    int         former;         /* user was one, and left or was removed */
} chat_store_group_t;

/* The group conv, seen by user, into *group (strings valid until the next
 * call on the handle); CHAT_STORE_NOT_FOUND when no such group exists. */
int chat_store_group_get(chat_store_t *store, chat_str_t conv,
    chat_str_t user, chat_store_group_t *group);

/* A row of the conversation list of a user (GET /api/conversations). */
typedef struct {
    chat_str_t        conv;
    chat_str_t        name;         /* a group's; len 0 for a DM */
    int64_t           ttl;
    int64_t           delivered_seq;
    int64_t           read_seq;
    int64_t           unread;       /* messages of others above read_seq,
                                       not expired; events not counted */
    int64_t           activity_ts;  /* last's ts, or the join's */
    int               has_last;
    chat_store_msg_t  last;         /* the newest message not expired */
} chat_store_conv_row_t;

typedef int (*chat_store_conv_pt)(const chat_store_conv_row_t *row,
    void *data);

/*
 * Calls cb for the conversations user is a current member of, the most
 * recent activity first (activity_ts descending, then conv ascending),
 * those with activity_ts below before_ts (any when before_ts is 0), at
 * most limit of them; a DM without a message left at now_ms is not one.
 * A caller that pages asks for one more than it keeps.
 *
 * last is the newest message of the user's window not expired at now_ms
 * (has_last 0: none); activity_ts its ts, or for a group without one the
 * ts of the event that added the user (the group's creation when that is
 * unknown). unread counts the messages (kind MSG) of others with seq
 * above the larger of read_seq and the seq the user joined at, not
 * expired at now_ms. The strings of row are valid during the call only;
 * cb answers as for the other walks.
 */
int chat_store_conversations(chat_store_t *store, chat_str_t user,
    int64_t before_ts, int64_t limit, int64_t now_ms, chat_store_conv_pt cb,
    void *data);


/*
 * Media (docs/PROTOCOL.md 6). chat-api records each upload; a send names
 * it by id and takes its type and size from here; a sweep deletes what no
 * message references: once a message that used it is gone, or grace after
 * the upload when none ever did.
 *
 * media_insert: CHAT_STORE_EXISTS, with nothing written, when the id is
 * taken; CHAT_STORE_ERROR (the data's fault) for an empty id or mime or a
 * size below 0.
 */
int chat_store_media_insert(chat_store_t *store, chat_str_t id,
    chat_str_t owner, chat_str_t mime, int64_t size, int64_t created_ms);

/*
 * The type and size of media id into *mime (valid until the next call on
 * the handle) and *size, marking it used: from now on the sweep takes it
 * as soon as no message references it. CHAT_STORE_NOT_FOUND when there is
 * no such media (never uploaded, or swept already). Called in the send's
 * transaction, before the insert of the message that has media_id: the
 * two commit together or not at all, so a sweep (its own transaction,
 * serialized with it) sees either both or neither.
 */
int chat_store_media_use(chat_store_t *store, chat_str_t id,
    chat_str_t *mime, int64_t *size);

/*
 * Deletes at most limit messages (and events) expired at now_ms, of any
 * conversation, the first to expire first; *deleted is how many. A deleted
 * row leaves its tombstone (find_by_client_id() above), which no read
 * answers and which the store keeps for as long as itself; its media is
 * released to the sweep.
 */
int chat_store_expire(chat_store_t *store, int64_t now_ms, int64_t limit,
    int64_t *deleted);

/*
 * Deletes at most limit media rows that no message references and that
 * were used, or uploaded at or before now_ms - grace_ms, calling cb with
 * the id of each: the caller unlinks their files once the transaction is
 * committed (whichever of many sweepers deleted the row, alone, does).
 * The rows are deleted before cb is called: cb cannot stop the sweep, any
 * non-zero answer (CHAT_STORE_STOP too) makes it CHAT_STORE_ERROR, and
 * the caller rolls back.
 */
int chat_store_media_sweep(chat_store_t *store, int64_t now_ms,
    int64_t grace_ms, int64_t limit, chat_store_user_pt cb, void *data);


/*
 * The push hook's state (docs/INTERNALS.md, "Push"), per (conv, user) on
 * the user's watermarks row: pushed_seq, the seq push notifications were
 * sent up to; push_due_ms, when the next one is due (none: nothing due);
 * part, the Kafka partition of conv, so that only its owner pushes.
 *
 * A message is pushable for user when another member sent it, user was a
 * member at its seq, its seq is above both user's delivered watermark
 * and pushed_seq, and it has not expired (by the machine's clock).
 */

/*
 * Makes a push due for user in conv at due_ms at the latest (the earlier
 * of due_ms and the one already due), creating the watermarks row when
 * missing, and records part.
 */
int chat_store_push_schedule(chat_store_t *store, chat_str_t conv,
    chat_str_t user, int64_t due_ms, int32_t part);

/* Calls cb for the (conv, user) of part whose push is due at now_ms, the
 * earliest first, at most limit of them. */
int chat_store_push_due(chat_store_t *store, int32_t part, int64_t now_ms,
    int64_t limit, chat_store_due_pt cb, void *data);

/* Calls cb for the pushable messages of user in conv, in seq order, at
 * most limit of them. */
int chat_store_push_messages(chat_store_t *store, chat_str_t conv,
    chat_str_t user, int64_t limit, chat_store_msg_pt cb, void *data);

/*
 * Records that pushes for user in conv are done up to seq (0: none more),
 * and makes the next one due at delay_ms after the ts of the first
 * pushable message left, or nothing due when there is none. One statement:
 * atomic outside a transaction.
 */
int chat_store_push_advance(chat_store_t *store, chat_str_t conv,
    chat_str_t user, int64_t seq, int64_t delay_ms);

#endif /* CHAT_STORE_H */
