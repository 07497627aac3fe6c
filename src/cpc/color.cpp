#include "cpc/color.hpp"

#include "cpc/runtime.hpp"

namespace cpc {

color::color(loop& home) : scheduler(kind::color), owner_(&home) {}

color::color(runtime& rt) : color(rt.next_loop()) {}

void color::schedule(std::coroutine_handle<> h) {
    loop* owner = owner_.load(std::memory_order_acquire);
    // Only the owner changes owner_, so seeing ourselves is exact.
    if (owner == detail::tl_loop) {
        owner->post_colored(*this, h);
        return;
    }
    owner->push_remote({loop::remote_item::kind::resume_in, this, h, nullptr}, nullptr);
}

color* current_color() noexcept {
    scheduler* s = detail::tl_scheduler;
    return s && s->type() == scheduler::kind::color ? static_cast<color*>(s) : nullptr;
}

}  // namespace cpc
