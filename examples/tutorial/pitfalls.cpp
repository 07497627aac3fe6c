// The right-hand examples of docs/pitfalls.md, compiled and run: each one checks that it
// does what the document says (exit status 0), and the document quotes them from here.
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cpc/cpc.hpp>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>

using namespace std::chrono_literals;

namespace {

int failures = 0;

void check(bool ok, const char* what) {
    std::printf("%s: %s\n", ok ? "ok" : "FAIL", what);
    if (!ok) ++failures;
}

// ---- 1. lambda captures ------------------------------------------------------------------

int seen_by_lambda = 0;

void spawn_with_parameters() {
    int n = 42;
    // Right: what the coroutine needs is a parameter, copied into its frame.
    cpc::spawn([](int n) -> cpc::task<void> {
        co_await cpc::sleep(1ms);
        seen_by_lambda = n;
    }(n));
}

// ---- 2. g++ 12 and co_await in a condition -----------------------------------------------

bool woke_early = false;

cpc::task<void> wait_for_signal(cpc::condvar& stop) {
    // Right: await into a named local, then test it.
    const bool slept = co_await cpc::sleep(10s, &stop);
    if (!slept) woke_early = true;
}

cpc::task<void> signal_soon(cpc::condvar& stop) {
    co_await cpc::yield();
    stop.signal();
}

// ---- 3. clang, pthread_self and thread_local across a move -------------------------------

// Right: the kernel thread's identity read through a function the compiler cannot see
// into, so that it is read again after every co_await.
[[gnu::noinline]] std::thread::id this_kernel_thread() {
    asm volatile("" ::: "memory");
    return std::this_thread::get_id();
}

thread_local int calls_on_this_kernel_thread = 0;

// Right: the thread_local's address is computed inside a function that is not inlined.
[[gnu::noinline]] int& calls_here() {
    asm volatile("" ::: "memory");
    return calls_on_this_kernel_thread;
}

bool moved_to_pool = false;
bool pool_counted_apart = false;

cpc::task<void> hop_to_the_pool() {
    const std::thread::id on_loop = this_kernel_thread();
    ++calls_here();
    cpc::scheduler& home = co_await cpc::attach(cpc::default_pool());
    moved_to_pool = this_kernel_thread() != on_loop;
    pool_counted_apart = ++calls_here() == 1;  // the pool thread's own counter
    co_await cpc::attach(home);
}

// ---- 4. references to temporaries ---------------------------------------------------------

// Right: the text is a parameter by value, so it lives in the thread's frame.
cpc::task<void> greet(int fd, std::string text) {
    co_await cpc::sleep(1ms);  // the caller's statement has long ended by now
    const cpc::io_result sent = co_await cpc::write(fd, text.data(), text.size());
    if (!sent) std::fprintf(stderr, "greet: %s\n", sent.error.message().c_str());
}

}  // namespace

int main() {
    spawn_with_parameters();

    cpc::condvar stop;
    cpc::spawn(wait_for_signal(stop));
    cpc::spawn(signal_soon(stop));

    cpc::spawn(hop_to_the_pool());

    int pair[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, pair) != 0) {
        std::perror("socketpair");
        return 1;
    }
    const cpc::unique_fd out(pair[0]), in(pair[1]);
    const std::string name = "world";
    cpc::spawn(greet(out.get(), "hello, " + name));

    const cpc::run_result r = cpc::main_loop();

    char got[64] = {};
    const ssize_t n = ::read(in.get(), got, sizeof got - 1);

    check(seen_by_lambda == 42, "a coroutine lambda's parameter outlives the lambda");
    check(woke_early, "a sleep awaited into a named local reports its interruption");
    check(moved_to_pool, "the kernel thread read after attach is the pool's");
    check(pool_counted_apart, "a thread_local read after attach is the pool thread's");
    check(n > 0 && std::string(got) == "hello, world", "a by-value string outlives its caller");
    check(r.blocked_threads == 0, "no thread left blocked");
    return failures == 0 ? 0 : 1;
}
