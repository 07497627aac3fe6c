#include "cpc/topology.hpp"

#include <sched.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#ifdef CPC_HAVE_HWLOC
#include <hwloc.h>
#endif

namespace cpc {

namespace {

std::vector<int> allowed_cpus() {
    std::vector<int> out;
    cpu_set_t set;
    CPU_ZERO(&set);
    if (::sched_getaffinity(0, sizeof set, &set) != 0) return out;
    for (int c = 0; c < CPU_SETSIZE; ++c) {
        if (CPU_ISSET(c, &set)) out.push_back(c);
    }
    return out;
}

bool read_int(const std::string& path, int& out) {
    std::ifstream f(path);
    return static_cast<bool>(f >> out);
}

// "0-3,8-11" -> its smallest CPU: enough to name the group.
bool first_of_list(const std::string& path, int& out) {
    std::ifstream f(path);
    std::string s;
    if (!(f >> s) || s.empty()) return false;
    std::istringstream in(s);
    return static_cast<bool>(in >> out);
}

#ifdef CPC_HAVE_HWLOC
bool from_hwloc(std::vector<cpu_info>& cpus) {
    hwloc_topology_t t;
    if (hwloc_topology_init(&t) != 0) return false;
    if (hwloc_topology_load(t) != 0) {
        hwloc_topology_destroy(t);
        return false;
    }
    bool any_cache = false;
    for (cpu_info& c : cpus) {
        hwloc_obj_t pu = hwloc_get_pu_obj_by_os_index(t, static_cast<unsigned>(c.os_index));
        if (!pu) continue;
        c.core = c.os_index;
        c.cache_group = -1 - c.os_index;  // alone unless a shared cache is found
        int best_depth = -1;
        bool core_found = false;
        for (hwloc_obj_t o = pu->parent; o; o = o->parent) {
            if (o->type == HWLOC_OBJ_CORE && !core_found) {
                c.core = static_cast<int>(o->logical_index);
                core_found = true;
            }
            if (o->type == HWLOC_OBJ_PACKAGE) c.package = static_cast<int>(o->logical_index);
            // The outermost cache above the PU (nearest the root) is the last level.
            if (hwloc_obj_type_is_cache(o->type) &&
                (best_depth < 0 || static_cast<int>(o->depth) < best_depth)) {
                c.cache_group = static_cast<int>(o->gp_index);
                best_depth = static_cast<int>(o->depth);
                any_cache = true;
            }
        }
    }
    hwloc_topology_destroy(t);
    return any_cache;
}
#endif

bool from_sysfs(std::vector<cpu_info>& cpus) {
    bool any_cache = false;
    for (cpu_info& c : cpus) {
        const std::string base = "/sys/devices/system/cpu/cpu" + std::to_string(c.os_index);
        int v;
        c.core = read_int(base + "/topology/core_id", v) ? v : c.os_index;
        c.package = read_int(base + "/topology/physical_package_id", v) ? v : 0;
        c.core += c.package << 16;
        c.cache_group = -1 - c.os_index;
        int best_level = -1;
        for (int i = 0; i < 16; ++i) {
            const std::string idx = base + "/cache/index" + std::to_string(i);
            int level;
            if (!read_int(idx + "/level", level)) break;
            int first;
            if (level > best_level && first_of_list(idx + "/shared_cpu_list", first)) {
                best_level = level;
                c.cache_group = first;
                any_cache = true;
            }
        }
    }
    return any_cache;
}

}  // namespace

topology::topology(std::vector<cpu_info> cpus, const char* source)
    : cpus_(std::move(cpus)), source_(source) {}

topology topology::detect() {
    std::vector<cpu_info> cpus;
    for (int c : allowed_cpus()) {
        cpu_info i;
        i.os_index = c;
        i.core = c;
        i.cache_group = -1 - c;
        cpus.push_back(i);
    }
    const char* source = "none";
#ifdef CPC_HAVE_HWLOC
    if (from_hwloc(cpus)) source = "hwloc";
#endif
    if (source[0] == 'n' && from_sysfs(cpus)) source = "sysfs";
    // One CPU of every core first (SMT siblings share execution units), cache groups kept
    // together: the first n entries are where n loops go.
    std::map<int, int> rank_in_core;
    std::vector<std::pair<int, std::size_t>> order;
    for (std::size_t i = 0; i < cpus.size(); ++i) {
        order.emplace_back(rank_in_core[cpus[i].core]++, i);
    }
    std::stable_sort(order.begin(), order.end(), [&](const auto& a, const auto& b) {
        if (a.first != b.first) return a.first < b.first;
        const cpu_info& x = cpus[a.second];
        const cpu_info& y = cpus[b.second];
        if (x.package != y.package) return x.package < y.package;
        return x.cache_group < y.cache_group;
    });
    std::vector<cpu_info> sorted;
    for (const auto& o : order)
        sorted.push_back(cpus[o.second]);
    return topology(std::move(sorted), source);
}

int topology::distance(std::size_t a, std::size_t b) const noexcept {
    const cpu_info& x = cpus_[a];
    const cpu_info& y = cpus_[b];
    if (a == b) return 0;
    if (x.core == y.core) return 1;
    if (x.cache_group == y.cache_group) return 2;
    if (x.package == y.package) return 3;
    return 4;
}

}  // namespace cpc
