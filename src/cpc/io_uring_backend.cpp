// The io_uring backend: readiness as single-shot poll operations, re-armed while interest
// remains (level-triggered, as epoll's), operations that complete in the kernel (io_op.hpp),
// an eventfd read for wake-ups from other kernel threads, and a provided-buffer ring that
// reads take a buffer from only when data arrives (io.cpp). Everything queued during a loop
// pass goes to the kernel in the one io_uring_enter that also waits and reaps.
//
// user_data says what a completion is for:
//   an io_op_base*            (low two bits 00: operations are at least 8-aligned)
//   kWakeData                 the eventfd read
//   kIgnoredData              a cancel or poll removal: its own result does not matter
//   gen << 32 | fd << 2 | 3   a poll of fd; gen changes whenever the poll is removed or
//                             replaced, so that a completion of a stale poll is dropped
#include <liburing.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <new>
#include <system_error>
#include <vector>

#include "cpc/io_op.hpp"
#include "fd_owners.hpp"
#include "io_backend.hpp"

namespace cpc::detail {

namespace {

// ThreadSanitizer models every fd and checks a close against the fd's earlier uses on other
// threads. A close it does not see (the ring's) leaves the model's record of the number, and
// the number's next life on another loop's kernel thread then reads as a race with the old
// one (clang 14's TSan even crashes reporting it). Under TSan, closes go through close(2).
#if defined(__SANITIZE_THREAD__)
#define CPC_UNDER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define CPC_UNDER_TSAN 1
#endif
#endif
#ifdef CPC_UNDER_TSAN
constexpr bool kCloseInTheRing = false;
#else
constexpr bool kCloseInTheRing = true;
#endif

constexpr std::uint64_t kWakeData = 1;
constexpr std::uint64_t kIgnoredData = 2;
constexpr std::uint64_t kPollTag = 3;
// Submission slots: a pass that queues more (10,000 polls re-armed at once) submits early.
constexpr unsigned kSqEntries = 512;
// Completions held between two reaps. More overflow into the kernel's list (not lost: the
// kernel has IORING_FEAT_NODROP) and are flushed by the next enter.
constexpr unsigned kCqEntries = 8192;
// The provided-buffer ring that reads and receives take from only once data is there: 1 MiB
// per loop. A buffer is held from the completion until its thread runs and copies the data
// out (io.cpp), so this bounds the reads completed in one loop pass; beyond it the kernel
// answers ENOBUFS and the read waits for readiness instead. A request, a peer message, or the
// first part of a larger read (the rest is read by the next call, which tries first).
constexpr unsigned kProvidedBuffers = 256;  // a power of two (the ring's mask)
constexpr unsigned kProvidedBufferSize = 4096;
constexpr int kBufferGroup = 0;

std::uint64_t poll_data(int fd, std::uint32_t gen) {
    return std::uint64_t{gen} << 32 | static_cast<std::uint64_t>(fd) << 2 | kPollTag;
}

unsigned to_poll(unsigned kinds) {
    // As epoll_backend: an exclusive wait admits no POLLRDHUP; a hang-up still reports POLLIN.
    unsigned m = 0;
    if (kinds & in) m |= POLLIN | ((kinds & exclusive) ? 0u : unsigned{POLLRDHUP});
    if (kinds & out) m |= POLLOUT;
    if (kinds & exclusive) m |= EPOLLEXCLUSIVE;
    return m;
}

class io_uring_backend final : public io_backend {
  public:
    // Sets up the ring; false, with the reason in *why, when the kernel refuses.
    io_uring_backend(const unsigned& slot) : slot_(slot) {}
    bool init(std::string* why) {
        io_uring_params p{};
        // COOP_TASKRUN: completions wait for our next system call instead of interrupting the
        // loop's kernel thread; TASKRUN_FLAG says when some wait, so that a look at the ring
        // between two rounds makes a system call only then. Older kernels refuse both.
        p.flags = IORING_SETUP_CQSIZE | IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG;
        p.cq_entries = kCqEntries;
        int r = io_uring_queue_init_params(kSqEntries, &ring_, &p);
        if (r == -EINVAL) {
            p = io_uring_params{};
            p.flags = IORING_SETUP_CQSIZE;
            p.cq_entries = kCqEntries;
            r = io_uring_queue_init_params(kSqEntries, &ring_, &p);
        } else if (r == 0) {
            taskrun_flag_ = true;
        }
        if (r < 0) {
            *why = std::string("io_uring_queue_init: ") + std::strerror(-r);
            return false;
        }
        if (!(p.features & IORING_FEAT_NODROP) || !(p.features & IORING_FEAT_EXT_ARG)) {
            io_uring_queue_exit(&ring_);
            *why = "io_uring: the kernel lacks IORING_FEAT_NODROP or IORING_FEAT_EXT_ARG (5.11)";
            return false;
        }
        wakefd_ = ::eventfd(0, EFD_CLOEXEC);
        if (wakefd_ < 0) {
            const int e = errno;
            io_uring_queue_exit(&ring_);
            throw std::system_error(e, std::generic_category(), "eventfd");
        }
        ready_ = true;
        setup_buffer_ring();
        return true;
    }

    ~io_uring_backend() override {
        if (!ready_) return;
        io_uring_queue_exit(&ring_);  // cancels what is in flight (the loop ends without any)
        ::close(wakefd_);
        if (buf_ring_) ::munmap(buf_ring_, buf_ring_bytes());
    }

    int buffer_group() const noexcept override { return buf_ring_ ? kBufferGroup : -1; }
    std::size_t buffer_size() const noexcept override { return kProvidedBufferSize; }
    const std::byte* provided_buffer(unsigned id) const noexcept override {
        return buffers_.get() + std::size_t{id} * kProvidedBufferSize;
    }
    void recycle_buffer(unsigned id) noexcept override {
        io_uring_buf_ring_add(buf_ring_, buffers_.get() + std::size_t{id} * kProvidedBufferSize,
                              kProvidedBufferSize, static_cast<unsigned short>(id),
                              io_uring_buf_ring_mask(kProvidedBuffers), 0);
        io_uring_buf_ring_advance(buf_ring_, 1);
    }

    backend_kind kind() const noexcept override { return backend_kind::io_uring; }
    bool reports_once() const noexcept override { return true; }

    int set_interest(int fd, unsigned current, unsigned wanted) noexcept override {
        (void)current;
        if (fd < 0) return EBADF;
        fd_state& s = at(fd);
        if (wanted == s.mask) return 0;
        if (s.pending) remove_poll(fd, s);
        s.mask = wanted;
        if (wanted != 0) add_poll(fd, s);
        return 0;
    }

    void forget(int fd) noexcept override {
        if (fd < 0 || static_cast<std::size_t>(fd) >= fds_.size()) return;
        fd_state& s = fds_[static_cast<std::size_t>(fd)];
        if (s.pending) remove_poll(fd, s);
        s.mask = 0;
        // By user_data, not IORING_ASYNC_CANCEL_FD: by the time this loop gets here (another
        // loop may have closed fd), the number may be closed or already reused, and a cancel
        // by fd would look the number up again and miss the file the operations hold.
        for (io_op_base* op = s.ops; op; op = op->next) {
            if (op->closed) continue;
            op->closed = true;
            io_uring_prep_cancel64(get_sqe(), reinterpret_cast<std::uint64_t>(op), 0);
            last_sqe_->user_data = kIgnoredData;
        }
    }

    std::span<const io_event> wait(std::int64_t timeout_ns) override {
        events_.clear();
        for (int fd : rearm_) {
            fd_state& s = fds_[static_cast<std::size_t>(fd)];
            s.queued = false;
            if (s.mask != 0 && !s.pending) add_poll(fd, s);
        }
        rearm_.clear();
        if (!wake_armed_) arm_wake();
        enter(timeout_ns);
        reap();
        return events_;
    }

    void flush() noexcept override {
        if (io_uring_sq_ready(&ring_) != 0) io_uring_submit(&ring_);
    }

    void wake() noexcept override {
        const std::uint64_t one = 1;
        [[maybe_unused]] ssize_t r = ::write(wakefd_, &one, sizeof one);
    }

    void submit(io_op_base* op, prepare_fn prepare, void* ctx) override {
        io_uring_sqe* sqe = get_sqe();
        prepare(sqe, ctx);
        io_uring_sqe_set_data(sqe, op);
        ++in_flight_;
        op->closed = false;
        if (op->fd >= 0) {
            fd_state& s = at(op->fd);
            op->prev = nullptr;
            op->next = s.ops;
            if (s.ops) s.ops->prev = op;
            s.ops = op;
            // So that a close on another kernel thread reaches this loop (cpc::close).
            note_armed(op->fd, slot_);
        }
    }

    void cancel(io_op_base* op) noexcept override {
        io_uring_prep_cancel64(get_sqe(), reinterpret_cast<std::uint64_t>(op), 0);
        last_sqe_->user_data = kIgnoredData;
    }

    bool close_later(int fd) noexcept override {
        if (!kCloseInTheRing) return false;
        io_uring_prep_close(get_sqe(), fd);
        last_sqe_->user_data = kIgnoredData;
        return true;
    }

  private:
    static constexpr std::size_t buf_ring_bytes() noexcept {
        return kProvidedBuffers * sizeof(io_uring_buf);
    }

    // Without the ring (a kernel before 5.19), reads wait for readiness as on epoll.
    void setup_buffer_ring() noexcept {
        void* mem = ::mmap(nullptr, buf_ring_bytes(), PROT_READ | PROT_WRITE,
                           MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (mem == MAP_FAILED) return;
        auto* br = static_cast<io_uring_buf_ring*>(mem);
        io_uring_buf_ring_init(br);
        io_uring_buf_reg reg{};
        reg.ring_addr = reinterpret_cast<std::uint64_t>(br);
        reg.ring_entries = kProvidedBuffers;
        reg.bgid = kBufferGroup;
        if (io_uring_register_buf_ring(&ring_, &reg, 0) != 0) {
            ::munmap(mem, buf_ring_bytes());
            return;
        }
        // Pages are touched only as the kernel fills them.
        buffers_.reset(new (std::nothrow)
                           std::byte[std::size_t{kProvidedBuffers} * kProvidedBufferSize]);
        if (!buffers_) {
            io_uring_unregister_buf_ring(&ring_, kBufferGroup);
            ::munmap(mem, buf_ring_bytes());
            return;
        }
        buf_ring_ = br;
        for (unsigned id = 0; id < kProvidedBuffers; ++id)
            recycle_buffer(id);
    }

    struct fd_state {
        unsigned mask = 0;          // interest: cpc::in | cpc::out, and the exclusive flag
        std::uint32_t gen = 0;      // of the poll in flight, or of the next one
        bool pending = false;       // a poll is in flight
        bool queued = false;        // in rearm_
        io_op_base* ops = nullptr;  // operations in flight on fd
    };

    fd_state& at(int fd) {
        if (fds_.size() <= static_cast<std::size_t>(fd))
            fds_.resize(static_cast<std::size_t>(fd) + 1);
        return fds_[static_cast<std::size_t>(fd)];
    }

    io_uring_sqe* get_sqe() noexcept {
        io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
        while (!sqe) {  // the submission ring is full: hand what it holds to the kernel
            io_uring_submit(&ring_);
            sqe = io_uring_get_sqe(&ring_);
        }
        last_sqe_ = sqe;
        return sqe;
    }

    void add_poll(int fd, fd_state& s) noexcept {
        io_uring_prep_poll_add(get_sqe(), fd, to_poll(s.mask));
        last_sqe_->user_data = poll_data(fd, s.gen);
        s.pending = true;
    }

    void remove_poll(int fd, fd_state& s) noexcept {
        io_uring_prep_poll_remove(get_sqe(), poll_data(fd, s.gen));
        last_sqe_->user_data = kIgnoredData;
        s.pending = false;
        ++s.gen;
    }

    void arm_wake() noexcept {
        io_uring_prep_read(get_sqe(), wakefd_, &wake_count_, sizeof wake_count_, 0);
        last_sqe_->user_data = kWakeData;
        wake_armed_ = true;
    }

    // Whether the kernel holds something for us that only an enter delivers: completions
    // waiting as task work (COOP_TASKRUN defers it to our next system call) or overflowed.
    bool kernel_has_more() const noexcept {
        const unsigned flags = IO_URING_READ_ONCE(*ring_.sq.kflags);
        return (flags & (IORING_SQ_CQ_OVERFLOW | IORING_SQ_TASKRUN)) != 0 || !taskrun_flag_;
    }

    void enter(std::int64_t timeout_ns) {
        if (timeout_ns == 0) {
            // Just looking: no system call when there is nothing to submit and nothing the
            // kernel holds back (completions already in the ring are read without one).
            if (io_uring_sq_ready(&ring_) == 0 && !kernel_has_more()) return;
            const int r = io_uring_submit_and_get_events(&ring_);
            if (r < 0 && r != -EINTR && r != -EBUSY && r != -EAGAIN)
                throw std::system_error(-r, std::generic_category(), "io_uring_enter");
            return;
        }
        __kernel_timespec ts{};
        __kernel_timespec* tsp = nullptr;
        if (timeout_ns > 0) {
            ts.tv_sec = timeout_ns / 1'000'000'000;
            ts.tv_nsec = timeout_ns % 1'000'000'000;
            tsp = &ts;
        }
        io_uring_cqe* cqe = nullptr;
        const int r = io_uring_submit_and_wait_timeout(&ring_, &cqe, 1, tsp, nullptr);
        if (r < 0 && r != -ETIME && r != -EINTR && r != -EBUSY && r != -EAGAIN)
            throw std::system_error(-r, std::generic_category(), "io_uring_enter");
    }

    void reap() {
        for (;;) {
            unsigned head;
            unsigned n = 0;
            io_uring_cqe* cqe;
            io_uring_for_each_cqe(&ring_, head, cqe) {
                ++n;
                complete(cqe->user_data, cqe->res, cqe->flags);
            }
            io_uring_cq_advance(&ring_, n);
            // Completions the ring had no room for wait in the kernel's overflow list.
            if (!(IO_URING_READ_ONCE(*ring_.sq.kflags) & IORING_SQ_CQ_OVERFLOW)) return;
            io_uring_get_events(&ring_);
        }
    }

    void complete(std::uint64_t data, int res, unsigned flags) {
        if ((data & 3) == kPollTag) {
            const int fd = static_cast<int>((data & 0xffffffffu) >> 2);
            const auto gen = static_cast<std::uint32_t>(data >> 32);
            if (static_cast<std::size_t>(fd) >= fds_.size()) return;
            fd_state& s = fds_[static_cast<std::size_t>(fd)];
            if (!s.pending || s.gen != gen) return;  // removed or replaced since
            s.pending = false;
            ++s.gen;
            unsigned kinds = 0;
            if (res < 0) {
                kinds = in | out;  // a bad fd: the next call on it says what is wrong
            } else {
                const auto m = static_cast<unsigned>(res);
                if (m & (POLLIN | POLLRDHUP)) kinds |= in;
                if (m & POLLOUT) kinds |= out;
                if (m & (POLLERR | POLLHUP | POLLNVAL)) kinds |= in | out;
            }
            // Level-triggered: armed again at the next wait() while interest remains (the
            // dispatch of this event may withdraw it first).
            if (!s.queued) {
                s.queued = true;
                rearm_.push_back(fd);
            }
            events_.push_back({fd, kinds});
            return;
        }
        if (data == kWakeData) {
            wake_armed_ = false;
            return;
        }
        if (data == kIgnoredData) return;
        auto* op = reinterpret_cast<io_op_base*>(data);
        --in_flight_;
        if (op->fd >= 0) {
            fd_state& s = fds_[static_cast<std::size_t>(op->fd)];
            if (op->prev) {
                op->prev->next = op->next;
            } else {
                s.ops = op->next;
            }
            if (op->next) op->next->prev = op->prev;
            op->prev = op->next = nullptr;
        }
        if (op->closed && res == -ECANCELED) res = -EBADF;
        op->cqe_flags = flags;
        op->complete(op, res);
    }

    io_uring ring_{};
    bool ready_ = false;
    bool taskrun_flag_ = false;
    const unsigned& slot_;
    int wakefd_ = -1;
    std::uint64_t wake_count_ = 0;
    bool wake_armed_ = false;
    io_uring_sqe* last_sqe_ = nullptr;
    std::vector<fd_state> fds_;
    std::vector<int> rearm_;
    std::vector<io_event> events_;
    io_uring_buf_ring* buf_ring_ = nullptr;
    std::unique_ptr<std::byte[]> buffers_;
};

}  // namespace

std::unique_ptr<io_backend> make_io_uring_backend(const unsigned& slot, std::string* why) {
    auto b = std::make_unique<io_uring_backend>(slot);
    if (!b->init(why)) return nullptr;
    return b;
}

}  // namespace cpc::detail
