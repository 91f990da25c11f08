/*
 * The configuration of the project's programs (chat-api; chat-worker's is
 * of the same form): command line flags and a file of "key value" lines
 * named like the module's directives, both read through one table that
 * names each setting twice, as a flag and as a key.
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
    CHAT_CONF_LOGLEVEL          /* an int64_t, chat_log_level_e */
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
 * d), bare digits meaning bytes and seconds */
extern const chat_conf_unit_t  chat_conf_bytes[];
extern const chat_conf_unit_t  chat_conf_seconds[];


/*
 * Sets the fields of conf that items name, from the file of --config and
 * the other flags of argv (items ends with an item of flag NULL). Returns
 * 0; 1 when --help or -h was asked, 2 when --version was (nothing read);
 * -1 with a reason in err, which names the flag or the file and line.
 */
int chat_conf_parse(const chat_conf_item_t *items, void *conf, int argc,
    char *const argv[], char *err, size_t errlen);

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

#endif /* CHAT_CONF_H */
