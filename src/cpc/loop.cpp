#include "cpc/loop.hpp"

#include <time.h>

#include <algorithm>
#include <cstdio>

#include "cpc/clock.hpp"
#include "cpc/color.hpp"
#include "cpc/detail/lazy_deadline.hpp"
#include "fd_owners.hpp"
#include "fd_table.hpp"
#include "io_backend.hpp"
#include "running_loops.hpp"
#include "runtime_state.hpp"
#include "sigpipe.hpp"

namespace cpc {

namespace {

// Resumes in one round before timers and I/O get their turn: enough to spread the cost of
// a round (and of a look at the kernel) over many switches, few enough that a busy loop
// still notices timers and I/O within microseconds.
constexpr std::size_t kResumesPerRound = 256;
// Resumes of one color per turn, so that a color that keeps itself busy (threads yielding
// to each other) does not starve the other colors of its loop.
constexpr std::size_t kResumesPerColorTurn = 64;
// Colors a loop looks at when asked for one: the answer must stay cheap for a busy loop.
constexpr int kStealScan = 16;

}  // namespace

const char* to_string(backend_kind k) noexcept {
    switch (k) {
        case backend_kind::automatic:
            return "automatic";
        case backend_kind::io_uring:
            return "io_uring";
        case backend_kind::epoll:
            return "epoll";
    }
    return "?";
}

loop::loop(loop_options options)
    : scheduler(kind::loop),
      backend_(detail::make_backend(options.backend, fd_slot_, &fallback_)),
      fds_(std::make_unique<detail::fd_table>(*backend_, fd_slot_)),
      backend_kind_(backend_->kind()) {
    detail::ignore_sigpipe_by_default();
    update_now();
    detail::register_loop(*this);  // last: nothing after it may throw
}

loop::~loop() {
    detail::unregister_loop(*this);
}

std::string loop::backend_description() const {
    std::string d = to_string(backend_kind_);
    if (!fallback_.empty()) d += " (io_uring unavailable: " + fallback_ + ")";
    return d;
}

void loop::update_now() noexcept {
    now_ = monotonic_ns();
}

void loop::add_timer(detail::timer_node* t, std::int64_t delay_ns) {
    CPC_CHECK(detail::tl_loop == this,
              "add_timer called from another kernel thread than its loop's");
    if (timers_.empty()) update_now();
    timers_.add(t, now_ + std::max<std::int64_t>(delay_ns, 0));
}

void loop::add_timer_at(detail::timer_node* t, std::int64_t at_ns) {
    CPC_CHECK(detail::tl_loop == this,
              "add_timer_at called from another kernel thread than its loop's");
    timers_.add(t, at_ns);
}

bool loop::watch_fd(int fd, io_events kind, detail::wait_link* l) {
    CPC_CHECK(detail::tl_loop == this,
              "watch_fd called from another kernel thread than its loop's");
    // fd may reuse the number of one closed on another kernel thread since the last
    // iteration: what this loop knew of that one goes first.
    if (forgets_pending_.load(std::memory_order_acquire)) [[unlikely]]
        apply_forgets();
    return fds_->watch(fd, kind, l);
}

void loop::unwatch_fd(int fd, io_events kind, detail::wait_link* l) noexcept {
    fds_->unwatch(fd, kind, l);
}

void loop::forget_fd(int fd) noexcept {
    fds_->forget(fd);
}

void loop::submit_op(detail::io_op_base* op, prepare_fn prepare, void* ctx) {
    CPC_CHECK(detail::tl_loop == this,
              "submit_op called from another kernel thread than its loop's");
    // As watch_fd: the op's fd may reuse the number of one closed elsewhere.
    if (forgets_pending_.load(std::memory_order_acquire)) [[unlikely]]
        apply_forgets();
    backend_->submit(op, prepare, ctx);
}

void loop::cancel_op(detail::io_op_base* op) noexcept {
    backend_->cancel(op);
}

bool loop::close_later(int fd) noexcept {
    return backend_->close_later(fd);
}

int loop::buffer_group() const noexcept {
    return backend_->buffer_group();
}

std::size_t loop::buffer_size() const noexcept {
    return backend_->buffer_size();
}

const std::byte* loop::provided_buffer(unsigned id) const noexcept {
    return backend_->provided_buffer(id);
}

void loop::recycle_buffer(unsigned id) noexcept {
    CPC_CHECK(detail::tl_loop == this,
              "recycle_buffer called from another kernel thread than its loop's");
    backend_->recycle_buffer(id);
}

void loop::give_back_buffer(unsigned id) {
    if (detail::tl_loop == this) {
        recycle_buffer(id);
        return;
    }
    call_soon(
        [](loop& l, void* p) noexcept {
            l.recycle_buffer(static_cast<unsigned>(reinterpret_cast<std::uintptr_t>(p)));
        },
        reinterpret_cast<void*>(std::uintptr_t{id}));
}

bool loop::waits_on_kernel() const noexcept {
    return fds_->waiters() != 0 || backend_->in_flight() != 0;
}

void loop::wake() noexcept {
    backend_->wake();
}

void loop::schedule(std::coroutine_handle<> h) {
    if (detail::tl_loop == this) {
        post(h);
        return;
    }
    push_remote({remote_item::kind::resume, nullptr, h, nullptr}, nullptr);
}

void loop::call_soon(remote_call fn, void* obj) {
    push_remote({remote_item::kind::call, obj, {}, fn}, nullptr);
}

void loop::push_remote(const remote_item& item, color* handed_over) {
    bool first;
    {
        std::unique_lock lock(remote_mutex_);
        if (idle_ && rt_) [[unlikely]] {
            // The loop is counted idle by its runtime: the item must end that, in the same
            // step as it is queued (otherwise the loop could run the item and go idle again
            // before the count is corrected, and the run would never end). Counts change
            // under the runtime's lock, taken before this one: released and retaken.
            detail::runtime_state* rt = rt_;
            // Keeps the runtime's state alive meanwhile: a sender on a kernel thread of no
            // loop of the runtime (a foreign loop, a pool) does not keep the run going.
            rt->waking_senders.fetch_add(1, std::memory_order_relaxed);
            lock.unlock();
            {
                std::lock_guard counts(rt->mutex);
                lock.lock();
                first = queue_locked(item, handed_over);
                // Not idle any more if the run ended meanwhile (run() resets it).
                if (idle_) {
                    idle_ = false;
                    --rt->idle_loops;
                }
                lock.unlock();
            }
            rt->waking_senders.fetch_sub(1, std::memory_order_release);
        } else {
            first = queue_locked(item, handed_over);
        }
    }
    // From the loop itself (an interruption delivered later) no wake-up is needed: run()
    // looks at the flag before it waits. Nor for a loop that is not blocked in the kernel:
    // it finds the item at its next iteration, and the eventfd write (a system call, and
    // the target's wake-up) is saved.
    if (first && detail::tl_loop != this && sleeping_.load(std::memory_order_seq_cst)) {
        backend_->wake();
    }
}

bool loop::queue_locked(const remote_item& item, color* handed_over) {
    if (handed_over) handed_over->owner_.store(this, std::memory_order_release);
    remote_.push_back(item);
    // seq_cst, with the load of sleeping_ in push_remote: Dekker's pattern against run(),
    // which sets sleeping_ and then looks at remote_pending_ before it blocks. Either run()
    // sees the item and does not block, or the sender sees it blocking and writes the eventfd.
    return !remote_pending_.exchange(true, std::memory_order_seq_cst);
}

void loop::post_forget(int fd) {
    bool first;
    {
        std::lock_guard lock(remote_mutex_);
        forgets_.push_back(fd);
        forgets_pending_.store(true, std::memory_order_release);
        first = !remote_pending_.exchange(true, std::memory_order_seq_cst);
    }
    // Not counted as work for the end of a run: a loop with no waiter on fd only has to
    // forget it before its next io_wait, which looks at forgets_pending_ first.
    if (first && sleeping_.load(std::memory_order_seq_cst)) backend_->wake();
}

void loop::apply_forgets() noexcept {
    {
        std::lock_guard lock(remote_mutex_);
        forgetting_.swap(forgets_);
        forgets_pending_.store(false, std::memory_order_relaxed);
    }
    for (int fd : forgetting_)
        fds_->forget(fd);
    forgetting_.clear();
}

void loop::drain_remote() {
    if (forgets_pending_.load(std::memory_order_acquire)) apply_forgets();
    {
        std::lock_guard lock(remote_mutex_);
        draining_.swap(remote_);
        remote_pending_.store(false, std::memory_order_relaxed);
    }
    for (const remote_item& item : draining_) {
        switch (item.what) {
            case remote_item::kind::resume:
                post(item.h);
                break;
            case remote_item::kind::resume_in: {
                color* c = static_cast<color*>(item.obj);
                // acquire: the loop that handed the color over may have done so after this
                // queue was swapped out, and its last pushes to the color's queue must be
                // seen before this one.
                if (c->owner_.load(std::memory_order_acquire) == this) {
                    post_colored(*c, item.h);
                } else {
                    c->schedule(item.h);  // handed over since the sender looked
                }
                break;
            }
            case remote_item::kind::adopt:
                adopt(*static_cast<color*>(item.obj));
                break;
            case remote_item::kind::call:
                item.fn(*this, item.obj);
                break;
        }
    }
    draining_.clear();
}

void loop::post_colored(color& c, std::coroutine_handle<> h) {
    c.ready_.push_back(h);
    if (!c.queued_) enqueue_color(c);
}

void loop::enqueue_color(color& c) noexcept {
    c.queued_ = true;
    c.next_ = nullptr;
    if (colors_tail_) {
        colors_tail_->next_ = &c;
    } else {
        colors_head_ = &c;
    }
    colors_tail_ = &c;
    ++queued_colors_;
}

void loop::adopt(color& c) {
    // The color may have moved on before this hand-over was drained: a loop that answers a
    // steal request in the middle of a round can give away a color it was handed and has not
    // adopted yet (its threads queued it here meanwhile). Then it is another loop's.
    if (c.owner_.load(std::memory_order_acquire) != this) return;
    if (!c.ready_.empty() && !c.queued_) enqueue_color(c);
}

void loop::run_ready() {
    std::size_t budget = kResumesPerRound;
    while (!ready_.empty() && budget-- != 0) {
        detail::note_thread_resumed();
        ready_.pop_front().resume();
        detail::arm_deadlines_of_suspended_thread();
    }
    if (colors_head_) run_colors();
}

void loop::run_colors() {
    // Every color queued now gets one turn, whatever uncolored threads used of the round:
    // they must not starve colors.
    for (std::size_t n = queued_colors_; n != 0 && colors_head_; --n) {
        color& c = *colors_head_;
        colors_head_ = c.next_;
        if (!colors_head_) colors_tail_ = nullptr;
        --queued_colors_;
        // c.queued_ stays set during its turn: threads made runnable meanwhile only join
        // its queue.
        detail::tl_scheduler = &c;
        std::size_t turn = std::min(c.ready_.size(), kResumesPerColorTurn);
        while (turn-- != 0) {
            detail::note_thread_resumed();
            c.ready_.pop_front().resume();
            detail::arm_deadlines_of_suspended_thread();
            // A thread of a color may run long (the unit of work of a request): an idle
            // loop asking for a color is answered after each one, not after the round,
            // which can last as long as every queued color's turn.
            if (rt_ && steal_request_.load(std::memory_order_relaxed)) [[unlikely]]
                serve_steal_request(true);
        }
        detail::tl_scheduler = this;
        ++c.runs_since_move_;
        c.queued_ = false;
        if (!c.ready_.empty()) enqueue_color(c);
    }
}

void loop::fire_timers() {
    update_now();
    while (detail::timer_node* t = timers_.pop_expired(now_))
        t->fire(t);
}

void loop::poll(std::int64_t timeout_ns) {
    for (const detail::io_event& e : backend_->wait(timeout_ns))
        fds_->dispatch(e.fd, e.events);
}

bool loop::nothing_left() {
    if (has_ready() || !timers_.empty() || waits_on_kernel()) return false;
    if (detail::detached_threads() != 0) return false;
    std::lock_guard lock(remote_mutex_);
    return remote_.empty();
}

void loop::serve_steal_request(bool in_color_turn) {
    loop* thief = steal_request_.load(std::memory_order_acquire);
    if (!thief) return;
    const runtime_options& o = rt_->options;
    // A color is serial: moving the only work of this loop would just move the queue. (The
    // color whose turn is running is off the queue, and is work that stays.)
    if (ready_.empty() && queued_colors_ + (in_color_turn ? 1 : 0) < 2) return;
    const std::size_t min_ready =
        std::max(rt_->near[index_][thief->index_] ? o.steal_min_ready : o.steal_far_min_ready, 1u);
    // Of the colors that qualify, the one with the fewest runnable threads: a hot color
    // (most of the queue) stays where its data is warm, and handing it over would leave
    // this loop asking for it back.
    color* prev = nullptr;
    color* c = nullptr;
    color* before = nullptr;
    int scanned = 0;
    for (color* x = colors_head_; x && scanned < kStealScan; ++scanned, before = x, x = x->next_) {
        if (x->pins_ == 0 && x->runs_since_move_ >= o.steal_hysteresis &&
            x->ready_.size() >= min_ready && (!c || x->ready_.size() < c->ready_.size())) {
            c = x;
            prev = before;
            if (c->ready_.size() == min_ready) break;  // none can have fewer
        }
    }
    if (!c) return;
    // The thief may have found work and withdrawn meanwhile.
    if (!steal_request_.compare_exchange_strong(thief, nullptr, std::memory_order_acq_rel)) {
        return;
    }
    timespec start;
    ::clock_gettime(CLOCK_MONOTONIC, &start);
    if (prev) {
        prev->next_ = c->next_;
    } else {
        colors_head_ = c->next_;
    }
    if (colors_tail_ == c) colors_tail_ = prev;
    --queued_colors_;
    c->queued_ = false;
    c->next_ = nullptr;
    c->runs_since_move_ = 0;
    ++c->moves_;
    rt_->steals.fetch_add(1, std::memory_order_relaxed);
    thief->push_remote({remote_item::kind::adopt, c, {}, nullptr}, c);
    timespec end;
    ::clock_gettime(CLOCK_MONOTONIC, &end);
    rt_->handoff_ns.fetch_add(
        static_cast<std::uint64_t>((end.tv_sec - start.tv_sec) * 1'000'000'000 +
                                   (end.tv_nsec - start.tv_nsec)),
        std::memory_order_relaxed);
}

void loop::ask_for_colors() {
    if (asked_ || !rt_->options.steal) return;
    asked_ = true;
    for (unsigned v : rt_->victims[index_]) {
        loop* none = nullptr;
        rt_->loops[v]->steal_request_.compare_exchange_strong(none, this,
                                                              std::memory_order_acq_rel);
    }
}

void loop::withdraw_requests() noexcept {
    asked_ = false;
    for (unsigned v : rt_->victims[index_]) {
        std::atomic<loop*>& slot = rt_->loops[v]->steal_request_;
        loop* me = this;
        if (slot.load(std::memory_order_relaxed) == this) {
            slot.compare_exchange_strong(me, nullptr, std::memory_order_acq_rel);
        }
    }
}

bool loop::idle_step() {
    ask_for_colors();
    // Waiting for timers or fds is not idle: those will bring work.
    if (!timers_.empty() || waits_on_kernel()) return false;
    return rt_->go_idle(*this);
}

run_result loop::run() {
    loop* const outer_loop = detail::tl_loop;
    scheduler* const outer_scheduler = detail::tl_scheduler;
    detail::tl_loop = this;
    detail::tl_scheduler = this;
    detail::running_loop_registration registration(*this);

    for (;;) {
        if (remote_pending_.load(std::memory_order_acquire)) drain_remote();
        if (rt_) {
            if (asked_ && has_ready()) withdraw_requests();
            if (steal_request_.load(std::memory_order_relaxed)) serve_steal_request(false);
        }
        run_ready();
        if (!timers_.empty()) fire_timers();
        if (has_ready()) {
            if (waits_on_kernel()) poll(0);
            continue;
        }
        if (rt_) {
            if (idle_step()) break;
        } else if (nothing_left()) {
            break;
        }
        std::int64_t timeout = -1;
        if (!timers_.empty()) timeout = std::max<std::int64_t>(timers_.next_deadline() - now_, 0);
        if (timeout != 0) {
            // About to block: from now on senders must write the eventfd (push_remote). The
            // queue is looked at after the flag is set, so an item pushed before a sender
            // could see the flag is found here.
            sleeping_.store(true, std::memory_order_seq_cst);
            if (remote_pending_.load(std::memory_order_seq_cst)) timeout = 0;
        }
        poll(timeout);
        sleeping_.store(false, std::memory_order_relaxed);
        // The loop may have slept in the kernel: threads woken by I/O or from another kernel
        // thread run next, and a sleep they start must be measured from the time now.
        update_now();
    }

    backend_->flush();
    detail::tl_loop = outer_loop;
    detail::tl_scheduler = outer_scheduler;
    run_result result;
    result.blocked_threads = static_cast<std::size_t>(blocked_);
    // In a runtime, a thread blocked on one loop may have been counted as woken by another:
    // the runtime adds the counts up and reports.
    if (!rt_ && result.blocked_threads != 0) {
        std::fprintf(stderr,
                     "cpc: loop finished with %zu thread(s) blocked forever on condition "
                     "variables\n",
                     result.blocked_threads);
    }
    return result;
}

loop& default_loop() {
    static loop the_default_loop;
    return the_default_loop;
}

}  // namespace cpc
