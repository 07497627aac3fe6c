// A small program on an installed cpc: three cooperative threads sleep for different times,
// each signals a condvar when done, and the main thread waits on it until all have finished.
// It prints cpc's version and the order they finished in, which tests/packaging checks:
//   consumer: cpc 0.1.0, 3 threads finished: 1 2 3
#include <chrono>
#include <cpc/cpc.hpp>
#include <cpc/version.hpp>
#include <cstdio>
#include <string>

namespace {

struct state {
    cpc::condvar done;
    int finished = 0;
    std::string order;
};

cpc::task<void> worker(state& s, int id) {
    co_await cpc::sleep(std::chrono::milliseconds(10 * id));
    ++s.finished;
    s.order += ' ' + std::to_string(id);
    s.done.signal();
}

cpc::task<void> waiter(state& s, int workers) {
    // Two workers may finish in one turn of the loop, before this thread runs again: the
    // count, not the number of wake-ups, says when all are done.
    while (s.finished < workers)
        co_await s.done.wait();
    std::printf("consumer: cpc %s, %d threads finished:%s\n", cpc::version_string, s.finished,
                s.order.c_str());
}

}  // namespace

int main() {
    state s;
    cpc::spawn(waiter(s, 3));
    // Spawned out of order: the sleeps, not the spawns, decide who finishes first.
    for (int id : {3, 1, 2})
        cpc::spawn(worker(s, id));
    const cpc::run_result r = cpc::main_loop();
    return s.finished == 3 && r.blocked_threads == 0 ? 0 : 1;
}
