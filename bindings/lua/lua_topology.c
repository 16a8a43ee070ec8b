/* Lua surface of the host topology and the NUMA placement: host_topology and
 * fit_numa. The host table host_topology returns is what fit_numa reads, so
 * a policy can discover, edit or load (from a request's JSON) a host and
 * place a VM on it. Host tables read from Lua live in userdata, so a wrong
 * argument found halfway leaks nothing. */
#include <stdlib.h>
#include <string.h>

#include "lua_vmutils.h"

/* ---- host_topology ---- */

static const char *opt_string(lua_State *L, int arg, const char *key)
{
    const char *s = NULL;
    if (lua_getfield(L, arg, key) != LUA_TNIL) {
        if (lua_type(L, -1) != LUA_TSTRING)
            luaL_argerror(L, arg,
                          lua_pushfstring(L, "%s: string expected, got %s", key, luaL_typename(L, -1)));
        s = lua_tostring(L, -1);
    }
    lua_pop(L, 1); /* the string stays alive in the options table */
    return s;
}

static void set_int(lua_State *L, const char *key, lua_Integer v)
{
    lua_pushinteger(L, v);
    lua_setfield(L, -2, key);
}

static void set_bool(lua_State *L, const char *key, bool v)
{
    lua_pushboolean(L, v);
    lua_setfield(L, -2, key);
}

static void push_node(lua_State *L, const vmu_topology *t, const vmu_topology_node *node)
{
    lua_createtable(L, 0, 14);
    set_int(L, "id", node->id);
    set_int(L, "processors", node->processors);
    lua_createtable(L, (int)node->processors, 0);
    for (uint32_t i = 0; i < node->processors; i++) {
        lua_pushinteger(L, node->cpus[i]);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    lua_setfield(L, -2, "cpus");
    set_int(L, "existing_processors", node->existing_processors);
    set_int(L, "cores", node->cores);
    if (node->package >= 0)
        set_int(L, "package", node->package);
    set_int(L, "memory_mb", (lua_Integer)node->memory_mb);
    set_int(L, "free_mb", (lua_Integer)node->free_mb);
    lua_createtable(L, 0, (int)node->hugepages_len);
    for (size_t i = 0; i < node->hugepages_len; i++) {
        lua_createtable(L, 0, 2);
        set_int(L, "total", (lua_Integer)node->hugepages[i].total);
        set_int(L, "free", (lua_Integer)node->hugepages[i].free);
        lua_rawseti(L, -2, (lua_Integer)node->hugepages[i].size_kib);
    }
    lua_setfield(L, -2, "hugepages");
    lua_createtable(L, 0, (int)t->nodes_len);
    for (size_t j = 0; node->distances && j < t->nodes_len; j++) {
        lua_pushinteger(L, node->distances[j]);
        lua_rawseti(L, -2, t->nodes[j].id);
    }
    lua_setfield(L, -2, "distances");
    set_bool(L, "cpu_less", node->cpu_less);
    set_bool(L, "memory_less", node->memory_less);
    set_bool(L, "allowed", node->allowed);
}

typedef struct topology_box {
    vmu_topology *topology;
} topology_box;

static void release_topology(void *data)
{
    vmu_topology_free(((topology_box *)data)->topology);
}

static int l_host_topology(lua_State *L)
{
    vmu_topology_options opts = {0};
    if (!lua_isnoneornil(L, 1)) {
        luaL_checktype(L, 1, LUA_TTABLE);
        opts.xml = opt_string(L, 1, "xml");
        opts.synthetic = opt_string(L, 1, "synthetic");
        opts.sysfs_root = opt_string(L, 1, "sysfs_root");
        if (opts.xml && opts.synthetic)
            luaL_argerror(L, 1, "give xml or synthetic, not both");
    }
    /* the guard frees the topology if building the table runs out of memory */
    topology_box *box = vmu_lua_push_guard(L, sizeof *box, release_topology);
    vmu_err err;
    if (vmu_topology_discover(&opts, &box->topology, &err) != 0)
        return vmu_lua_fail(L, err.msg);
    const vmu_topology *t = box->topology;
    lua_createtable(L, 0, 6);
    set_int(L, "LogicalProcessorCount", t->logical_processor_count);
    set_int(L, "existing_processors", t->existing_processors);
    set_int(L, "offline_processors", t->offline_processors);
    set_int(L, "packages", t->packages);
    set_int(L, "cores", t->cores);
    lua_createtable(L, (int)t->nodes_len, 0);
    for (size_t i = 0; i < t->nodes_len; i++) {
        push_node(L, t, &t->nodes[i]);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    lua_setfield(L, -2, "nodes");
    vmu_topology_free(box->topology);
    box->topology = NULL;
    return 1;
}

/* ---- reading a host table ---- */

static int64_t field_int(lua_State *L, int tbl, int arg, const char *key, const char *where,
                         int64_t max, int64_t dflt)
{
    int64_t v = dflt;
    if (lua_getfield(L, tbl, key) != LUA_TNIL) {
        const char *what = lua_pushfstring(L, "%s.%s", where, key);
        v = vmu_lua_check_integer_range(L, -2, arg, what, 0, max);
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    return v;
}

/* A key of a hugepages or distances table: an integer or a string holding
 * one (JSON objects give strings). */
static int64_t integer_key(lua_State *L, int idx, int arg, const char *where, const char *field,
                           int64_t max)
{
    int isint = 0;
    lua_Integer k = lua_tointegerx(L, idx, &isint);
    if (!isint || k < 0 || k > max)
        luaL_argerror(L, arg, lua_pushfstring(L, "%s.%s: key %s is not an integer in [0, %I]",
                                              where, field, luaL_tolstring(L, idx, NULL),
                                              (lua_Integer)max));
    return k;
}

/* Numbers of items in node.hugepages, for sizing the userdata. */
static size_t count_entries(lua_State *L, int node, const char *key)
{
    size_t n = 0;
    if (lua_getfield(L, node, key) == LUA_TTABLE) {
        lua_pushnil(L);
        while (lua_next(L, -2)) {
            n++;
            lua_pop(L, 1);
        }
    }
    lua_pop(L, 1);
    return n;
}

static int compare_nodes(const void *a, const void *b)
{
    const vmu_topology_node *x = a, *y = b;
    return (x->id > y->id) - (x->id < y->id);
}

/* Reads at most `room` entries: a table read through __index may not be
 * the one that was counted. */
static void read_hugepages(lua_State *L, int node, int arg, const char *where,
                           vmu_topology_node *out, vmu_hugepages *slots, size_t room)
{
    out->hugepages = slots;
    out->hugepages_len = 0;
    int type = lua_getfield(L, node, "hugepages");
    if (type != LUA_TNIL && type != LUA_TTABLE)
        luaL_argerror(L, arg, lua_pushfstring(L, "%s.hugepages: table expected, got %s", where,
                                              luaL_typename(L, -1)));
    if (type == LUA_TTABLE) {
        int tbl = lua_gettop(L);
        lua_pushnil(L);
        while (lua_next(L, tbl)) {
            if (out->hugepages_len == room)
                luaL_argerror(L, arg, lua_pushfstring(L, "%s.hugepages: changed while read", where));
            vmu_hugepages *h = &slots[out->hugepages_len++];
            h->size_kib = (uint64_t)integer_key(L, -2, arg, where, "hugepages", INT64_MAX);
            if (!lua_istable(L, -1))
                luaL_argerror(L, arg,
                              lua_pushfstring(L, "%s.hugepages[%I]: table expected, got %s", where,
                                              (lua_Integer)h->size_kib, luaL_typename(L, -1)));
            const char *hw = lua_pushfstring(L, "%s.hugepages[%I]", where, (lua_Integer)h->size_kib);
            int entry = lua_absindex(L, -2);
            h->total = (uint64_t)field_int(L, entry, arg, "total", hw, INT64_MAX, 0);
            h->free = (uint64_t)field_int(L, entry, arg, "free", hw, INT64_MAX, (int64_t)h->total);
            lua_pop(L, 2);
        }
    }
    lua_pop(L, 1);
}

/* node.distances, by the other node's id, into the row of this node in
 * the sorted order; ids the host does not have are ignored. */
static void read_distances(lua_State *L, int node, int arg, const char *where,
                           const vmu_topology *t, uint32_t *row)
{
    int type = lua_getfield(L, node, "distances");
    if (type != LUA_TNIL && type != LUA_TTABLE)
        luaL_argerror(L, arg, lua_pushfstring(L, "%s.distances: table expected, got %s", where,
                                              luaL_typename(L, -1)));
    if (type == LUA_TTABLE) {
        int tbl = lua_gettop(L);
        lua_pushnil(L);
        while (lua_next(L, tbl)) {
            uint32_t id = (uint32_t)integer_key(L, -2, arg, where, "distances", UINT32_MAX);
            const char *what = lua_pushfstring(L, "%s.distances[%I]", where, (lua_Integer)id);
            uint32_t d = (uint32_t)vmu_lua_check_integer_range(L, -2, arg, what, 1, UINT32_MAX);
            lua_pop(L, 2);
            const vmu_topology_node *other = vmu_topology_find(t, id);
            if (other)
                row[other - t->nodes] = d;
        }
    }
    lua_pop(L, 1);
}

/* host.nodes into *t; its arrays are userdata left on the stack. */
static void check_host(lua_State *L, int arg, vmu_topology *t)
{
    luaL_checktype(L, arg, LUA_TTABLE);
    memset(t, 0, sizeof *t);
    if (lua_getfield(L, arg, "nodes") != LUA_TTABLE)
        luaL_argerror(L, arg,
                      lua_pushfstring(L, "nodes: table expected, got %s", luaL_typename(L, -1)));
    int nodes = lua_gettop(L);
    size_t n = (size_t)lua_rawlen(L, nodes);
    if (n > 4096)
        luaL_argerror(L, arg, "nodes: more than 4096 nodes");
    vmu_topology_node *items = lua_newuserdatauv(L, (n ? n : 1) * sizeof *items, 0);
    memset(items, 0, (n ? n : 1) * sizeof *items);
    size_t pages = 0;
    for (size_t i = 0; i < n; i++) {
        if (lua_rawgeti(L, nodes, (lua_Integer)i + 1) != LUA_TTABLE)
            luaL_argerror(L, arg, lua_pushfstring(L, "nodes[%I]: table expected, got %s",
                                                  (lua_Integer)i + 1, luaL_typename(L, -1)));
        pages += count_entries(L, -1, "hugepages");
        lua_pop(L, 1);
    }
    vmu_hugepages *slots = lua_newuserdatauv(L, (pages ? pages : 1) * sizeof *slots, 0);
    uint32_t *matrix = lua_newuserdatauv(L, (n ? n * n : 1) * sizeof *matrix, 0);
    /* pass 1: the scalar fields, then sort so that ids index the rows */
    for (size_t i = 0; i < n; i++) {
        lua_rawgeti(L, nodes, (lua_Integer)i + 1);
        int node = lua_gettop(L);
        const char *where = lua_pushfstring(L, "nodes[%I]", (lua_Integer)i + 1);
        vmu_topology_node *o = &items[i];
        if (lua_getfield(L, node, "id") == LUA_TNIL)
            luaL_argerror(L, arg, lua_pushfstring(L, "%s.id: integer expected, got nil", where));
        lua_pop(L, 1);
        o->id = (uint32_t)field_int(L, node, arg, "id", where, UINT32_MAX, 0);
        o->processors = (uint32_t)field_int(L, node, arg, "processors", where, UINT32_MAX, 0);
        o->memory_mb = (uint64_t)field_int(L, node, arg, "memory_mb", where, INT64_MAX, 0);
        o->free_mb =
            (uint64_t)field_int(L, node, arg, "free_mb", where, INT64_MAX, (int64_t)o->memory_mb);
        o->allowed = true;
        if (lua_getfield(L, node, "allowed") != LUA_TNIL)
            o->allowed = lua_toboolean(L, -1);
        lua_pop(L, 1);
        read_hugepages(L, node, arg, where, o, slots, pages);
        slots += o->hugepages_len;
        pages -= o->hugepages_len;
        lua_pop(L, 2);
    }
    qsort(items, n, sizeof *items, compare_nodes);
    for (size_t i = 1; i < n; i++)
        if (items[i].id == items[i - 1].id)
            luaL_argerror(L, arg,
                          lua_pushfstring(L, "nodes: id %I appears twice", (lua_Integer)items[i].id));
    t->nodes = items;
    t->nodes_len = n;
    for (size_t i = 0; i < n; i++) {
        items[i].distances = matrix + i * n;
        for (size_t j = 0; j < n; j++)
            items[i].distances[j] = i == j ? 10 : 20;
    }
    /* pass 2: the distances, once every id has its row */
    for (size_t i = 0; i < n; i++) {
        lua_rawgeti(L, nodes, (lua_Integer)i + 1);
        int node = lua_gettop(L);
        const char *where = lua_pushfstring(L, "nodes[%I]", (lua_Integer)i + 1);
        lua_getfield(L, node, "id");
        const vmu_topology_node *self = vmu_topology_find(t, (uint32_t)lua_tointeger(L, -1));
        lua_pop(L, 1);
        if (!self || !lua_istable(L, node))
            luaL_argerror(L, arg, lua_pushfstring(L, "%s: changed while read", where));
        read_distances(L, node, arg, where, t, self->distances);
        lua_pop(L, 2);
    }
    lua_remove(L, nodes);
}

/* ---- fit_numa ---- */

static double opt_ratio(lua_State *L, int arg, const char *key)
{
    double v = 0;
    if (lua_getfield(L, arg, key) != LUA_TNIL) {
        int isnum = 0;
        v = (double)lua_tonumberx(L, -1, &isnum);
        if (!isnum || !(v > 0) || v > 1e6)
            luaL_argerror(L, arg, lua_pushfstring(L, "%s: a number in (0, 1e6] expected", key));
    }
    lua_pop(L, 1);
    return v;
}

/* "4K", "2M", "1G" or a size in KiB. */
static uint64_t opt_page_size(lua_State *L, int arg)
{
    static const struct {
        const char *name;
        uint64_t kib;
    } names[] = {{"4K", 4}, {"2M", 2048}, {"1G", 1048576}};
    uint64_t kib = 0;
    int type = lua_getfield(L, arg, "page_size");
    if (type == LUA_TSTRING) {
        const char *s = lua_tostring(L, -1);
        size_t i = 0;
        for (; i < sizeof names / sizeof names[0] && strcmp(s, names[i].name) != 0; i++)
            ;
        if (i == sizeof names / sizeof names[0])
            luaL_argerror(L, arg, lua_pushfstring(L, "page_size: '%s' is not 4K, 2M or 1G", s));
        kib = names[i].kib;
    } else if (type != LUA_TNIL) {
        kib = (uint64_t)vmu_lua_check_integer_range(L, -1, arg, "page_size", 0, INT64_MAX);
    }
    lua_pop(L, 1);
    return kib;
}

static void check_fit_options(lua_State *L, int arg, vmu_numa_fit_options *o)
{
    memset(o, 0, sizeof *o);
    if (lua_isnoneornil(L, arg))
        return;
    luaL_checktype(L, arg, LUA_TTABLE);
    const char *policy = opt_string(L, arg, "policy");
    if (policy && vmu_numa_fit_policy_parse(policy, &o->policy) != 0)
        luaL_argerror(L, arg,
                      lua_pushfstring(L,
                                      "policy: '%s' is not single-numa-node, restricted or "
                                      "best-effort",
                                      policy));
    o->max_nodes = (uint32_t)field_int(L, arg, arg, "max_nodes", "opts", UINT32_MAX, 0);
    o->cpu_allocation_ratio = opt_ratio(L, arg, "cpu_allocation_ratio");
    o->ram_allocation_ratio = opt_ratio(L, arg, "ram_allocation_ratio");
    int type = lua_getfield(L, arg, "reserved");
    if (type == LUA_TTABLE) {
        int r = lua_gettop(L);
        o->reserved_processors =
            (uint32_t)field_int(L, r, arg, "processors", "opts.reserved", UINT32_MAX, 0);
        o->reserved_memory_mb =
            (uint64_t)field_int(L, r, arg, "memory_mb", "opts.reserved", INT64_MAX, 0);
    } else if (type != LUA_TNIL) {
        luaL_argerror(L, arg,
                      lua_pushfstring(L, "reserved: table expected, got %s", luaL_typename(L, -1)));
    }
    lua_pop(L, 1);
    o->page_size_kib = opt_page_size(L, arg);
    if (lua_getfield(L, arg, "spread") != LUA_TNIL)
        o->fill = !lua_toboolean(L, -1);
    lua_pop(L, 1);
}

static void push_array(lua_State *L, const char *key, size_t n, const uint32_t *u32,
                       const uint64_t *u64)
{
    lua_createtable(L, (int)n, 0);
    for (size_t i = 0; i < n; i++) {
        lua_pushinteger(L, u32 ? (lua_Integer)u32[i] : (lua_Integer)u64[i]);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    lua_setfield(L, -2, key);
}

static int l_fit_numa(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_settop(L, 3); /* the host's userdata go above the arguments */
    uint32_t processors = (uint32_t)field_int(L, 1, 1, "processors", "vm", UINT32_MAX, 0);
    uint64_t memory_mb = (uint64_t)field_int(L, 1, 1, "memory_mb", "vm", INT64_MAX, 0);
    vmu_numa_fit_options opts;
    check_fit_options(L, 3, &opts);
    vmu_topology host;
    check_host(L, 2, &host);
    vmu_numa_placement fit;
    vmu_err err;
    if (vmu_numa_fit(vmu_lua_logger(L), &host, processors, memory_mb, &opts, &fit, &err) != 0)
        return vmu_lua_fail(L, err.msg);
    lua_createtable(L, 0, 3);
    push_array(L, "numa_mapped_physical_nodes", fit.nodes_len, fit.physical_nodes, NULL);
    push_array(L, "numa_processor_counts", fit.nodes_len, fit.processors, NULL);
    push_array(L, "numa_memory_blocks_counts", fit.nodes_len, NULL, fit.memory_mb);
    lua_createtable(L, 0, 4);
    set_int(L, "nodes", (lua_Integer)fit.nodes_len);
    set_int(L, "worst_distance", fit.worst_distance);
    set_int(L, "free_mb_left", (lua_Integer)fit.free_mb_left);
    set_bool(L, "fallback", fit.fallback);
    return 2;
}

static const luaL_Reg topology_functions[] = {
    {"host_topology", l_host_topology},
    {"fit_numa", l_fit_numa},
    {NULL, NULL},
};

void vmu_lua_register_topology(lua_State *L) { luaL_setfuncs(L, topology_functions, 0); }
