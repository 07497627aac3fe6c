// resolve_detached: a blocking library call (getaddrinfo) without blocking the loop.
//
// Cooperative threads share one kernel thread, so a native call that blocks (the resolver
// may wait seconds for a DNS server) stops every thread of the loop. CPC's answer is the
// detached thread (paper, section 4): a cpc thread can leave the loop for a pool of kernel
// threads, block there as long as it likes, and come back:
//
//     cpc_detached {                     cpc_scheduler *s = cpc_attach(cpc_default_threadpool);
//         rc = getaddrinfo(name, ...);   rc = getaddrinfo(name, ...);
//         return rc;             ==>     cpc_attach(s);
//     }                                  return rc;
//
// Here cpc::detached(f) is the left column (it runs the callable f on the default pool and
// returns its result on the loop), and cpc::attach is the right one.
//
// To make the difference visible, a ticker thread counts 10 ms ticks on the loop while we
// resolve "localhost" three ways. Local resolution is fast, so each call is followed by a
// pause that stands for a slow DNS server (--delay-ms, default 200). Only loopback names are
// ever resolved: the program takes no name argument.
//
// Usage: resolve_detached [--delay-ms N]   (checks itself, exits 0 on success)
#include <netdb.h>
#include <sys/socket.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common.hpp"

namespace {

using namespace std::chrono_literals;

std::chrono::milliseconds slow_dns_delay{200};

// An ordinary, blocking, native function: it knows nothing of cpc.
struct resolution {
    int rc = 0;
    std::vector<std::string> addresses;
    std::thread::id ran_on;
};

resolution resolve_blocking(const char* name) {
    resolution out;
    out.ran_on = std::this_thread::get_id();
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    out.rc = ::getaddrinfo(name, nullptr, &hints, &res);
    for (addrinfo* p = res; p; p = p->ai_next) {
        char host[NI_MAXHOST];
        if (::getnameinfo(p->ai_addr, p->ai_addrlen, host, sizeof host, nullptr, 0,
                          NI_NUMERICHOST) == 0) {
            out.addresses.emplace_back(host);
        }
    }
    if (res) ::freeaddrinfo(res);
    std::this_thread::sleep_for(slow_dns_delay);  // the slow DNS server
    return out;
}

struct demo {
    bool done = false;
    int ticks = 0;
    int failures = 0;
    example::watchdog dog;
};

// Ticks every 10 ms for as long as the loop lets it run.
cpc::task<void> ticker(demo& d) {
    while (!d.done) {
        co_await cpc::sleep(10ms);
        ++d.ticks;
    }
}

bool looks_like_localhost(const resolution& r) {
    if (r.rc != 0) return false;
    for (const std::string& a : r.addresses) {
        if (a == "127.0.0.1" || a == "::1") return true;
    }
    return false;
}

void report(const char* how, const resolution& r, int ticks) {
    std::string addrs;
    for (const std::string& a : r.addresses)
        addrs += " " + a;
    std::printf("%s: rc=%d (%s), addresses:%s; the ticker ticked %d times meanwhile\n", how, r.rc,
                r.rc == 0 ? "ok" : ::gai_strerror(r.rc), addrs.c_str(), ticks);
}

cpc::task<void> run_demo(demo& d) {
    const std::thread::id loop_thread = std::this_thread::get_id();
    co_await cpc::sleep(30ms);  // let the ticker get going
    bool ok = true;

    // 1. The mistake: calling the blocking function on the loop. Nothing else runs.
    {
        const int before = d.ticks;
        const resolution r = resolve_blocking("localhost");
        const int ticks = d.ticks - before;
        report("on the loop     ", r, ticks);
        ok &= example::check(looks_like_localhost(r), "resolved localhost");
        ok &= example::check(ticks == 0, "the loop was frozen: not a single tick");
    }

    // 2. cpc::detached: the call runs on a pool thread; the loop keeps ticking.
    {
        const int before = d.ticks;
        const resolution r = co_await cpc::detached([] { return resolve_blocking("localhost"); });
        const int ticks = d.ticks - before;
        report("cpc::detached   ", r, ticks);
        ok &= example::check(looks_like_localhost(r), "resolved localhost");
        ok &= example::check(r.ran_on != loop_thread, "on another kernel thread");
        ok &= example::check(ticks >= 5, "the loop kept running (ticks during the call)");
        ok &= example::check(std::this_thread::get_id() == loop_thread, "back on the loop");
    }

    // 3. The same by hand, Figure 2b: attach to the pool, call, attach back. Between the
    //    two attach calls this cpc thread is preemptive and must not touch loop data (d).
    {
        const int before = d.ticks;
        cpc::scheduler& home = co_await cpc::attach(cpc::default_pool());
        const resolution r = resolve_blocking("localhost");
        co_await cpc::attach(home);
        const int ticks = d.ticks - before;
        report("cpc::attach x2  ", r, ticks);
        ok &= example::check(looks_like_localhost(r), "resolved localhost");
        ok &= example::check(r.ran_on != loop_thread, "on another kernel thread");
        ok &= example::check(ticks >= 5, "the loop kept running (ticks during the call)");
        ok &= example::check(std::this_thread::get_id() == loop_thread, "back on the loop");
    }

    if (!ok) ++d.failures;
    d.done = true;  // the ticker ends at its next tick
    d.dog.finish();
}

}  // namespace

int main(int argc, char** argv) {
    for (int i = 1; i < argc; ++i) {
        const std::string_view a = argv[i];
        if (a == "--delay-ms" && i + 1 < argc) {
            slow_dns_delay =
                std::chrono::milliseconds(example::parse_long(argv[++i], 100, 10000, "delay"));
        } else {
            std::printf("usage: %s [--delay-ms N]\n  resolves localhost in a detached thread\n",
                        argv[0]);
            return a == "--help" ? 0 : 2;
        }
    }
    demo d;
    cpc::spawn(d.dog.run(20s));
    cpc::spawn(ticker(d));
    cpc::spawn(run_demo(d));
    const cpc::run_result r = cpc::main_loop();
    bool ok = d.failures == 0;
    ok &= example::check(r.blocked_threads == 0, "no thread left blocked");
    return ok ? 0 : 1;
}
