// Which loops have each fd in their epoll set, process-wide, so that closing an fd from any
// kernel thread reaches every loop that knows it (cpc::close).
//
// Each live loop has a slot (0..62 for the first 63 loops alive at once; later ones share
// slot 63) and each fd a 64-bit mask of the slots of the loops that armed interest in it. A
// loop sets its bit when it first arms an fd (with the epoll_ctl that adds it, so never on a
// path without a system call) and clears it when it disarms the fd entirely. Closing takes
// the mask (one atomic exchange; no lock when only the closing loop knew the fd) and queues
// a "forget" at every other loop in it; those loops apply it before their next io_wait and
// at their next iteration, waking the fd's waiters.
#pragma once

#include <cstdint>

namespace cpc {
class loop;
}

namespace cpc::detail {

inline constexpr unsigned kSharedFdSlot = 63;

// Gives a new loop its slot (loop::fd_slot_); the loop is reachable by forget_everywhere
// until unregister_loop.
void register_loop(loop& l);
void unregister_loop(loop& l) noexcept;

// Only from the loop's own kernel thread.
void note_armed(int fd, unsigned slot) noexcept;
void note_disarmed(int fd, unsigned slot) noexcept;

// fd is about to be closed: every loop that knows it, except `here` (the caller's loop, which
// forgets it itself), is told to forget it. Thread-safe.
void forget_everywhere(int fd, const loop* here) noexcept;

}  // namespace cpc::detail
