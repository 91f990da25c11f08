/*
 * chat-seed: fills a store with the heavy user of the read side's
 * benchmark (scripts/bench, phase api): CONVS DMs of one user, MSGS
 * messages in each, sent in turn by the user and the other member, the
 * user's read watermark UNREAD messages below the end of each. Through
 * the store interface only, so it fills any backend the same way.
 *
 *   chat-seed STORE-URI USER CONVS MSGS UNREAD
 *
 * The conversations get increasing activity times ending at now, so the
 * list's order and paging are exercised as in life.
 */

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chat_store.h"


#define CHAT_SEED_MAX  999999


typedef struct {
    const char  *user;
    int          convs;          /* 1..CHAT_SEED_MAX, and so is msgs */
    int          msgs;
    int          unread;
    int64_t      t0;             /* ms of the first message of all */
} chat_seed_t;


static chat_str_t
chat_seed_str(const char *s)
{
    chat_str_t  str;

    str.s = s;
    str.len = strlen(s);

    return str;
}


static int
chat_seed_conv(chat_store_t *store, const chat_seed_t *seed, int c)
{
    char                body[64], mid[32], cid[32], conv[160], peer[16];
    int                 i;
    int64_t             unread_from;
    chat_store_msg_t    msg;
    chat_store_marks_t  marks;

    /* "u..." sorts after most user ids: the heavy user is a */
    snprintf(peer, sizeof(peer), "u%06d", c);
    snprintf(conv, sizeof(conv), "dm:%s:%s", seed->user, peer);

    if (strcmp(seed->user, peer) >= 0) {
        fprintf(stderr, "chat-seed: the user must sort before \"u\"\n");
        return -1;
    }

    for (i = 1; i <= seed->msgs; i++) {
        memset(&msg, 0, sizeof(msg));
        snprintf(mid, sizeof(mid), "S%06d%07d", c, i);
        snprintf(cid, sizeof(cid), "c%06d-%d", c, i);
        snprintf(body, sizeof(body), "message %d of conversation %d", i, c);

        msg.kind = CHAT_STORE_KIND_MSG;
        msg.conv = chat_seed_str(conv);
        msg.seq = i;
        msg.mid = chat_seed_str(mid);
        msg.sender = chat_seed_str(i % 2 ? peer : seed->user);
        msg.client_id = chat_seed_str(cid);
        msg.body = chat_seed_str(body);
        /* conversation c's messages are a minute apart; c's are later */
        msg.ts = seed->t0 + (int64_t) c * 1000 + (int64_t) i * 60000;

        if (chat_store_insert_message(store, &msg) != CHAT_STORE_OK) {
            return -1;
        }
    }

    unread_from = seed->msgs - seed->unread;

    if (unread_from > 0
        && chat_store_raise_watermark(store, chat_seed_str(conv),
                                      chat_seed_str(seed->user),
                                      CHAT_RECEIPT_READ, unread_from, &marks)
           != CHAT_STORE_OK)
    {
        return -1;
    }

    return 0;
}


int
main(int argc, char **argv)
{
    char           err[CHAT_STORE_ERRSTR_LEN];
    int            c;
    chat_seed_t    seed;
    chat_store_t  *store;

    if (argc != 6) {
        fprintf(stderr, "usage: chat-seed STORE-URI USER CONVS MSGS UNREAD\n");
        return 2;
    }

    seed.user = argv[2];
    seed.convs = (int) strtol(argv[3], NULL, 10);
    seed.msgs = (int) strtol(argv[4], NULL, 10);
    seed.unread = (int) strtol(argv[5], NULL, 10);

    if (seed.convs < 1 || seed.convs > CHAT_SEED_MAX
        || seed.msgs < 1 || seed.msgs > CHAT_SEED_MAX
        || seed.unread < 0 || seed.unread > seed.msgs)
    {
        fprintf(stderr, "chat-seed: CONVS and MSGS must be 1 to %d, "
                "UNREAD 0 to MSGS\n", CHAT_SEED_MAX);
        return 2;
    }

    /* the newest message of all is now */
    seed.t0 = (int64_t) time(NULL) * 1000
              - (int64_t) seed.convs * 1000 - (int64_t) seed.msgs * 60000;

    store = chat_store_open(argv[1], err, sizeof(err));
    if (store == NULL) {
        fprintf(stderr, "chat-seed: %s\n", err);
        return 1;
    }

    for (c = 1; c <= seed.convs; c++) {
        if (chat_store_begin(store) != CHAT_STORE_OK
            || chat_seed_conv(store, &seed, c) != 0
            || chat_store_commit(store) != CHAT_STORE_OK)
        {
            fprintf(stderr, "chat-seed: conversation %d: %s\n", c,
                    chat_store_errstr(store));
            chat_store_close(store);
            return 1;
        }
    }

    if (chat_store_sync(store) != CHAT_STORE_OK) {
        fprintf(stderr, "chat-seed: %s\n", chat_store_errstr(store));
        chat_store_close(store);
        return 1;
    }

    chat_store_close(store);

    printf("chat-seed: %d conversations of %s, %lld messages\n",
           seed.convs, seed.user, (long long) seed.convs * seed.msgs);

    return 0;
}
