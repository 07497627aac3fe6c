// loadgen: an HTTP load generator with ApacheBench's semantics, written on the cpc runtime.
//
//   loadgen -c L -n N [-t SECONDS] [-k] [--timeout S] [--samples FILE]
//           [--expect-bytes N] [--expect-body FILE] [--urls FILE [--seed N]] [--warmup S]
//           [--csv] http://127.0.0.1:PORT/path
//
// L client threads (cpc threads on one loop, one kernel thread) each loop: connect, send the
// request, read the whole response, close, record. So exactly L connections are open at any
// time, as with `ab -c L`, and the run ends after N requests (or when SECONDS have passed:
// requests in flight then finish). -k keeps connections open (HTTP/1.1; the response ends
// after its Content-Length). Every request's service time is recorded, from the start of
// connect (or of the request, on a kept-alive connection) to the last byte; the summary on
// stdout follows the method of "Are events fast?" (see stats.hpp). Exit status: 0 when every
// request succeeded, 1 otherwise, 2 for bad usage.
//
// --urls FILE draws each request's path from a weighted list (url_mix.hpp; a SPECweb99-like
// file set, say), deterministically from --seed; the URL argument then gives only the host and
// port, and each body must have the length the list gives, if it gives one. --warmup S
// measures a window: the run lasts S + SECONDS (-t), and the report covers only the last
// SECONDS (the requests that end in them, the bytes read in them, the CPU used in them); a
// line "measuring" and a line "measured" on stdout mark the window's edges as they pass, so
// that a harness reads the server's CPU time at the same moments. With either option the
// report adds bytes (all bytes read: heads and bodies), bytes_per_s, mbit_per_s and
// clients_served (the clients that had a request answered: all of them, unless the server
// starves some); with --warmup also failed_outside_window. Without them the output is as it
// always was.
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <array>
#include <cpc/cpc.hpp>
#include <cpc/version.hpp>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <vector>

#include "http.hpp"
#include "stats.hpp"
#include "url_mix.hpp"

namespace {

using loadgen::sample;

struct config {
    loadgen::url target;
    std::size_t concurrency = 1;
    std::optional<std::size_t> requests;  // -n
    std::optional<double> seconds;        // -t
    bool keep_alive = false;
    double timeout_s = 10;
    std::string samples_path;
    std::optional<std::size_t> expect_bytes;
    std::optional<std::string> expect_body;
    std::string urls_path;         // --urls
    std::uint64_t seed = 1;        // --seed
    std::optional<double> warmup;  // --warmup: the measured window's start
    bool csv = false;
};

// Why a request failed, as counted in the report: connect (refused, no descriptor...), io (a
// reset, or the connection ended before the response did), status (not 2xx), timeout (the
// per-request deadline passed), body (a malformed head, or a body other than expected).
enum class failure { none, connect, io, status, timeout, body, count };
constexpr std::array<const char*, static_cast<std::size_t>(failure::count)> kFailureNames = {
    "", "failed_connect", "failed_io", "failed_status", "failed_timeout", "failed_body"};

struct run_state {
    config cfg;
    cpc::endpoint server;  // the target URL's address and port
    std::string request;
    std::int64_t t0_ns = 0;
    std::int64_t deadline_ns = 0;  // 0: none
    std::size_t started = 0;
    std::vector<sample> samples;
    std::array<std::size_t, static_cast<std::size_t>(failure::count)> failures{};
    std::optional<loadgen::url_mix> mix;  // --urls
    std::vector<std::string> requests;    // with a mix: the request for each of its URLs
    std::uint64_t bytes_read = 0;         // every byte read from the server, heads included
    bool counting = true;                 // false outside the --warmup window
    std::size_t clients_served = 0;       // clients with a request answered while counting
    std::size_t failed_outside_window = 0;

    bool may_start() const {
        if (cfg.requests && started >= *cfg.requests) return false;
        return deadline_ns == 0 || cpc::monotonic_ns() < deadline_ns;
    }
};

struct outcome {
    failure fail = failure::none;
    int status = 0;
    bool reusable = false;  // the connection may carry the next request
    bool stale = false;     // a kept-alive connection the server had closed: retry anew
};

// Compares a piece of the body, at `offset`, with what is expected.
bool body_matches(const run_state& st, std::size_t offset, const char* data, std::size_t n) {
    if (!st.cfg.expect_body) return true;
    const std::string& want = *st.cfg.expect_body;
    return offset + n <= want.size() && want.compare(offset, n, data, n) == 0;
}

// One request on fd (connected first if it is empty), for URL `which` of the mix if there is one.
// Leaves fd open for the caller to reuse or reset.
cpc::task<outcome> exchange(run_state& st, cpc::unique_fd& fd, std::vector<char>& buf,
                            std::size_t which) {
    const std::string& request = st.mix ? st.requests[which] : st.request;
    const std::optional<std::size_t> expect_bytes =
        st.mix ? (*st.mix)[which].bytes : st.cfg.expect_bytes;
    outcome out;
    const bool reused = static_cast<bool>(fd);
    if (!reused) {
        cpc::connect_result c = co_await cpc::connect_to(st.server);
        if (!c) {
            out.fail =
                c.error == std::errc::operation_canceled ? failure::timeout : failure::connect;
            co_return out;
        }
        fd = std::move(c.fd);
    }
    const cpc::io_result w = co_await cpc::write(fd.get(), request.data(), request.size());
    if (!w) {
        out.fail = w.error == std::errc::operation_canceled ? failure::timeout : failure::io;
        out.stale = reused;
        co_return out;
    }

    // The head, then the body: Content-Length bytes, or up to the end of the connection.
    std::string head;
    loadgen::response_head h;
    std::size_t body = 0;
    bool have_head = false, body_ok = true;
    for (;;) {
        if (have_head && h.content_length && body >= *h.content_length) break;
        const cpc::io_result r = co_await cpc::read(fd.get(), buf.data(), buf.size());
        if (!r) {
            out.fail = r.error == std::errc::operation_canceled ? failure::timeout : failure::io;
            out.stale = reused && head.empty();
            co_return out;
        }
        if (r.bytes == 0) {
            if (have_head && !h.content_length) break;  // the end of the connection is the end
            out.fail = failure::io;                     // cut short
            out.stale = reused && head.empty();
            co_return out;
        }
        st.bytes_read += r.bytes;
        const char* data = buf.data();
        std::size_t n = r.bytes;
        if (!have_head) {
            head.append(data, n);
            const loadgen::head_state s = loadgen::parse_head(head, h);
            if (s == loadgen::head_state::bad) {
                out.fail = failure::body;
                co_return out;
            }
            if (s == loadgen::head_state::incomplete) {
                if (head.size() > 65536) {
                    out.fail = failure::body;
                    co_return out;
                }
                continue;
            }
            have_head = true;
            out.status = h.status;
            data = head.data() + h.header_bytes;
            n = head.size() - h.header_bytes;
        }
        body_ok = body_ok && body_matches(st, body, data, n);
        body += n;
    }
    if (h.content_length && body > *h.content_length) body_ok = false;  // more than announced
    if (expect_bytes && body != *expect_bytes) body_ok = false;
    if (st.cfg.expect_body && body != st.cfg.expect_body->size()) body_ok = false;
    if (h.status < 200 || h.status > 299) {
        out.fail = failure::status;
    } else if (!body_ok) {
        out.fail = failure::body;
    }
    out.reusable = st.cfg.keep_alive && h.keep_alive && body_ok;
    co_return out;
}

// A client thread: one request at a time, until the run is over.
cpc::task<void> client(run_state& st) {
    std::vector<char> buf(16384);
    cpc::unique_fd fd;  // kept between requests with --keep-alive
    bool served = false;
    const auto timeout = std::chrono::duration<double>(st.cfg.timeout_s);
    while (st.may_start()) {
        ++st.started;
        const std::size_t which = st.mix ? st.mix->next() : 0;
        const std::int64_t start = cpc::monotonic_ns();
        std::optional<outcome> r =
            co_await cpc::with_timeout(timeout, exchange(st, fd, buf, which));
        if (r && r->stale) {  // the server closed an idle kept-alive connection: once more
            fd.reset();
            std::optional<outcome> again =
                co_await cpc::with_timeout(timeout, exchange(st, fd, buf, which));
            r = again;
        }
        const std::int64_t end = cpc::monotonic_ns();
        const failure f = r ? r->fail : failure::timeout;
        if (!st.counting) {
            st.failed_outside_window += f != failure::none;
        } else {
            if (f != failure::none) ++st.failures[static_cast<std::size_t>(f)];
            st.samples.push_back(sample{(start - st.t0_ns) / 1000, (end - start) / 1000,
                                        r ? r->status : 0, f == failure::none});
            if (f == failure::none && !served) {
                served = true;
                ++st.clients_served;
            }
        }
        if (!(r && r->fail == failure::none && r->reusable)) fd.reset();
    }
}

// Up to the hard limit (20,000 here): every client needs a descriptor.
void raise_fd_limit() {
    rlimit rl{};
    if (::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        ::setrlimit(RLIMIT_NOFILE, &rl);
    }
}

double cpu_seconds(const timeval& tv) {
    return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6;
}

// What the report's rates divide by: the clock, the bytes read and the CPU used so far.
struct mark {
    std::int64_t ns = 0;
    std::uint64_t bytes = 0;
    rusage ru{};
};

mark mark_now(const run_state& st) {
    mark m;
    m.ns = cpc::monotonic_ns();
    m.bytes = st.bytes_read;
    ::getrusage(RUSAGE_SELF, &m.ru);
    return m;
}

void announce(const char* line) {
    std::printf("%s\n", line);
    std::fflush(stdout);
}

// --warmup: counts nothing for `warmup`, then everything for `seconds`, then stops the run
// (requests in flight finish, uncounted).
cpc::task<void> measuring_window(run_state& st, double warmup, double seconds, mark& from,
                                 mark& to) {
    co_await cpc::sleep(std::chrono::duration<double>(warmup));
    from = mark_now(st);
    st.counting = true;
    announce("measuring");
    co_await cpc::sleep(std::chrono::duration<double>(seconds));
    to = mark_now(st);
    st.counting = false;
    st.deadline_ns = to.ns;
    announce("measured");
}

bool write_samples(const std::string& path, const std::vector<sample>& samples) {
    std::FILE* f = std::fopen(path.c_str(), "w");
    if (!f) return false;
    std::fprintf(f, "start_us,service_us,status,ok\n");
    for (const sample& s : samples)
        std::fprintf(f, "%lld,%lld,%d,%d\n", static_cast<long long>(s.start_us),
                     static_cast<long long>(s.service_us), s.status, s.ok ? 1 : 0);
    return std::fclose(f) == 0;
}

}  // namespace

int main(int argc, char** argv) {
    config cfg;
    std::string url_text, expect_body_path;
    CLI::App app{"HTTP load generator with ApacheBench semantics, on the cpc runtime"};
    app.set_version_flag("--version", "loadgen (cpc) " CPC_VERSION_STRING);
    app.add_option("url", url_text, "http://HOST:PORT/path (HOST: IPv4 address or localhost)")
        ->required();
    app.add_option("-c,--concurrency", cfg.concurrency, "connections open at any time")
        ->check(CLI::Range(1, 100000))
        ->capture_default_str();
    app.add_option("-n,--requests", cfg.requests, "total requests (default 1 without -t)")
        ->check(CLI::PositiveNumber);
    app.add_option("-t,--time", cfg.seconds, "stop starting requests after SECONDS")
        ->check(CLI::PositiveNumber);
    app.add_flag("-k,--keep-alive", cfg.keep_alive, "HTTP/1.1 persistent connections");
    app.add_option("--timeout", cfg.timeout_s, "per-request timeout, seconds")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    app.add_option("--samples", cfg.samples_path,
                   "write start_us,service_us,status,ok per request to FILE");
    app.add_option("--expect-bytes", cfg.expect_bytes, "every body must be N bytes long");
    app.add_option("--expect-body", expect_body_path, "every body must equal FILE's content")
        ->check(CLI::ExistingFile);
    app.add_option("--urls", cfg.urls_path,
                   "draw each request's path from FILE's lines \"WEIGHT PATH [BYTES]\"")
        ->check(CLI::ExistingFile);
    app.add_option("--seed", cfg.seed, "the seed of the --urls draws")->capture_default_str();
    app.add_option("--warmup", cfg.warmup,
                   "seconds before the measured window (then -t SECONDS are measured)")
        ->check(CLI::NonNegativeNumber);
    app.add_flag("--csv", cfg.csv, "report as a CSV header and row instead of key=value lines");
    CLI11_PARSE(app, argc, argv);
    if (cfg.warmup && (!cfg.seconds || cfg.requests)) {
        std::fprintf(stderr, "loadgen: --warmup needs -t (the measured seconds) and no -n\n");
        return 2;
    }
    if (!cfg.urls_path.empty() && (cfg.expect_bytes || !expect_body_path.empty())) {
        std::fprintf(stderr,
                     "loadgen: --urls gives each URL its own length: no --expect-bytes or "
                     "--expect-body\n");
        return 2;
    }

    const std::optional<loadgen::url> target = loadgen::parse_url(url_text);
    if (!target) {
        std::fprintf(stderr, "loadgen: expected http://HOST:PORT/path, got %s\n", url_text.c_str());
        return 2;
    }
    cfg.target = *target;
    if (!cfg.requests && !cfg.seconds) cfg.requests = 1;
    if (!expect_body_path.empty()) {
        std::ifstream in(expect_body_path, std::ios::binary);
        cfg.expect_body.emplace(std::istreambuf_iterator<char>(in),
                                std::istreambuf_iterator<char>());
    }
    raise_fd_limit();

    run_state st;
    st.cfg = cfg;
    if (!cfg.urls_path.empty()) {
        std::ifstream in(cfg.urls_path);
        std::string error;
        std::optional<std::vector<loadgen::weighted_url>> urls = loadgen::read_url_list(in, error);
        if (!urls) {
            std::fprintf(stderr, "loadgen: %s: %s\n", cfg.urls_path.c_str(), error.c_str());
            return 2;
        }
        for (const loadgen::weighted_url& u : *urls) {
            loadgen::url each = cfg.target;
            each.path = u.path;
            st.requests.push_back(loadgen::make_request(each, cfg.keep_alive));
        }
        st.mix.emplace(std::move(*urls), cfg.seed);
    }
    st.server = cfg.target.address;
    st.request = loadgen::make_request(cfg.target, cfg.keep_alive);
    if (cfg.requests) st.samples.reserve(*cfg.requests);

    mark from = mark_now(st), to;
    st.t0_ns = from.ns;
    if (cfg.warmup) {
        st.counting = false;
        // A deadline that the window's end replaces: none before it passes.
        st.deadline_ns =
            st.t0_ns + static_cast<std::int64_t>((*cfg.warmup + *cfg.seconds) * 1e9 + 60e9);
        cpc::spawn(measuring_window(st, *cfg.warmup, *cfg.seconds, from, to));
    } else if (cfg.seconds) {
        st.deadline_ns = st.t0_ns + static_cast<std::int64_t>(*cfg.seconds * 1e9);
    }
    for (std::size_t i = 0; i < cfg.concurrency; ++i)
        cpc::spawn(client(st));
    cpc::main_loop();
    if (!cfg.warmup) to = mark_now(st);
    const double elapsed = static_cast<double>(to.ns - from.ns) / 1e9;
    const double user = cpu_seconds(to.ru.ru_utime) - cpu_seconds(from.ru.ru_utime);
    const double sys = cpu_seconds(to.ru.ru_stime) - cpu_seconds(from.ru.ru_stime);

    const loadgen::summary s = loadgen::summarize(st.samples, elapsed);
    if (!cfg.samples_path.empty() && !write_samples(cfg.samples_path, st.samples)) {
        std::fprintf(stderr, "loadgen: cannot write %s\n", cfg.samples_path.c_str());
        return 2;
    }
    if (!s.trim_paper)
        std::fprintf(stderr,
                     "loadgen: %zu samples, fewer than %zu: discarded %zu%% (%zu) at each end "
                     "instead of the paper's %zu\n",
                     s.requests, loadgen::kPaperMinSamples, loadgen::kShortRunTrimPercent,
                     s.trimmed_each_end, loadgen::kPaperTrim);

    // The report: the same fields as key=value lines or as one CSV row.
    std::vector<std::pair<std::string, std::string>> fields;
    auto add = [&](const char* key, std::string value) {
        fields.emplace_back(key, std::move(value));
    };
    auto num = [](double v) {
        char b[64];
        std::snprintf(b, sizeof b, "%.3f", v);
        return std::string(b);
    };
    add("url", url_text);
    add("concurrency", std::to_string(cfg.concurrency));
    add("keep_alive", cfg.keep_alive ? "1" : "0");
    add("requests", std::to_string(s.requests));
    add("ok", std::to_string(s.ok));
    add("failed", std::to_string(s.failed));
    for (std::size_t i = 1; i < kFailureNames.size(); ++i)
        add(kFailureNames[i], std::to_string(st.failures[i]));
    add("elapsed_s", num(elapsed));
    add("requests_per_s", num(s.requests_per_s));
    add("trim_rule", s.trim_paper ? "paper" : "proportional");
    add("trimmed_each_end", std::to_string(s.trimmed_each_end));
    add("kept", std::to_string(s.kept));
    add("mean_ms", num(s.mean_ms));
    add("median_ms", num(s.median_ms));
    add("measured_load", num(s.measured_load));
    add("cpu_user_s", num(user));
    add("cpu_sys_s", num(sys));
    add("cpu_core_fraction", num(elapsed > 0 ? (user + sys) / elapsed : 0));
    if (st.mix || cfg.warmup) {
        const double bytes = static_cast<double>(to.bytes - from.bytes);
        add("bytes", std::to_string(to.bytes - from.bytes));
        add("bytes_per_s", num(elapsed > 0 ? bytes / elapsed : 0));
        add("mbit_per_s", num(elapsed > 0 ? bytes * 8 / elapsed / 1e6 : 0));
        add("clients_served", std::to_string(st.clients_served));
    }
    if (cfg.warmup) add("failed_outside_window", std::to_string(st.failed_outside_window));
    if (cfg.csv) {
        for (std::size_t i = 0; i < fields.size(); ++i)
            std::printf("%s%s", i ? "," : "", fields[i].first.c_str());
        std::printf("\n");
        for (std::size_t i = 0; i < fields.size(); ++i)
            std::printf("%s%s", i ? "," : "", fields[i].second.c_str());
        std::printf("\n");
    } else {
        for (const auto& [k, v] : fields)
            std::printf("%s=%s\n", k.c_str(), v.c_str());
    }
    return s.failed == 0 && s.ok > 0 ? 0 : 1;
}
