/*
 * What the unit tests of the store share (t/unit/test_store.c, the writes,
 * and t/unit/test_store_read.c, the reads): a new store for each test, a
 * database file in a temporary directory or a PostgreSQL schema
 * (t/unit/test_backend.h), and messages to put in it.
 *
 * Each test file includes it once; its helpers are static, and each file
 * uses them all, but for the inline ones, which not every file needs.
 */

#ifndef CHAT_TEST_STORE_H
#define CHAT_TEST_STORE_H

#include <stdlib.h>
#include <unistd.h>

#include "test.h"
#include "test_tmpdir.h"
#include "test_backend.h"
#include "chat_store.h"
#include "chat_store_sqlite.h"


#define S(lit)  ((chat_str_t) { (lit), sizeof(lit) - 1 })

#define CONV_AB  "dm:alice:bob"
#define CONV_AC  "dm:alice:carol"
#define CONV_AD  "dm:alice:dave"

/* the cursor of a first page */
#define NO_CONV  ((chat_str_t) { "", 0 })


static char  test_dir[64];
static char  test_db[128];
static char  test_uri[640];


/* A new, empty store for each test (test_db its file on SQLite). */

static chat_store_t *
test_open(void)
{
    char           err[256];
    chat_store_t  *store;

    snprintf(test_db, sizeof(test_db), "%s/chat.db", test_dir);

    if (test_backend_uri(test_uri, sizeof(test_uri), test_dir, "chat")
        != 0)
    {
        return NULL;
    }

    store = chat_store_open(test_uri, err, sizeof(err));
    if (store == NULL) {
        fprintf(stderr, "  open: %s\n", err);
    }

    return store;
}


static chat_store_msg_t
test_msg(const char *conv, int64_t seq, const char *mid, const char *sender,
    const char *cid, const char *body)
{
    chat_store_msg_t  m;

    memset(&m, 0, sizeof(m));
    m.conv = (chat_str_t) { conv, strlen(conv) };
    m.seq = seq;
    m.mid = (chat_str_t) { mid, strlen(mid) };
    m.sender = (chat_str_t) { sender, strlen(sender) };
    m.client_id = (chat_str_t) { cid, strlen(cid) };
    m.body = (chat_str_t) { body, strlen(body) };
    m.ts = 1000 + seq;

    return m;
}


static int
test_insert(chat_store_t *store, const char *conv, int64_t seq,
    const char *mid, const char *sender, const char *cid)
{
    chat_store_msg_t  m;

    m = test_msg(conv, seq, mid, sender, cid, "hi");

    return chat_store_insert_message(store, &m);
}


/* test_open() with a transaction open; NULL when either fails. Inline:
 * not every file that includes this one opens one at once. */

static inline chat_store_t *
test_open_begun(void)
{
    chat_store_t  *store;

    store = test_open();

    if (store != NULL && chat_store_begin(store) != CHAT_STORE_OK) {
        chat_store_close(store);
        store = NULL;
    }

    return store;
}


/* A walk's callback that counts the rows into the int at data. */

static inline int
test_count_msg(const chat_store_msg_t *msg, void *data)
{
    (void) msg;
    (*(int *) data)++;

    return 0;
}


/* Collected rows of pending() and members(). */
typedef struct {
    int   n;
    int   stop_at;          /* return non-zero at this row (1-based) */
    int   stop_rc;          /* what to return then; 0: -1 */
    char  rows[32][128];
} test_rows_t;


#endif /* CHAT_TEST_STORE_H */
