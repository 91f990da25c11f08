/*
 * Directives that hold a credential (chat_jwt_secret, chat_redis_password)
 * take it inline, from a file ("file:PATH", relative to nginx.conf's
 * directory) or from nginx's environment ("env:NAME"), as chat-worker's
 * flags do (common/chat_secret_src.h). Both are read when nginx reads its
 * configuration: by `nginx -t`, at start, and at each reload (a new file
 * takes effect with a reload; the environment is the one nginx was
 * started with).
 */

#include "ngx_chat_module.h"
#include "chat_secret_src.h"


static ngx_int_t ngx_chat_credential_file(ngx_conf_t *cf, const char *path,
    ngx_str_t *out);
static ngx_int_t ngx_chat_credential_env(ngx_conf_t *cf, const char *name,
    ngx_str_t *out);


/* Like ngx_conf_set_str_slot, for a credential. */
char *
ngx_chat_conf_set_credential_slot(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    char        *p = conf;
    ngx_int_t    rc;
    ngx_str_t   *field, *value;
    const char  *what;

    field = (ngx_str_t *) (p + cmd->offset);

    if (field->data) {
        return "is duplicate";
    }

    value = cf->args->elts;

    switch (chat_secret_src_kind((char *) value[1].data, &what)) {

    case CHAT_SECRET_FILE:
        rc = ngx_chat_credential_file(cf, what, field);
        break;

    case CHAT_SECRET_ENV:
        rc = ngx_chat_credential_env(cf, what, field);
        break;

    default:
        *field = value[1];
        rc = field->len ? NGX_OK : NGX_ERROR;

        if (rc != NGX_OK) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "empty \"%V\"",
                               &cmd->name);
        }
    }

    return rc == NGX_OK ? NGX_CONF_OK : NGX_CONF_ERROR;
}


static ngx_int_t
ngx_chat_credential_file(ngx_conf_t *cf, const char *path, ngx_str_t *out)
{
    int        exposed;
    char       err[256];
    u_char    *buf;
    ssize_t    n;
    ngx_str_t  name;

    name.data = (u_char *) path;
    name.len = ngx_strlen(path);

    /* the full name is NUL-terminated, like the argument it replaces */
    if (name.len == 0 || ngx_conf_full_name(cf->cycle, &name, 1) != NGX_OK) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "no file name after "
                           "\"file:\"");
        return NGX_ERROR;
    }

    buf = ngx_pnalloc(cf->pool, CHAT_SECRET_SRC_BUF);
    if (buf == NULL) {
        return NGX_ERROR;
    }

    n = chat_secret_src_file((char *) name.data, (char *) buf,
                             CHAT_SECRET_SRC_BUF, &exposed, err, sizeof(err));

    if (n < 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "%s", err);
        return NGX_ERROR;
    }

    if (exposed) {
        ngx_conf_log_error(NGX_LOG_WARN, cf, 0, "\"%V\" holds a credential "
                           "and anyone may read it (chmod 600)", &name);
    }

    out->data = buf;
    out->len = n;

    return NGX_OK;
}


static ngx_int_t
ngx_chat_credential_env(ngx_conf_t *cf, const char *name, ngx_str_t *out)
{
    char  *v;

    v = getenv(name);

    if (v == NULL || v[0] == '\0' || ngx_strlen(v) > CHAT_SECRET_SRC_MAX) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "the environment variable "
                           "\"%s\" is %s", name,
                           v == NULL ? "not set"
                           : v[0] == '\0' ? "empty" : "too long");
        return NGX_ERROR;
    }

    out->len = ngx_strlen(v);
    out->data = ngx_pnalloc(cf->pool, out->len);
    if (out->data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(out->data, v, out->len);

    return NGX_OK;
}
