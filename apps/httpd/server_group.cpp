#include "server_group.hpp"

#include <algorithm>
#include <utility>

namespace httpd {

namespace {

cpc::task<void> stop_server(server& s) {
    s.stop();
    co_return;
}

}  // namespace

server_group::server_group(server_config cfg, unsigned loops) : cfg_(std::move(cfg)) {
    loops = std::max(loops, 1u);
    if (loops > 1) {
        runtime_ = std::make_unique<cpc::runtime>(cpc::runtime_options{.threads = loops});
        loops = static_cast<unsigned>(runtime_->size());
        cfg_.reuse_port = true;
        cfg_.descriptor_shares = loops;
        cfg_.cache_size /= loops;
        if (cfg_.max_connections != 0) {
            cfg_.max_connections = std::max<std::size_t>(cfg_.max_connections / loops, 1);
        }
    }
    loops_ = loops;
}

server_group::~server_group() = default;

std::string server_group::start() {
    while (servers_.size() < loops_) {
        servers_.push_back(std::make_unique<server>(cfg_));
        if (std::string err = servers_.back()->start(); !err.empty()) return err;
        // The others join the port the first one got (it may have been 0: any free port).
        cfg_.port = servers_.front()->port();
    }
    return {};
}

cpc::run_result server_group::run(cpc::task<void> control) {
    if (!runtime_) {
        cpc::spawn(std::move(control));
        cpc::spawn(servers_[0]->listener());
        return cpc::main_loop();
    }
    runtime_->spawn_on(runtime_->at(0), std::move(control));
    for (std::size_t i = 0; i < servers_.size(); ++i) {
        runtime_->spawn_on(runtime_->at(i), servers_[i]->listener());
    }
    return runtime_->run();
}

void server_group::stop() {
    if (!runtime_) {
        servers_[0]->stop();
        return;
    }
    for (std::size_t i = 0; i < servers_.size(); ++i) {
        cpc::loop& l = runtime_->at(i);
        if (cpc::loop::current() == &l) {
            servers_[i]->stop();
        } else {
            cpc::spawn(l, stop_server(*servers_[i]));
        }
    }
}

std::vector<std::uint64_t> server_group::accepted_per_loop() const {
    std::vector<std::uint64_t> out;
    for (const auto& s : servers_)
        out.push_back(s->stats().accepted);
    return out;
}

}  // namespace httpd
