/* The REPL: `vmutils` on a terminal, or `vmutils repl`. Follows lua.c: a
 * line is tried as `return <line>` first so that expressions print; an
 * unfinished chunk (the parser's "<eof>" mark) keeps reading with ">> ";
 * Ctrl-C during a call stops it through a hook and returns to the prompt.
 * Line editing, history and tab completion come from libedit (BSD licence,
 * see docs/runtime.md for the choice over GNU readline). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <editline/readline.h>
#include <lauxlib.h>

#include "cli.h"

#define PROMPT "> "
#define PROMPT_MORE ">> "
#define EOF_MARK "<eof>"
#define PRINT_DEPTH 6
#define HISTORY_LINES 1000

/* Completion runs inside libedit's callbacks, which carry no user data. */
static lua_State *completion_state;
static char **completion_list;
static size_t completion_count, completion_next;

/* Set by SIGINT while a line is being read: libedit's read then fails with
 * EINTR and readline returns NULL, which this tells apart from end of file. */
static volatile sig_atomic_t prompt_interrupted;

static void on_sigint_at_prompt(int sig)
{
    (void)sig;
    prompt_interrupted = 1;
}

static const char *const lua_keywords[] = {
    "and", "break", "do", "else", "elseif", "end", "false", "for", "function", "goto", "if",
    "in", "local", "nil", "not", "or", "repeat", "return", "then", "true", "until", "while", NULL};

static void free_completions(void)
{
    for (size_t i = 0; i < completion_count; i++)
        free(completion_list[i]);
    free(completion_list);
    completion_list = NULL;
    completion_count = completion_next = 0;
}

static void add_completion(const char *prefix, size_t prefix_len, const char *name)
{
    size_t len = prefix_len + strlen(name);
    for (size_t i = 0; i < completion_count; i++)
        if (strlen(completion_list[i]) == len && memcmp(completion_list[i], prefix, prefix_len) == 0 &&
            strcmp(completion_list[i] + prefix_len, name) == 0)
            return;
    char **grown = realloc(completion_list, (completion_count + 1) * sizeof *grown);
    if (!grown)
        return;
    completion_list = grown;
    char *entry = malloc(len + 1);
    if (!entry)
        return;
    memcpy(entry, prefix, prefix_len);
    strcpy(entry + prefix_len, name);
    completion_list[completion_count++] = entry;
}

static int is_name(const char *s)
{
    if (!*s || !((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || *s == '_'))
        return 0;
    for (s++; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '_'))
            return 0;
    return 1;
}

/* Adds the names in the table on the stack top (and behind its __index
 * tables, for proxies and objects) that start with `partial`. */
static void collect_names(lua_State *L, const char *prefix, size_t prefix_len, const char *partial)
{
    size_t partial_len = strlen(partial);
    for (int level = 0; level < 4 && lua_istable(L, -1); level++) {
        lua_pushnil(L);
        while (lua_next(L, -2)) {
            lua_pop(L, 1);
            if (lua_type(L, -1) == LUA_TSTRING) {
                const char *name = lua_tostring(L, -1);
                if (strncmp(name, partial, partial_len) == 0 && is_name(name))
                    add_completion(prefix, prefix_len, name);
            }
        }
        if (!lua_getmetatable(L, -1))
            break;
        lua_pushliteral(L, "__index");
        lua_rawget(L, -2);
        lua_remove(L, -2);
        lua_remove(L, -2);
    }
    lua_pop(L, 1);
}

/* Protected: fills completion_list for the word in upvalue-free argument 1. */
static int compute_completions(lua_State *L)
{
    const char *word = lua_tostring(L, 1);
    const char *last_sep = NULL;
    for (const char *p = word; *p; p++)
        if (*p == '.' || *p == ':')
            last_sep = p;
    if (!last_sep) {
        for (const char *const *k = lua_keywords; *k; k++)
            if (strncmp(*k, word, strlen(word)) == 0)
                add_completion("", 0, *k);
        lua_pushglobaltable(L);
        collect_names(L, "", 0, word);
        return 0;
    }
    /* Walk a.b.c from the globals through raw fields: completion must not
     * run metamethods. */
    lua_pushglobaltable(L);
    const char *segment = word;
    while (segment < last_sep) {
        const char *end = segment;
        while (end < last_sep && *end != '.' && *end != ':')
            end++;
        if (!lua_istable(L, -1))
            return 0;
        lua_pushlstring(L, segment, (size_t)(end - segment));
        lua_rawget(L, -2);
        lua_remove(L, -2);
        segment = end + 1;
    }
    if (lua_type(L, -1) == LUA_TSTRING && *last_sep == ':') {
        lua_pop(L, 1);
        lua_getglobal(L, "string");
    }
    collect_names(L, word, (size_t)(last_sep - word) + 1, last_sep + 1);
    return 0;
}

static char *completion_generator(const char *text, int state)
{
    if (state == 0) {
        free_completions();
        lua_State *L = completion_state;
        lua_pushcfunction(L, compute_completions);
        lua_pushstring(L, text);
        if (lua_pcall(L, 1, 0, 0) != LUA_OK)
            lua_pop(L, 1);
    }
    if (completion_next < completion_count)
        return strdup(completion_list[completion_next++]);
    return NULL;
}

static char **complete(const char *text, int start, int end)
{
    (void)start;
    (void)end;
    rl_attempted_completion_over = 1; /* no file-name completion as a fallback */
    rl_completion_append_character = '\0';
    return rl_completion_matches(text, completion_generator);
}

/* Reads one line; NULL at end of input. A Ctrl-C at the prompt drops the
 * line being typed and asks again, as shells do. */
static char *read_line(const char *prompt, int *interrupted)
{
    struct sigaction on_int, previous;
    memset(&on_int, 0, sizeof on_int);
    on_int.sa_handler = on_sigint_at_prompt;
    sigemptyset(&on_int.sa_mask);
    on_int.sa_flags = 0; /* no SA_RESTART: the read must fail with EINTR */
    sigaction(SIGINT, &on_int, &previous);
    prompt_interrupted = 0;
    char *line = readline(prompt);
    sigaction(SIGINT, &previous, NULL);
    *interrupted = prompt_interrupted && !line;
    return line;
}

static void history_path(char *out, size_t size)
{
    const char *path = getenv("VMUTILS_HISTORY");
    const char *home = getenv("HOME");
    if (path && *path)
        snprintf(out, size, "%s", path);
    else if (home && *home)
        snprintf(out, size, "%s/.vmutils_history", home);
    else
        out[0] = '\0';
}

static int incomplete(lua_State *L, int status)
{
    if (status != LUA_ERRSYNTAX)
        return 0;
    size_t len;
    const char *msg = lua_tolstring(L, -1, &len);
    size_t mark = sizeof EOF_MARK - 1;
    if (len >= mark && strcmp(msg + len - mark, EOF_MARK) == 0) {
        lua_pop(L, 1);
        return 1;
    }
    return 0;
}

/* Loads the next chunk the user types; pushes the function (or the error).
 * Returns -1 at end of input, else the load status. */
static int load_chunk(lua_State *L)
{
    int interrupted;
    char *line;
    while ((line = read_line(PROMPT, &interrupted)) == NULL) {
        if (!interrupted)
            return -1;
        fputc('\n', stdout);
    }
    size_t len = strlen(line);
    /* An expression: print what it gives. */
    const char *as_return = lua_pushfstring(L, "return %s;", line);
    int status = luaL_loadbuffer(L, as_return, strlen(as_return), "=stdin");
    lua_remove(L, -2);
    if (status == LUA_OK) {
        if (len > 0)
            add_history(line);
        free(line);
        return status;
    }
    lua_pop(L, 1);
    lua_pushlstring(L, line, len);
    free(line);
    for (;;) {
        size_t chunk_len;
        const char *chunk = lua_tolstring(L, -1, &chunk_len);
        status = luaL_loadbuffer(L, chunk, chunk_len, "=stdin");
        if (!incomplete(L, status))
            break;
        char *more = read_line(PROMPT_MORE, &interrupted);
        if (!more) {
            if (interrupted) {
                /* Ctrl-C abandons the unfinished chunk. */
                fputc('\n', stdout);
                lua_pop(L, 1);
                return luaL_loadbuffer(L, "", 0, "=stdin");
            }
            status = luaL_loadbuffer(L, chunk, chunk_len, "=stdin");
            break;
        }
        lua_pushliteral(L, "\n");
        lua_pushstring(L, more);
        free(more);
        lua_concat(L, 3);
    }
    size_t chunk_len;
    const char *chunk = lua_tolstring(L, -2, &chunk_len);
    if (chunk_len > 0)
        add_history(chunk);
    lua_remove(L, -2);
    return status;
}

/* Protected: prints the results between `first` and the stack top. */
static int print_results(lua_State *L)
{
    vmu_buf *out = lua_touserdata(L, 1);
    int n = lua_gettop(L);
    for (int i = 2; i <= n; i++) {
        if (i > 2)
            vmu_buf_putc(out, '\t');
        vmu_repl_format(L, i, PRINT_DEPTH, out);
    }
    vmu_buf_putc(out, '\n');
    return 0;
}

static void show_results(lua_State *L, int base)
{
    int n = lua_gettop(L) - base;
    if (n <= 0)
        return;
    vmu_buf out;
    vmu_buf_init(&out);
    lua_pushcfunction(L, print_results);
    lua_pushlightuserdata(L, &out);
    lua_rotate(L, base + 1, 2);
    if (lua_pcall(L, n + 1, 0, 0) != LUA_OK) {
        vmu_cli_error("error printing the result: %s", lua_tostring(L, -1));
        lua_pop(L, 1);
    } else if (out.failed) {
        vmu_cli_error("not enough memory to print the result");
    } else {
        fwrite(out.data, 1, out.len, stdout);
        fflush(stdout);
    }
    vmu_buf_free(&out);
    lua_settop(L, base);
}

int vmu_cmd_repl(int argc, char **argv)
{
    if (argc > 1) {
        if (argv[1][0] == '-' && argv[1][1] != '\0')
            return vmu_cli_bad_option(argv[1]);
        return vmu_cli_usage_error("unexpected argument '%s'", argv[1]);
    }
    lua_State *L = vmu_cli_new_state();
    if (!L)
        return VMU_EXIT_FAILED;
    lua_newtable(L);
    lua_setglobal(L, "arg");

    int interactive = isatty(STDIN_FILENO);
    if (interactive)
        printf("%s (%s)  Tab completes, Ctrl-C stops a call, Ctrl-D exits\n", VMU_PROGRAM_VERSION,
               LUA_RELEASE);
    fflush(stdout);

    completion_state = L;
    rl_readline_name = "vmutils";
    rl_catch_signals = 0;
    rl_attempted_completion_function = complete;
    rl_basic_word_break_characters = " \t\n\"\\'`@$><=;|&{(,+-*/%^~#[]";
    char history[4096];
    history_path(history, sizeof history);
    using_history();
    stifle_history(HISTORY_LINES);
    if (history[0])
        read_history(history);

    int status;
    while ((status = load_chunk(L)) != -1) {
        int base = lua_gettop(L) - 1;
        if (status == LUA_OK)
            status = vmu_cli_docall(L, 0, LUA_MULTRET);
        if (status == LUA_OK)
            show_results(L, base);
        else
            vmu_cli_report(L, status);
        lua_settop(L, base);
    }
    if (interactive)
        fputc('\n', stdout);
    if (history[0])
        write_history(history);
    free_completions();
    completion_state = NULL;
    lua_close(L);
    return 0;
}
