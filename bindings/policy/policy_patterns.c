/* string.find, match, gmatch and gsub for policies: Lua's pattern language,
 * with the same results and error messages as Lua's own functions, run by a
 * backtracking matcher that counts its steps. Lua's matcher can take time
 * polynomial in the subject's length to a power the pattern chooses (a-a-a-
 * ... on "aaaa...") without ever returning to the VM, so neither the
 * instruction budget nor the deadline could stop it; this one charges every
 * STEP_CHARGE steps to the call's limits (vmu_policy_charge), which ends the
 * call with the budget's or the deadline's error. Plain searches are
 * charged by the bytes they compare. */
#include <ctype.h>
#include <string.h>

#include "policy_internal.h"

#define MAX_CAPTURES 32 /* LUA_MAXCAPTURES */
#define MAX_DEPTH 200   /* nested match calls before "pattern too complex" */
#define STEP_CHARGE 4096
#define ESC '%'
#define SPECIALS "^$*+?.([%-"

#define CAP_UNFINISHED (-1)
#define CAP_POSITION (-2)

typedef struct capture {
    const char *init;
    ptrdiff_t len; /* or CAP_UNFINISHED, CAP_POSITION */
} capture;

typedef struct matcher {
    lua_State *L;
    const char *src_init, *src_end;
    const char *pat_end;
    int depth_left;
    int level;
    unsigned steps;
    capture cap[MAX_CAPTURES];
} matcher;

static void count_steps(matcher *m, unsigned n)
{
    m->steps += n;
    if (m->steps >= STEP_CHARGE) {
        vmu_policy_charge(m->L, m->steps);
        m->steps = 0;
    }
}

static void matcher_init(matcher *m, lua_State *L, const char *s, size_t ls, const char *p,
                         size_t lp)
{
    m->L = L;
    m->src_init = s;
    m->src_end = s + ls;
    m->pat_end = p + lp;
    m->steps = 0;
}

static void matcher_reset(matcher *m)
{
    m->level = 0;
    m->depth_left = MAX_DEPTH;
}

/* ---- single characters ---- */

static int in_class(int c, int cl)
{
    int yes;
    switch (tolower(cl)) {
    case 'a': yes = isalpha(c); break;
    case 'c': yes = iscntrl(c); break;
    case 'd': yes = isdigit(c); break;
    case 'g': yes = isgraph(c); break;
    case 'l': yes = islower(c); break;
    case 'p': yes = ispunct(c); break;
    case 's': yes = isspace(c); break;
    case 'u': yes = isupper(c); break;
    case 'w': yes = isalnum(c); break;
    case 'x': yes = isxdigit(c); break;
    case 'z': yes = c == 0; break; /* Lua keeps it, deprecated */
    default: return cl == c;
    }
    yes = yes != 0;
    return isupper(cl) ? !yes : yes;
}

/* The end of the single-character class that starts at p. */
static const char *class_end(matcher *m, const char *p)
{
    char c = *p++;
    if (c == ESC) {
        if (p == m->pat_end)
            luaL_error(m->L, "malformed pattern (ends with '%%')");
        return p + 1;
    }
    if (c == '[') {
        if (p < m->pat_end && *p == '^')
            p++;
        /* The first character is in the set even when it is ']'. */
        do {
            if (p >= m->pat_end)
                luaL_error(m->L, "malformed pattern (missing ']')");
            c = *p++;
            if (c == ESC && p < m->pat_end)
                p++;
        } while (p >= m->pat_end || *p != ']');
        return p + 1;
    }
    return p;
}

/* Whether c is in the set [first, last], last pointing at its ']'. */
static int in_set(int c, const char *first, const char *last)
{
    const char *p = first + 1;
    int negated = 0;
    if (*p == '^') {
        negated = 1;
        p++;
    }
    while (p < last) {
        if (*p == ESC) {
            p++;
            if (in_class(c, (unsigned char)*p))
                return !negated;
            p++;
        } else if (p + 2 < last && p[1] == '-') {
            if ((unsigned char)p[0] <= c && c <= (unsigned char)p[2])
                return !negated;
            p += 3;
        } else {
            if ((unsigned char)*p == c)
                return !negated;
            p++;
        }
    }
    return negated;
}

static int single_match(const matcher *m, const char *s, const char *p, const char *ep)
{
    if (s >= m->src_end)
        return 0;
    int c = (unsigned char)*s;
    switch (*p) {
    case '.': return 1;
    case ESC: return in_class(c, (unsigned char)p[1]);
    case '[': return in_set(c, p, ep - 1);
    default: return (unsigned char)*p == c;
    }
}

/* ---- the matcher ---- */

static const char *do_match(matcher *m, const char *s, const char *p);

static const char *balance(matcher *m, const char *s, const char *p)
{
    if (p + 1 >= m->pat_end)
        luaL_error(m->L, "malformed pattern (missing arguments to '%%b')");
    if (s >= m->src_end || *s != *p)
        return NULL;
    char open = p[0], close = p[1];
    int depth = 1;
    const char *start = s;
    while (++s < m->src_end) {
        if (*s == close) {
            if (--depth == 0) {
                count_steps(m, (unsigned)(s - start));
                return s + 1;
            }
        } else if (*s == open) {
            depth++;
        }
    }
    count_steps(m, (unsigned)(s - start));
    return NULL;
}

static const char *expand_greedy(matcher *m, const char *s, const char *p, const char *ep)
{
    ptrdiff_t n = 0;
    while (single_match(m, s + n, p, ep))
        n++;
    count_steps(m, (unsigned)(n / 16));
    for (; n >= 0; n--) {
        const char *res = do_match(m, s + n, ep + 1);
        if (res)
            return res;
    }
    return NULL;
}

static const char *expand_lazy(matcher *m, const char *s, const char *p, const char *ep)
{
    for (;;) {
        const char *res = do_match(m, s, ep + 1);
        if (res)
            return res;
        if (!single_match(m, s, p, ep))
            return NULL;
        s++;
    }
}

static const char *open_capture(matcher *m, const char *s, const char *p, ptrdiff_t what)
{
    if (m->level >= MAX_CAPTURES)
        luaL_error(m->L, "too many captures");
    m->cap[m->level].init = s;
    m->cap[m->level].len = what;
    m->level++;
    const char *res = do_match(m, s, p);
    if (!res)
        m->level--;
    return res;
}

static const char *close_capture(matcher *m, const char *s, const char *p)
{
    int l = m->level - 1;
    while (l >= 0 && m->cap[l].len != CAP_UNFINISHED)
        l--;
    if (l < 0)
        luaL_error(m->L, "invalid pattern capture");
    m->cap[l].len = s - m->cap[l].init;
    const char *res = do_match(m, s, p);
    if (!res)
        m->cap[l].len = CAP_UNFINISHED;
    return res;
}

static const char *back_reference(matcher *m, const char *s, int digit)
{
    int l = digit - '1';
    if (l < 0 || l >= m->level || m->cap[l].len == CAP_UNFINISHED)
        luaL_error(m->L, "invalid capture index %%%d", l + 1);
    ptrdiff_t len = m->cap[l].len;
    if (len < 0 || m->src_end - s < len)
        return NULL;
    count_steps(m, (unsigned)(len / 16));
    return memcmp(m->cap[l].init, s, (size_t)len) == 0 ? s + len : NULL;
}

/* The end of the match of pattern p (to pat_end) at s, or NULL. */
static const char *do_match(matcher *m, const char *s, const char *p)
{
    if (m->depth_left-- == 0)
        luaL_error(m->L, "pattern too complex");
    const char *res = NULL;
    for (;;) {
        count_steps(m, 1);
        if (p == m->pat_end) {
            res = s;
            break;
        }
        if (*p == '(') {
            if (p + 1 < m->pat_end && p[1] == ')')
                res = open_capture(m, s, p + 2, CAP_POSITION);
            else
                res = open_capture(m, s, p + 1, CAP_UNFINISHED);
            break;
        }
        if (*p == ')') {
            res = close_capture(m, s, p + 1);
            break;
        }
        if (*p == '$' && p + 1 == m->pat_end) {
            res = s == m->src_end ? s : NULL;
            break;
        }
        if (*p == ESC && p + 1 < m->pat_end && p[1] == 'b') {
            s = balance(m, s, p + 2);
            if (!s)
                break;
            p += 4;
            continue;
        }
        if (*p == ESC && p + 1 < m->pat_end && p[1] == 'f') {
            p += 2;
            if (p >= m->pat_end || *p != '[')
                luaL_error(m->L, "missing '[' after '%%f' in pattern");
            const char *ep = class_end(m, p);
            int before = s == m->src_init ? 0 : (unsigned char)s[-1];
            int here = s < m->src_end ? (unsigned char)*s : 0;
            if (in_set(before, p, ep - 1) || !in_set(here, p, ep - 1))
                break;
            p = ep;
            continue;
        }
        if (*p == ESC && p + 1 < m->pat_end && isdigit((unsigned char)p[1])) {
            s = back_reference(m, s, (unsigned char)p[1]);
            if (!s)
                break;
            p += 2;
            continue;
        }
        const char *ep = class_end(m, p);
        char quantifier = ep < m->pat_end ? *ep : '\0';
        if (!single_match(m, s, p, ep)) {
            if (quantifier == '*' || quantifier == '?' || quantifier == '-') {
                p = ep + 1;
                continue;
            }
            break; /* res stays NULL */
        }
        if (quantifier == '?') {
            res = do_match(m, s + 1, ep + 1);
            if (res)
                break;
            p = ep + 1;
            continue;
        }
        if (quantifier == '+') {
            res = expand_greedy(m, s + 1, p, ep);
            break;
        }
        if (quantifier == '*') {
            res = expand_greedy(m, s, p, ep);
            break;
        }
        if (quantifier == '-') {
            res = expand_lazy(m, s, p, ep);
            break;
        }
        s++;
        p = ep;
    }
    m->depth_left++;
    return res;
}

/* ---- captures ---- */

/* Capture i as text (returns its length) or, for a position capture,
 * pushed (returns CAP_POSITION). Capture 0 of a pattern without captures
 * is the whole match s..e. */
static ptrdiff_t get_capture(matcher *m, int i, const char *s, const char *e, const char **text)
{
    if (i >= m->level) {
        if (i != 0)
            luaL_error(m->L, "invalid capture index %%%d", i + 1);
        *text = s;
        return e - s;
    }
    ptrdiff_t len = m->cap[i].len;
    *text = m->cap[i].init;
    if (len == CAP_UNFINISHED)
        luaL_error(m->L, "unfinished capture");
    if (len == CAP_POSITION)
        lua_pushinteger(m->L, (m->cap[i].init - m->src_init) + 1);
    return len;
}

static void push_capture(matcher *m, int i, const char *s, const char *e)
{
    const char *text;
    ptrdiff_t len = get_capture(m, i, s, e, &text);
    if (len != CAP_POSITION)
        lua_pushlstring(m->L, text, (size_t)len);
}

/* Pushes the captures (the whole match when there are none and s is
 * given); returns how many. */
static int push_captures(matcher *m, const char *s, const char *e)
{
    int n = (m->level == 0 && s) ? 1 : m->level;
    vmu_policy_check_stack(m->L, n, "too many captures");
    for (int i = 0; i < n; i++)
        push_capture(m, i, s, e);
    return n;
}

/* ---- find, match ---- */

/* A 1-based start position (negative: from the end) as an offset, which is
 * past ls when the start is past the end. */
static size_t start_offset(lua_Integer pos, size_t ls)
{
    if (pos > 0)
        return (size_t)pos - 1;
    if (pos == 0 || pos < -(lua_Integer)ls)
        return 0;
    return ls + (size_t)pos;
}

static int has_specials(const char *p, size_t lp)
{
    for (size_t i = 0; i < lp; i++)
        if (strchr(SPECIALS, p[i]) && p[i] != '\0')
            return 1;
    return 0;
}

static const char *plain_find(matcher *m, const char *s, size_t ls, const char *p, size_t lp)
{
    if (lp == 0)
        return s;
    if (lp > ls)
        return NULL;
    const char *last = s + (ls - lp);
    while (s <= last) {
        const char *hit = memchr(s, *p, (size_t)(last - s) + 1);
        if (!hit)
            return NULL;
        count_steps(m, (unsigned)(lp / 16 + 1));
        if (memcmp(hit + 1, p + 1, lp - 1) == 0)
            return hit;
        s = hit + 1;
    }
    return NULL;
}

static int find_or_match(lua_State *L, int find)
{
    size_t ls, lp;
    const char *s = luaL_checklstring(L, 1, &ls);
    const char *p = luaL_checklstring(L, 2, &lp);
    size_t init = start_offset(luaL_optinteger(L, 3, 1), ls);
    if (init > ls) {
        luaL_pushfail(L);
        return 1;
    }
    matcher m;
    matcher_init(&m, L, s, ls, p, lp);
    if (find && (lua_toboolean(L, 4) || !has_specials(p, lp))) {
        const char *hit = plain_find(&m, s + init, ls - init, p, lp);
        if (hit) {
            lua_pushinteger(L, (hit - s) + 1);
            lua_pushinteger(L, (lua_Integer)((size_t)(hit - s) + lp));
            return 2;
        }
        luaL_pushfail(L);
        return 1;
    }
    int anchored = lp > 0 && *p == '^';
    if (anchored) {
        p++;
        lp--;
        matcher_init(&m, L, s, ls, p, lp);
    }
    const char *start = s + init;
    do {
        matcher_reset(&m);
        const char *e = do_match(&m, start, p);
        if (e) {
            if (find) {
                lua_pushinteger(L, (start - s) + 1);
                lua_pushinteger(L, e - s);
                return push_captures(&m, NULL, NULL) + 2;
            }
            return push_captures(&m, start, e);
        }
    } while (start++ < m.src_end && !anchored);
    luaL_pushfail(L);
    return 1;
}

static int patterns_find(lua_State *L) { return find_or_match(L, 1); }
static int patterns_match(lua_State *L) { return find_or_match(L, 0); }

/* ---- gmatch ---- */

typedef struct gmatch_state {
    size_t next;      /* offset to try from */
    ptrdiff_t last;   /* offset where the last match ended, or -1 */
} gmatch_state;

static int gmatch_step(lua_State *L)
{
    size_t ls, lp;
    const char *s = lua_tolstring(L, lua_upvalueindex(1), &ls);
    const char *p = lua_tolstring(L, lua_upvalueindex(2), &lp);
    gmatch_state *st = lua_touserdata(L, lua_upvalueindex(3));
    matcher m;
    matcher_init(&m, L, s, ls, p, lp);
    for (const char *src = s + st->next; src <= m.src_end; src++) {
        matcher_reset(&m);
        const char *e = do_match(&m, src, p);
        if (e && (st->last < 0 || e != s + st->last)) {
            st->next = (size_t)(e - s);
            st->last = e - s;
            return push_captures(&m, src, e);
        }
    }
    st->next = ls + 1;
    return 0;
}

static int patterns_gmatch(lua_State *L)
{
    size_t ls;
    luaL_checklstring(L, 1, &ls);
    luaL_checkstring(L, 2);
    size_t init = start_offset(luaL_optinteger(L, 3, 1), ls);
    lua_settop(L, 2);
    gmatch_state *st = lua_newuserdatauv(L, sizeof *st, 0);
    st->next = init > ls ? ls + 1 : init;
    st->last = -1;
    lua_pushcclosure(L, gmatch_step, 3);
    return 1;
}

/* ---- gsub ---- */

static void add_replacement_string(matcher *m, luaL_Buffer *b, const char *s, const char *e)
{
    lua_State *L = m->L;
    size_t l;
    const char *news = lua_tolstring(L, 3, &l);
    const char *p;
    while ((p = memchr(news, ESC, l)) != NULL) {
        luaL_addlstring(b, news, (size_t)(p - news));
        p++;
        if (p == news + l)
            luaL_error(L, "invalid use of '%c' in replacement string", ESC);
        if (*p == ESC) {
            luaL_addchar(b, *p);
        } else if (*p == '0') {
            luaL_addlstring(b, s, (size_t)(e - s));
        } else if (isdigit((unsigned char)*p)) {
            const char *text;
            ptrdiff_t len = get_capture(m, *p - '1', s, e, &text);
            if (len == CAP_POSITION)
                luaL_addvalue(b);
            else
                luaL_addlstring(b, text, (size_t)len);
        } else {
            luaL_error(L, "invalid use of '%c' in replacement string", ESC);
        }
        l -= (size_t)(p + 1 - news);
        news = p + 1;
    }
    luaL_addlstring(b, news, l);
}

/* Adds the replacement of the match s..e; returns whether it changed the
 * text (false and nil keep the match). */
static int add_replacement(matcher *m, luaL_Buffer *b, const char *s, const char *e, int type)
{
    lua_State *L = m->L;
    if (type == LUA_TFUNCTION) {
        lua_pushvalue(L, 3);
        int n = push_captures(m, s, e);
        lua_call(L, n, 1);
    } else if (type == LUA_TTABLE) {
        push_capture(m, 0, s, e);
        lua_gettable(L, 3);
    } else {
        add_replacement_string(m, b, s, e);
        return 1;
    }
    if (!lua_toboolean(L, -1)) {
        lua_pop(L, 1);
        luaL_addlstring(b, s, (size_t)(e - s));
        return 0;
    }
    if (!lua_isstring(L, -1))
        return luaL_error(L, "invalid replacement value (a %s)", luaL_typename(L, -1));
    luaL_addvalue(b);
    return 1;
}

static int patterns_gsub(lua_State *L)
{
    size_t ls, lp;
    const char *src = luaL_checklstring(L, 1, &ls);
    const char *p = luaL_checklstring(L, 2, &lp);
    const char *last = NULL;
    int type = lua_type(L, 3);
    lua_Integer max = luaL_optinteger(L, 4, (lua_Integer)ls + 1);
    luaL_argexpected(L, type == LUA_TNUMBER || type == LUA_TSTRING || type == LUA_TFUNCTION ||
                            type == LUA_TTABLE,
                     3, "string/function/table");
    int anchored = lp > 0 && *p == '^';
    if (anchored) {
        p++;
        lp--;
    }
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    matcher m;
    matcher_init(&m, L, src, ls, p, lp);
    lua_Integer n = 0;
    int changed = 0;
    while (n < max) {
        matcher_reset(&m);
        const char *e = do_match(&m, src, p);
        if (e && e != last) {
            n++;
            changed = add_replacement(&m, &b, src, e, type) | changed;
            src = last = e;
        } else if (src < m.src_end) {
            luaL_addchar(&b, *src++);
        } else {
            break;
        }
        if (anchored)
            break;
    }
    if (!changed) {
        lua_pushvalue(L, 1);
    } else {
        luaL_addlstring(&b, src, (size_t)(m.src_end - src));
        luaL_pushresult(&b);
    }
    lua_pushinteger(L, n);
    return 2;
}

void vmu_bounded_patterns(lua_State *L, int lib)
{
    static const luaL_Reg functions[] = {{"find", patterns_find},
                                         {"match", patterns_match},
                                         {"gmatch", patterns_gmatch},
                                         {"gsub", patterns_gsub},
                                         {NULL, NULL}};
    lua_pushvalue(L, lib);
    luaL_setfuncs(L, functions, 0);
    lua_pop(L, 1);
}
