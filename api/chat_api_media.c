/*
 * POST /api/media (docs/PROTOCOL.md 6): an upload, streamed to disk.
 *
 * The type is checked on the headers, before any byte of the body is
 * read (415), and so are the user (401) and a Content-Length over the
 * limit (413). The body goes in chunks to a temporary file of
 * <media dir>/tmp, after the header that records its type
 * (common/chat_media.h); one byte over the limit and the file is removed
 * (413). At the end the file is synced and renamed to its place under a
 * random id, recorded in the store, and its signed URL answered (201). A
 * cut upload leaves nothing behind.
 *
 * A refused upload's body is still read, and dropped, up to
 * CHAT_API_MEDIA_DRAIN bytes, and the refusal answered at its end: nginx
 * sends a body whole before it reads the answer, and an upstream that
 * closes before (what libmicrohttpd does after an early answer) turns the
 * refusal into nginx's 502. Past that many bytes the answer goes at once.
 */

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "chat_api_endpoints.h"
#include "chat_api_reply.h"
#include "chat_json.h"
#include "chat_media.h"
#include "chat_worker_log.h"


#define CHAT_API_MEDIA_TMP    "/tmp/up-XXXXXX"
#define CHAT_API_MEDIA_DRAIN  (64 * 1024 * 1024)

typedef struct {
    int          fd;            /* -1 once closed */
    int          status;        /* a refusal to answer, or 0 */
    const char  *message;       /* its message */
    int          answered;
    int64_t      size;          /* bytes of the body kept */
    int64_t      dropped;       /* bytes of the body dropped */
    size_t   mime_len;
    char     mime[CHAT_MEDIA_MIME_MAX + 1];
    char    *tmp;               /* the temporary file, while it exists */
} chat_api_upload_t;


/*
 * The type of Content-Type into up->mime, lowercased, its parameters
 * (";...") and blanks cut off; -1 when it is none or not allowed.
 */

static int
chat_api_media_type(chat_api_req_t *req, chat_api_upload_t *up)
{
    size_t       n, i;
    chat_str_t   mime;
    const char  *v;

    v = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND,
                                    MHD_HTTP_HEADER_CONTENT_TYPE);
    if (v == NULL) {
        return -1;
    }

    v += strspn(v, " \t");
    n = strcspn(v, ";");

    while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t')) {
        n--;
    }

    if (n == 0 || n > CHAT_MEDIA_MIME_MAX) {
        return -1;
    }

    for (i = 0; i < n; i++) {
        up->mime[i] = (char) tolower((unsigned char) v[i]);
    }

    up->mime[n] = '\0';
    up->mime_len = n;
    mime.s = up->mime;
    mime.len = n;

    return chat_media_mime_valid(mime)
           && chat_media_type_allowed(req->conf->media_types, mime) ? 0 : -1;
}


/* A Content-Length over the limit, told before the body is read. */

static int
chat_api_media_declared_too_large(chat_api_req_t *req)
{
    char        *end;
    const char  *v;
    long long    n;

    v = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND,
                                    MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (v == NULL) {
        return 0;
    }

    errno = 0;
    n = strtoll(v, &end, 10);

    return errno == ERANGE || (end != v && n > req->conf->media_max);
}


/* The temporary file, begun with the header of its type. */

static int
chat_api_media_open(chat_api_req_t *req, chat_api_upload_t *up)
{
    char        header[CHAT_MEDIA_HEADER_SIZE];
    size_t      n;
    chat_str_t  mime = { up->mime, up->mime_len };

    n = strlen(req->conf->media_dir) + sizeof(CHAT_API_MEDIA_TMP);

    up->tmp = malloc(n);
    if (up->tmp == NULL) {
        return -1;
    }

    snprintf(up->tmp, n, "%s" CHAT_API_MEDIA_TMP, req->conf->media_dir);

    up->fd = mkstemp(up->tmp);
    if (up->fd == -1) {
        chat_worker_log(CHAT_LOG_ERROR, "media: %s: %s", up->tmp,
                        strerror(errno));
        free(up->tmp);
        up->tmp = NULL;
        return -1;
    }

    /* mkstemp() makes it 0600; nginx's workers, which serve it, run as
     * another user (nobody, www-data): readable once renamed out of the
     * private tmp directory, where no one else can reach it meanwhile */
    if (fchmod(up->fd, 0644) != 0
        || chat_media_header_encode(header, mime) != 0
        || write(up->fd, header, sizeof(header)) != (ssize_t) sizeof(header))
    {
        chat_worker_log(CHAT_LOG_ERROR, "media: %s: %s", up->tmp,
                        strerror(errno));
        return -1;
    }

    return 0;
}


/* Removes what the upload left on disk. */

static void
chat_api_media_discard(chat_api_upload_t *up)
{
    if (up->fd != -1) {
        close(up->fd);
        up->fd = -1;
    }

    if (up->tmp != NULL) {
        unlink(up->tmp);
        free(up->tmp);
        up->tmp = NULL;
    }
}


void
chat_api_media_done(void *state)
{
    chat_api_upload_t  *up = state;

    chat_api_media_discard(up);
    free(up);
}


/* A refusal, answered at the end of the body: whatever was written of it
 * is removed now. */

static void
chat_api_media_refuse(chat_api_upload_t *up, int status, const char *message)
{
    chat_api_media_discard(up);
    up->status = status;
    up->message = message;
}


static enum MHD_Result
chat_api_media_answer_refusal(chat_api_req_t *req, chat_api_upload_t *up)
{
    up->answered = 1;

    return chat_api_reply_error(req->conn, (unsigned) up->status,
                                up->message);
}


enum MHD_Result
chat_api_media_start(chat_api_req_t *req, void **state)
{
    chat_api_upload_t  *up;

    up = calloc(1, sizeof(chat_api_upload_t));
    if (up == NULL) {
        return chat_api_reply_json(req->conn, MHD_HTTP_OK, NULL);
    }

    up->fd = -1;
    *state = up;

    if (req->user.len == 0) {
        chat_api_media_refuse(up, MHD_HTTP_UNAUTHORIZED,
                              "no authenticated user");

    } else if (chat_api_media_type(req, up) != 0) {
        chat_api_media_refuse(up, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE,
                              "this type of media is not allowed");

    } else if (chat_api_media_declared_too_large(req)) {
        chat_api_media_refuse(up, MHD_HTTP_CONTENT_TOO_LARGE,
                              "the media is larger than allowed");

    } else if (chat_api_media_open(req, up) != 0) {
        chat_api_media_refuse(up, MHD_HTTP_SERVICE_UNAVAILABLE,
                              "media cannot be stored now");
    }

    return MHD_YES;
}


static int
chat_api_media_write(chat_api_upload_t *up, const char *data, size_t size)
{
    ssize_t  n;

    while (size > 0) {
        n = write(up->fd, data, size);

        if (n < 0 && errno == EINTR) {
            continue;
        }

        if (n <= 0) {
            return -1;
        }

        data += n;
        size -= (size_t) n;
    }

    return 0;
}


/* <media dir>/<2 chars>/<id>, its folder made when missing. */

static int
chat_api_media_place(chat_api_req_t *req, chat_str_t id, char *path,
    size_t size)
{
    char  *slash;

    if (chat_media_path(path, size, req->conf->media_dir, id) < 0) {
        return -1;
    }

    slash = strrchr(path, '/');
    *slash = '\0';

    if (mkdir(path, 0755) != 0 && errno != EEXIST) {
        return -1;
    }

    *slash = '/';

    return 0;
}


/* The folder of path synced: the rename, and so the file under its name,
 * survives a crash of the machine once the store row names it. */

static int
chat_api_media_sync_dir(char *path)
{
    int    fd, rc;
    char  *slash;

    slash = strrchr(path, '/');
    *slash = '\0';

    fd = open(path, O_RDONLY | O_DIRECTORY);
    rc = fd >= 0 && fsync(fd) == 0 ? 0 : -1;

    if (rc != 0) {
        chat_worker_log(CHAT_LOG_ERROR, "media: %s: %s", path,
                        strerror(errno));
    }

    if (fd >= 0) {
        close(fd);
    }

    *slash = '/';

    return rc;
}


/* The temporary file synced, closed and renamed to path: the upload is in
 * place for good, or -1 (logged). */

static int
chat_api_media_keep(chat_api_req_t *req, chat_api_upload_t *up,
    chat_str_t id, char *path, size_t size)
{
    int  rc;

    rc = fsync(up->fd);

    if (close(up->fd) != 0) {
        rc = -1;
    }

    up->fd = -1;

    if (rc != 0 || chat_api_media_place(req, id, path, size) != 0
        || rename(up->tmp, path) != 0)
    {
        chat_worker_log(CHAT_LOG_ERROR, "media: %s: %s", up->tmp,
                        strerror(errno));
        return -1;
    }

    free(up->tmp);
    up->tmp = NULL;

    if (chat_api_media_sync_dir(path) != 0) {
        unlink(path);           /* no row will name it */
        return -1;
    }

    return 0;
}


/*
 * The upload recorded in the store under id (its file removed if not), in
 * a transaction of its own, synced: the 201 promises a send may name it,
 * and a row lost to a crash would leave a file that no sweep removes.
 */

static int
chat_api_media_record(chat_api_req_t *req, chat_api_upload_t *up,
    chat_str_t id, const char *path)
{
    int            rc, committed;
    chat_str_t     mime = { up->mime, up->mime_len };
    chat_store_t  *store;

    committed = 0;
    req->slot = chat_api_pool_get(req->pool);
    store = req->slot->store;

    rc = chat_store_begin(store);

    if (rc == CHAT_STORE_OK) {
        rc = chat_store_media_insert(store, id, req->user, mime, up->size,
                                     req->now_ms);
    }

    if (rc == CHAT_STORE_OK) {
        rc = chat_store_commit(store);
        committed = rc == CHAT_STORE_OK;
    }

    if (rc == CHAT_STORE_OK) {
        rc = chat_store_sync(store);
    }

    if (rc != CHAT_STORE_OK) {
        chat_store_rollback(store);
        up->answered = 1;

        /* a row committed but not synced keeps its file: unused, the
         * sweep takes both after the grace */
        if (!committed) {
            unlink(path);
        }

        /* 16 random bytes taken already: the store's answer, not a fault */
        if (rc == CHAT_STORE_EXISTS) {
            chat_worker_log(CHAT_LOG_ERROR, "media id %.*s taken",
                            (int) id.len, id.s);
            rc = chat_api_reply_error(req->conn,
                                      MHD_HTTP_SERVICE_UNAVAILABLE,
                                      "media cannot be stored now, try "
                                      "again");
        } else {
            rc = chat_api_store_failed(req, "a media upload");
        }

        rc = rc == MHD_YES ? 1 : -1;
    }

    chat_api_pool_put(req->pool, req->slot);
    req->slot = NULL;

    return rc;
}


static enum MHD_Result
chat_api_media_store(chat_api_req_t *req, chat_api_upload_t *up)
{
    int            rc;
    char           idbuf[CHAT_MEDIA_ID_LEN], url[CHAT_MEDIA_URL_MAX], *path;
    size_t         n;
    json_t        *body;
    chat_str_t     id = { idbuf, CHAT_MEDIA_ID_LEN };
    unsigned char  rnd[16];

    n = strlen(req->conf->media_dir) + CHAT_MEDIA_PATH_EXTRA;
    path = malloc(n);

    if (path == NULL
        || getrandom(rnd, sizeof(rnd), 0) != (ssize_t) sizeof(rnd))
    {
        free(path);
        chat_api_media_refuse(up, MHD_HTTP_SERVICE_UNAVAILABLE,
                              "media cannot be stored now");
        return chat_api_media_answer_refusal(req, up);
    }

    chat_media_id_make(rnd, idbuf);

    if (chat_api_media_keep(req, up, id, path, n) != 0) {
        free(path);
        chat_api_media_refuse(up, MHD_HTTP_SERVICE_UNAVAILABLE,
                              "media cannot be stored now");
        return chat_api_media_answer_refusal(req, up);
    }

    rc = chat_api_media_record(req, up, id, path);
    free(path);

    if (rc != 0) {
        /* the store's failure was answered */
        return rc > 0 ? MHD_YES : MHD_NO;
    }

    chat_media_url(url, &req->conf->key, id,
                   req->now_ms / 1000 + req->conf->media_url_ttl);

    body = json_pack("{s:s%, s:s, s:s%, s:I}", "id", idbuf,
                     (size_t) CHAT_MEDIA_ID_LEN, "url", url, "mime",
                     up->mime, up->mime_len, "size", (json_int_t) up->size);

    up->answered = 1;

    return chat_api_reply_json(req->conn, MHD_HTTP_CREATED, body);
}


enum MHD_Result
chat_api_media_body(chat_api_req_t *req, void *state, const char *data,
    size_t *size)
{
    size_t              n;
    chat_api_upload_t  *up = state;

    req->user.s = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND,
                                              CHAT_API_USER_HEADER);
    req->user.len = req->user.s ? strlen(req->user.s) : 0;

    n = *size;
    *size = 0;

    if (up->answered) {
        return MHD_YES;
    }

    if (n > 0 && up->status == 0) {
        if ((int64_t) n > req->conf->media_max - up->size) {
            chat_api_media_refuse(up, MHD_HTTP_CONTENT_TOO_LARGE,
                                  "the media is larger than allowed");

        } else if (chat_api_media_write(up, data, n) != 0) {
            chat_worker_log(CHAT_LOG_ERROR, "media: %s: %s", up->tmp,
                            strerror(errno));
            chat_api_media_refuse(up, MHD_HTTP_SERVICE_UNAVAILABLE,
                                  "media cannot be stored now");

        } else {
            up->size += (int64_t) n;
            return MHD_YES;
        }
    }

    if (n > 0) {
        up->dropped += (int64_t) n;

        return up->dropped > CHAT_API_MEDIA_DRAIN
               ? chat_api_media_answer_refusal(req, up) : MHD_YES;
    }

    /* the end of the body */

    if (up->status != 0) {
        return chat_api_media_answer_refusal(req, up);
    }

    if (up->size == 0) {
        chat_api_media_refuse(up, MHD_HTTP_BAD_REQUEST, "the body is empty");
        return chat_api_media_answer_refusal(req, up);
    }

    return chat_api_media_store(req, up);
}
