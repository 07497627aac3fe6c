// cpc::loop: one event loop, the cooperative scheduler of the threads attached to it.
//
// Threads on one loop run one at a time on the loop's kernel thread; code between two
// suspension points is atomic with respect to the other threads of the loop, so they share
// data without locks. The run queue is FIFO: a thread made runnable runs after every thread
// that was already runnable.
//
// The loop is an object, not a global: several can run, one per kernel thread, and threads
// move between them with cpc::attach. cpc::default_loop() is the one used by spawn and
// main_loop when no loop is running on the calling kernel thread. cpc::runtime runs one loop
// per core and moves colors (color.hpp) between them.
//
// Besides its uncolored threads (ready_, FIFO), a loop runs the colors it owns: a FIFO of
// colors that have runnable threads, each color running its own runnable threads in FIFO
// order when its turn comes.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "cpc/detail/current.hpp"
#include "cpc/detail/ring_queue.hpp"
#include "cpc/detail/timer_heap.hpp"
#include "cpc/detail/wait_list.hpp"
#include "cpc/detail/wait_record.hpp"
#include "cpc/scheduler.hpp"

struct io_uring_sqe;

namespace cpc {

class color;
class runtime;

// Readiness kinds for io_wait, combinable: cpc::in | cpc::out. `exclusive` is a flag, not a
// kind: the fd is shared by several loops that all wait on it (one listening socket accepted
// on by every loop of a runtime), and the kernel wakes one blocked loop per event instead of
// all of them (EPOLLEXCLUSIVE). Loops that are not blocked still see the readiness. Waits
// on one fd from one loop must all use it or all not.
enum io_events : unsigned { in = 1u, out = 2u, exclusive = 4u };

// The kernel interface a loop waits with. io_uring: readiness as poll operations, and the
// I/O wrappers (io.hpp) submitted as operations that complete in the kernel. epoll:
// readiness only, the wrappers try the call and wait for readiness on EAGAIN.
enum class backend_kind : unsigned char {
    automatic,  // CPC_BACKEND (io_uring or epoll) if set, else io_uring when the kernel allows
    io_uring,   // epoll when the kernel refuses it (loop::backend_fallback says why)
    epoll,
};

// "automatic", "io_uring" or "epoll".
const char* to_string(backend_kind k) noexcept;

// How a loop is made.
struct loop_options {
    // The kernel interface to wait with.
    backend_kind backend = backend_kind::automatic;
};

namespace detail {
class io_backend;
class fd_table;
struct io_op_base;
struct runtime_state;
void register_loop(loop& l);
void unregister_loop(loop& l) noexcept;
void forget_everywhere(int fd, const loop* here) noexcept;
}  // namespace detail

// What loop::run and runtime::run report when they return.
struct run_result {
    // Threads still waiting on a condition variable when nothing else could run: blocked
    // forever, since nobody is left to signal them. Their frames stay allocated.
    std::size_t blocked_threads = 0;
};

// An event loop: runs its threads one at a time on the kernel thread that calls run()
// (the guarantees are at the top of loop.hpp).
class loop final : public scheduler {
  public:
    // Creating a loop sets SIGPIPE to SIG_IGN if it was SIG_DFL, so that writes to a closed
    // socket or pipe fail with EPIPE instead of killing the process.
    // Throws std::invalid_argument when CPC_BACKEND names no backend.
    loop() : loop(loop_options{}) {}
    // A loop with the given options (and the default constructor's effects).
    explicit loop(loop_options options);
    ~loop() override;

    // What the loop waits with: io_uring or epoll, never automatic.
    backend_kind backend() const noexcept { return backend_kind_; }
    // Why the loop uses epoll although io_uring was wanted (the kernel refused it: the
    // failing call and its error, or the sysctl that forbids it); empty otherwise.
    const std::string& backend_fallback() const noexcept { return fallback_; }
    // One line for a server's startup output: "io_uring", or "epoll" with the fallback's
    // reason in parentheses.
    std::string backend_description() const;

    // Runs threads until nothing can make progress any more: no runnable thread, no pending
    // timer, no fd being waited for, no thread detached to a pool (it may come back), and
    // nothing scheduled from another kernel thread. Threads left blocked on condvars are
    // counted in the result and reported on stderr. Must not be called from a thread of a
    // loop (run does not nest).
    run_result run();

    // Thread-safe. From this loop's own kernel thread it is post(); from another one the
    // handle goes through a locked queue, and the sender writes the loop's eventfd only if
    // the loop is blocked (or about to block) in the kernel: a busy loop finds the handle
    // at its next iteration. The thread runs uncolored here.
    void schedule(std::coroutine_handle<> h) override;

    // Runs fn(*this, obj) on this loop's kernel thread at its next iteration (also when called
    // from that kernel thread). Thread-safe. For primitives whose bookkeeping lives in one
    // loop (timers, fd waits) and that another loop must reach.
    using remote_call = void (*)(loop&, void* obj) noexcept;
    // Queues fn(*this, obj) for this loop's next iteration (see remote_call).
    void call_soon(remote_call fn, void* obj);

    // Appends h to the run queue. Only from this loop's kernel thread.
    void post(std::coroutine_handle<> h) { ready_.push_back(h); }

    // cpc::monotonic_ns() (clock.hpp: CLOCK_MONOTONIC in nanoseconds), read once per loop iteration
    // while timers are pending and after every wait in the kernel: threads woken in the same
    // iteration see the same time, and sleeping is measured from it.
    std::int64_t now() const noexcept { return now_; }

    // The runtime's own primitives use these; they are public so that new primitives can be
    // written outside the library. All of them only from this loop's kernel thread.

    // Arms t to fire delay_ns from now (now() is refreshed first if no timer was pending,
    // since the clock is only read every iteration while timers are pending).
    void add_timer(detail::timer_node* t, std::int64_t delay_ns);
    // Arms t to fire when now() reaches at_ns (at once, at the next iteration, if it has).
    void add_timer_at(detail::timer_node* t, std::int64_t at_ns);
    // Disarms t if it is pending; nothing otherwise.
    void cancel_timer(detail::timer_node* t) noexcept {
        if (t->pending()) timers_.cancel(t);
    }
    // Timers armed and not fired yet (sleeps, deadlines...).
    std::size_t pending_timers() const noexcept { return timers_.size(); }
    // Links l as a waiter for one readiness kind (in or out, possibly with the exclusive
    // flag) of fd; l->wake is called when
    // the kernel reports it (or an error or hang-up on fd). Returns false, linking nothing,
    // when the kernel cannot poll fd (a regular file, a bad fd): it counts as ready, and the
    // next call on it tells what is wrong.
    bool watch_fd(int fd, io_events kind, detail::wait_link* l);
    // Unlinks l, linked by watch_fd(fd, kind, l) and not woken yet.
    void unwatch_fd(int fd, io_events kind, detail::wait_link* l) noexcept;
    // Forgets what the loop knows of fd (call when it is closed: the kernel drops it from
    // the poll set, and the number will be reused). Its waiters are woken. cpc::close calls
    // it, and has every other loop that knows fd do the same.
    void forget_fd(int fd) noexcept;
    // Operations (io_op.hpp), on an io_uring loop only (completes_io()). submit_op queues op,
    // prepare filling its SQE (not its user_data), for the loop's next look at the kernel;
    // op->complete runs on this loop when the kernel is done with it. cancel_op asks the kernel
    // to cancel it: the completion still comes, with -ECANCELED or the result if the
    // operation finished first. Ops in flight keep run() going, as fd waits do.
    bool completes_io() const noexcept { return backend_kind_ == backend_kind::io_uring; }
    // Fills an operation's SQE from its context (see submit_op).
    using prepare_fn = void (*)(io_uring_sqe* sqe, void* ctx) noexcept;
    // Queues op for the kernel (see completes_io).
    void submit_op(detail::io_op_base* op, prepare_fn prepare, void* ctx);
    // Asks the kernel to cancel op (see completes_io).
    void cancel_op(detail::io_op_base* op) noexcept;
    // Queues close(fd) for the loop's next look at the kernel, its result unread (io_uring
    // only: false elsewhere, and the caller closes fd itself). cpc::close_batched uses it.
    bool close_later(int fd) noexcept;
    // The loop's provided-buffer ring (io_uring, kernel 5.19): an operation submitted with
    // IOSQE_BUFFER_SELECT in buffer_group() gets a buffer from the kernel only when data
    // arrives, and its completion flags name it (IORING_CQE_F_BUFFER, the id above
    // IORING_CQE_BUFFER_SHIFT). The buffer is the caller's until it gives it back with
    // recycle_buffer, on this loop's kernel thread; from another one, give_back_buffer.
    // buffer_group() is -1 when the loop has no ring.
    int buffer_group() const noexcept;
    // The size of each buffer of the ring (0 without a ring).
    std::size_t buffer_size() const noexcept;
    // The data of buffer id of the ring, while the caller owns it.
    const std::byte* provided_buffer(unsigned id) const noexcept;
    // Gives buffer id back to the ring. Only from this loop's kernel thread.
    void recycle_buffer(unsigned id) noexcept;
    // recycle_buffer from any kernel thread (at this loop's next iteration when not on it).
    void give_back_buffer(unsigned id);
    // Threads blocked on condvars: counted so that run() can report them.
    void add_blocked(std::ptrdiff_t delta) noexcept { blocked_ += delta; }
    // The waits of threads suspended on this loop, for cpc::dump_threads: an awaiter links
    // its record here when it suspends (wait_record.hpp).
    detail::wait_registry& waits() noexcept { return waits_; }
    // Runnable threads in the loop's uncolored queue.
    std::size_t runnable() const noexcept { return ready_.size(); }

    // The loop running on the calling kernel thread, or null.
    static loop* current() noexcept { return detail::tl_loop; }

    // Wakes the loop if it sleeps in the kernel. Thread-safe.
    void wake() noexcept;

    // Position in its runtime (0 outside any).
    unsigned index() const noexcept { return index_; }

  private:
    friend class color;
    friend class runtime;
    friend struct detail::runtime_state;
    friend void detail::register_loop(loop& l);
    friend void detail::unregister_loop(loop& l) noexcept;
    friend void detail::forget_everywhere(int fd, const loop* here) noexcept;

    // An entry of the remote queue.
    struct remote_item {
        enum class kind : unsigned char {
            resume,     // h, uncolored
            resume_in,  // h in color obj (forwarded if the color has moved on)
            adopt,      // color obj now belongs to this loop (stealing)
            call,       // fn(*this, obj)
        };
        kind what;
        void* obj;
        std::coroutine_handle<> h;
        remote_call fn;
    };

    void run_ready();
    void run_colors();
    void post_colored(color& c, std::coroutine_handle<> h);
    void enqueue_color(color& c) noexcept;
    // Queues item for this loop and wakes it. A color handed over is made this loop's
    // under the same lock, so that whoever sees the new owner queues after the hand-over.
    void push_remote(const remote_item& item, color* handed_over);
    // The queueing part of push_remote, under remote_mutex_. Returns true if the queue was
    // empty (the sender may have to wake the loop).
    bool queue_locked(const remote_item& item, color* handed_over);
    void adopt(color& c);
    bool has_ready() const noexcept { return !ready_.empty() || colors_head_ != nullptr; }
    // Runtime loops only: steal requests, idleness and the end of the run.
    // Answers an idle loop's request for a color; in_color_turn: called between two
    // threads of a color whose turn is running.
    void serve_steal_request(bool in_color_turn);
    void ask_for_colors();
    void withdraw_requests() noexcept;
    bool idle_step();
    void drain_remote();
    // fd was closed by another kernel thread: forget it before the next io_wait and at the
    // next iteration. Thread-safe.
    void post_forget(int fd);
    void apply_forgets() noexcept;
    bool nothing_left();
    // Threads wait for the kernel: fd readiness or operations in flight.
    bool waits_on_kernel() const noexcept;
    void poll(std::int64_t timeout_ns);
    void fire_timers();
    void update_now() noexcept;

    detail::ring_queue ready_;
    detail::timer_heap timers_;
    std::string fallback_;
    std::unique_ptr<detail::io_backend> backend_;
    std::unique_ptr<detail::fd_table> fds_;
    backend_kind backend_kind_;
    std::int64_t now_ = 0;
    std::ptrdiff_t blocked_ = 0;
    detail::wait_registry waits_;

    // Colors with runnable threads, in the order they will run (intrusive through color).
    color* colors_head_ = nullptr;
    color* colors_tail_ = nullptr;
    std::size_t queued_colors_ = 0;

    std::mutex remote_mutex_;
    std::vector<remote_item> remote_;
    std::vector<remote_item> draining_;  // swapped with remote_: no allocation per drain
    std::atomic<bool> remote_pending_{false};
    // Set while the loop is blocked (or about to block) in the kernel: only then does a
    // sender wake it through the eventfd.
    std::atomic<bool> sleeping_{false};
    // fds closed elsewhere that this loop had armed (under remote_mutex_; see fd_owners.hpp).
    std::vector<int> forgets_;
    std::vector<int> forgetting_;
    std::atomic<bool> forgets_pending_{false};
    unsigned fd_slot_ = 0;  // this loop's bit in the masks of fd_owners.hpp

    // Set while the loop runs inside a runtime.
    detail::runtime_state* rt_ = nullptr;
    unsigned index_ = 0;
    bool asked_ = false;                         // steal requests posted at other loops
    std::atomic<loop*> steal_request_{nullptr};  // an idle loop asking this one for a color
    bool idle_ = false;  // counted idle by the runtime (under remote_mutex_; see runtime.cpp)
};

// The loop used when no loop is running on the calling kernel thread.
loop& default_loop();

// Runs the default loop: cpc's main loop.
inline run_result main_loop() {
    return default_loop().run();
}

}  // namespace cpc
