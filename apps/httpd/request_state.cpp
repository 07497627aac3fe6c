// Recycling request states: a request usually allocates nothing (see request_state.hpp).
#include <memory>
#include <vector>

#include "request_state.hpp"

namespace httpd {

server::request_state_ptr server::new_request_state() {
    if (spare_states_.empty()) return request_state_ptr(new request_state(*this, cfg_.limits));
    request_state_ptr st(spare_states_.back().release());
    spare_states_.pop_back();
    return st;
}

void server::recycle_state::operator()(request_state* st) const noexcept {
    std::vector<std::unique_ptr<request_state>>& spares = st->owner.spare_states_;
    if (spares.size() < kSpareStates) {  // within the capacity reserved: no allocation
        st->clear();
        spares.emplace_back(st);
    } else {
        delete st;
    }
}

}  // namespace httpd
