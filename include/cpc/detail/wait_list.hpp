// An intrusive FIFO of waiters: condition variables, fd watches and cancel scopes keep their
// waiters here. Links live inside the awaiting coroutine's frame, so waiting allocates nothing.
#pragma once

#include <cstddef>

namespace cpc::detail {

struct wait_link;

// What a waiter does when its source fires. A pointer to a waker rather than a function
// pointer, so that a waker can carry data shared by many waiters: every scheduler has one
// that resumes a condvar waiter there (scheduler.hpp), which spares each waiting frame a
// pointer to its scheduler.
struct waker {
    void (*fire)(wait_link*) noexcept;
};

// One waiter. `wake->fire` is called (once) when the source it is linked into fires; by then
// the link has already been removed from its list.
struct wait_link {
    wait_link* prev = nullptr;
    wait_link* next = nullptr;
    const waker* wake = nullptr;

    bool linked() const noexcept { return next != nullptr; }
};

// Circular list with a sentinel: O(1) push, pop and removal of any link. Not copyable or
// movable, since links point at the sentinel.
class wait_list {
  public:
    wait_list() noexcept { head_.prev = head_.next = &head_; }
    wait_list(const wait_list&) = delete;
    wait_list& operator=(const wait_list&) = delete;

    bool empty() const noexcept { return head_.next == &head_; }
    std::size_t size() const noexcept { return size_; }

    void push_back(wait_link* l) noexcept {
        l->prev = head_.prev;
        l->next = &head_;
        head_.prev->next = l;
        head_.prev = l;
        ++size_;
    }

    wait_link* pop_front() noexcept {
        if (empty()) return nullptr;
        wait_link* l = head_.next;
        remove(l);
        return l;
    }

    // Precondition: l is linked into this list.
    void remove(wait_link* l) noexcept {
        l->prev->next = l->next;
        l->next->prev = l->prev;
        l->prev = l->next = nullptr;
        --size_;
    }

    // Wakes every waiter present now, oldest first. Waiters that link themselves again
    // while being woken are not woken twice.
    void wake_all() noexcept {
        for (std::size_t n = size_; n > 0; --n) {
            wait_link* l = pop_front();
            l->wake->fire(l);
        }
    }

    // The list l is linked into, found by walking to the sentinel (the only link without a
    // wake function): O(length), for rare paths only, so that waiters need not store it.
    static wait_list& containing(wait_link* l) noexcept {
        while (l->wake)
            l = l->next;
        return *reinterpret_cast<wait_list*>(l);  // head_ is the first member
    }

    // Calls f(link) for every waiter, oldest first.
    template <class F>
    void for_each(F&& f) const {
        for (const wait_link* l = head_.next; l != &head_; l = l->next)
            f(l);
    }

    bool wake_one() noexcept {
        wait_link* l = pop_front();
        if (!l) return false;
        l->wake->fire(l);
        return true;
    }

  private:
    wait_link head_;  // must stay first (see containing)
    std::size_t size_ = 0;
};

}  // namespace cpc::detail
