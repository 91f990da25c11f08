/*
 * Unit tests of the store's durability (store/sqlite/chat_store_sqlite.c): a
 * commit does not sync, chat_store_sync() syncs the WAL once.
 *
 * SQLite is given, as its default VFS, a shim over the real one that
 * counts the xSync calls on each kind of file and forwards everything else,
 * so the tests see the syncs the store asks for, not a mock of SQLite.
 */

#include <sqlite3.h>

#include "test_store.h"


typedef struct {
    sqlite3_file   base;       /* first: SQLite sees this */
    int            flags;      /* SQLITE_OPEN_WAL, _MAIN_DB, ... */
    sqlite3_file  *real;       /* the real VFS's file, after this struct */
} test_file_t;


static sqlite3_vfs  *test_real_vfs;
static sqlite3_vfs   test_vfs;
static int           test_wal_syncs;
static int           test_db_syncs;


#define REAL(f)  (((test_file_t *) (f))->real)


static int
test_close(sqlite3_file *f)
{
    return REAL(f)->pMethods->xClose(REAL(f));
}


static int
test_read(sqlite3_file *f, void *buf, int n, sqlite3_int64 off)
{
    return REAL(f)->pMethods->xRead(REAL(f), buf, n, off);
}


static int
test_write(sqlite3_file *f, const void *buf, int n, sqlite3_int64 off)
{
    return REAL(f)->pMethods->xWrite(REAL(f), buf, n, off);
}


static int
test_truncate(sqlite3_file *f, sqlite3_int64 size)
{
    return REAL(f)->pMethods->xTruncate(REAL(f), size);
}


static int
test_sync(sqlite3_file *f, int flags)
{
    test_file_t  *t = (test_file_t *) f;

    if (t->flags & SQLITE_OPEN_WAL) {
        test_wal_syncs++;

    } else if (t->flags & SQLITE_OPEN_MAIN_DB) {
        test_db_syncs++;
    }

    return t->real->pMethods->xSync(t->real, flags);
}


static int
test_size(sqlite3_file *f, sqlite3_int64 *size)
{
    return REAL(f)->pMethods->xFileSize(REAL(f), size);
}


static int
test_lock(sqlite3_file *f, int lock)
{
    return REAL(f)->pMethods->xLock(REAL(f), lock);
}


static int
test_unlock(sqlite3_file *f, int lock)
{
    return REAL(f)->pMethods->xUnlock(REAL(f), lock);
}


static int
test_check_lock(sqlite3_file *f, int *out)
{
    return REAL(f)->pMethods->xCheckReservedLock(REAL(f), out);
}


static int
test_control(sqlite3_file *f, int op, void *arg)
{
    return REAL(f)->pMethods->xFileControl(REAL(f), op, arg);
}


static int
test_sector(sqlite3_file *f)
{
    return REAL(f)->pMethods->xSectorSize(REAL(f));
}


static int
test_device(sqlite3_file *f)
{
    return REAL(f)->pMethods->xDeviceCharacteristics(REAL(f));
}


static int
test_shm_map(sqlite3_file *f, int region, int size, int extend,
    void volatile **p)
{
    return REAL(f)->pMethods->xShmMap(REAL(f), region, size, extend, p);
}


static int
test_shm_lock(sqlite3_file *f, int offset, int n, int flags)
{
    return REAL(f)->pMethods->xShmLock(REAL(f), offset, n, flags);
}


static void
test_shm_barrier(sqlite3_file *f)
{
    REAL(f)->pMethods->xShmBarrier(REAL(f));
}


static int
test_shm_unmap(sqlite3_file *f, int delete_flag)
{
    return REAL(f)->pMethods->xShmUnmap(REAL(f), delete_flag);
}


/* Version 2 of the methods: WAL needs shared memory, not mmap (xFetch). */
static const sqlite3_io_methods  test_methods = {
    2, test_close, test_read, test_write, test_truncate, test_sync,
    test_size, test_lock, test_unlock, test_check_lock, test_control,
    test_sector, test_device, test_shm_map, test_shm_lock, test_shm_barrier,
    test_shm_unmap, NULL, NULL
};


static int
test_open_file(sqlite3_vfs *vfs, const char *name, sqlite3_file *f,
    int flags, int *out)
{
    int           rc;
    test_file_t  *t = (test_file_t *) f;

    (void) vfs;

    t->flags = flags;
    t->real = (sqlite3_file *) (t + 1);

    rc = test_real_vfs->xOpen(test_real_vfs, name, t->real, flags, out);

    /* xClose is called only when pMethods is set */
    t->base.pMethods = t->real->pMethods ? &test_methods : NULL;

    return rc;
}


static int
test_vfs_install(void)
{
    test_real_vfs = sqlite3_vfs_find(NULL);
    if (test_real_vfs == NULL) {
        return -1;
    }

    test_vfs = *test_real_vfs;
    test_vfs.zName = "chat-test-sync";
    test_vfs.szOsFile = (int) sizeof(test_file_t) + test_real_vfs->szOsFile;
    test_vfs.xOpen = test_open_file;
    test_vfs.pNext = NULL;

    return sqlite3_vfs_register(&test_vfs, 1) == SQLITE_OK ? 0 : -1;
}


static int
test_insert_one(chat_store_t *store, const char *mid, int64_t seq)
{
    char  cid[32];

    snprintf(cid, sizeof(cid), "c-%s", mid);

    if (chat_store_begin(store) != CHAT_STORE_OK
        || test_insert(store, CONV_AB, seq, mid, "alice", cid)
           != CHAT_STORE_OK)
    {
        return -1;
    }

    return chat_store_commit(store);
}


TEST(commits_do_not_sync_and_sync_syncs_the_wal_once)
{
    char           err[256];
    int64_t        seq;
    chat_store_t  *store, *again;

    store = test_open();
    CHECK(store != NULL);

    test_wal_syncs = 0;
    test_db_syncs = 0;

    CHECK_EQ(test_insert_one(store, "m1", 1), CHAT_STORE_OK);
    CHECK_EQ(test_insert_one(store, "m2", 2), CHAT_STORE_OK);

    /* synchronous=NORMAL: committed to the WAL, nothing synced yet
     * (FULL would have synced it at each commit) */
    CHECK_EQ(test_wal_syncs, 0);
    CHECK_EQ(test_db_syncs, 0);

    CHECK_EQ(chat_store_sync(store), CHAT_STORE_OK);
    CHECK_EQ(test_wal_syncs, 1);
    CHECK_EQ(test_db_syncs, 0);

    /* what was synced is what another handle reads */
    again = chat_store_open(test_uri, err, sizeof(err));
    CHECK(again != NULL);
    CHECK_EQ(chat_store_conv_last_seq(again, S(CONV_AB), &seq),
             CHAT_STORE_OK);
    CHECK_EQ(seq, 2);

    chat_store_close(again);
    chat_store_close(store);
}


TEST(sync_with_no_wal_is_a_no_op)
{
    char           err[256];
    chat_store_t  *store;

    store = chat_store_open("sqlite::memory:", err, sizeof(err));
    CHECK(store != NULL);

    test_wal_syncs = 0;

    CHECK_EQ(test_insert_one(store, "m1", 1), CHAT_STORE_OK);
    CHECK_EQ(chat_store_sync(store), CHAT_STORE_OK);
    CHECK_EQ(test_wal_syncs, 0);

    chat_store_close(store);
}


int
main(void)
{
    if (test_tmpdir(test_dir, sizeof(test_dir), "store-sync") != 0
        || test_vfs_install() != 0)
    {
        return 1;
    }

    RUN(commits_do_not_sync_and_sync_syncs_the_wal_once);
    RUN(sync_with_no_wal_is_a_no_op);

    test_tmpdir_remove(test_dir);

    return test_summary("store_sync");
}
