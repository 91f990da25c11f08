/*
 * Media served by nginx itself (docs/PROTOCOL.md 6): `chat_media <dir>;`
 * answers GET and HEAD of a URL chat-api or chat-worker signed
 * (common/chat_media.h), from the file chat-api stored, without asking
 * anyone: the signature and the expiry are checked here (constant-time),
 * the type comes from the file's header, and the bytes after it go out as
 * a file buffer, so that sendfile, the range filter (206), the
 * not-modified filter and open_file_cache work as for static files.
 *
 * The URL is a capability: no token is needed, and a changed id, expiry or
 * signature, or a URL past its expiry, is 403. The checks also serve a
 * send's media (ngx_chat_media_verify(), for ngx_chat_writes.c).
 */

#include "ngx_chat_module.h"
#include "chat_media.h"
#include "chat_secret.h"


static ngx_int_t ngx_chat_media_handler(ngx_http_request_t *r);
static chat_media_check_e ngx_chat_media_check(chat_str_t url,
    chat_str_t *id, int64_t *expiry);
static ngx_int_t ngx_chat_media_refuse(ngx_http_request_t *r,
    chat_media_check_e why);
static ngx_int_t ngx_chat_media_open(ngx_http_request_t *r, ngx_str_t *path,
    ngx_open_file_info_t *of);
static ngx_int_t ngx_chat_media_type(ngx_http_request_t *r, ngx_str_t *path,
    ngx_open_file_info_t *of, chat_str_t *mime);
static ngx_int_t ngx_chat_media_fail(ngx_http_request_t *r,
    ngx_int_t status);
static ngx_uint_t ngx_chat_media_inline(chat_str_t *mime);
static ngx_int_t ngx_chat_media_headers(ngx_http_request_t *r,
    ngx_open_file_info_t *of, chat_str_t *mime, int64_t expiry);
static ngx_int_t ngx_chat_media_send(ngx_http_request_t *r, ngx_str_t *path,
    ngx_open_file_info_t *of);


/* The types a browser shows in place; anything else is downloaded. */
static const char  *ngx_chat_media_inline_types[] = {
    "image/", "video/", "audio/", NULL
};


/*
 * chat_media <dir>: this location serves the media stored under dir
 * (relative to nginx's prefix). Its URLs are /media/<id>?e=..&s=.. as
 * signed, so the location is /media/.
 */
char *
ngx_chat_media(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_chat_loc_conf_t  *lcf = conf;

    u_char                    *p;
    ngx_str_t                 *value, dir;
    ngx_chat_main_conf_t      *cmcf;
    ngx_http_core_loc_conf_t  *clcf;

    if (lcf->media_dir.data) {
        return "is duplicate";
    }

    value = cf->args->elts;
    dir = value[1];

    if (dir.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "empty \"chat_media\"");
        return NGX_CONF_ERROR;
    }

    if (ngx_conf_full_name(cf->cycle, &dir, 0) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    /* "media/" and "media" are the same directory */
    while (dir.len > 1 && dir.data[dir.len - 1] == '/') {
        dir.len--;
    }

    p = ngx_pnalloc(cf->pool, dir.len + 1);
    if (p == NULL) {
        return NGX_CONF_ERROR;
    }

    *ngx_cpymem(p, dir.data, dir.len) = '\0';
    lcf->media_dir.data = p;
    lcf->media_dir.len = dir.len;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_chat_media_handler;

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_chat_module);
    cmcf->media_used = 1;

    return NGX_CONF_OK;
}


/* init_main_conf: a key that can sign, and one wherever media is served. */
ngx_int_t
ngx_chat_media_check_conf(ngx_conf_t *cf, ngx_chat_main_conf_t *cmcf)
{
    const char  *why;

    if (cmcf->media_key.len) {
        why = cmcf->media_key.len < CHAT_MEDIA_KEY_MIN
              ? "is too short"
              : chat_secret_weak((char *) cmcf->media_key.data,
                                 cmcf->media_key.len);

        if (why) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "the key of \"chat_media_key\" %s: use %d or "
                               "more random bytes (openssl rand -base64 48)",
                               why, CHAT_MEDIA_KEY_MIN);
            return NGX_ERROR;
        }

        return NGX_OK;
    }

    if (cmcf->media_used) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"chat_media\" needs \"chat_media_key\"");
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * Whether url is a media URL this server signed, unexpired: NGX_OK with
 * its id. NGX_DECLINED otherwise: with id->len 0 when it is not one of
 * ours (malformed, forged, or no chat_media_key configured), with the id
 * set when it is ours but expired, so that a caller can say which.
 */
ngx_int_t
ngx_chat_media_verify(chat_str_t url, chat_str_t *id)
{
    int64_t  expiry;

    switch (ngx_chat_media_check(url, id, &expiry)) {

    case CHAT_MEDIA_URL_OK:
        return NGX_OK;

    case CHAT_MEDIA_URL_EXPIRED:
        return NGX_DECLINED;

    default:
        id->s = NULL;
        id->len = 0;
        return NGX_DECLINED;
    }
}


/*
 * chat_media_check_url() with this cycle's key and clock, that also gives
 * the id and expiry of a genuine URL past its expiry.
 */
static chat_media_check_e
ngx_chat_media_check(chat_str_t url, chat_str_t *id, int64_t *expiry)
{
    chat_str_t             sig;
    chat_media_key_t       key;
    ngx_chat_main_conf_t  *cmcf;

    id->s = NULL;
    id->len = 0;

    cmcf = ngx_chat_main_conf_get();

    /* without a key nothing was signed here */
    if (cmcf == NULL || cmcf->media_key.len == 0) {
        return CHAT_MEDIA_URL_FORGED;
    }

    if (chat_media_url_parse(url.s, url.len, id, expiry, &sig) != 0) {
        return CHAT_MEDIA_URL_MALFORMED;
    }

    key.data = cmcf->media_key.data;
    key.len = cmcf->media_key.len;

    return chat_media_check(&key, *id, *expiry, sig, (int64_t) ngx_time());
}


static ngx_int_t
ngx_chat_media_handler(ngx_http_request_t *r)
{
    int64_t               expiry;
    ngx_int_t             rc;
    ngx_str_t             path;
    chat_str_t            url, id, mime;
    chat_media_check_e    check;
    ngx_chat_loc_conf_t  *lcf;
    ngx_open_file_info_t  of;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return ngx_chat_api_error(r, NGX_HTTP_NOT_ALLOWED,
                                  "method_not_allowed",
                                  "media is read with GET or HEAD",
                                  "Allow", "GET, HEAD");
    }

    r->connection->log->action = "serving chat media";

    /* the URL as the client sent it: the form that was signed */
    url.s = (char *) r->unparsed_uri.data;
    url.len = r->unparsed_uri.len;

    check = ngx_chat_media_check(url, &id, &expiry);

    if (check != CHAT_MEDIA_URL_OK) {
        return ngx_chat_media_refuse(r, check);
    }

    lcf = ngx_http_get_module_loc_conf(r, ngx_chat_module);

    path.len = lcf->media_dir.len + CHAT_MEDIA_PATH_EXTRA;
    path.data = ngx_pnalloc(r->pool, path.len);
    if (path.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = chat_media_path((char *) path.data, path.len,
                         (char *) lcf->media_dir.data, id);
    if (rc < 0) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    path.len = rc;

    rc = ngx_chat_media_open(r, &path, &of);

    if (rc == NGX_OK) {
        rc = ngx_chat_media_type(r, &path, &of, &mime);
    }

    if (rc != NGX_OK) {
        return ngx_chat_media_fail(r, rc);
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    rc = ngx_chat_media_headers(r, &of, &mime, expiry);
    if (rc != NGX_OK) {
        return rc;
    }

    return ngx_chat_media_send(r, &path, &of);
}


static ngx_int_t
ngx_chat_media_refuse(ngx_http_request_t *r, chat_media_check_e why)
{
    const char  *message;

    switch (why) {

    case CHAT_MEDIA_URL_EXPIRED:
        message = "the media URL has expired";
        break;

    case CHAT_MEDIA_URL_FORGED:
        message = "the media URL is not signed by this server";
        break;

    default:
        message = "not a media URL";
    }

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "chat: media refused: %s", message);

    return ngx_chat_api_error(r, NGX_HTTP_FORBIDDEN, "forbidden", message,
                              NULL, NULL);
}


/* The JSON answer of a file that cannot be served. */
static ngx_int_t
ngx_chat_media_fail(ngx_http_request_t *r, ngx_int_t status)
{
    if (status == NGX_HTTP_NOT_FOUND) {
        return ngx_chat_api_error(r, NGX_HTTP_NOT_FOUND, "not_found",
                                  "no such media", NULL, NULL);
    }

    return ngx_chat_api_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR, "internal",
                              "the media cannot be read", NULL, NULL);
}


/*
 * Opens the stored file through open_file_cache, as the static module
 * does: NGX_OK, NGX_HTTP_NOT_FOUND when it is not there, or
 * NGX_HTTP_INTERNAL_SERVER_ERROR.
 */
static ngx_int_t
ngx_chat_media_open(ngx_http_request_t *r, ngx_str_t *path,
    ngx_open_file_info_t *of)
{
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    ngx_memzero(of, sizeof(ngx_open_file_info_t));

    /* no directio: its alignment would refuse the header's small read */
    of->read_ahead = clcf->read_ahead;
    of->directio = NGX_OPEN_FILE_DIRECTIO_OFF;
    of->valid = clcf->open_file_cache_valid;
    of->min_uses = clcf->open_file_cache_min_uses;
    of->errors = clcf->open_file_cache_errors;
    of->events = clcf->open_file_cache_events;

    if (ngx_http_set_disable_symlinks(r, clcf, path, of) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_open_cached_file(clcf->open_file_cache, path, of, r->pool)
        == NGX_OK)
    {
        if (of->is_file) {
            return NGX_OK;
        }

        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "chat: media \"%V\" is not a regular file", path);

        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (of->err == NGX_ENOENT || of->err == NGX_ENOTDIR
        || of->err == NGX_ENAMETOOLONG)
    {
        if (clcf->log_not_found) {
            ngx_log_error(NGX_LOG_INFO, r->connection->log, of->err,
                          "chat: media \"%V\" not found", path);
        }

        return NGX_HTTP_NOT_FOUND;
    }

    ngx_log_error(NGX_LOG_CRIT, r->connection->log, of->err,
                  "%s \"%V\" failed", of->failed ? of->failed : "open", path);

    return NGX_HTTP_INTERNAL_SERVER_ERROR;
}


/*
 * The type recorded at upload, from the file's header (into the request's
 * pool: it is the response's Content-Type): NGX_OK or
 * NGX_HTTP_INTERNAL_SERVER_ERROR. A short read of a regular file, as
 * nginx's own file output does without aio.
 */
static ngx_int_t
ngx_chat_media_type(ngx_http_request_t *r, ngx_str_t *path,
    ngx_open_file_info_t *of, chat_str_t *mime)
{
    u_char      *buf;
    ssize_t      n;
    ngx_file_t   file;

    buf = ngx_pnalloc(r->pool, CHAT_MEDIA_HEADER_SIZE);
    if (buf == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    n = NGX_ERROR;

    if (of->size >= CHAT_MEDIA_HEADER_SIZE) {
        ngx_memzero(&file, sizeof(ngx_file_t));
        file.fd = of->fd;
        file.name = *path;
        file.log = r->connection->log;

        n = ngx_read_file(&file, buf, CHAT_MEDIA_HEADER_SIZE, 0);
    }

    if (n == CHAT_MEDIA_HEADER_SIZE
        && chat_media_header_decode((char *) buf, n, mime) == 0)
    {
        return NGX_OK;
    }

    ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                  "chat: \"%V\" is not a stored media file", path);

    return NGX_HTTP_INTERNAL_SERVER_ERROR;
}


static ngx_uint_t
ngx_chat_media_inline(chat_str_t *mime)
{
    size_t        n;
    const char  **t;

    for (t = ngx_chat_media_inline_types; *t; t++) {
        n = ngx_strlen(*t);

        if (mime->len > n && ngx_strncmp(mime->s, *t, n) == 0) {
            return 1;
        }
    }

    return 0;
}


/*
 * The type as recorded, never sniffed; a download for what a browser
 * would not show in place; no script runs in what it shows (an SVG is an
 * image); cached by the client alone, no longer than the URL is valid.
 */
static ngx_int_t
ngx_chat_media_headers(ngx_http_request_t *r, ngx_open_file_info_t *of,
    chat_str_t *mime, int64_t expiry)
{
    u_char  *cc;
    time_t   max_age;

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = of->size - CHAT_MEDIA_HEADER_SIZE;
    r->headers_out.last_modified_time = of->mtime;

    if (ngx_http_set_etag(r) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    r->headers_out.content_type.data = (u_char *) mime->s;
    r->headers_out.content_type.len = mime->len;
    r->headers_out.content_type_len = mime->len;
    r->headers_out.content_type_lowcase = NULL;

    /* checked unexpired a moment ago: at least 0 */
    max_age = (time_t) (expiry - (int64_t) ngx_time());
    max_age = max_age > 0 ? max_age : 0;

    cc = ngx_pnalloc(r->pool, sizeof("private, max-age=") + NGX_TIME_T_LEN);
    if (cc == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    (void) ngx_sprintf(cc, "private, max-age=%T%Z", max_age);

    if (ngx_chat_response_header(r, "X-Content-Type-Options", "nosniff")
           != NGX_OK
        || ngx_chat_response_header(r, "Content-Disposition",
                                    ngx_chat_media_inline(mime)
                                    ? "inline" : "attachment")
           != NGX_OK
        || ngx_chat_response_header(r, "Content-Security-Policy", "sandbox")
           != NGX_OK
        || ngx_chat_response_header(r, "Cache-Control", (char *) cc)
           != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    r->allow_ranges = 1;

    return NGX_OK;
}


/* The content: the file after its header, as one file buffer. */
static ngx_int_t
ngx_chat_media_send(ngx_http_request_t *r, ngx_str_t *path,
    ngx_open_file_info_t *of)
{
    ngx_int_t     rc;
    ngx_buf_t    *b;
    ngx_chain_t   out;

    /* everything allocated before the header goes out */
    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->file = ngx_pcalloc(r->pool, sizeof(ngx_file_t));
    if (b->file == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    b->file_pos = CHAT_MEDIA_HEADER_SIZE;
    b->file_last = of->size;

    b->in_file = b->file_last > b->file_pos ? 1 : 0;
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;
    b->sync = (b->last_buf || b->in_file) ? 0 : 1;

    b->file->fd = of->fd;
    b->file->name = *path;
    b->file->log = r->connection->log;

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}
