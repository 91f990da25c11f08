/*
 * Unit tests of common/chat_media.c: ids, signed expiring URLs (a
 * known-answer signature computed apart from this code, with openssl dgst),
 * forged, expired and malformed URLs, the stored file's header, the
 * allowed-types list and the path of a stored file.
 */

#include <stdint.h>
#include <string.h>

#include "chat_media.h"
#include "test.h"


#define S(lit)  ((chat_str_t) { (lit), sizeof(lit) - 1 })

#define KEY     "0123456789abcdef0123456789abcdef"
#define ID      "0123456789abcdef0123456789abcdef"
#define EXPIRY  1795318602
/* printf '%s' "$ID.$EXPIRY" | openssl dgst -sha256 -hmac "$KEY" -binary
 *   | openssl base64 -A | tr '+/' '-_' | tr -d '=' */
#define SIG     "rYuoxvgYzBNazIhQ0UHsubo9OKj7K14cUg6_WbbNU64"
#define URL     "/media/" ID "?e=1795318602&s=" SIG

#define KEY2    "media-key-of-at-least-32-bytes!!"
#define ID2     "00112233445566778899aabbccddeeff"
#define SIG2    "qVuBLfRIcN8CxbLzBbvuxT6p_F23GmINDm2ZJ6Dv-K0"


static const chat_media_key_t  key = {
    (const unsigned char *) KEY, sizeof(KEY) - 1
};
static const chat_media_key_t  key2 = {
    (const unsigned char *) KEY2, sizeof(KEY2) - 1
};


TEST(id_valid)
{
    CHECK(chat_media_id_valid(S(ID)));
    CHECK(chat_media_id_valid(S(ID2)));
    CHECK(!chat_media_id_valid(S("0123456789ABCDEF0123456789abcdef")));
    CHECK(!chat_media_id_valid(S("0123456789abcdef0123456789abcde")));
    CHECK(!chat_media_id_valid(S("0123456789abcdef0123456789abcdef0")));
    CHECK(!chat_media_id_valid(S("0123456789abcdef0123456789abcdeg")));
    CHECK(!chat_media_id_valid(S("../3456789abcdef0123456789abcdef")));
    CHECK(!chat_media_id_valid(S("")));
    CHECK(!chat_media_id_valid(((chat_str_t) { NULL, 32 })));
}


TEST(id_make)
{
    char                 id[CHAT_MEDIA_ID_LEN];
    const unsigned char  r[16] = {
        0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
        0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff
    };

    chat_media_id_make(r, id);

    CHECK(memcmp(id, ID2, CHAT_MEDIA_ID_LEN) == 0);
    CHECK(chat_media_id_valid(((chat_str_t) { id, sizeof(id) })));
}


TEST(sign_known_answer)
{
    char  sig[CHAT_MEDIA_SIG_LEN];

    chat_media_sign(&key, S(ID), EXPIRY, sig);
    CHECK(memcmp(sig, SIG, CHAT_MEDIA_SIG_LEN) == 0);

    chat_media_sign(&key2, S(ID2), 0, sig);
    CHECK(memcmp(sig, SIG2, CHAT_MEDIA_SIG_LEN) == 0);
}


TEST(url_build)
{
    char    buf[CHAT_MEDIA_URL_MAX];
    size_t  n;

    n = chat_media_url(buf, &key, S(ID), EXPIRY);
    CHECK_STR(buf, n, URL);
    CHECK_EQ(buf[n], '\0');

    /* the longest expiry still fits, NUL included */
    n = chat_media_url(buf, &key, S(ID), INT64_MAX);
    CHECK_EQ(n, CHAT_MEDIA_URL_MAX - 1 - 1);
    CHECK_EQ(strlen(buf), n);
}


TEST(url_parse)
{
    int64_t     e;
    chat_str_t  id, sig;

    CHECK_EQ(chat_media_url_parse(URL, sizeof(URL) - 1, &id, &e, &sig), 0);
    CHECK_STR(id.s, id.len, ID);
    CHECK_EQ(e, EXPIRY);
    CHECK_STR(sig.s, sig.len, SIG);

    /* the other order */
    CHECK_EQ(chat_media_url_parse("/media/" ID "?s=" SIG "&e=7",
                                  sizeof("/media/" ID "?s=" SIG "&e=7") - 1,
                                  &id, &e, &sig), 0);
    CHECK_EQ(e, 7);
    CHECK_STR(sig.s, sig.len, SIG);

    /* the largest int64 expiry */
#define BIG  "/media/" ID "?e=9223372036854775807&s=" SIG
    CHECK_EQ(chat_media_url_parse(BIG, sizeof(BIG) - 1, &id, &e, &sig), 0);
    CHECK(e == INT64_MAX);
#undef BIG
}


static int
parse_fails(const char *url)
{
    int64_t     e;
    chat_str_t  id, sig;

    return chat_media_url_parse(url, strlen(url), &id, &e, &sig) == -1;
}


TEST(url_parse_malformed)
{
    CHECK(parse_fails(""));
    CHECK(parse_fails("/media/"));
    CHECK(parse_fails("/media/" ID));
    CHECK(parse_fails("/media/" ID "?"));
    CHECK(parse_fails("https://example.org/media/" ID "?e=1&s=" SIG));
    CHECK(parse_fails("/Media/" ID "?e=1&s=" SIG));
    CHECK(parse_fails("/media//" ID "?e=1&s=" SIG));
    CHECK(parse_fails("/media/0123456789ABCDEF0123456789abcdef?e=1&s=" SIG));
    CHECK(parse_fails("/media/" ID "0?e=1&s=" SIG));
    CHECK(parse_fails("/media/" ID "?e=1"));
    CHECK(parse_fails("/media/" ID "?s=" SIG));
    CHECK(parse_fails("/media/" ID "?e=1&s=" SIG "&x=1"));
    CHECK(parse_fails("/media/" ID "?e=1&s=" SIG "&"));
    CHECK(parse_fails("/media/" ID "?e=1&e=2&s=" SIG));
    CHECK(parse_fails("/media/" ID "?e=1&&s=" SIG));
    CHECK(parse_fails("/media/" ID "?e=1&s=" SIG "#f"));
    CHECK(parse_fails("/media/" ID "?e=&s=" SIG));
    CHECK(parse_fails("/media/" ID "?e=-1&s=" SIG));
    CHECK(parse_fails("/media/" ID "?e=+1&s=" SIG));
    CHECK(parse_fails("/media/" ID "?e=01&s=" SIG));
    CHECK(parse_fails("/media/" ID "?e=1x&s=" SIG));
    CHECK(parse_fails("/media/" ID "?e=1 &s=" SIG));
    CHECK(parse_fails("/media/" ID "?E=1&s=" SIG));
    CHECK(parse_fails("/media/" ID "?e=1&s=" SIG "A"));
    CHECK(parse_fails("/media/" ID "?e=1&s=" "rYuoxvgYzBNazIhQ0UHsubo9OKj7K14cUg6_WbbNU6"));
    CHECK(parse_fails("/media/" ID "?e=1&s=" "rYuoxvgYzBNazIhQ0UHsubo9OKj7K14cUg6/WbbNU64"));
    CHECK(parse_fails("/media/" ID "?e=1&s=" "rYuoxvgYzBNazIhQ0UHsubo9OKj7K14cUg6+WbbNU64"));
    CHECK(parse_fails("/media/" ID "?e=1&s=" "rYuoxvgYzBNazIhQ0UHsubo9OKj7K14cUg6_WbbNU6="));
    CHECK(parse_fails("/media/" ID "?e=1&s%3D" SIG));
    /* one past INT64_MAX, and 21 digits: no overflow, just refused */
    CHECK(parse_fails("/media/" ID "?e=9223372036854775808&s=" SIG));
    CHECK(parse_fails("/media/" ID "?e=99999999999999999999&s=" SIG));
    CHECK(parse_fails("/media/" ID "?e=100000000000000000000&s=" SIG));
}


TEST(url_parse_nul_inside)
{
    int64_t     e;
    chat_str_t  id, sig;
    char        url[] = URL;

    /* a NUL inside the given length is a byte like any other */
    url[sizeof(URL) - 2] = '\0';
    CHECK_EQ(chat_media_url_parse(url, sizeof(URL) - 1, &id, &e, &sig), -1);
    url[sizeof(URL) - 2] = '4';
    CHECK_EQ(chat_media_url_parse(url, sizeof(URL), &id, &e, &sig), -1);
    CHECK_EQ(chat_media_url_parse(NULL, 0, &id, &e, &sig), -1);
}


TEST(check_ok_forged_expired)
{
    chat_str_t  id;

    id = S("unset");

    CHECK_EQ(chat_media_check_url(&key, URL, sizeof(URL) - 1, EXPIRY - 1,
                                  &id), CHAT_MEDIA_URL_OK);
    CHECK_STR(id.s, id.len, ID);

    /* valid until expiry, exclusive */
    CHECK_EQ(chat_media_check_url(&key, URL, sizeof(URL) - 1, EXPIRY, &id),
             CHAT_MEDIA_URL_EXPIRED);
    CHECK_EQ(chat_media_check_url(&key, URL, sizeof(URL) - 1, EXPIRY + 9999,
                                  &id), CHAT_MEDIA_URL_EXPIRED);

    /* another key, another id, another expiry, one changed character */
    CHECK_EQ(chat_media_check_url(&key2, URL, sizeof(URL) - 1, 0, &id),
             CHAT_MEDIA_URL_FORGED);
#define OTHER_ID  "/media/1123456789abcdef0123456789abcdef?e=1795318602&s=" SIG
    CHECK_EQ(chat_media_check_url(&key, OTHER_ID, sizeof(OTHER_ID) - 1, 0,
                                  &id), CHAT_MEDIA_URL_FORGED);
#undef OTHER_ID
#define LATER  "/media/" ID "?e=1795318603&s=" SIG
    CHECK_EQ(chat_media_check_url(&key, LATER, sizeof(LATER) - 1, 0, &id),
             CHAT_MEDIA_URL_FORGED);
#undef LATER
#define FLIP  "/media/" ID "?e=1795318602&s=" \
              "rYuoxvgYzBNazIhQ0UHsubo9OKj7K14cUg6_WbbNU65"
    CHECK_EQ(chat_media_check_url(&key, FLIP, sizeof(FLIP) - 1, 0, &id),
             CHAT_MEDIA_URL_FORGED);
#undef FLIP

    /* a forged and expired URL is forged: expiry is no oracle */
    CHECK_EQ(chat_media_check_url(&key2, URL, sizeof(URL) - 1, EXPIRY + 1,
                                  &id), CHAT_MEDIA_URL_FORGED);

    CHECK_EQ(chat_media_check_url(&key, "/media/x", 8, 0, &id),
             CHAT_MEDIA_URL_MALFORMED);

    /* id is only set on OK */
    CHECK_STR(id.s, id.len, ID);
}


TEST(check_parts)
{
    CHECK_EQ(chat_media_check(&key, S(ID), EXPIRY, S(SIG), 0),
             CHAT_MEDIA_URL_OK);
    CHECK_EQ(chat_media_check(&key, S(ID), EXPIRY, S("short"), 0),
             CHAT_MEDIA_URL_MALFORMED);
    CHECK_EQ(chat_media_check(&key, S("not-an-id"), EXPIRY, S(SIG), 0),
             CHAT_MEDIA_URL_MALFORMED);
}


TEST(url_round_trip)
{
    char        buf[CHAT_MEDIA_URL_MAX];
    size_t      n;
    chat_str_t  id;

    n = chat_media_url(buf, &key2, S(ID2), 0);
    CHECK_EQ(chat_media_check_url(&key2, buf, n, -1, &id),
             CHAT_MEDIA_URL_OK);
    CHECK_STR(id.s, id.len, ID2);

    n = chat_media_url(buf, &key2, S(ID2), INT64_MAX);
    CHECK_EQ(chat_media_check_url(&key2, buf, n, EXPIRY, &id),
             CHAT_MEDIA_URL_OK);
    CHECK_EQ(chat_media_check_url(&key, buf, n, EXPIRY, &id),
             CHAT_MEDIA_URL_FORGED);
}


TEST(media_object)
{
    json_t  *obj;

    obj = chat_media_object(&key, S(ID), S("image/png"), 48213, EXPIRY);
    CHECK(obj != NULL);

    if (obj == NULL) {
        return;
    }

    CHECK(strcmp(json_string_value(json_object_get(obj, "url")), URL) == 0);
    CHECK(strcmp(json_string_value(json_object_get(obj, "mime")),
                 "image/png") == 0);
    CHECK_EQ(json_integer_value(json_object_get(obj, "size")), 48213);
    CHECK_EQ(json_object_size(obj), 3);

    json_decref(obj);
}


TEST(mime_valid)
{
    CHECK(chat_media_mime_valid(S("image/png")));
    CHECK(chat_media_mime_valid(S("application/vnd.ms-excel")));
    CHECK(chat_media_mime_valid(S("audio/x-m4a")));
    CHECK(chat_media_mime_valid(S("a/b")));
    CHECK(!chat_media_mime_valid(S("Image/png")));
    CHECK(!chat_media_mime_valid(S("image/png; charset=x")));
    CHECK(!chat_media_mime_valid(S("image/png;q=1")));
    CHECK(!chat_media_mime_valid(S("image")));
    CHECK(!chat_media_mime_valid(S("image/")));
    CHECK(!chat_media_mime_valid(S("/png")));
    CHECK(!chat_media_mime_valid(S("image/png/x")));
    CHECK(!chat_media_mime_valid(S("image/p ng")));
    CHECK(!chat_media_mime_valid(S("image/p\nng")));
    CHECK(!chat_media_mime_valid(S("image/p\0ng")));
    CHECK(!chat_media_mime_valid(S("")));
    CHECK(!chat_media_mime_valid(S("a/")));

    /* at most CHAT_MEDIA_MIME_MAX bytes */
    {
        char  m[CHAT_MEDIA_MIME_MAX + 1];

        memset(m, 'a', sizeof(m));
        m[5] = '/';
        CHECK(chat_media_mime_valid(((chat_str_t) { m, sizeof(m) - 1 })));
        CHECK(!chat_media_mime_valid(((chat_str_t) { m, sizeof(m) })));
    }
}


TEST(type_allowed)
{
    const char  *def = CHAT_MEDIA_DEFAULT_TYPES;

    CHECK(chat_media_type_allowed(def, S("image/png")));
    CHECK(chat_media_type_allowed(def, S("image/jpeg")));
    CHECK(chat_media_type_allowed(def, S("video/mp4")));
    CHECK(chat_media_type_allowed(def, S("audio/ogg")));
    CHECK(chat_media_type_allowed(def, S("application/pdf")));
    CHECK(!chat_media_type_allowed(def, S("application/pdfx")));
    CHECK(!chat_media_type_allowed(def, S("application/zip")));
    CHECK(!chat_media_type_allowed(def, S("text/html")));
    CHECK(!chat_media_type_allowed(def, S("imagex/png")));
    CHECK(!chat_media_type_allowed(def, S("image")));
    CHECK(!chat_media_type_allowed(def, S("Image/png")));

    /* commas, tabs and repeated separators; case-insensitive entries */
    CHECK(chat_media_type_allowed(",text/plain,\t Image/*,", S("image/gif")));
    CHECK(chat_media_type_allowed(",text/plain,\t Image/*,", S("text/plain")));
    CHECK(!chat_media_type_allowed(",text/plain,\t Image/*,",
                                   S("text/plainx")));
    CHECK(!chat_media_type_allowed("text/plai", S("text/plain")));
    CHECK(!chat_media_type_allowed("", S("image/png")));
    CHECK(!chat_media_type_allowed("  , ", S("image/png")));
    CHECK(!chat_media_type_allowed(NULL, S("image/png")));
    /* "*" alone, or a wildcard type, is no entry that matches */
    CHECK(!chat_media_type_allowed("*", S("image/png")));
    CHECK(!chat_media_type_allowed("*/png", S("image/png")));
}


TEST(header_round_trip)
{
    char        buf[CHAT_MEDIA_HEADER_SIZE];
    chat_str_t  mime;

    CHECK_EQ(chat_media_header_encode(buf, S("image/png")), 0);
    CHECK_EQ(chat_media_header_decode(buf, sizeof(buf), &mime), 0);
    CHECK_STR(mime.s, mime.len, "image/png");
    CHECK(mime.s >= buf && mime.s < buf + sizeof(buf));

    /* more than the header: the content follows, ignored */
    {
        char  file[CHAT_MEDIA_HEADER_SIZE + 4];

        memcpy(file, buf, sizeof(buf));
        memcpy(file + sizeof(buf), "\x89PNG", 4);
        CHECK_EQ(chat_media_header_decode(file, sizeof(file), &mime), 0);
        CHECK_STR(mime.s, mime.len, "image/png");
    }

    /* the longest type fits */
    {
        char  m[CHAT_MEDIA_MIME_MAX];

        memset(m, 'x', sizeof(m));
        m[1] = '/';
        CHECK_EQ(chat_media_header_encode(buf, ((chat_str_t) { m, sizeof(m) })),
                 0);
        CHECK_EQ(chat_media_header_decode(buf, sizeof(buf), &mime), 0);
        CHECK_EQ(mime.len, sizeof(m));
    }

    CHECK_EQ(chat_media_header_encode(buf, S("image/PNG")), -1);
    CHECK_EQ(chat_media_header_encode(buf, S("image/png\n")), -1);
    CHECK_EQ(chat_media_header_encode(buf, S("")), -1);
}


TEST(header_bad)
{
    char        buf[CHAT_MEDIA_HEADER_SIZE];
    chat_str_t  mime;

    CHECK_EQ(chat_media_header_encode(buf, S("video/mp4")), 0);

    /* too short */
    CHECK_EQ(chat_media_header_decode(buf, sizeof(buf) - 1, &mime), -1);
    CHECK_EQ(chat_media_header_decode(NULL, 0, &mime), -1);

    /* a file of content only */
    memset(buf, 'A', sizeof(buf));
    CHECK_EQ(chat_media_header_decode(buf, sizeof(buf), &mime), -1);

    /* garbage in the padding */
    CHECK_EQ(chat_media_header_encode(buf, S("video/mp4")), 0);
    buf[sizeof(buf) - 1] = 'x';
    CHECK_EQ(chat_media_header_decode(buf, sizeof(buf), &mime), -1);

    /* no end of line */
    CHECK_EQ(chat_media_header_encode(buf, S("video/mp4")), 0);
    memset(buf + 13, 'a', sizeof(buf) - 13);
    buf[20] = '/';
    CHECK_EQ(chat_media_header_decode(buf, sizeof(buf), &mime), -1);

    /* a type that is not one */
    CHECK_EQ(chat_media_header_encode(buf, S("video/mp4")), 0);
    buf[13 + 5] = ' ';
    CHECK_EQ(chat_media_header_decode(buf, sizeof(buf), &mime), -1);

    /* another magic */
    CHECK_EQ(chat_media_header_encode(buf, S("video/mp4")), 0);
    buf[0] = 'C';
    CHECK_EQ(chat_media_header_decode(buf, sizeof(buf), &mime), -1);
}


TEST(path)
{
    char  buf[sizeof("/var/media") - 1 + CHAT_MEDIA_PATH_EXTRA];

    CHECK_EQ(chat_media_path(buf, sizeof(buf), "/var/media", S(ID)),
             (int) sizeof(buf) - 1);
    CHECK(strcmp(buf, "/var/media/01/" ID) == 0);

    CHECK_EQ(chat_media_path(buf, sizeof(buf) - 1, "/var/media", S(ID)), -1);
    CHECK_EQ(chat_media_path(buf, sizeof(buf), "/var/media",
                             S("../3456789abcdef0123456789abcdef")), -1);
    CHECK_EQ(chat_media_path(buf, sizeof(buf), "/var/media", S("ab")), -1);
    CHECK_EQ(chat_media_path(buf, sizeof(buf), NULL, S(ID)), -1);
}


int
main(void)
{
    RUN(id_valid);
    RUN(id_make);
    RUN(sign_known_answer);
    RUN(url_build);
    RUN(url_parse);
    RUN(url_parse_malformed);
    RUN(url_parse_nul_inside);
    RUN(check_ok_forged_expired);
    RUN(check_parts);
    RUN(url_round_trip);
    RUN(media_object);
    RUN(mime_valid);
    RUN(type_allowed);
    RUN(header_round_trip);
    RUN(header_bad);
    RUN(path);

    return test_summary("media");
}
