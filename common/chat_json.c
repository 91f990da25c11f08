/* Small accessors for JSON objects (see chat_json.h). */

#include "chat_json.h"


int
chat_json_string(json_t *obj, const char *key, chat_str_t *out)
{
    json_t  *v;

    v = json_object_get(obj, key);

    if (v == NULL) {
        return 0;
    }

    if (!json_is_string(v)) {
        return -1;
    }

    out->s = json_string_value(v);
    out->len = json_string_length(v);

    return 1;
}


json_t *
chat_json_str(chat_str_t s)
{
    return json_stringn(s.s ? s.s : "", s.len);
}


int
chat_json_put(json_t *obj, const char *key, json_t *value)
{
    /* json_object_set_new() releases the value even when it fails */
    return value == NULL ? -1 : json_object_set_new(obj, key, value);
}
