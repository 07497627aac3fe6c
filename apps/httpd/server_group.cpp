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

server_group::server_group(server_config cfg, unsigned loops, listener_design design)
    : cfg_(std::move(cfg)), design_(design) {
    loops = std::max(loops, 1u);
    if (loops > 1) {
        runtime_ = std::make_unique<cpc::runtime>(cpc::runtime_options{.threads = loops});
        loops = static_cast<unsigned>(runtime_->size());
        cfg_.reuse_port = design_ == listener_design::reuseport;
        cfg_.descriptor_shares = loops;
        cfg_.cache_size /= loops;
        if (cfg_.max_connections != 0) {
            cfg_.max_connections = std::max<std::size_t>(cfg_.max_connections / loops, 1);
        }
    }
    loops_ = loops;
}

server_group::~server_group() {
    if (shared_fd_ >= 0) cpc::close(shared_fd_);
}

std::string server_group::start() {
    if (runtime_ && design_ == listener_design::shared && shared_fd_ < 0) {
        if (std::string err = open_listener(cfg_, &shared_fd_, &cfg_.port); !err.empty()) {
            return err;
        }
        cfg_.shared_listen_fd = shared_fd_;
    }
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
    listening_.store(servers_.size());
    for (std::size_t i = 0; i < servers_.size(); ++i) {
        runtime_->spawn_on(runtime_->at(i), listen(i));
    }
    return runtime_->run();
}

cpc::task<void> server_group::listen(std::size_t i) {
    co_await servers_[i]->listener();
    if (listening_.fetch_sub(1) == 1 && shared_fd_ >= 0) {
        cpc::close(shared_fd_);  // new connections are refused from now on
        shared_fd_ = -1;
    }
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
