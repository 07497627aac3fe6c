// Per-fd waiters of one loop, and the interest registered with the backend.
//
// Interest is armed when a thread first waits for a kind of readiness. On epoll it is disarmed
// lazily: only when the kernel reports readiness that nobody waits for any more, so that a
// connection that loops on read -> EAGAIN -> io_wait costs no epoll_ctl in steady state. On a
// backend whose reports end the registration (io_uring's polls: re-arming costs the same as
// arming) it is disarmed as soon as nobody waits for it (io_backend::reports_once).
#pragma once

#include <cstddef>
#include <deque>

#include "cpc/detail/wait_list.hpp"
#include "cpc/loop.hpp"
#include "io_backend.hpp"

namespace cpc::detail {

class fd_table {
  public:
    // slot: the loop's bit in the masks of fd_owners.hpp, set when the loop is registered.
    fd_table(io_backend& backend, const unsigned& slot)
        : backend_(backend), slot_(slot), eager_(backend.reports_once()) {}

    // kind: in or out, possibly with the exclusive flag.
    bool watch(int fd, io_events kind, wait_link* l);
    void unwatch(int fd, io_events kind, wait_link* l) noexcept;
    // Wakes the waiters of the kinds the kernel reported; disarms kinds nobody waited for.
    void dispatch(int fd, unsigned kinds) noexcept;
    // fd is being closed: wake its waiters, forget its interest (closing drops it from epoll).
    void forget(int fd) noexcept;

    // Threads waiting on any fd.
    std::size_t waiters() const noexcept { return waiters_; }

  private:
    struct entry {
        wait_list readers;
        wait_list writers;
        unsigned armed = 0;  // kinds registered with the backend, and the exclusive flag
        wait_list& of(io_events kind) noexcept { return kind == in ? readers : writers; }
    };

    // Entries are never moved (wait lists point at themselves): a deque grows in place.
    entry& at(int fd) {
        while (entries_.size() <= static_cast<std::size_t>(fd))
            entries_.emplace_back();
        return entries_[static_cast<std::size_t>(fd)];
    }
    std::size_t wake(wait_list& list) noexcept;
    // Stops the interest in the kinds of `unwanted` (in, out) that fd has armed.
    void disarm(int fd, entry& e, unsigned unwanted) noexcept;

    io_backend& backend_;
    const unsigned& slot_;
    const bool eager_;  // disarm when the last waiter of a kind leaves
    std::deque<entry> entries_;
    std::size_t waiters_ = 0;
};

}  // namespace cpc::detail
