/*
 * Who a request is: its JWT, checked (the signature by libjwt, the header
 * and every claim by common/chat_jwt.c), and its device id.
 */

#include "ngx_chat_module.h"
#include "chat_jwt.h"
#include "chat_secret.h"

#include <jwt.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>


static ngx_int_t ngx_chat_auth_check_secret(ngx_conf_t *cf,
    ngx_chat_loc_conf_t *conf);
static ngx_int_t ngx_chat_auth_read_key(ngx_conf_t *cf,
    ngx_chat_loc_conf_t *conf);
static ngx_int_t ngx_chat_device(ngx_http_request_t *r,
    ngx_chat_identity_t *id);
static const char *ngx_chat_auth_directive(ngx_chat_loc_conf_t *conf);
static void ngx_chat_identity_cleanup(void *data);


static ngx_str_t  ngx_chat_secret_directive = ngx_string("\"chat_jwt_secret\"");


static const char *
ngx_chat_alg_name(ngx_uint_t alg)
{
    switch (alg) {
    case JWT_ALG_RS256:
        return "RS256";
    case JWT_ALG_ES256:
        return "ES256";
    default:
        return "HS256";
    }
}


/* The directive that makes a location check tokens, for its errors. */
static const char *
ngx_chat_auth_directive(ngx_chat_loc_conf_t *conf)
{
    return conf->enable ? "chat" : "chat_auth";
}


/*
 * Reads the key file (once, at configuration: an HS256 secret, or the
 * public key of RS256/ES256), refuses a weak HS256 secret, and makes sure
 * a location that has chat or chat_auth on can verify tokens at all.
 */
ngx_int_t
ngx_chat_auth_load_key(ngx_conf_t *cf, ngx_chat_loc_conf_t *conf)
{
    if (conf->jwt_key_file.len
        && (conf->jwt_key.data == NULL || conf->jwt_key_alg != conf->jwt_alg))
    {
        if (ngx_conf_full_name(cf->cycle, &conf->jwt_key_file, 1) != NGX_OK) {
            return NGX_ERROR;
        }

        if (ngx_chat_auth_read_key(cf, conf) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    if (conf->jwt_alg == JWT_ALG_HS256) {
        return ngx_chat_auth_check_secret(cf, conf);
    }

    if ((conf->enable || conf->api_auth) && conf->jwt_key.data == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%s\" with %s tokens needs "
                           "\"chat_jwt_key_file\"",
                           ngx_chat_auth_directive(conf),
                           ngx_chat_alg_name(conf->jwt_alg));
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * The HS256 secret, inline or from the key file, wherever one is set (a
 * location without chat on verifies tokens for $chat_user as well).
 */
static ngx_int_t
ngx_chat_auth_check_secret(ngx_conf_t *cf, ngx_chat_loc_conf_t *conf)
{
    ngx_str_t   *secret;
    const char  *why;

    if (conf->jwt_secret.len && conf->jwt_key_file.len) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"chat_jwt_secret\" and \"chat_jwt_key_file\" "
                           "both give the HS256 secret: keep one");
        return NGX_ERROR;
    }

    secret = ngx_chat_auth_hs256_key(conf);

    if (secret->len == 0) {
        if (conf->enable || conf->api_auth) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"%s\" with HS256 tokens needs "
                               "\"chat_jwt_key_file\" or "
                               "\"chat_jwt_secret\"",
                               ngx_chat_auth_directive(conf));
            return NGX_ERROR;
        }

        return NGX_OK;
    }

    why = chat_secret_weak((char *) secret->data, secret->len);

    if (why) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "the HS256 secret of %s%V%s %s: use 32 or more "
                           "random bytes (openssl rand -base64 48)",
                           conf->jwt_key_file.len ? "\"" : "",
                           conf->jwt_key_file.len ? &conf->jwt_key_file
                                                  : &ngx_chat_secret_directive,
                           conf->jwt_key_file.len ? "\"" : "", why);
        return NGX_ERROR;
    }

    return NGX_OK;
}


ngx_str_t *
ngx_chat_auth_hs256_key(ngx_chat_loc_conf_t *conf)
{
    return conf->jwt_key_file.len ? &conf->jwt_key : &conf->jwt_secret;
}


/*
 * Reads the key file into conf->jwt_key for the configured algorithm: for
 * HS256 its bytes without the line end are the secret; for RS256/ES256 it
 * must be a PEM public key of that type, refused here rather than at the
 * first token, where libjwt would find out.
 */
static ngx_int_t
ngx_chat_auth_read_key(ngx_conf_t *cf, ngx_chat_loc_conf_t *conf)
{
    int               type;
    BIO              *bio;
    EVP_PKEY         *pkey;
    ngx_str_t         key;
    ngx_file_t        file;
    ngx_file_info_t   fi;

    ngx_memzero(&file, sizeof(ngx_file_t));
    file.name = conf->jwt_key_file;
    file.log = cf->log;

    file.fd = ngx_open_file(file.name.data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);
    if (file.fd == NGX_INVALID_FILE) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           ngx_open_file_n " \"%V\" failed", &file.name);
        return NGX_ERROR;
    }

    if (ngx_fd_info(file.fd, &fi) == NGX_FILE_ERROR
        || ngx_file_size(&fi) == 0 || ngx_file_size(&fi) > 65536)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" is not a key file", &file.name);
        goto failed;
    }

    key.len = ngx_file_size(&fi);
    key.data = ngx_pnalloc(cf->pool, key.len + 1);
    if (key.data == NULL) {
        goto failed;
    }

    if (ngx_read_file(&file, key.data, key.len, 0) != (ssize_t) key.len) {
        goto failed;
    }

    ngx_close_file(file.fd);
    key.data[key.len] = '\0';

    conf->jwt_key_alg = conf->jwt_alg;

    if (conf->jwt_alg == JWT_ALG_HS256) {
        if (ngx_file_access(&fi) & 0004) {
            ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                               "\"%V\" holds a secret and anyone may read "
                               "it (chmod 600)", &file.name);
        }

        while (key.len && (key.data[key.len - 1] == LF
                           || key.data[key.len - 1] == CR))
        {
            key.len--;
        }

        conf->jwt_key = key;
        return NGX_OK;
    }

    bio = BIO_new_mem_buf(key.data, (int) key.len);
    pkey = bio ? PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL) : NULL;
    type = pkey ? EVP_PKEY_base_id(pkey) : 0;
    EVP_PKEY_free(pkey);
    BIO_free(bio);

    if ((conf->jwt_alg == JWT_ALG_RS256 && type != EVP_PKEY_RSA)
        || (conf->jwt_alg == JWT_ALG_ES256 && type != EVP_PKEY_EC))
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" is not a PEM public key for %s",
                           &file.name, ngx_chat_alg_name(conf->jwt_alg));
        return NGX_ERROR;
    }

    conf->jwt_key = key;

    return NGX_OK;

failed:

    ngx_close_file(file.fd);
    return NGX_ERROR;
}


/* Marks the identity in the request's pool (ngx_chat_identity_find). */
static void
ngx_chat_identity_cleanup(void *data)
{
}


/*
 * The request's identity, NULL when none was made yet. nginx forgets the
 * module contexts of a request at an internal redirect (error_page,
 * try_files, a named location); the main request's identity lives on in
 * its pool, found by its cleanup's handler (as nginx's realip module keeps
 * its own), so that the token taken out of the query and the user checked
 * stay the same after one.
 */
ngx_chat_identity_t *
ngx_chat_identity_find(ngx_http_request_t *r)
{
    ngx_pool_cleanup_t   *cln;
    ngx_chat_identity_t  *id;

    id = ngx_http_get_module_ctx(r, ngx_chat_module);

    if (id || r != r->main || !(r->internal || r->filter_finalize)) {
        return id;
    }

    for (cln = r->pool->cleanup; cln; cln = cln->next) {
        if (cln->handler == ngx_chat_identity_cleanup) {
            id = cln->data;
            ngx_http_set_ctx(r, id, ngx_chat_module);
            return id;
        }
    }

    return NULL;
}


/*
 * The module context of a request, made on first use; NULL: no memory. A
 * subrequest's is its own (it shares the main request's pool, not its
 * identity).
 */
ngx_chat_identity_t *
ngx_chat_identity(ngx_http_request_t *r)
{
    ngx_pool_cleanup_t   *cln;
    ngx_chat_identity_t  *id;

    id = ngx_chat_identity_find(r);

    if (id) {
        return id;
    }

    if (r == r->main) {
        cln = ngx_pool_cleanup_add(r->pool, sizeof(ngx_chat_identity_t));
        if (cln == NULL) {
            return NULL;
        }

        cln->handler = ngx_chat_identity_cleanup;
        id = cln->data;
        ngx_memzero(id, sizeof(ngx_chat_identity_t));

    } else {
        id = ngx_pcalloc(r->pool, sizeof(ngx_chat_identity_t));
        if (id == NULL) {
            return NULL;
        }
    }

    ngx_http_set_ctx(r, id, ngx_chat_module);

    return id;
}


/*
 * The request's identity, resolved once and kept in the module context:
 * the token's subject when a JWT key is configured here (checked again in
 * a location of other JWT rules, after an internal redirect), and the
 * device.
 * Returns NULL only when out of memory.
 */
ngx_chat_identity_t *
ngx_chat_identify(ngx_http_request_t *r)
{
    ngx_str_t             token;
    ngx_chat_identity_t  *id;
    ngx_chat_loc_conf_t  *conf;

    id = ngx_chat_identity(r);
    if (id == NULL) {
        return NULL;
    }

    conf = ngx_http_get_module_loc_conf(r, ngx_chat_module);

    if (id->resolved && id->checked_by == conf) {
        return id;
    }

    if (!id->resolved) {
        id->resolved = 1;

        if (ngx_chat_device(r, id) == NGX_ERROR) {
            return NULL;
        }
    }

    /* again after an internal redirect to a location of other rules */
    id->checked_by = conf;
    ngx_str_null(&id->user);

    if (conf->jwt_secret.len == 0 && conf->jwt_key.len == 0) {
        id->error = "no JWT key configured";
        return id;
    }

    if (ngx_chat_token(r, &token) != NGX_OK || token.len == 0) {
        id->error = "no token";
        return id;
    }

    if (ngx_chat_auth_verify(conf, r->pool, &token, id) == NGX_ERROR) {
        return NULL;
    }

    return id;
}


/*
 * Checks a token with a location's policy. Returns NGX_OK with id->user
 * (allocated from pool) and id->exp set, NGX_DECLINED with id->error set,
 * or NGX_ERROR.
 */
ngx_int_t
ngx_chat_auth_verify(ngx_chat_loc_conf_t *conf, ngx_pool_t *pool,
    ngx_str_t *token, ngx_chat_identity_t *id)
{
    int                   rc;
    u_char               *key, *s;
    size_t                key_len;
    jwt_t                *jwt;
    const char           *err;
    chat_jwt_policy_t     policy;
    chat_jwt_claims_t     claims;

    policy.alg = ngx_chat_alg_name(conf->jwt_alg);
    policy.issuer.s = (char *) conf->jwt_issuer.data;
    policy.issuer.len = conf->jwt_issuer.len;
    policy.audience.s = (char *) conf->jwt_audience.data;
    policy.audience.len = conf->jwt_audience.len;
    policy.leeway = conf->jwt_leeway;
    policy.max_length = conf->jwt_max_length;

    /* the header is checked first: libjwt would accept any algorithm */
    if (chat_jwt_decode((char *) token->data, token->len, &policy, &claims,
                        &err)
        != 0)
    {
        id->error = err;
        return NGX_DECLINED;
    }

    if (conf->jwt_alg == JWT_ALG_HS256) {
        key = ngx_chat_auth_hs256_key(conf)->data;
        key_len = ngx_chat_auth_hs256_key(conf)->len;

    } else {
        key = conf->jwt_key.data;
        key_len = conf->jwt_key.len;
    }

    s = ngx_pnalloc(pool, token->len + 1);
    if (s == NULL) {
        chat_jwt_claims_free(&claims);
        return NGX_ERROR;
    }

    *ngx_cpymem(s, token->data, token->len) = '\0';

    jwt = NULL;
    rc = jwt_decode(&jwt, (char *) s, key, (int) key_len);
    jwt_free(jwt);

    if (rc != 0) {
        chat_jwt_claims_free(&claims);
        id->error = "bad signature";
        return NGX_DECLINED;
    }

    if (chat_jwt_check_claims(&claims, &policy, ngx_time(), &err) != 0) {
        chat_jwt_claims_free(&claims);
        id->error = err;
        return NGX_DECLINED;
    }

    id->user.data = ngx_pnalloc(pool, claims.sub.len);
    if (id->user.data == NULL) {
        chat_jwt_claims_free(&claims);
        return NGX_ERROR;
    }

    id->user.len = claims.sub.len;
    ngx_memcpy(id->user.data, claims.sub.s, claims.sub.len);
    id->exp = (time_t) claims.exp;
    id->error = NULL;

    chat_jwt_claims_free(&claims);

    return NGX_OK;
}


/*
 * The device id: the "device" query argument, or one made up here when it
 * is absent. An invalid one leaves id->device empty: NGX_DECLINED.
 */
static ngx_int_t
ngx_chat_device(ngx_http_request_t *r, ngx_chat_identity_t *id)
{
    u_char     rnd[8];
    ngx_str_t  arg;

    if (ngx_http_arg(r, (u_char *) "device", 6, &arg) == NGX_OK) {
        if (!chat_id_valid((char *) arg.data, arg.len)) {
            return NGX_DECLINED;
        }

        id->device = arg;
        return NGX_OK;
    }

    /* from OpenSSL's generator, not random(): see ngx_chat_dispatch.c */
    if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
        return NGX_ERROR;
    }

    id->device.data = ngx_pnalloc(r->pool, 1 + 2 * sizeof(rnd));
    if (id->device.data == NULL) {
        return NGX_ERROR;
    }

    id->device.data[0] = 'd';
    id->device.len = ngx_hex_dump(id->device.data + 1, rnd, sizeof(rnd))
                     - id->device.data;

    return NGX_OK;
}
