// Stopping: idle connections close at once, requests in progress have the shutdown grace to
// finish, and whoever is left then is hung up.
#include <cpc/cpc.hpp>

#include "connection.hpp"
#include "server.hpp"

namespace httpd {

void server::stop() {
    if (stopping_) return;
    stopping_ = true;
    listener_wake_.signal_all();  // the listener leaves accept (or its back-off sleep)
    for (connection* c = connections_; c; c = c->next) {
        if (c->idle) c->hang_up();  // nothing in progress: close now
    }
    if (live_ != 0) cpc::spawn(shutdown_deadline());
}

// Requests in progress have the shutdown grace to finish; whoever is left then is hung up.
// Sleeping on all_gone_ ends this thread as soon as the last connection is gone.
cpc::task<void> server::shutdown_deadline() {
    while (live_ != 0) {
        const bool slept = co_await cpc::sleep(cfg_.shutdown_grace, &all_gone_);
        if (slept) {
            for (connection* c = connections_; c; c = c->next)
                c->hang_up();
            break;
        }
    }
}

}  // namespace httpd
