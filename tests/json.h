/* json.h - a strict JSON parser (RFC 8259) for the tests, header-only: json_parse accepts
 * exactly one object (trailing whitespace allowed) and shows every value it meets to an
 * optional hook, which can read the value (json_decode for strings) or reject the document.
 *
 * Strictness that the tests rely on: no raw control bytes in strings, only the RFC escapes,
 * no surrogate \u escapes (the exporters never write them), no leading zeros, digits after
 * '.' and after an exponent, no trailing commas, nothing after the object. */
#ifndef EPSCOPE_TESTS_JSON_H
#define EPSCOPE_TESTS_JSON_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum json_kind { JSON_OBJECT, JSON_ARRAY, JSON_STRING, JSON_NUMBER, JSON_TRUE, JSON_FALSE,
                 JSON_NULL };

/* One value as the hook sees it. Objects and arrays are shown when they open (before their
 * contents), scalars once they have parsed. */
struct json_value {
    enum json_kind kind;
    int depth;        /* objects and arrays around it: 0 for the top object, 1 for its members */
    const char *key;  /* the member's decoded key (first 63 bytes); NULL in arrays and on top */
    const char *text; /* where the value starts in the input (a string's opening quote) */
    double num;       /* JSON_NUMBER: its value */
};

/* Returns 0 to reject the document. */
typedef int (*json_hook)(void *ctx, const struct json_value *v);

struct json__p {
    const char *p;
    int depth;
    json_hook hook;
    void *ctx;
};

static void json__ws(struct json__p *j)
{
    while (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r')
        j->p++;
}

static int json__hex(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                          : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Parse the string at *pp and move past it: its first cap decoded bytes into out (when not
 * NULL; \u00XX is one byte), their full count into *len (when not NULL). 1 when valid. */
static int json__string(const char **pp, uint8_t *out, size_t cap, size_t *len)
{
    const char *p = *pp;
    size_t n = 0;
    if (*p++ != '"')
        return 0;
    for (;;) {
        unsigned char c = (unsigned char)*p++;
        unsigned v;
        if (c == '"')
            break;
        if (c < 0x20)
            return 0; /* raw control bytes are not allowed (this also stops at the end) */
        if (c == '\\') {
            c = (unsigned char)*p++;
            switch (c) {
            case '"': case '\\': case '/': v = c; break;
            case 'b': v = '\b'; break;
            case 'f': v = '\f'; break;
            case 'n': v = '\n'; break;
            case 'r': v = '\r'; break;
            case 't': v = '\t'; break;
            case 'u':
                v = 0;
                for (int k = 0; k < 4; k++) {
                    int h = json__hex(*p++);
                    if (h < 0)
                        return 0;
                    v = v * 16 + (unsigned)h;
                }
                if (v >= 0xd800 && v < 0xe000)
                    return 0;
                break;
            default: return 0;
            }
        } else {
            v = c;
        }
        if (out && n < cap)
            out[n] = (uint8_t)v;
        n++;
    }
    if (len)
        *len = n;
    *pp = p;
    return 1;
}

static int json__number(struct json__p *j, double *out)
{
    const char *s = j->p;
    if (*j->p == '-')
        j->p++;
    if (*j->p == '0')
        j->p++;
    else if (*j->p >= '1' && *j->p <= '9')
        while (*j->p >= '0' && *j->p <= '9')
            j->p++;
    else
        return 0;
    if (*j->p == '.') {
        j->p++;
        if (!(*j->p >= '0' && *j->p <= '9'))
            return 0;
        while (*j->p >= '0' && *j->p <= '9')
            j->p++;
    }
    if (*j->p == 'e' || *j->p == 'E') {
        j->p++;
        if (*j->p == '+' || *j->p == '-')
            j->p++;
        if (!(*j->p >= '0' && *j->p <= '9'))
            return 0;
        while (*j->p >= '0' && *j->p <= '9')
            j->p++;
    }
    *out = strtod(s, NULL);
    return 1;
}

static int json__value(struct json__p *j, const char *key);

static int json__object(struct json__p *j)
{
    j->p++;
    j->depth++;
    json__ws(j);
    if (*j->p == '}') {
        j->p++;
        j->depth--;
        return 1;
    }
    for (;;) {
        uint8_t key[64];
        size_t klen;
        json__ws(j);
        if (!json__string(&j->p, key, sizeof(key) - 1, &klen))
            return 0;
        key[klen < sizeof(key) - 1 ? klen : sizeof(key) - 1] = 0;
        json__ws(j);
        if (*j->p++ != ':')
            return 0;
        if (!json__value(j, (const char *)key))
            return 0;
        json__ws(j);
        if (*j->p == ',') {
            j->p++;
            continue;
        }
        j->depth--;
        return *j->p++ == '}';
    }
}

static int json__array(struct json__p *j)
{
    j->p++;
    j->depth++;
    json__ws(j);
    if (*j->p == ']') {
        j->p++;
        j->depth--;
        return 1;
    }
    for (;;) {
        if (!json__value(j, NULL))
            return 0;
        json__ws(j);
        if (*j->p == ',') {
            j->p++;
            continue;
        }
        j->depth--;
        return *j->p++ == ']';
    }
}

/* Show v to the hook, if any. */
static int json__show(struct json__p *j, const struct json_value *v)
{
    return !j->hook || j->hook(j->ctx, v);
}

static int json__literal(struct json__p *j, const char *word)
{
    size_t n = strlen(word);
    if (strncmp(j->p, word, n))
        return 0;
    j->p += n;
    return 1;
}

static int json__value(struct json__p *j, const char *key)
{
    json__ws(j);
    struct json_value v = {.depth = j->depth, .key = key, .text = j->p};
    int ok;
    switch (*j->p) {
    case '{': v.kind = JSON_OBJECT; return json__show(j, &v) && json__object(j);
    case '[': v.kind = JSON_ARRAY; return json__show(j, &v) && json__array(j);
    case '"': v.kind = JSON_STRING, ok = json__string(&j->p, NULL, 0, NULL); break;
    case 't': v.kind = JSON_TRUE, ok = json__literal(j, "true"); break;
    case 'f': v.kind = JSON_FALSE, ok = json__literal(j, "false"); break;
    case 'n': v.kind = JSON_NULL, ok = json__literal(j, "null"); break;
    default: v.kind = JSON_NUMBER, ok = json__number(j, &v.num); break;
    }
    return ok && json__show(j, &v);
}

/* 1 when s is exactly one valid JSON object, trailing whitespace allowed; hook (may be NULL)
 * sees every value in document order and rejects the document by returning 0. */
static int json_parse(const char *s, json_hook hook, void *ctx)
{
    struct json__p j = {.p = s, .hook = hook, .ctx = ctx};
    if (*s != '{' || !json__value(&j, NULL))
        return 0;
    json__ws(&j);
    return *j.p == 0;
}

/* The decoded bytes of a JSON_STRING value seen by a hook: the first cap into out, returns
 * how many there are in all (more than cap when truncated). */
static size_t json_decode(const struct json_value *v, void *out, size_t cap)
{
    const char *p = v->text;
    size_t n = 0;
    return json__string(&p, out, cap, &n) ? n : 0;
}

#endif
