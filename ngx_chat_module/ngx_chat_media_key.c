/*
 * The key of media URLs (`chat_media_key`, common/chat_media.h): its check
 * at configuration, and the check of a URL against it with this cycle's
 * clock. Below both of its users: the WebSocket write path
 * (ngx_chat_writes.c, a send's media URL) and the media location
 * (ngx_chat_media.c, a GET of one), so neither calls up into the other.
 */

#include "ngx_chat_module.h"
#include "chat_media.h"
#include "chat_secret.h"


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
chat_media_check_e
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
