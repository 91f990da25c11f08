/*
 * Unit tests of common/chat_proto.c.
 *
 * Frames are written with single quotes, which ok()/fails() turn into double
 * quotes, so that they stay readable; raw_*() take the bytes as they are.
 */

#include <stdlib.h>

#include "test.h"
#include "chat_proto.h"


#define S(lit)  ((chat_str_t) { (lit), sizeof(lit) - 1 })


static chat_req_t          req;
static chat_proto_error_t  err;


static int
raw_decode(const char *text, size_t len)
{
    chat_req_free(&req);
    return chat_proto_decode(text, len, S("alice"), &req, &err);
}


static int
decode(const char *frame)
{
    int     rc;
    char   *text, *p;
    size_t  len;

    len = strlen(frame);
    text = malloc(len + 1);
    memcpy(text, frame, len + 1);

    for (p = text; *p; p++) {
        if (*p == '\'') {
            *p = '"';
        }
    }

    /* exactly len bytes, not NUL-terminated, as a WebSocket buffer is */
    rc = raw_decode(text, len);

    /* the strings of req point into the document, not into text */
    memset(text, 'X', len);
    free(text);

    return rc;
}


static int
ok(const char *frame)
{
    if (decode(frame) != 0) {
        fprintf(stderr, "  unexpected error %s \"%s\" for %s\n",
                err.code, err.message, frame);
        return 0;
    }

    return 1;
}


static int
fails_raw(int rc, const char *code, const char *needle)
{
    if (rc != -1 || err.code == NULL || err.message == NULL) {
        fprintf(stderr, "  expected an error, got rc %d\n", rc);
        return 0;
    }

    if (strcmp(err.code, code) != 0
        || (needle != NULL && strstr(err.message, needle) == NULL))
    {
        fprintf(stderr, "  got %s \"%s\", expected %s \"%s\"\n",
                err.code, err.message, code, needle ? needle : "");
        return 0;
    }

    return 1;
}


static int
fails(const char *frame, const char *code, const char *needle)
{
    return fails_raw(decode(frame), code, needle);
}


static int
bad(const char *frame, const char *needle)
{
    return fails(frame, "bad_request", needle);
}


/* Builds {"type":<type>,"group":"g",<key>:[<n> ids]} */

static char *
list_frame(const char *type, const char *key, size_t n)
{
    char    *buf, *p;
    size_t   i;

    buf = malloc(128 + n * 12);
    p = buf + sprintf(buf, "{'type':'%s','group':'g','%s':[", type, key);

    for (i = 0; i < n; i++) {
        p += sprintf(p, "%s'u%zu'", i ? "," : "", i);
    }

    strcpy(p, "]}");

    return buf;
}


static char *
repeat_frame(const char *head, char c, size_t n, const char *tail)
{
    char    *buf;
    size_t   h;

    h = strlen(head);
    buf = malloc(h + n + strlen(tail) + 1);
    memcpy(buf, head, h);
    memset(buf + h, c, n);
    strcpy(buf + h + n, tail);

    return buf;
}


TEST(ping)
{
    CHECK(ok("{'type':'ping'}"));
    CHECK_EQ(req.type, CHAT_REQ_PING);
    CHECK_EQ(req.id.len, 0);

    CHECK(ok("{'type':'ping','id':'p1','extra':{'x':[1,2]}}"));
    CHECK_STR(req.id.s, req.id.len, "p1");
}


TEST(malformed)
{
    static const char  bad_utf8[] = "{\"type\":\"ping\",\"x\":\"\xff\"}";

    CHECK(bad("", "malformed"));
    CHECK(bad("{", "malformed"));
    CHECK(bad("{'type':'ping'", "malformed"));
    CHECK(bad("{'type':'ping'} {}", "malformed"));
    CHECK(bad("{'type':'ping',}", "malformed"));
    CHECK(bad("'ping'", NULL));
    CHECK(bad("42", NULL));
    CHECK(bad("null", NULL));
    CHECK(bad("[{'type':'ping'}]", "object"));
    CHECK(fails_raw(raw_decode(bad_utf8, sizeof(bad_utf8) - 1),
                    "bad_request", "malformed"));
    CHECK(fails_raw(raw_decode(NULL, 0), "bad_request", NULL));
}


TEST(type_field)
{
    CHECK(bad("{}", "\"type\""));
    CHECK(bad("{'type':1}", "\"type\""));
    CHECK(bad("{'type':null}", "\"type\""));
    CHECK(bad("{'type':['ping']}", "\"type\""));
    CHECK(bad("{'type':'PING'}", "unknown"));
    CHECK(bad("{'type':'pong'}", "unknown"));
    CHECK(bad("{'type':''}", "unknown"));
    CHECK(bad("{'type':'ping\\u0000'}", "unknown"));
}


TEST(duplicate_keys)
{
    CHECK(bad("{'type':'ping','type':'ping'}", NULL));
    CHECK(bad("{'type':'ping','id':'a','id':'b'}", NULL));
    CHECK(bad("{'type':'ping','x':{'k':1,'k':2}}", NULL));
}


TEST(id_echo)
{
    CHECK(bad("{'type':'nope','id':'r9'}", "unknown"));
    CHECK_STR(req.id.s, req.id.len, "r9");

    CHECK(bad("{'id':'r10'}", "\"type\""));
    CHECK_STR(req.id.s, req.id.len, "r10");

    CHECK(bad("{'type':'send','id':'c-1','to':'bob'}", "\"body\""));
    CHECK_STR(req.id.s, req.id.len, "c-1");

    CHECK(fails("{'type':'receipt','id':'r-2','conv':'dm:bob:carol',"
                "'status':'read','seq':3}", "forbidden", NULL));
    CHECK_STR(req.id.s, req.id.len, "r-2");
}


TEST(id_invalid)
{
    char  *f;

    CHECK(bad("{'type':'ping','id':5}", "\"id\""));
    CHECK_EQ(req.id.len, 0);
    CHECK(bad("{'type':'ping','id':null}", "\"id\""));
    CHECK(bad("{'type':'ping','id':''}", "\"id\""));
    CHECK_EQ(req.id.len, 0);
    CHECK(bad("{'type':'ping','id':'a\\u0001'}", "\"id\""));
    CHECK(bad("{'type':'ping','id':'a\\u0000'}", "\"id\""));
    CHECK(bad("{'type':'ping','id':'caf\\u00e9'}", "\"id\""));
    CHECK_EQ(req.id.len, 0);

    /* ids are checked before the type */
    CHECK(bad("{'type':'nope','id':7}", "\"id\""));

    CHECK(ok("{'type':'ping','id':'a b:{}\\\\\\u0022~'}"));
    CHECK_STR(req.id.s, req.id.len, "a b:{}\\\"~");

    /* the server's own ids begin with "~" (gap reads, id-less records) */
    CHECK(bad("{'type':'history','id':'~gap:1','conv':'dm:a:b'}",
              "server's own"));
    CHECK_EQ(req.id.len, 0);
    CHECK(bad("{'type':'send','id':'~01JD','to':'bob','body':'x'}",
              "server's own"));

    f = repeat_frame("{'type':'ping','id':'", 'i', 64, "'}");
    CHECK(ok(f));
    CHECK_EQ(req.id.len, 64);
    free(f);

    f = repeat_frame("{'type':'ping','id':'", 'i', 65, "'}");
    CHECK(bad(f, "\"id\""));
    CHECK_EQ(req.id.len, 0);
    free(f);
}


TEST(depth)
{
    char  *f;

    /* object + 3 arrays: 4 deep, the limit */
    CHECK(ok("{'type':'ping','x':[[[1]]]}"));
    CHECK(ok("{'type':'ping','x':{'y':{'z':{}}}}"));

    CHECK(bad("{'type':'ping','x':[[[[1]]]]}", "nested"));
    CHECK(bad("{'type':'ping','x':{'y':{'z':{'w':{}}}}}", "nested"));
    CHECK(bad("[[[[[", "nested"));

    /* brackets inside strings do not count, escaped quotes included */
    CHECK(ok("{'type':'ping','x':'[[[[[[{{{{'}"));
    CHECK(ok("{'type':'ping','x':'\\'[[[[[['}"));

    /* an escaped backslash ends before the quote, which ends the string */
    CHECK(bad("{'type':'ping','x':'\\\\',"
              "'y':[[[[1]]]]}", "nested"));

    /* closing brackets are counted too: siblings are not nested */
    CHECK(ok("{'type':'ping','a':[[[1]]],'b':[[[1]]],'c':[[[1]]]}"));

    /* deep enough to hurt a recursive parser */
    f = repeat_frame("", '[', 1000000, "");
    CHECK(bad(f, "nested"));
    free(f);
}


TEST(auth)
{
    char  *f;

    CHECK(ok("{'type':'auth','token':'a.b.c'}"));
    CHECK_EQ(req.type, CHAT_REQ_AUTH);
    CHECK_STR(req.token.s, req.token.len, "a.b.c");

    CHECK(bad("{'type':'auth'}", "\"token\""));
    CHECK(bad("{'type':'auth','token':''}", "\"token\""));
    CHECK(bad("{'type':'auth','token':1}", "\"token\""));

    f = repeat_frame("{'type':'auth','token':'", 't', 8192, "'}");
    CHECK(ok(f));
    CHECK_EQ(req.token.len, 8192);
    free(f);

    f = repeat_frame("{'type':'auth','token':'", 't', 8193, "'}");
    CHECK(bad(f, "8192"));
    free(f);
}


TEST(send_dm)
{
    json_t  *to;

    CHECK(ok("{'type':'send','id':'c-17','to':'bob','body':'hi'}"));
    CHECK_EQ(req.type, CHAT_REQ_SEND);
    CHECK_STR(req.id.s, req.id.len, "c-17");
    CHECK_STR(req.to.s, req.to.len, "bob");
    CHECK_EQ(req.group.len, 0);
    CHECK_STR(req.body.s, req.body.len, "hi");
    CHECK_EQ(req.has_media, 0);

    /* strings point into the document */
    to = json_object_get(req.root, "to");
    CHECK(req.to.s == json_string_value(to));
}


TEST(send_group_media)
{
    CHECK(ok("{'type':'send','id':'c-18','group':'team','body':'hi all',"
             "'media':{'url':'/media/x/y.png','mime':'image/png',"
             "'size':48213}}"));
    CHECK_STR(req.group.s, req.group.len, "team");
    CHECK_EQ(req.to.len, 0);
    CHECK_EQ(req.has_media, 1);
    CHECK_STR(req.media.url.s, req.media.url.len, "/media/x/y.png");
    CHECK_STR(req.media.mime.s, req.media.mime.len, "image/png");
    CHECK_EQ(req.media.size, 48213);
}


TEST(send_target)
{
    CHECK(bad("{'type':'send','to':'bob','body':'hi'}", "\"id\""));
    CHECK(bad("{'type':'send','id':'c','body':'hi'}", "exactly one"));
    CHECK(bad("{'type':'send','id':'c','to':'bob','group':'g','body':'hi'}",
              "exactly one"));
    CHECK(bad("{'type':'send','id':'c','to':'b b','body':'hi'}", "\"to\""));
    CHECK(bad("{'type':'send','id':'c','to':'','body':'hi'}", "\"to\""));
    CHECK(bad("{'type':'send','id':'c','to':5,'body':'hi'}", "\"to\""));
    CHECK(bad("{'type':'send','id':'c','to':null,'group':'g','body':'hi'}",
              "\"to\""));
    CHECK(bad("{'type':'send','id':'c','to':'b\\u0000b','body':'hi'}",
              "\"to\""));
    CHECK(bad("{'type':'send','id':'c','group':'g:1','body':'hi'}",
              "\"group\""));
    CHECK(bad("{'type':'send','id':'c','group':['g'],'body':'hi'}",
              "\"group\""));
}


TEST(send_self)
{
    CHECK(bad("{'type':'send','id':'c','to':'alice','body':'hi'}",
              "cannot send to yourself"));

    /* only the exact id is self */
    CHECK(ok("{'type':'send','id':'c','to':'alicea','body':'hi'}"));
    CHECK(ok("{'type':'send','id':'c','to':'Alice','body':'hi'}"));
    CHECK(ok("{'type':'send','id':'c','to':'alic','body':'hi'}"));
}


TEST(send_body)
{
    CHECK(bad("{'type':'send','id':'c','to':'bob'}", "\"body\""));
    CHECK(bad("{'type':'send','id':'c','to':'bob','body':''}", "\"body\""));
    CHECK(bad("{'type':'send','id':'c','to':'bob','body':1}", "\"body\""));
    CHECK(bad("{'type':'send','id':'c','to':'bob','body':null}", "\"body\""));

    /* NUL is fine in a body: it is handled by length */
    CHECK(ok("{'type':'send','id':'c','to':'bob','body':'a\\u0000b'}"));
    CHECK_EQ(req.body.len, 3);
    CHECK(req.body.s != NULL && memcmp(req.body.s, "a\0b", 3) == 0);

    /* empty or missing only with media, and then never NULL */
    CHECK(ok("{'type':'send','id':'c','to':'bob','body':'',"
             "'media':{'url':'/media/a','mime':'a/b','size':0}}"));
    CHECK_EQ(req.body.len, 0);
    CHECK(ok("{'type':'send','id':'c','to':'bob',"
             "'media':{'url':'/media/a','mime':'a/b','size':0}}"));
    CHECK_EQ(req.body.len, 0);
    CHECK(req.body.s != NULL);
    CHECK_EQ(req.has_media, 1);
}


#define MEDIA_HEAD  "{'type':'send','id':'c','to':'bob','body':'x','media':"
#define MEDIA(m)    MEDIA_HEAD m "}"

TEST(send_media)
{
    char  *f;

    CHECK(bad(MEDIA("null"), "\"media\""));
    CHECK(bad(MEDIA("'/media/a'"), "\"media\""));
    CHECK(bad(MEDIA("[]"), "\"media\""));

    CHECK(bad(MEDIA("{'mime':'a/b','size':1}"), "\"media.url\""));
    CHECK(bad(MEDIA("{'url':1,'mime':'a/b','size':1}"), "\"media.url\""));
    CHECK(bad(MEDIA("{'url':'/medi/a','mime':'a/b','size':1}"),
              "\"media.url\""));
    CHECK(bad(MEDIA("{'url':'http://x/media/a','mime':'a/b','size':1}"),
              "\"media.url\""));
    CHECK(bad(MEDIA("{'url':'/media/a b','mime':'a/b','size':1}"),
              "\"media.url\""));
    CHECK(bad(MEDIA("{'url':'/media/a\\u0000','mime':'a/b','size':1}"),
              "\"media.url\""));

    f = repeat_frame(MEDIA_HEAD "{'mime':'a/b','size':1,'url':'/media/",
                     'u', 1024 - 7, "'}}");
    CHECK(ok(f));
    CHECK_EQ(req.media.url.len, 1024);
    free(f);

    f = repeat_frame(MEDIA_HEAD "{'mime':'a/b','size':1,'url':'/media/",
                     'u', 1024 - 6, "'}}");
    CHECK(bad(f, "\"media.url\""));
    free(f);
}


#define URL(u)  MEDIA("{'url':'" u "','mime':'a/b','size':1}")

/* Only URLs of the shape POST /api/media issues; nothing that a path
 * resolver could take outside the media root. */
TEST(send_media_url_shape)
{
    CHECK(ok(URL("/media/a")));
    CHECK(ok(URL("/media/ab12/cat.png")));
    CHECK(ok(URL("/media/x/y.tar.gz")));
    CHECK(ok(URL("/media/a-b_C9")));
    CHECK(ok(URL("/media/0123abcd?e=1795318602&s=Zm9v-YmFy_")));
    CHECK(ok(URL("/media/id?e=1")));
    CHECK_STR(req.media.url.s, req.media.url.len, "/media/id?e=1");

    /* dot segments, however spelled */
    CHECK(bad(URL("/media/../x"), "\"media.url\""));
    CHECK(bad(URL("/media/a/../../etc/passwd"), "\"media.url\""));
    CHECK(bad(URL("/media/./x"), "\"media.url\""));
    CHECK(bad(URL("/media/a/.."), "\"media.url\""));
    CHECK(bad(URL("/media/.hidden"), "\"media.url\""));
    CHECK(bad(URL("/media/%2e%2e/x"), "\"media.url\""));
    CHECK(bad(URL("/media/%2E%2E%2Fx"), "\"media.url\""));
    CHECK(bad(URL("/media/a%2fb"), "\"media.url\""));
    CHECK(bad(URL("/media/a%00"), "\"media.url\""));
    CHECK(bad(URL("/media/..%5cx"), "\"media.url\""));
    CHECK(bad(URL("/media/a\\\\..\\\\x"), "\"media.url\""));
    CHECK(bad(URL("/media/a\\\\b"), "\"media.url\""));

    /* empty segments, and the prefix alone */
    CHECK(bad(URL("/media/"), "\"media.url\""));
    CHECK(bad(URL("/media//x"), "\"media.url\""));
    CHECK(bad(URL("/media/a//b"), "\"media.url\""));
    CHECK(bad(URL("/media/a/"), "\"media.url\""));
    CHECK(bad(URL("//media/a"), "\"media.url\""));
    CHECK(bad(URL("/MEDIA/a"), "\"media.url\""));

    /* characters outside the set */
    CHECK(bad(URL("/media/a:b"), "\"media.url\""));
    CHECK(bad(URL("/media/a;b"), "\"media.url\""));
    CHECK(bad(URL("/media/a+b"), "\"media.url\""));
    CHECK(bad(URL("/media/a#frag"), "\"media.url\""));
    CHECK(bad(URL("/media/caf\\u00e9"), "\"media.url\""));

    /* the query: name=value pairs only */
    CHECK(bad(URL("/media/a?"), "\"media.url\""));
    CHECK(bad(URL("/media/a?e"), "\"media.url\""));
    CHECK(bad(URL("/media/a?e="), "\"media.url\""));
    CHECK(bad(URL("/media/a?=1"), "\"media.url\""));
    CHECK(bad(URL("/media/a?e=1&"), "\"media.url\""));
    CHECK(bad(URL("/media/a?e=1&&s=2"), "\"media.url\""));
    CHECK(bad(URL("/media/a?e=1?s=2"), "\"media.url\""));
    CHECK(bad(URL("/media/a?e=1/../x"), "\"media.url\""));
    CHECK(bad(URL("/media/a?e=%2e"), "\"media.url\""));
    CHECK(bad(URL("/media/a?E=1"), "\"media.url\""));
    CHECK(bad(URL("/media/a?e=1.5"), "\"media.url\""));
    CHECK(bad(URL("/media/?e=1"), "\"media.url\""));
}


#define MIME(m)  MEDIA("{'url':'/media/a','size':1,'mime':" m "}")

TEST(send_mime)
{
    char  *f;

    CHECK(ok(MIME("'application/vnd.api+json'")));
    CHECK(ok(MIME("'a/b'")));
    CHECK(ok(MIME("'x-A!#$&^_.+-/y-Z!#$&^_.+-'")));

    CHECK(bad(MIME("'ab'"), "\"media.mime\""));
    CHECK(bad(MIME("'image'"), "\"media.mime\""));
    CHECK(bad(MIME("'image/'"), "\"media.mime\""));
    CHECK(bad(MIME("'/png'"), "\"media.mime\""));
    CHECK(bad(MIME("'image/png/x'"), "\"media.mime\""));
    CHECK(bad(MIME("'image//png'"), "\"media.mime\""));
    CHECK(bad(MIME("'im age/png'"), "\"media.mime\""));
    CHECK(bad(MIME("'image/png;q=1'"), "\"media.mime\""));
    CHECK(bad(MIME("'image/p\\u0000g'"), "\"media.mime\""));
    CHECK(bad(MIME("7"), "\"media.mime\""));
    CHECK(bad(MEDIA("{'url':'/media/a','size':1}"), "\"media.mime\""));

    f = repeat_frame(MEDIA_HEAD "{'url':'/media/a','size':1,'mime':'a/",
                     'm', 127 - 2, "'}}");
    CHECK(ok(f));
    free(f);

    f = repeat_frame(MEDIA_HEAD "{'url':'/media/a','size':1,'mime':'a/",
                     'm', 128 - 2, "'}}");
    CHECK(bad(f, "\"media.mime\""));
    free(f);
}


#define SIZE(m)  MEDIA("{'url':'/media/a','mime':'a/b','size':" m "}")

TEST(send_size)
{
    CHECK(ok(SIZE("0")));
    CHECK_EQ(req.media.size, 0);
    CHECK(ok(SIZE("9007199254740993")));
    CHECK_EQ(req.media.size, 9007199254740993LL);

    CHECK(bad(SIZE("-1"), "\"media.size\""));
    CHECK(bad(SIZE("1.0"), "\"media.size\""));
    CHECK(bad(SIZE("1e3"), "\"media.size\""));
    CHECK(bad(SIZE("'1'"), "\"media.size\""));
    CHECK(bad(SIZE("null"), "\"media.size\""));
    CHECK(bad(MEDIA("{'url':'/media/a','mime':'a/b'}"), "\"media.size\""));
    CHECK(bad(SIZE("99999999999999999999"), "malformed"));
}


TEST(receipt)
{
    CHECK(ok("{'type':'receipt','conv':'dm:alice:bob','status':'delivered',"
             "'seq':57}"));
    CHECK_EQ(req.type, CHAT_REQ_RECEIPT);
    CHECK_STR(req.conv.s, req.conv.len, "dm:alice:bob");
    CHECK_EQ(req.conv_parsed.kind, CHAT_CONV_DM);
    CHECK_STR(req.conv_parsed.b.s, req.conv_parsed.b.len, "bob");
    CHECK_EQ(req.status, CHAT_RECEIPT_DELIVERED);
    CHECK_EQ(req.seq, 57);

    CHECK(ok("{'type':'receipt','conv':'dm:Zed:alice','status':'read',"
             "'seq':1}"));
    CHECK_EQ(req.status, CHAT_RECEIPT_READ);
    CHECK_EQ(req.seq, 1);

    /* group membership is the backend's to check */
    CHECK(ok("{'type':'receipt','conv':'grp:team','status':'read','seq':2}"));
    CHECK_EQ(req.conv_parsed.kind, CHAT_CONV_GROUP);
}


#define RECEIPT(rest)  "{'type':'receipt'," rest "}"

TEST(receipt_bad)
{
    CHECK(bad(RECEIPT("'status':'read','seq':1"), "\"conv\""));
    CHECK(bad(RECEIPT("'conv':'dm:bob:alice','status':'read','seq':1"),
              "\"conv\""));
    CHECK(bad(RECEIPT("'conv':'team','status':'read','seq':1"), "\"conv\""));
    CHECK(bad(RECEIPT("'conv':3,'status':'read','seq':1"), "\"conv\""));

    CHECK(bad(RECEIPT("'conv':'grp:t','seq':1"), "\"status\""));
    CHECK(bad(RECEIPT("'conv':'grp:t','status':'seen','seq':1"),
              "\"status\""));
    CHECK(bad(RECEIPT("'conv':'grp:t','status':'READ','seq':1"),
              "\"status\""));
    CHECK(bad(RECEIPT("'conv':'grp:t','status':1,'seq':1"), "\"status\""));

    CHECK(bad(RECEIPT("'conv':'grp:t','status':'read'"), "\"seq\""));
    CHECK(bad(RECEIPT("'conv':'grp:t','status':'read','seq':0"), "\"seq\""));
    CHECK(bad(RECEIPT("'conv':'grp:t','status':'read','seq':-5"), "\"seq\""));
    CHECK(bad(RECEIPT("'conv':'grp:t','status':'read','seq':1.0"),
              "\"seq\""));
    CHECK(bad(RECEIPT("'conv':'grp:t','status':'read','seq':'5'"),
              "\"seq\""));
    CHECK(bad(RECEIPT("'conv':'grp:t','status':'read','seq':true"),
              "\"seq\""));
}


TEST(receipt_forbidden)
{
    CHECK(fails(RECEIPT("'conv':'dm:bob:carol','status':'read','seq':1"),
                "forbidden", NULL));
    CHECK(fails(RECEIPT("'conv':'dm:alic:bob','status':'read','seq':1"),
                "forbidden", NULL));

    /* a malformed field is a bad request even in a foreign conversation */
    CHECK(bad(RECEIPT("'conv':'dm:bob:carol','status':'read','seq':0"),
              "\"seq\""));
}


#define TYPING(rest)  "{'type':'typing'," rest "}"

TEST(typing)
{
    CHECK(ok(TYPING("'to':'bob','state':'start'")));
    CHECK_EQ(req.type, CHAT_REQ_TYPING);
    CHECK_STR(req.to.s, req.to.len, "bob");
    CHECK_EQ(req.typing, CHAT_TYPING_START);

    CHECK(ok(TYPING("'group':'team','state':'stop'")));
    CHECK_STR(req.group.s, req.group.len, "team");
    CHECK_EQ(req.typing, CHAT_TYPING_STOP);

    CHECK(bad(TYPING("'state':'start'"), "exactly one"));
    CHECK(bad(TYPING("'to':'bob','group':'g','state':'start'"),
              "exactly one"));
    CHECK(bad(TYPING("'to':'alice','state':'start'"), "yourself"));
    CHECK(bad(TYPING("'to':'a:b','state':'start'"), "\"to\""));
    CHECK(bad(TYPING("'group':'','state':'start'"), "\"group\""));
    CHECK(bad(TYPING("'to':'bob'"), "\"state\""));
    CHECK(bad(TYPING("'to':'bob','state':'typing'"), "\"state\""));
    CHECK(bad(TYPING("'to':'bob','state':true"), "\"state\""));
}


TEST(presence)
{
    CHECK(ok("{'type':'presence_sub','users':['bob','carol']}"));
    CHECK_EQ(req.type, CHAT_REQ_PRESENCE_SUB);
    CHECK_EQ(req.nusers, 2);
    CHECK(json_is_array(req.users));
    CHECK(req.users == json_object_get(req.root, "users"));

    CHECK(ok("{'type':'presence_unsub','users':['carol']}"));
    CHECK_EQ(req.type, CHAT_REQ_PRESENCE_UNSUB);
    CHECK_EQ(req.nusers, 1);

    CHECK(bad("{'type':'presence_sub'}", "\"users\""));
    CHECK(bad("{'type':'presence_sub','users':[]}", "\"users\""));
    CHECK(bad("{'type':'presence_sub','users':'bob'}", "\"users\""));
    CHECK(bad("{'type':'presence_sub','users':{'bob':1}}", "\"users\""));
    CHECK(bad("{'type':'presence_sub','users':['bob',1]}", "\"users\""));
    CHECK(bad("{'type':'presence_sub','users':['bob',null]}", "\"users\""));
    CHECK(bad("{'type':'presence_sub','users':['bob','c c']}", "\"users\""));
    CHECK(bad("{'type':'presence_unsub','users':['']}", "\"users\""));
}


TEST(presence_cap)
{
    char  *f;

    f = list_frame("presence_sub", "users", 500);
    CHECK(ok(f));
    CHECK_EQ(req.nusers, 500);
    free(f);

    f = list_frame("presence_unsub", "users", 501);
    CHECK(bad(f, "at most 500"));
    free(f);
}


TEST(group_create)
{
    CHECK(ok("{'type':'group_create','id':'r1','group':'team','name':'Team',"
             "'members':['bob','carol']}"));
    CHECK_EQ(req.type, CHAT_REQ_GROUP_CREATE);
    CHECK_STR(req.group.s, req.group.len, "team");
    CHECK_STR(req.name.s, req.name.len, "Team");
    CHECK_EQ(req.nusers, 2);

    CHECK(ok("{'type':'group_create','group':'team','members':[]}"));
    CHECK_EQ(req.name.len, 0);
    CHECK_EQ(req.nusers, 0);
    CHECK(req.users != NULL);

    CHECK(bad("{'type':'group_create','group':'team'}", "\"members\""));
    CHECK(bad("{'type':'group_create','group':'team','members':['a b']}",
              "\"members\""));
    CHECK(bad("{'type':'group_create','members':[]}", "\"group\""));
    CHECK(bad("{'type':'group_create','group':'t m','members':[]}",
              "\"group\""));
    CHECK(bad("{'type':'group_create','group':'t','name':'','members':[]}",
              "\"name\""));
    CHECK(bad("{'type':'group_create','group':'t','name':1,'members':[]}",
              "\"name\""));
}


TEST(group_limits)
{
    char  *f;

    f = repeat_frame("{'type':'group_create','group':'t','members':[],"
                     "'name':'", 'n', 128, "'}");
    CHECK(ok(f));
    CHECK_EQ(req.name.len, 128);
    free(f);

    f = repeat_frame("{'type':'group_create','group':'t','members':[],"
                     "'name':'", 'n', 129, "'}");
    CHECK(bad(f, "\"name\""));
    free(f);

    f = list_frame("group_create", "members", 1024);
    CHECK(ok(f));
    CHECK_EQ(req.nusers, 1024);
    free(f);

    f = list_frame("group_add", "members", 1025);
    CHECK(bad(f, "at most 1024"));
    free(f);
}


TEST(group_change)
{
    CHECK(ok("{'type':'group_add','id':'r2','group':'team',"
             "'members':['dave']}"));
    CHECK_EQ(req.type, CHAT_REQ_GROUP_ADD);
    CHECK_EQ(req.nusers, 1);

    CHECK(ok("{'type':'group_remove','id':'r3','group':'team',"
             "'members':['carol','alice']}"));
    CHECK_EQ(req.type, CHAT_REQ_GROUP_REMOVE);
    CHECK_EQ(req.nusers, 2);

    CHECK(bad("{'type':'group_add','group':'team','members':[]}",
              "\"members\""));
    CHECK(bad("{'type':'group_remove','group':'team'}", "\"members\""));
    CHECK(bad("{'type':'group_add','members':['dave']}", "\"group\""));
    CHECK(bad("{'type':'group_remove','group':'team','members':[['x']]}",
              "\"members\""));

    CHECK(ok("{'type':'group_leave','id':'r4','group':'team'}"));
    CHECK_EQ(req.type, CHAT_REQ_GROUP_LEAVE);
    CHECK_STR(req.group.s, req.group.len, "team");
    CHECK(bad("{'type':'group_leave'}", "\"group\""));
    CHECK(bad("{'type':'group_leave','group':7}", "\"group\""));
}


TEST(history)
{
    CHECK(ok("{'type':'history','id':'h1','conv':'dm:alice:bob',"
             "'before_seq':120,'limit':50}"));
    CHECK_EQ(req.type, CHAT_REQ_HISTORY);
    CHECK_STR(req.conv.s, req.conv.len, "dm:alice:bob");
    CHECK_EQ(req.before_seq, 120);
    CHECK_EQ(req.limit, 50);

    CHECK(ok("{'type':'history','conv':'grp:team'}"));
    CHECK_EQ(req.before_seq, 0);
    CHECK_EQ(req.limit, CHAT_PROTO_DEFAULT_HISTORY);

    CHECK(ok("{'type':'history','conv':'grp:team','limit':1}"));
    CHECK_EQ(req.limit, 1);
    CHECK(ok("{'type':'history','conv':'grp:team','limit':100}"));
    CHECK_EQ(req.limit, 100);
    CHECK(ok("{'type':'history','conv':'grp:team','limit':101}"));
    CHECK_EQ(req.limit, CHAT_PROTO_MAX_HISTORY);
    CHECK(ok("{'type':'history','conv':'grp:team',"
             "'limit':9223372036854775807}"));
    CHECK_EQ(req.limit, CHAT_PROTO_MAX_HISTORY);
}


TEST(history_bad)
{
    CHECK(bad("{'type':'history'}", "\"conv\""));
    CHECK(bad("{'type':'history','conv':'grp:'}", "\"conv\""));
    CHECK(bad("{'type':'history','conv':'grp:t','limit':0}", "\"limit\""));
    CHECK(bad("{'type':'history','conv':'grp:t','limit':-1}", "\"limit\""));
    CHECK(bad("{'type':'history','conv':'grp:t','limit':1.5}", "\"limit\""));
    CHECK(bad("{'type':'history','conv':'grp:t','limit':'10'}", "\"limit\""));
    CHECK(bad("{'type':'history','conv':'grp:t','before_seq':0}",
              "\"before_seq\""));
    CHECK(bad("{'type':'history','conv':'grp:t','before_seq':2.0}",
              "\"before_seq\""));
    CHECK(bad("{'type':'history','conv':'grp:t','before_seq':null}",
              "\"before_seq\""));

    CHECK(fails("{'type':'history','conv':'dm:bob:carol'}", "forbidden",
                NULL));
}


TEST(free_twice)
{
    chat_req_t  r;

    memset(&r, 0, sizeof(r));
    chat_req_free(&r);
    chat_req_free(&r);

    CHECK_EQ(chat_proto_decode("{\"type\":\"ping\"}", 15, S("alice"), &r,
                               &err), 0);
    CHECK(r.root != NULL);
    chat_req_free(&r);
    CHECK(r.root == NULL);
    chat_req_free(&r);
}


TEST(type_names)
{
    CHECK(strcmp(chat_req_type_name(CHAT_REQ_PING), "ping") == 0);
    CHECK(strcmp(chat_req_type_name(CHAT_REQ_PRESENCE_UNSUB),
                 "presence_unsub") == 0);
    CHECK(strcmp(chat_req_type_name(CHAT_REQ_HISTORY), "history") == 0);
    CHECK(strcmp(chat_req_type_name((chat_req_type_e) 0), "unknown") == 0);
}


int
main(void)
{
    RUN(ping);
    RUN(malformed);
    RUN(type_field);
    RUN(duplicate_keys);
    RUN(id_echo);
    RUN(id_invalid);
    RUN(depth);
    RUN(auth);
    RUN(send_dm);
    RUN(send_group_media);
    RUN(send_target);
    RUN(send_self);
    RUN(send_body);
    RUN(send_media);
    RUN(send_media_url_shape);
    RUN(send_mime);
    RUN(send_size);
    RUN(receipt);
    RUN(receipt_bad);
    RUN(receipt_forbidden);
    RUN(typing);
    RUN(presence);
    RUN(presence_cap);
    RUN(group_create);
    RUN(group_limits);
    RUN(group_change);
    RUN(history);
    RUN(history_bad);
    RUN(free_twice);
    RUN(type_names);

    chat_req_free(&req);

    return test_summary("proto");
}
