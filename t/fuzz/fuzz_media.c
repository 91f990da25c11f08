/*
 * libFuzzer target: every input is parsed as a media URL
 * (chat_media_url_parse, then chat_media_check_url with a fixed key) and
 * decoded as a stored file's header (chat_media_header_decode), and the
 * results are checked against invariants; a broken one aborts. The parsers
 * read what a client sends and what sits on disk, so each accepts exactly
 * one spelling: what the encoders write.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "chat_media.h"
#include "fuzz.h"


#define KEY  "fuzz-media-key-of-32-bytes-at-ls"
#define NOW  1795318602


static int
inside(chat_str_t s, const char *data, size_t size)
{
    return s.s >= data && s.len <= size && s.s + s.len <= data + size;
}


/* an accepted URL is the encoder's URL, or the same with e and s swapped */

static void
fuzz_url(const char *data, size_t size)
{
    int                 rc;
    char                url[CHAT_MEDIA_URL_MAX];
    size_t              n;
    int64_t             expiry;
    chat_str_t          id, sig, checked;
    chat_media_key_t    key = { (const unsigned char *) KEY, sizeof(KEY) - 1 };
    chat_media_check_e  check;

    rc = chat_media_url_parse(data, size, &id, &expiry, &sig);
    check = chat_media_check_url(&key, data, size, NOW, &checked);

    if (rc != 0) {
        must(rc == -1);
        must(check == CHAT_MEDIA_URL_MALFORMED);
        return;
    }

    must(inside(id, data, size) && inside(sig, data, size));
    must(chat_media_id_valid(id));
    must(sig.len == CHAT_MEDIA_SIG_LEN);
    must(expiry >= 0);
    must(size < CHAT_MEDIA_URL_MAX);

    /* the same URL signed: it verifies, and reads back the same parts */
    n = chat_media_url(url, &key, id, expiry);
    must(n == size);
    must(chat_media_check_url(&key, url, n, expiry - 1, &checked)
         == CHAT_MEDIA_URL_OK);
    must(checked.len == id.len && memcmp(checked.s, id.s, id.len) == 0);

    if (memcmp(url + n - CHAT_MEDIA_SIG_LEN, sig.s, CHAT_MEDIA_SIG_LEN)
        == 0)
    {
        must(check == (NOW < expiry ? CHAT_MEDIA_URL_OK
                                    : CHAT_MEDIA_URL_EXPIRED));

    } else {
        must(check == CHAT_MEDIA_URL_FORGED);
    }
}


/* an accepted header is exactly what the encoder writes for its type */

static void
fuzz_header(const char *data, size_t size)
{
    int         rc;
    char        buf[CHAT_MEDIA_HEADER_SIZE];
    chat_str_t  mime;

    rc = chat_media_header_decode(data, size, &mime);

    if (rc != 0) {
        must(rc == -1);
        return;
    }

    must(inside(mime, data, size));
    must(chat_media_mime_valid(mime));
    must(chat_media_header_encode(buf, mime) == 0);
    must(memcmp(buf, data, CHAT_MEDIA_HEADER_SIZE) == 0);
}


/* the input as a types list (NUL-terminated), then as a type */

static void
fuzz_types(const char *data, size_t size)
{
    char        *types;
    chat_str_t   mime = { data, size };

    types = malloc(size + 1);

    if (types == NULL) {
        return;
    }

    memcpy(types, data, size);
    types[size] = '\0';

    (void) chat_media_type_allowed(types, (chat_str_t) { "image/png", 9 });
    free(types);

    if (chat_media_type_allowed(CHAT_MEDIA_DEFAULT_TYPES, mime)) {
        must(chat_media_mime_valid(mime));
    }
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_url((const char *) data, size);
    fuzz_header((const char *) data, size);
    fuzz_types((const char *) data, size);

    return 0;
}
