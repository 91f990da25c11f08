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

/* a URL of the form POST /api/media answers (its signature is the
 * module's to check, not the decoder's) */
#define MID_ID  "0123456789abcdef0123456789abcdef"
#define SIG     "rYuoxvgYzBNazIhQ0UHsubo9OKj7K14cUg6_WbbNU64"
#define MURL    "/media/" MID_ID "?e=1795318602&s=" SIG


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
             "'media':{'url':'" MURL "','mime':'image/png',"
             "'size':48213}}"));
    CHECK_STR(req.group.s, req.group.len, "team");
    CHECK_EQ(req.to.len, 0);
    CHECK_EQ(req.has_media, 1);
    CHECK_STR(req.media.url.s, req.media.url.len, MURL);

    /* what the client says of the type and size is not read */
    CHECK_EQ(req.media.mime.len, 0);
    CHECK_EQ(req.media.size, 0);
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
             "'media':{'url':'" MURL "','mime':'a/b','size':0}}"));
    CHECK_EQ(req.body.len, 0);
    CHECK(ok("{'type':'send','id':'c','to':'bob',"
             "'media':{'url':'" MURL "'}}"));
    CHECK_EQ(req.body.len, 0);
    CHECK(req.body.s != NULL);
    CHECK_EQ(req.has_media, 1);
}


#define MEDIA_HEAD  "{'type':'send','id':'c','to':'bob','body':'x','media':"
#define MEDIA(m)    MEDIA_HEAD m "}"

#define MEDIA_BAD   "media.url must be a URL that POST /api/media returned"

TEST(send_media)
{
    CHECK(bad(MEDIA("null"), "\"media\""));
    CHECK(bad(MEDIA("'" MURL "'"), "\"media\""));
    CHECK(bad(MEDIA("[]"), "\"media\""));

    /* only the url is required */
    CHECK(ok(MEDIA("{'url':'" MURL "'}")));
    CHECK_EQ(req.has_media, 1);
    CHECK_STR(req.media.url.s, req.media.url.len, MURL);

    CHECK(bad(MEDIA("{}"), MEDIA_BAD));
    CHECK(bad(MEDIA("{'mime':'a/b','size':1}"), MEDIA_BAD));
    CHECK(bad(MEDIA("{'url':1}"), MEDIA_BAD));
    CHECK(bad(MEDIA("{'url':null}"), MEDIA_BAD));
    CHECK(bad(MEDIA("{'url':['" MURL "']}"), MEDIA_BAD));
}


#define URL(u)  MEDIA("{'url':'" u "','mime':'a/b','size':1}")

/* Only a URL of the form POST /api/media answers, exactly: an unsigned
 * one (accepted before media were signed) is refused now, and nothing a
 * path resolver could take outside the media root gets through. */
TEST(send_media_url_shape)
{
    CHECK(ok(URL(MURL)));
    CHECK(ok(URL("/media/" MID_ID "?s=" SIG "&e=1795318602")));
    CHECK(ok(URL("/media/" MID_ID "?e=0&s=" SIG)));

    /* unsigned, or not an upload's id */
    CHECK(bad(URL("/media/a"), MEDIA_BAD));
    CHECK(bad(URL("/media/x/y.png"), MEDIA_BAD));
    CHECK(bad(URL("/media/" MID_ID), MEDIA_BAD));
    CHECK(bad(URL("/media/" MID_ID "?e=1795318602"), MEDIA_BAD));
    CHECK(bad(URL("/media/" MID_ID "?s=" SIG), MEDIA_BAD));
    CHECK(bad(URL("/media/id?e=1&s=" SIG), MEDIA_BAD));
    CHECK(bad(URL("/media/0123456789ABCDEF0123456789abcdef?e=1&s=" SIG),
              MEDIA_BAD));

    /* elsewhere */
    CHECK(bad(URL("http://x" MURL), MEDIA_BAD));
    CHECK(bad(URL("/" MURL), MEDIA_BAD));
    CHECK(bad(URL("/MEDIA/" MID_ID "?e=1&s=" SIG), MEDIA_BAD));
    CHECK(bad(URL("/media/../" MID_ID "?e=1&s=" SIG), MEDIA_BAD));
    CHECK(bad(URL("/media/%2e%2e/" MID_ID "?e=1&s=" SIG), MEDIA_BAD));

    /* anything more, or less, in the query */
    CHECK(bad(URL(MURL "&x=1"), MEDIA_BAD));
    CHECK(bad(URL(MURL "#f"), MEDIA_BAD));
    CHECK(bad(URL(MURL "&"), MEDIA_BAD));
    CHECK(bad(URL("/media/" MID_ID "?e=1&e=2&s=" SIG), MEDIA_BAD));
    CHECK(bad(URL("/media/" MID_ID "?e=-1&s=" SIG), MEDIA_BAD));
    CHECK(bad(URL("/media/" MID_ID "?e=1.5&s=" SIG), MEDIA_BAD));
    CHECK(bad(URL("/media/" MID_ID "?e=%31&s=" SIG), MEDIA_BAD));
    CHECK(bad(URL("/media/" MID_ID "?e=9223372036854775808&s=" SIG),
              MEDIA_BAD));
    CHECK(bad(URL(MURL "A"), MEDIA_BAD));
    CHECK(bad(URL("/media/" MID_ID "?e=1&s=" SIG "\\u0000"), MEDIA_BAD));
    CHECK(bad(URL("/media/" MID_ID "?e=1&s=rYuoxvgYzBNazIhQ0UHsubo9OKj7"
                  "K14cUg6/WbbNU64"), MEDIA_BAD));
}


/* mime and size are the server's, recorded at upload: a client's, even
 * a bad one, is not read */
TEST(send_media_claims_ignored)
{
    CHECK(ok(MEDIA("{'url':'" MURL "','mime':'not a type','size':-1}")));
    CHECK_EQ(req.media.mime.len, 0);
    CHECK_EQ(req.media.size, 0);
    CHECK(ok(MEDIA("{'url':'" MURL "','mime':7,'size':'big'}")));
    CHECK(ok(MEDIA("{'url':'" MURL "','mime':'image/png','size':48213}")));
    CHECK_EQ(req.media.size, 0);
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


#define CONV_SET(rest)  "{'type':'conv_set','id':'s1'," rest "}"

TEST(conv_set)
{
    CHECK(ok(CONV_SET("'conv':'dm:alice:bob','ttl':86400")));
    CHECK_EQ(req.type, CHAT_REQ_CONV_SET);
    CHECK_STR(req.id.s, req.id.len, "s1");
    CHECK_STR(req.conv.s, req.conv.len, "dm:alice:bob");
    CHECK_EQ(req.conv_parsed.kind, CHAT_CONV_DM);
    CHECK_EQ(req.ttl, 86400);

    CHECK(ok(CONV_SET("'conv':'grp:team','ttl':0")));
    CHECK_EQ(req.conv_parsed.kind, CHAT_CONV_GROUP);
    CHECK_EQ(req.ttl, 0);

    CHECK(ok(CONV_SET("'conv':'grp:team','ttl':7776000")));
    CHECK_EQ(req.ttl, CHAT_PROTO_MAX_TTL);

    /* no id is fine, as for any request */
    CHECK(ok("{'type':'conv_set','conv':'grp:team','ttl':1}"));
    CHECK_EQ(req.id.len, 0);
    CHECK_EQ(req.ttl, 1);
}


/* a bad ttl still decodes: who may set it is checked first */
TEST(conv_set_bad_ttl)
{
    static const char  *ttls[] = {
        "'ttl':-1", "'ttl':7776001", "'ttl':1.5", "'ttl':86400.0",
        "'ttl':'60'", "'ttl':null", "'ttl':true", "'ttl':[1]",
        "'ttl':9223372036854775807", "'ttl':-9223372036854775808",
        "'x':1", NULL
    };
    const char   **t;
    char           frame[128];

    for (t = ttls; *t != NULL; t++) {
        snprintf(frame, sizeof(frame), CONV_SET("'conv':'grp:team',%s"), *t);
        CHECK(ok(frame));
        CHECK_EQ(req.ttl, CHAT_PROTO_TTL_BAD);

        snprintf(frame, sizeof(frame), CONV_SET("'conv':'dm:alice:bob',%s"),
                 *t);
        CHECK(ok(frame));
        CHECK_EQ(req.ttl, CHAT_PROTO_TTL_BAD);

        /* a DM of others is forbidden whatever its ttl */
        snprintf(frame, sizeof(frame), CONV_SET("'conv':'dm:bob:carol',%s"),
                 *t);
        CHECK(fails(frame, "forbidden", NULL));
    }
}


TEST(conv_set_bad_conv)
{
    CHECK(bad(CONV_SET("'ttl':60"), "\"conv\""));
    CHECK(bad(CONV_SET("'conv':'grp:','ttl':60"), "\"conv\""));
    CHECK(bad(CONV_SET("'conv':'dm:bob:alice','ttl':60"), "\"conv\""));
    CHECK(bad(CONV_SET("'conv':'dm:alice:alice','ttl':60"), "\"conv\""));
    CHECK(bad(CONV_SET("'conv':'team','ttl':60"), "\"conv\""));
    CHECK(bad(CONV_SET("'conv':7,'ttl':60"), "\"conv\""));
    CHECK(bad(CONV_SET("'conv':'grp:team','ttl':60,'ttl':61"), "JSON"));

    CHECK(fails(CONV_SET("'conv':'dm:bob:carol','ttl':60"), "forbidden",
                NULL));
    CHECK_STR(req.id.s, req.id.len, "s1");
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
    CHECK(strcmp(chat_req_type_name(CHAT_REQ_CONV_SET), "conv_set") == 0);
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
    RUN(send_media_claims_ignored);
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
    RUN(conv_set);
    RUN(conv_set_bad_ttl);
    RUN(conv_set_bad_conv);
    RUN(free_twice);
    RUN(type_names);

    chat_req_free(&req);

    return test_summary("proto");
}
