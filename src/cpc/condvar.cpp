#include "cpc/condvar.hpp"

#include "cpc/detail/wake.hpp"

namespace cpc::detail {

void resume_blocked(wait_link* l) noexcept {
    // Counted on the signaller's loop: the runtime sums the counts of its loops.
    tl_loop->add_blocked(-1);
    scheduler* home = static_cast<const home_waker*>(l->wake)->home;
    wake_at(home, static_cast<condvar::awaiter*>(l)->frame_);
}

}  // namespace cpc::detail
