// chat_server: a line-based chat server, the program `make run` starts.
//
//   $ build/examples/chat_server            (then, in other terminals: nc 127.0.0.1 7000)
//
// Everything the paper says about Hekate, in a server a person can talk to:
//
//   - A listening thread accepts connections and spawns threads per client (Figure 1).
//   - Each client has two threads (section 2). The reader reads lines and acts on them; the
//     writer sleeps on a condition variable and sends what the reader and the others queue
//     for it. They share the queue without any lock: threads of a loop never run at the
//     same time, and nothing can happen between a test and a wait.
//   - Every read is guarded by an idle timeout (section 2): an idle client is told so and
//     disconnected, instead of holding the server's resources forever.
//   - Buffers are allocated only after io_wait says data is there (section 3): a thousand
//     silent clients cost a thousand coroutine frames, not a thousand buffers.
//   - Nothing a client does can hurt the others or the server: a line longer than the limit,
//     or bytes that are not text, close that client only; a client that does not read what
//     it is sent is disconnected when its queue reaches a bound, rather than growing memory.
//   - SIGINT/SIGTERM stop the server cleanly. No signal handler: cpc::signal_watch blocks
//     the signals and an ordinary cpc thread receives them as data. That thread closes the
//     listening socket, says goodbye to every client and lets main_loop return once they
//     are gone.
//   - On several cores (--threads N, one loop per core in a cpc::runtime), the room is a
//     color (libasync-mp): every thread that touches the room (the client list, a client's
//     state and queue) runs in the room's color, so two of them never run at once and the
//     code above still needs no lock. A writer leaves the room to send, on a loop of its
//     own, and comes back for the next batch: the network work is spread over the cores.
//
// Commands: /nick NAME, /who, /quit, /help; any other line is said to everyone else.
//
// Usage: chat_server [--port N] [--threads N] [--idle-timeout SECONDS] [--max-line BYTES]
//                    [--max-queue BYTES] [--self-test]
//   --port 0 lets the kernel pick a free port; the first line printed tells which.
//   --self-test runs scripted clients (cpc threads in the same loop) against the server,
//   stops it with a SIGTERM to itself and exits 0 when every check passed.
#include <signal.h>
#include <unistd.h>

#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include <cpc/color.hpp>
#include <cpc/runtime.hpp>
#include <cpc/topology.hpp>
#include <cpc/version.hpp>

#include "common.hpp"

namespace {

using namespace std::chrono_literals;

struct options {
    std::uint16_t port = 7000;
    std::chrono::milliseconds idle_timeout = 10min;
    std::size_t max_line = 1024;        // bytes in a line, without its '\n'
    std::size_t max_queue = 64 * 1024;  // bytes waiting to be sent to one client
    unsigned threads = 0;               // loops; 0: one per CPU the process may run on
    bool self_test = false;
};

constexpr std::size_t kReadChunk = 4096;  // the read buffer, allocated when data is there
constexpr auto kSendTimeout = 30s;        // a client that takes no byte for that long is gone
constexpr auto kLingerTime = 1s;          // a closing connection drains input this long at most
constexpr auto kShutdownGrace = 3s;       // then a stopping server hangs up whoever is left

// The server's log, on stdout, one line per event.
void note(const char* fmt, ...) {
    va_list args;
    va_start(args, fmt);
    std::vprintf(fmt, args);
    va_end(args);
    std::putchar('\n');
    std::fflush(stdout);
}

struct server;

// open: chatting. closing: saying goodbye (the last lines are being sent). gone: hung up.
enum class state { open, closing, gone };

struct client {
    client(server& s, int fd, std::uint64_t id) : srv(s), fd(fd), id(id) {
        nick = "guest" + std::to_string(id);
    }
    client(const client&) = delete;
    client& operator=(const client&) = delete;

    server& srv;
    // Closed with cpc::close when the client goes: the loop forgets fd before its reuse.
    const cpc::unique_fd fd;
    const std::uint64_t id;
    std::string nick;
    state st = state::open;
    bool joined = false;  // welcomed by its reader: from then on it hears the others
    std::string why;      // why the client left, told to the others

    // Lines waiting for the writer. The reader and other clients' readers append; the writer
    // takes them. No lock: the loop runs one thread at a time.
    std::deque<std::string> outbox;
    std::size_t outbox_bytes = 0;
    cpc::condvar outbox_ready;  // the writer sleeps here while there is nothing to send
    cpc::condvar stop_reading;  // cuts the reader's wait short
    cpc::condvar stop_writing;  // cuts the writer's send short (hang-up)
    int threads = 2;            // reader and writer: the last one to end frees the client
};

struct server {
    options opt;
    int listen_fd = -1;
    std::uint16_t port = 0;
    bool stopping = false;
    cpc::condvar stop;      // interrupts the listener's accept and the signal thread's read
    cpc::condvar all_gone;  // signalled when the last client has ended, once stopping
    std::map<std::uint64_t, std::unique_ptr<client>> clients;  // by id, so in joining order
    std::uint64_t next_id = 1;
    // With several loops: the room's color, in which everything above is touched, and the
    // runtime whose loops the writers send from. Null on a single loop.
    cpc::color* room = nullptr;
    cpc::runtime* rt = nullptr;
};

// Starts t as a thread of the room: in its color with several loops, else on this loop.
void spawn_in_room(server& s, cpc::task<void> t) {
    if (s.room) {
        cpc::spawn(*s.room, std::move(t));
    } else {
        cpc::spawn(std::move(t));
    }
}

// ---- the life of a connection -------------------------------------------------------

// Drops the connection now; nothing more is sent. Wakes both threads, wherever they wait.
void hang_up(client& c, std::string why) {
    if (c.st == state::gone) return;
    if (c.why.empty()) c.why = std::move(why);
    c.st = state::gone;
    c.outbox.clear();
    c.outbox_bytes = 0;
    c.outbox_ready.signal_all();
    c.stop_reading.signal_all();
    c.stop_writing.signal_all();
}

// Queues a line for c's writer; never waits. A client whose queue would pass the bound is
// not reading what it is sent: queueing more would let it grow the server's memory without
// limit, so it is hung up instead. (At most two queues' worth per client: the batch being
// sent and the queue behind it.)
void deliver(client& c, std::string_view line) {
    if (c.st != state::open) return;
    if (c.outbox_bytes + line.size() + 1 > c.srv.opt.max_queue) {
        hang_up(c, "too slow: not reading");
        return;
    }
    std::string l;
    l.reserve(line.size() + 1);
    l.append(line).push_back('\n');
    c.outbox_bytes += l.size();
    c.outbox.push_back(std::move(l));
    c.outbox_ready.signal();  // the writer, if it sleeps
}

// Says goodbye: `last_words` is the last line the client gets; the connection closes once
// the writer has sent everything.
void finish(client& c, std::string_view last_words, std::string why) {
    if (c.st != state::open) return;
    deliver(c, last_words);
    if (c.st != state::open) return;  // even the goodbye did not fit: hung up
    c.st = state::closing;
    c.why = std::move(why);
    c.outbox_ready.signal();      // the writer flushes, then closes
    c.stop_reading.signal_all();  // the reader stops listening
}

void broadcast(server& s, const client* from, std::string_view line) {
    // deliver may hang a client up, but never removes one from the map: iterating is safe.
    for (auto& [id, c] : s.clients) {
        if (c.get() != from && c->joined) deliver(*c, line);
    }
}

// The reader and the writer call this as they end; the last one frees the client (whose
// destructor closes the fd). Nothing of c may be touched afterwards.
void thread_ended(client& c) {
    if (--c.threads != 0) return;
    server& s = c.srv;
    s.clients.erase(c.id);
    if (s.stopping && s.clients.empty()) s.all_gone.signal_all();
}

// ---- what clients say ---------------------------------------------------------------

// Text is valid UTF-8 without control characters (tab allowed). Anything else is not chat:
// binary junk, a port scanner, a confused program.
bool is_text(std::string_view s) {
    std::size_t i = 0;
    while (i < s.size()) {
        const auto b = static_cast<unsigned char>(s[i]);
        if (b < 0x80) {
            if ((b < 0x20 && b != '\t') || b == 0x7f) return false;
            ++i;
            continue;
        }
        std::size_t len;
        std::uint32_t cp;
        std::uint32_t min;
        if ((b & 0xe0) == 0xc0) {
            len = 2, cp = b & 0x1f, min = 0x80;
        } else if ((b & 0xf0) == 0xe0) {
            len = 3, cp = b & 0x0f, min = 0x800;
        } else if ((b & 0xf8) == 0xf0) {
            len = 4, cp = b & 0x07, min = 0x10000;
        } else {
            return false;
        }
        if (i + len > s.size()) return false;
        for (std::size_t k = 1; k < len; ++k) {
            const auto cont = static_cast<unsigned char>(s[i + k]);
            if ((cont & 0xc0) != 0x80) return false;
            cp = (cp << 6) | (cont & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
        i += len;
    }
    return true;
}

bool valid_nick(std::string_view n) {
    if (n.empty() || n.size() > 20) return false;
    for (char ch : n) {
        const bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                        (ch >= '0' && ch <= '9') || ch == '_' || ch == '-';
        if (!ok) return false;
    }
    return true;
}

std::string who(const server& s) {
    std::string names;
    std::size_t n = 0;
    for (const auto& [id, c] : s.clients) {
        if (c->st != state::open || !c->joined) continue;
        names += ' ' + c->nick;
        ++n;
    }
    return "* online (" + std::to_string(n) + "):" + names;
}

void command(client& c, std::string_view line) {
    server& s = c.srv;
    const std::size_t space = line.find(' ');
    const std::string_view cmd = line.substr(0, space);
    std::string_view arg = space == std::string_view::npos ? "" : line.substr(space + 1);
    while (!arg.empty() && arg.front() == ' ')
        arg.remove_prefix(1);
    while (!arg.empty() && arg.back() == ' ')
        arg.remove_suffix(1);

    if (cmd == "/nick") {
        if (!valid_nick(arg)) {
            deliver(c, "* usage: /nick NAME (1 to 20 letters, digits, '_' or '-')");
            return;
        }
        for (const auto& [id, other] : s.clients) {
            if (other.get() != &c && other->nick == arg) {
                deliver(c, "* the name " + std::string(arg) + " is taken");
                return;
            }
        }
        const std::string old = std::exchange(c.nick, std::string(arg));
        deliver(c, "* you are now " + c.nick);
        broadcast(s, &c, "* " + old + " is now known as " + c.nick);
        note("[=] %s is now %s", old.c_str(), c.nick.c_str());
    } else if (cmd == "/who") {
        deliver(c, who(s));
    } else if (cmd == "/quit") {
        finish(c, "* bye", "quit");
    } else if (cmd == "/help") {
        deliver(c, "* /nick NAME: change your name; /who: who is here; /quit: leave");
        deliver(c, "* any other line is said to everyone else");
    } else {
        deliver(c, "* unknown command " + std::string(cmd) + " (try /help)");
    }
}

void too_long(client& c) {
    finish(
        c,
        "* line too long (the limit is " + std::to_string(c.srv.opt.max_line) + " bytes), goodbye",
        "line too long");
}

void handle_line(client& c, std::string_view line) {
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);  // telnet sends CRLF
    if (line.size() > c.srv.opt.max_line) {
        too_long(c);
        return;
    }
    if (!is_text(line)) {
        finish(c, "* that was not text, goodbye", "sent binary data");
        return;
    }
    if (line.empty()) return;
    if (line.front() == '/') {
        command(c, line);
    } else {
        broadcast(c.srv, &c, "<" + c.nick + "> " + std::string(line));
    }
}

// Cuts what arrived into lines. A line may come in pieces: `partial` keeps the unfinished
// one, and never more than max_line bytes of it.
void handle_input(client& c, std::string& partial, std::string_view data) {
    const std::size_t max_line = c.srv.opt.max_line;
    while (!data.empty() && c.st == state::open) {
        const std::size_t nl = data.find('\n');
        const std::string_view piece = data.substr(0, nl);
        // (+1: room for the '\r' of a CRLF ending; handle_line checks the exact length)
        if (partial.size() + piece.size() > max_line + 1) {
            too_long(c);
            return;
        }
        partial.append(piece);
        if (nl == std::string_view::npos) break;  // the rest of the line is still to come
        data.remove_prefix(nl + 1);
        handle_line(c, partial);
        partial.clear();
    }
    // An idle client holds no line buffer either.
    if (partial.empty()) partial.shrink_to_fit();
}

// ---- the two threads of a client ----------------------------------------------------

// io_wait as a cps function, so that with_timeout can guard it.
cpc::task<bool> wait_for_input(int fd, cpc::condvar* interrupt) {
    co_return co_await cpc::io_wait(fd, cpc::in, interrupt);
}

cpc::task<void> reader(client& c) {
    server& s = c.srv;
    std::string partial;
    note("[+] %s connected", c.nick.c_str());
    c.joined = true;
    deliver(c, "* welcome, " + c.nick + "! " + who(s).substr(2));
    deliver(c, "* type to chat; /help lists the commands");
    broadcast(s, &c, "* " + c.nick + " joined");

    while (c.st == state::open) {
        // Wait for input, at most the idle timeout. stop_reading cuts the wait short when
        // the client is being closed (by the server, or by another thread's decision).
        const std::optional<bool> ready = co_await cpc::with_timeout(
            s.opt.idle_timeout, wait_for_input(c.fd.get(), &c.stop_reading));
        if (!ready) {
            const auto secs =
                std::chrono::duration_cast<std::chrono::duration<double>>(s.opt.idle_timeout);
            char msg[96];
            std::snprintf(msg, sizeof msg, "* idle for %g s, goodbye", secs.count());
            finish(c, msg, "idle");
            break;
        }
        if (!*ready) break;  // interrupted: finish or hang_up has set the state

        // Input is there: only now take a buffer. The read does not wait.
        const auto buf = std::make_unique<char[]>(kReadChunk);
        const cpc::io_result r =
            co_await cpc::read(c.fd.get(), buf.get(), kReadChunk, &c.stop_reading);
        if (r.error == std::errc::operation_canceled) break;
        if (!r || r.bytes == 0) {
            hang_up(c, r ? "disconnected" : r.error.message());
            break;
        }
        handle_input(c, partial, std::string_view(buf.get(), r.bytes));
    }
    if (c.st == state::open) hang_up(c, "?");  // not reached; keeps the invariant obvious

    note("[-] %s left (%s)", c.nick.c_str(), c.why.c_str());
    broadcast(s, &c, "* " + c.nick + " left (" + c.why + ")");
    thread_ended(c);
}

// Reads and drops whatever the client still sends, until it closes.
cpc::task<void> drain(int fd, cpc::condvar* interrupt) {
    char sink[512];
    for (;;) {
        const cpc::io_result r = co_await cpc::read(fd, sink, sizeof sink, interrupt);
        if (!r || r.bytes == 0) break;
    }
}

cpc::task<void> writer(client& c, cpc::loop* send_loop) {
    for (;;) {
        // Sleep until there is something to send (or the client is leaving).
        while (c.outbox.empty() && c.st == state::open)
            co_await c.outbox_ready.wait();
        if (c.st == state::gone || c.outbox.empty()) break;  // hung up, or all said

        // Take everything queued: one system call for many lines.
        std::string batch;
        batch.reserve(c.outbox_bytes);
        for (const std::string& l : c.outbox)
            batch += l;
        c.outbox.clear();
        c.outbox_bytes = 0;

        // With several loops the batch is the writer's own: it leaves the room to send it, so
        // that sends run in parallel with the room's work, and comes back for the client's
        // state. (A hang-up while it is out is seen when the send ends: at once if the client
        // is gone, at the send timeout at worst.)
        if (send_loop) co_await cpc::attach(*send_loop);
        // cpc::send passes MSG_NOSIGNAL: a vanished client is an EPIPE value, never SIGPIPE.
        // stop_writing cuts a send short on hang-up; the timeout drops a client that has not
        // taken a single byte for a long time.
        const std::optional<cpc::io_result> r = co_await cpc::with_timeout(
            kSendTimeout, cpc::send(c.fd.get(), batch.data(), batch.size(), 0, &c.stop_writing));
        if (send_loop) co_await cpc::recolor(*c.srv.room);
        if (!r) {
            hang_up(c, "not reading");
            break;
        }
        if (!*r) {
            hang_up(c, r->error.message());
            break;
        }
    }
    if (c.st == state::closing) {
        // A graceful close: our side is done (FIN after the last line), then drain what the
        // client still sends until it closes too. Closing with unread input would send a
        // reset, which can destroy the goodbye before the client has read it.
        ::shutdown(c.fd.get(), SHUT_WR);
        co_await cpc::with_timeout(kLingerTime, drain(c.fd.get(), &c.stop_writing));
    }
    thread_ended(c);
}

// ---- the server's own threads -------------------------------------------------------

// Figure 1: accept, and give each connection its two threads.
cpc::task<void> listener(server& s) {
    while (!s.stopping) {
        const cpc::accept_result a = co_await cpc::accept(s.listen_fd, nullptr, nullptr, &s.stop);
        if (!a) {
            if (a.error == std::errc::operation_canceled) break;
            // Out of descriptors (EMFILE): wait a little, the connection waits in the backlog.
            note("accept: %s", a.error.message().c_str());
            co_await cpc::sleep(100ms, &s.stop);
            continue;
        }
        auto owned = std::make_unique<client>(s, a.fd, s.next_id++);
        client& c = *owned;
        s.clients.emplace(c.id, std::move(owned));
        spawn_in_room(s, reader(c));
        spawn_in_room(s, writer(c, s.rt ? &s.rt->next_loop() : nullptr));
    }
    cpc::close(s.listen_fd);  // new connections are refused from now on
    s.listen_fd = -1;
}

// After a stop, clients have kShutdownGrace to receive their goodbye; whoever is still
// there then is hung up. Sleeping on all_gone ends this thread as soon as they are gone.
cpc::task<void> shutdown_deadline(server& s) {
    while (!s.clients.empty()) {
        if (co_await cpc::sleep(kShutdownGrace, &s.all_gone)) {
            for (auto& [id, c] : s.clients)
                hang_up(*c, "server shutdown");
            break;
        }
    }
}

void stop_server(server& s) {
    if (s.stopping) return;
    s.stopping = true;
    s.stop.signal_all();  // the listener (and the signal thread) stop waiting
    for (auto& [id, c] : s.clients) {
        finish(*c, "* server shutting down, goodbye", "server shutdown");
    }
    spawn_in_room(s, shutdown_deadline(s));
}

cpc::task<void> stop_in_room(server& s) {
    stop_server(s);
    co_return;
}

// The signal handler is a cpc thread: it receives SIGINT/SIGTERM from a signal_watch and,
// being an ordinary thread of the loop, may touch any server state (none of a signal
// handler's async-signal-safety rules apply).
cpc::task<void> signal_thread(server& s, cpc::signal_watch& signals) {
    const int sig = co_await signals.next(&s.stop);
    if (sig != 0) {
        note("[!] %s: shutting down", ::strsignal(sig));
        stop_server(s);
    }
    // A second Ctrl-C should not wait for the graceful stop: from now on the signals take
    // their default action again.
    signals.release();
}

// ---- self-test ----------------------------------------------------------------------

struct self_test_state {
    bool passed = false;
    example::watchdog dog;
};

// Asks /who and returns the answer; the lines that came before it are appended to `before`.
cpc::task<std::string> ask_who(example::line_client& c, std::string& before) {
    if (!co_await c.say("/who")) co_return "";
    for (;;) {
        std::optional<std::string> l = co_await c.line();
        if (!l) co_return "";
        if (l->starts_with("* online (")) co_return *l;
        before += *l + '\n';
    }
}

cpc::task<void> self_test(server& s, server& idle_srv, self_test_state& t) {
    using example::check;
    using example::line_client;
    line_client alice, bob, carol;
    bool ok = true;

    std::printf("self-test: three clients join and pick names\n");
    if (ok) ok = check(co_await alice.connect(s.port), "alice connects");
    if (ok) ok = check(co_await alice.expect("welcome"), "alice is welcomed");
    if (ok) ok = check(co_await bob.connect(s.port), "bob connects");
    if (ok) ok = check(co_await bob.expect("welcome"), "bob is welcomed");
    if (ok) ok = check(co_await alice.expect("joined"), "alice sees bob join");
    if (ok) ok = check(co_await carol.connect(s.port), "carol connects");
    if (ok) ok = check(co_await carol.expect("welcome"), "carol is welcomed");
    if (ok) ok = check(co_await alice.say("/nick alice"), "alice: /nick alice");
    if (ok) ok = check(co_await alice.expect("you are now alice"), "alice is alice");
    if (ok) ok = check(co_await bob.expect("is now known as alice"), "bob is told");
    if (ok) ok = check(co_await carol.expect("is now known as alice"), "carol is told");
    if (ok) ok = check(co_await bob.say("/nick bob"), "bob: /nick bob");
    if (ok) ok = check(co_await bob.expect("you are now bob"), "bob is bob");
    if (ok) ok = check(co_await carol.say("/nick alice"), "carol: /nick alice");
    if (ok) ok = check(co_await carol.expect("is taken"), "taken names are refused");
    if (ok) ok = check(co_await carol.say("/nick carol"), "carol: /nick carol");
    if (ok) ok = check(co_await carol.expect("you are now carol"), "carol is carol");

    std::printf("self-test: chat\n");
    if (ok) ok = check(co_await alice.say("hello everyone"), "alice says hello");
    if (ok) ok = check(co_await bob.expect("<alice> hello everyone"), "bob hears alice");
    if (ok) ok = check(co_await carol.expect("<alice> hello everyone"), "carol hears alice");
    if (ok) {
        std::string ignored;
        const std::string w = co_await ask_who(bob, ignored);
        ok = check(w == "* online (3): alice bob carol", ("bob: /who -> " + w).c_str());
    }

    std::printf("self-test: misbehaving clients are closed, the others keep chatting\n");
    if (ok)
        ok = check(co_await carol.send(std::string(s.opt.max_line + 100, 'x') + "\n"),
                   "carol sends an over-long line");
    if (ok) ok = check(co_await carol.expect("line too long"), "carol is told why");
    if (ok) ok = check(co_await carol.expect_closed(), "carol is disconnected");
    carol.close();
    if (ok) ok = check(co_await alice.expect("carol left (line too long)"), "alice is told");
    if (ok) ok = check(co_await bob.say("still here?"), "bob speaks");
    if (ok) ok = check(co_await alice.expect("<bob> still here?"), "alice hears bob");
    {
        line_client junk;
        if (ok) ok = check(co_await junk.connect(s.port), "a client connects");
        if (ok)
            ok = check(co_await junk.send(std::string("\x01\x02\xff\xfe\0junk\n", 10)),
                       "and sends binary junk");
        if (ok) ok = check(co_await junk.expect("not text"), "it is told why");
        if (ok) ok = check(co_await junk.expect_closed(), "it is disconnected");
    }
    if (ok) ok = check(co_await alice.expect("left (sent binary data)"), "alice is told");
    if (ok) ok = check(co_await bob.say("/quit"), "bob: /quit");
    if (ok) ok = check(co_await bob.expect("* bye"), "bob gets a goodbye");
    if (ok) ok = check(co_await bob.expect_closed(), "bob is disconnected");
    bob.close();
    if (ok) ok = check(co_await alice.expect("bob left (quit)"), "alice is told");

    std::printf("self-test: a client that does not read is cut off\n");
    {
        line_client eve;  // a small receive buffer, and she never reads
        if (ok) ok = check(co_await eve.connect(s.port, 4096), "eve connects, never reads");
        if (ok) ok = check(co_await alice.expect("joined"), "alice sees her join");
        const std::string chunk = std::string(900, 'z') + "\n";
        bool cut_off = false;
        std::string told;  // what alice heard meanwhile
        for (int round = 0; ok && !cut_off && round < 400; ++round) {
            std::string lines;
            for (int i = 0; i < 64; ++i)
                lines += chunk;
            ok = co_await alice.send(lines);
            cut_off = (co_await ask_who(alice, told)) == "* online (1): alice";
        }
        if (ok) ok = check(cut_off, "eve is disconnected once her queue is full");
        if (ok) {
            ok = check(told.find("left (too slow: not reading)") != std::string::npos,
                       "alice is told");
        }
        if (ok) ok = check(co_await eve.expect_closed(), "eve's connection is closed");
    }

    std::printf("self-test: an idle client is told and disconnected (on a second server)\n");
    {
        line_client dave;
        if (ok) ok = check(co_await dave.connect(idle_srv.port), "dave connects, stays silent");
        if (ok) ok = check(co_await dave.expect("idle for"), "dave is told he is idle");
        if (ok) ok = check(co_await dave.expect_closed(), "dave is disconnected");
    }
    spawn_in_room(idle_srv, stop_in_room(idle_srv));

    std::printf("self-test: SIGTERM stops the server\n");
    ::kill(::getpid(), SIGTERM);  // received by the signal thread, through the signal_watch
    if (ok) ok = check(co_await alice.expect("server shutting down"), "alice gets a goodbye");
    if (ok) ok = check(co_await alice.expect_closed(), "alice is disconnected");
    t.passed = ok;
    t.dog.finish();
}

void usage(const char* argv0) {
    std::printf(
        "usage: %s [--port N] [--threads N] [--idle-timeout SECONDS] [--max-line BYTES]\n"
        "          [--max-queue BYTES] [--self-test]\n"
        "A line-based chat server on 127.0.0.1 (default port 7000). Connect with\n"
        "  nc 127.0.0.1 7000\n"
        "and type; commands: /nick NAME, /who, /quit, /help. Ctrl-C stops the server.\n"
        "  --port N              listen on port N (0: any free port, printed at start)\n"
        "  --threads N           event loops, one per core, the room a color of them\n"
        "                        (default: one per CPU the process may run on)\n"
        "  --idle-timeout S      disconnect clients silent for S seconds (default 600)\n"
        "  --max-line BYTES      longest line accepted (default 1024)\n"
        "  --max-queue BYTES     most output queued for one client (default 65536)\n"
        "  --self-test           run scripted clients against the server, exit 0 if all pass\n"
        "  --version             print the version and exit\n",
        argv0);
}

}  // namespace

int main(int argc, char** argv) {
    options opt;
    for (int i = 1; i < argc; ++i) {
        const std::string_view a = argv[i];
        const bool has_value = i + 1 < argc;
        if (a == "--port" && has_value) {
            opt.port = example::parse_port(argv[++i]);
        } else if (a == "--idle-timeout" && has_value) {
            char* end = nullptr;
            const double secs = std::strtod(argv[++i], &end);
            if (*end || !(secs > 0 && secs <= 86400)) {
                std::fprintf(stderr, "bad idle timeout: %s\n", argv[i]);
                return 2;
            }
            opt.idle_timeout = std::chrono::milliseconds(static_cast<long long>(secs * 1000));
        } else if (a == "--max-line" && has_value) {
            opt.max_line =
                static_cast<std::size_t>(example::parse_long(argv[++i], 16, 1 << 20, "line limit"));
        } else if (a == "--max-queue" && has_value) {
            opt.max_queue = static_cast<std::size_t>(
                example::parse_long(argv[++i], 4096, 1 << 30, "queue limit"));
        } else if (a == "--threads" && has_value) {
            opt.threads = static_cast<unsigned>(example::parse_long(argv[++i], 0, 1024, "threads"));
        } else if (a == "--self-test") {
            opt.self_test = true;
        } else if (a == "--version") {
            std::printf("chat_server (cpc) %s\n", cpc::version_string);
            return 0;
        } else {
            usage(argv[0]);
            return a == "--help" || a == "-h" ? 0 : 2;
        }
    }

    // First, before any other kernel thread exists (threads inherit the signal mask): from
    // now on SIGINT and SIGTERM are only received by the signal thread.
    cpc::signal_watch signals({SIGINT, SIGTERM});

    server s;
    s.opt = opt;
    try {
        s.listen_fd = example::listen_loopback(opt.port, &s.port);
    } catch (const std::system_error& e) {
        std::fprintf(stderr, "chat_server: port %u: %s\n", opt.port, e.what());
        return 1;
    }
    // One loop per core: a runtime, and the room a color of it. The self-test's second
    // server is a room (a color) of its own.
    const unsigned loops =
        opt.threads ? opt.threads : static_cast<unsigned>(cpc::topology::detect().size());
    std::optional<cpc::runtime> rt;
    std::optional<cpc::color> room, idle_room;
    server idle_srv;
    if (loops > 1) {
        rt.emplace(cpc::runtime_options{.threads = loops});
        room.emplace(*rt);
        idle_room.emplace(*rt);
        s.room = &*room;
        idle_srv.room = &*idle_room;
        s.rt = idle_srv.rt = &*rt;
    }
    std::printf("chat server listening on 127.0.0.1:%u (%u loop%s)\n", s.port,
                rt ? static_cast<unsigned>(rt->size()) : 1u, rt ? "s" : "");
    std::printf("connect with: nc 127.0.0.1 %u   (Ctrl-C stops the server)\n", s.port);
    std::fflush(stdout);

    spawn_in_room(s, signal_thread(s, signals));
    spawn_in_room(s, listener(s));

    // The self-test also runs a second server, whose idle timeout is short enough to test.
    self_test_state t;
    if (opt.self_test) {
        idle_srv.opt = opt;
        idle_srv.opt.idle_timeout = 300ms;
        idle_srv.listen_fd = example::listen_loopback(0, &idle_srv.port);
        spawn_in_room(idle_srv, listener(idle_srv));
        // The scripted clients and their watchdog share state: one loop for both.
        if (rt) {
            rt->spawn_on(rt->at(0), t.dog.run(60s));
            rt->spawn_on(rt->at(0), self_test(s, idle_srv, t));
        } else {
            cpc::spawn(t.dog.run(60s));
            cpc::spawn(self_test(s, idle_srv, t));
        }
    }

    // Returns when every thread has ended: after a stop, once the last client is gone.
    const cpc::run_result r = rt ? rt->run() : cpc::main_loop();
    note("chat server stopped");
    if (opt.self_test) {
        const bool ok = example::check(t.passed, "every self-test step passed") &&
                        example::check(r.blocked_threads == 0, "no thread left blocked");
        return ok ? 0 : 1;
    }
    return r.blocked_threads == 0 ? 0 : 1;
}
