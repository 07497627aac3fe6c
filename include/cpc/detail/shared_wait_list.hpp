// A wait list that threads of several loops may use at once: the waiters of a condvar or of a
// deadline scope. Every change happens under the list's spin lock while more than one loop
// runs (see spin_lock.hpp), so a one-loop program does exactly what wait_list does.
//
// Wake functions are called with the lock held. They may take a loop's remote-queue lock (a
// leaf: nothing else is taken under it) or the lock of a nested deadline scope (always parent
// before child), never the lock of another shared_wait_list: that is what makes waking from
// several loops at once free of lock-order cycles (interruption.hpp defers for this reason).
#pragma once

#include <cstddef>

#include "cpc/detail/spin_lock.hpp"
#include "cpc/detail/wait_list.hpp"

namespace cpc::detail {

struct shared_wait_list {
    wait_list list;  // must stay first (see of)
    spin_lock lock;

    // Each operation tests the flag first so that the one-loop case is the bare list
    // operation, with no guard object to set up.
    void push_back(wait_link* l) noexcept {
        if (!several_loops()) [[likely]] {
            list.push_back(l);
            return;
        }
        shared_guard g(lock);
        list.push_back(l);
    }
    // Removes l if it is still linked; false if a waker took it first.
    bool remove_if_linked(wait_link* l) noexcept {
        if (!several_loops()) [[likely]] {
            if (!l->linked()) return false;
            list.remove(l);
            return true;
        }
        shared_guard g(lock);
        if (!l->linked()) return false;
        list.remove(l);
        return true;
    }
    bool wake_one() noexcept {
        if (!several_loops()) [[likely]]
            return list.wake_one();
        shared_guard g(lock);
        return list.wake_one();
    }
    void wake_all() noexcept {
        if (!several_loops()) [[likely]] {
            list.wake_all();
            return;
        }
        shared_guard g(lock);
        list.wake_all();
    }
    std::size_t size() noexcept {
        if (!several_loops()) [[likely]]
            return list.size();
        shared_guard g(lock);
        return list.size();
    }

    // The shared list whose wait_list is `l`.
    static shared_wait_list& of(wait_list& l) noexcept {
        return *reinterpret_cast<shared_wait_list*>(&l);
    }
};

}  // namespace cpc::detail
