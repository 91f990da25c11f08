/*
 * The configuration of the project's programs (chat-api, chat-worker):
 * command line flags and a file of "key value" lines named like the
 * module's directives, both read through one table that names each
 * setting twice, as a flag and as a key.
 *
 * A file line is "key value", optionally ending with ";" (so that a line
 * can be copied from nginx.conf); "#" starts a comment line. The file of
 * "--config FILE" is read first, then the other flags over it: flags win.
 * A flag is "--name value" or "--name=value".
 */

#ifndef CHAT_CONF_H
#define CHAT_CONF_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>


typedef enum {
    CHAT_CONF_STRING = 1,       /* a char *, a copy of the value */
    CHAT_CONF_NUMBER,           /* an int64_t: digits, one of the units */
    CHAT_CONF_LOGLEVEL,         /* an int64_t, chat_log_level_e */
    CHAT_CONF_SWITCH,           /* an int64_t, 1 or 0: "on" or "off"; the
                                   flag alone is "on" */
    CHAT_CONF_HANDLER           /* set by the handler of the parse */
} chat_conf_type_e;

/* A suffix of a number and what it multiplies by; "" for bare digits. */
typedef struct {
    const char  *suffix;
    int64_t      mult;
} chat_conf_unit_t;

typedef struct {
    const char              *flag;      /* "--name" */
    const char              *key;       /* in the file */
    chat_conf_type_e         type;
    size_t                   offset;    /* of the field in the conf */
    int64_t                  min;       /* a number's range */
    int64_t                  max;
    const chat_conf_unit_t  *units;     /* a number's; NULL: digits only */
    const char              *arg;       /* for the usage */
    const char              *help;
} chat_conf_item_t;

/* the units of a size in bytes (k, m) and of a time in seconds (s, m, h,
 * d), bare digits meaning bytes and seconds; of a time in milliseconds
 * (ms, s), bare digits meaning seconds as in nginx. A number out of its
 * item's range is "not a size", "not a time" or, digits only, "not a
 * number" in range. */
extern const chat_conf_unit_t  chat_conf_bytes[];
extern const chat_conf_unit_t  chat_conf_seconds[];
extern const chat_conf_unit_t  chat_conf_msec[];

/*
 * Sets an item of type CHAT_CONF_HANDLER (a setting the types above do
 * not hold, such as a repeatable "name=value") from its value: NULL when
 * taken, else what is wrong, which the error puts before the value.
 */
typedef const char *(*chat_conf_handler_pt)(void *conf,
    const chat_conf_item_t *item, const char *value);


/*
 * Sets the fields of conf that items name, from the file of --config and
 * the other flags of argv (items ends with an item of flag NULL). Returns
 * 0; 1 when --help or -h was asked, 2 when --version was (nothing read);
 * -1 with a reason in err, which names the flag or the file and line.
 */
int chat_conf_parse(const chat_conf_item_t *items, void *conf, int argc,
    char *const argv[], char *err, size_t errlen);

/* chat_conf_parse() of a table with items of type CHAT_CONF_HANDLER,
 * which handler sets. */
int chat_conf_parse_with(const chat_conf_item_t *items,
    chat_conf_handler_pt handler, void *conf, int argc, char *const argv[],
    char *err, size_t errlen);

/* Puts 'what "value"' in err and returns -1: for the checks a program
 * makes of its settings once they are read. */
int chat_conf_refuse(char *err, size_t errlen, const char *what,
    const char *value);

/* One line per item: its flag, its argument and its help. */
void chat_conf_usage(FILE *f, const chat_conf_item_t *items);

/*
 * Reads a credential from where spec names it (chat_secret_src.h: a file,
 * the environment, or inline) into a new string *out of *len bytes; name
 * is the setting's, for the errors. A file anyone may read is warned
 * about. 0, or -1 with a reason in err.
 */
int chat_conf_secret(const char *name, const char *spec, char **out,
    size_t *len, char *err, size_t errlen);

/*
 * Splits "host:port", "[v6]:port" or "host" (port dflt then) into a new
 * string *host and *port (0 to 65535). 0, or -1 when it is not of that
 * form (*host is then NULL).
 */
int chat_conf_hostport(const char *s, int dflt, char **host, int *port);

/*
 * chat_conf_hostport() that also refuses a port below lowest and says
 * why it refused in *why, a phrase that an error puts before the
 * setting's name: "bad" (not of the form), "bad port in", "no host in"
 * or "out of memory for".
 */
int chat_conf_hostport_why(const char *s, int dflt, int lowest, char **host,
    int *port, const char **why);

#endif /* CHAT_CONF_H */
