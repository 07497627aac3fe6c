#include "tracker_http.hpp"

#include <curl/curl.h>

#include <cpc/attach.hpp>
#include <cstdio>
#include <memory>
#include <mutex>

#include "client_version.hpp"

namespace hekate {

namespace {

std::string_view as_chars(const std::array<std::uint8_t, 20>& a) {
    return {reinterpret_cast<const char*>(a.data()), a.size()};
}

struct transfer {
    std::string body;
    std::size_t max_body;
    bool too_long = false;
    const std::atomic<bool>* cancel;
};

std::size_t on_data(char* data, std::size_t size, std::size_t n, void* user) {
    auto* t = static_cast<transfer*>(user);
    const std::size_t len = size * n;
    if (t->body.size() + len > t->max_body) {
        t->too_long = true;
        return 0;  // curl aborts with CURLE_WRITE_ERROR
    }
    t->body.append(data, len);
    return len;
}

int on_progress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
    auto* t = static_cast<transfer*>(user);
    return t->cancel && t->cancel->load(std::memory_order_relaxed) ? 1 : 0;
}

// curl_global_init is not safe to race with itself or with other curl calls.
void init_curl_once() {
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct easy_deleter {
    void operator()(CURL* c) const noexcept { curl_easy_cleanup(c); }
};

}  // namespace

std::string percent_encode(std::string_view bytes) {
    static constexpr char hex[] = "0123456789ABCDEF";
    std::string out;
    out.reserve(bytes.size() * 3);
    for (const char ch : bytes) {
        const auto c = static_cast<unsigned char>(ch);
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_' || c == '~') {
            out += static_cast<char>(c);
        } else {
            out += '%';
            out += hex[c >> 4];
            out += hex[c & 15];
        }
    }
    return out;
}

std::string announce_url(std::string_view base, const announce_request& req) {
    std::string url(base);
    url += base.find('?') == std::string_view::npos ? '?' : '&';
    url += "info_hash=" + percent_encode(as_chars(req.hash));
    url += "&peer_id=" + percent_encode(as_chars(req.peer_id));
    url += "&port=" + std::to_string(req.port);
    url += "&uploaded=" + std::to_string(req.uploaded);
    url += "&downloaded=" + std::to_string(req.downloaded);
    url += "&left=" + std::to_string(req.left);
    url += "&compact=1";
    if (req.numwant >= 0) url += "&numwant=" + std::to_string(req.numwant);
    char key[9];
    std::snprintf(key, sizeof key, "%08X", static_cast<unsigned>(req.key));
    url += "&key=";
    url += key;
    if (req.event != announce_event::none) url += "&event=" + std::string(event_name(req.event));
    if (!req.tracker_id.empty()) url += "&trackerid=" + percent_encode(req.tracker_id);
    return url;
}

announce_result http_announce_blocking(const std::string& url, const http_options& opts,
                                       const std::atomic<bool>* cancel) {
    init_curl_once();
    std::unique_ptr<CURL, easy_deleter> curl(curl_easy_init());
    if (!curl) return announce_result::failure("curl_easy_init failed");
    CURL* c = curl.get();
    transfer t{{}, opts.max_body, false, cancel};
    char error[CURL_ERROR_SIZE] = {};
    std::string interface;
    if (opts.bind) interface = "host!" + opts.bind->host();
    long resolve = CURL_IPRESOLVE_WHATEVER;
    if (opts.ipv4 && !opts.ipv6) resolve = CURL_IPRESOLVE_V4;
    if (opts.ipv6 && !opts.ipv4) resolve = CURL_IPRESOLVE_V6;
    // A bound address of one family can only reach trackers of that family.
    if (opts.bind) resolve = opts.bind->family() == AF_INET ? CURL_IPRESOLVE_V4 : CURL_IPRESOLVE_V6;

    curl_easy_setopt(c, CURLOPT_URL, url.c_str());
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(c, CURLOPT_MAXREDIRS, 3L);
    // Pool threads must not get SIGALRM from curl's resolver timeouts.
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(opts.timeout.count()));
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(opts.connect_timeout.count()));
    curl_easy_setopt(c, CURLOPT_IPRESOLVE, resolve);
    if (!interface.empty()) curl_easy_setopt(c, CURLOPT_INTERFACE, interface.c_str());
    curl_easy_setopt(c, CURLOPT_USERAGENT, tracker_user_agent);
    curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");  // some trackers gzip their replies
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &t);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, &t);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, error);

    const CURLcode rc = curl_easy_perform(c);
    if (rc != CURLE_OK) {
        if (t.too_long) return announce_result::failure("tracker reply longer than the limit");
        if (rc == CURLE_ABORTED_BY_CALLBACK) return announce_result::failure("cancelled");
        return announce_result::failure(error[0] ? error : curl_easy_strerror(rc));
    }
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    announce_result r = parse_tracker_reply(t.body);
    // Trackers often give their `failure reason` with a 4xx status: it says more than the
    // status does.
    if (status != 200 && !r.refused) {
        return announce_result::failure("tracker answered HTTP " + std::to_string(status));
    }
    return r;
}

cpc::task<announce_result> http_announce(std::string url, http_options opts,
                                         const std::atomic<bool>* cancel) {
    try {
        announce_result r = co_await cpc::detached(
            [&url, &opts, cancel] { return http_announce_blocking(url, opts, cancel); });
        co_return r;
    } catch (const std::exception& e) {
        co_return announce_result::failure(e.what());
    } catch (...) {
        co_return announce_result::failure("unknown error");
    }
}

}  // namespace hekate
