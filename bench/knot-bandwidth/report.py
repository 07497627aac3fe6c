"""bench/knot-bandwidth's results: the medians of the rounds, the issue's two targets, the
CSV files, the plot in the shape of Knot's Figure 3 ("Why Events Are a Bad Idea") and the markdown report."""
import csv
import dataclasses
import os
import statistics
import subprocess
import tempfile
from pathlib import Path

from common import machine  # bench/common/machine.py (the harness set the path): the CPUs it pins to

# httpd holds its peak bandwidth within this fraction out to the last client count.
PEAK_TOLERANCE = 0.10
# A point where loadgen used this much of its core is client-bound.
CLIENT_BOUND = 0.90
MEDIANS = ["mbit_per_s", "requests_per_s", "client_cpu", "server_cpu", "server_ns_per_byte"]


def aggregate(rows, systems, client_counts):
    """{(server, clients): summary}. A summary has `status`: "ok"; "incomplete" (measured, but
    requests failed or clients went unserved: `note` says which); "failed" (no round measured:
    `note` is the first failure); "partial" (some rounds failed, the medians are the others');
    or "unavailable" (not run here: `note` says why). Measured summaries have the medians of
    MEDIANS, mbit_min and mbit_max over the rounds, the failed requests of all rounds, the
    fewest clients served in a round and the backends httpd reported."""
    out = {}
    for s in systems:
        for c in client_counts:
            if s.unavailable:
                out[(s.name, c)] = {"status": "unavailable", "note": s.unavailable, "rounds": 0}
                continue
            ps = [r for r in rows if r["server"] == s.name and r["clients"] == c]
            good = [r for r in ps if r["valid"]]
            bad = [r for r in ps if not r["valid"]]
            if not good:
                note = bad[0].get("note", "") if bad else "not measured"
                out[(s.name, c)] = {"status": "failed", "note": note, "rounds": len(ps)}
                continue
            a = {"rounds": len(ps), "valid_rounds": len(good)}
            for m in MEDIANS:
                values = [r[m] for r in good if r[m] != ""]
                a[m] = statistics.median(values) if values else None
            a["mbit_min"] = min(r["mbit_per_s"] for r in good)
            a["mbit_max"] = max(r["mbit_per_s"] for r in good)
            a["failed"] = sum(r["failed"] for r in good)
            a["clients_served"] = min(r["clients_served"] for r in good)
            a["backend_used"] = "/".join(sorted({r["backend_used"] for r in good
                                                 if r["backend_used"]}))
            notes = sorted({r["note"] for r in good if r["note"]})
            if bad:
                a["status"] = "partial"
                a["note"] = f"{len(bad)} of {len(ps)} rounds failed: {bad[0].get('note', '')}"
            elif notes:
                a["status"] = "incomplete"
                a["note"] = "; ".join(notes)
            else:
                a["status"], a["note"] = "ok", ""
            out[(s.name, c)] = a
    return out


def measured(a):
    return a is not None and a["status"] in ("ok", "incomplete", "partial")


CSV_FIELDS = ["server", "policy", "backend_requested", "backend_used", "clients", "status",
              "mbit_per_s", "mbit_min", "mbit_max", "requests_per_s", "client_cpu",
              "server_cpu", "server_ns_per_byte", "failed", "clients_served", "rounds",
              "valid_rounds", "note"]


def write_csv(path, agg):
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=CSV_FIELDS, extrasaction="ignore")
        w.writeheader()
        for (name, clients), a in agg.items():
            policy = name.split("-")[1] if name.startswith("httpd-") else ""
            backend = name.split("-", 2)[2] if name.startswith("httpd-") else ""
            row = {"server": name, "policy": policy, "backend_requested": backend,
                   "clients": clients}
            for k, v in a.items():
                row[k] = round(v, 3) if isinstance(v, float) else v
            w.writerow(row)


ROUND_FIELDS = ["server", "clients", "round", "valid", "backend_used", "mbit_per_s",
                "requests_per_s", "bytes", "ok", "failed", "failed_outside_window",
                "clients_served", "client_cpu", "server_cpu", "server_ns_per_byte", "window_s",
                "note"]


def write_rounds_csv(path, rows):
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=ROUND_FIELDS, extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow({k: (round(v, 4) if isinstance(v, float) else v) for k, v in r.items()})


def plot(agg, systems, png, args):
    """Mbit/s against simultaneous clients, log x axis, one line per server: the paper's
    Figure 3. No plot when nothing was measured."""
    lines = []
    with tempfile.TemporaryDirectory() as tmp:
        for s in systems:
            pts = [(c, agg[(s.name, c)]) for c in args.clients]
            pts = [(c, a) for c, a in pts if measured(a)]
            if not pts:
                continue
            data = Path(tmp) / f"{s.name}.dat"
            data.write_text("".join(f"{c} {a['mbit_per_s']}\n" for c, a in pts))
            lines.append(f"'{data}' using 1:2 with linespoints lw 2 title '{s.name}'")
        if not lines:
            return
        script = f"""
set terminal pngcairo size 900,560 font ',10'
set output '{png}'
set title "Web server bandwidth against simultaneous clients (Figure 3 of 'Why Events Are a Bad Idea')\\n\
SPECweb99-like file set, {args.dirs} directories; keep-alive clients; server on CPU \
{machine.SERVER_CPU}, client on CPU {machine.CLIENT_CPU}"
set logscale x 2
set format x '%g'
set xlabel 'simultaneous clients'
set ylabel 'bandwidth (Mbit/s)'
set yrange [0:*]
set grid
set key below
plot {', '.join(lines)}
"""
        subprocess.run(["gnuplot"], input=script, text=True, check=True,
                       stderr=subprocess.DEVNULL)


@dataclasses.dataclass
class Context:
    args: object
    started: object
    finished: object
    cpu_source: str
    load_before: tuple
    load_after: tuple
    mean_response: float
    set_bytes: int
    png: str = None


def _others(systems):
    return [s for s in systems if not s.ours and not s.unavailable]


def peak_target(agg, s, clients):
    """The first target for one httpd line: from the client count of its peak on, every
    median stays within PEAK_TOLERANCE of the peak, out to the last client count."""
    what = (f"{s.name} holds its peak bandwidth within {PEAK_TOLERANCE:.0%} out to "
            f"{clients[-1]:,} clients")
    pts = [(c, agg[(s.name, c)]) for c in clients]
    if s.unavailable:
        return None
    if not all(measured(a) for _, a in pts):
        missing = [f"{c:,}: {a['note']}" for c, a in pts if not measured(a)]
        return f"- **MISS**: {what}: not measured at {'; '.join(missing)}"
    peak_c, peak = max(((c, a["mbit_per_s"]) for c, a in pts), key=lambda x: x[1])
    after = [(c, a["mbit_per_s"] / peak) for c, a in pts if c >= peak_c]
    low_c, low = min(after, key=lambda x: x[1])
    last = pts[-1][1]
    incomplete = [f"{c:,} ({a['note']})" for c, a in pts if c >= peak_c and a["status"] != "ok"]
    ok = low >= 1 - PEAK_TOLERANCE and not incomplete
    text = (f"- **{'PASS' if ok else 'MISS'}**: {what}: peak {peak:.0f} Mbit/s at {peak_c:,} "
            f"clients; {last['mbit_per_s']:.0f} Mbit/s at {clients[-1]:,} "
            f"({last['mbit_per_s'] / peak:.2f} of the peak); lowest after the peak "
            f"{low:.2f} at {low_c:,}")
    if incomplete:
        text += f"; not every client served or every request answered at {', '.join(incomplete)}"
    return text


def best_of_others(agg, others, c):
    """(name, Mbit/s) of the fastest other server at `c` clients, or None."""
    vals = [(o.name, agg[(o.name, c)]["mbit_per_s"]) for o in others
            if measured(agg[(o.name, c)])]
    return max(vals, key=lambda x: x[1]) if vals else None


def best_target(agg, s, others, clients):
    """The second target for one httpd line: at every client count at least the best of the
    other servers (their median against its median)."""
    names = ", ".join(o.name for o in others) or "the other servers"
    what = f"{s.name} is at every client count at least the best of {names}"
    if s.unavailable:
        return None
    if not others:
        return f"- **not measured**: {what} (no other server ran)"
    ratios, missing = [], []
    for c in clients:
        a, best = agg[(s.name, c)], best_of_others(agg, others, c)
        if not measured(a):
            missing.append(f"{c:,}: {a['note']}")
        elif best:
            ratios.append((c, a["mbit_per_s"] / best[1], best[0]))
    if missing:
        return f"- **MISS**: {what}: httpd not measured at {'; '.join(missing)}"
    if not ratios:
        return f"- **not measured**: {what} (no other server measured)"
    behind = [(c, r, n) for c, r, n in ratios if r < 1.0]
    low_c, low, low_n = min(ratios, key=lambda x: x[1])
    text = (f"- **{'PASS' if not behind else 'MISS'}**: {what}: lowest ratio {low:.2f}x "
            f"({low_n} at {low_c:,} clients)")
    if behind:
        text += (f"; behind at {len(behind)} of {len(ratios)} client counts: " +
                 ", ".join(f"{c:,} ({r:.2f}x {n})" for c, r, n in behind))
    return text


def ours_failed(agg, systems):
    """True when a point of httpd (on a backend it has) has no measurement at all."""
    return any(a["status"] == "failed" for (name, _), a in agg.items()
               if any(s.name == name and s.ours and not s.unavailable for s in systems))


def _cell(a, key, fmt):
    if a is None or a["status"] in ("failed", "unavailable"):
        return "failed" if a and a["status"] == "failed" else ""
    v = a.get(key)
    if v is None or v == "":
        return ""
    mark = "" if a["status"] == "ok" else " †"
    return fmt.format(v) + mark


def _table(agg, systems, clients, key, fmt):
    shown = [s for s in systems if not s.unavailable]
    out = ["| clients | " + " | ".join(s.name for s in shown) + " |",
           "|---:|" + "---:|" * len(shown)]
    for c in clients:
        out.append(f"| {c:,} | " + " | ".join(_cell(agg[(s.name, c)], key, fmt) for s in shown)
                   + " |")
    return out


def summary(agg, systems, ctx):
    a = ctx.args
    mode = " --smoke" if a.smoke else " --quick" if a.quick else ""
    clients = a.clients
    others = _others(systems)
    ours = [s for s in systems if s.ours]
    out = [
        "# bench/knot-bandwidth: web server bandwidth against simultaneous clients", "",
        f"Figure 3 of \"Why Events Are a Bad Idea (for High-Concurrency Servers)\" (von Behren, "
        f"Condit and Brewer, HotOS IX, 2003) re-run on this machine by "
        f"`bench/knot-bandwidth/run{mode}`, {ctx.started:%Y-%m-%d %H:%M}–{ctx.finished:%H:%M} "
        f"UTC, {os.cpu_count()} CPUs; load average before the run {ctx.load_before[0]:.1f} "
        f"(1 min), {ctx.load_before[1]:.1f} (5 min).", "",
        f"- **File set**: SPECweb99-like, {a.dirs} directories of 36 files (four classes of "
        f"nine: 0.1–0.9 KB, 1–9 KB, 10–90 KB, 100–900 KB, requested 35/50/14/1 %; directories "
        f"and files within a class Zipf-distributed), {ctx.set_bytes / 2**20:.0f} MiB, read "
        f"once into the page cache before the first point; mean response "
        f"{ctx.mean_response / 1000:.1f} KB.",
        f"- **Clients**: bench/loadgen `-k --urls`, one cpc loop on CPU {machine.CLIENT_CPU}: "
        f"each client sends its next request as soon as the last answer is in, on one "
        f"kept-alive connection (a closed loop). Bandwidth counts every byte read, heads "
        f"included, in Mbit/s (10^6 bits).",
        f"- **Servers**: one core each, CPU {machine.SERVER_CPU}: httpd `--threads 1` with "
        f"`--policy active` (Knot-C: active connections first) and `--policy accept` (Knot-A: "
        f"accepting first) on each backend asked for (`CPC_BACKEND`); nginx "
        f"`worker_processes 1`, lighttpd (one process), h2o `num-threads: 1`, configured as in "
        f"bench/are-events-fast.",
        f"- **Method**: at each client count, every server started afresh, "
        f"{'warm-up ' + ('1 s + 1 s per 4,096 clients' if a.warmup is None else f'{a.warmup:g} s') if not a.smoke else 'warm-up 0.5 s'}, "
        f"then {a.seconds:g} s measured; {a.rounds} round(s), the servers alternating A B … B A; "
        f"medians. Server CPU from {ctx.cpu_source}.", "",
        "## Targets", "",
    ]
    for s in ours:
        if s.unavailable:
            out.append(f"- **not measured**: {s.name}: {s.unavailable}")
            continue
        out.append(peak_target(agg, s, clients))
        out.append(best_target(agg, s, others, clients))
    out += ["", "## Bandwidth (Mbit/s, medians)", ""]
    out += _table(agg, systems, clients, "mbit_per_s", "{:.0f}")
    out += ["", "† measured, but not every request was answered or not every client served, or "
            "some rounds failed: see the notes below.", ""]
    if ctx.png:
        out += [f"![bandwidth against clients]({ctx.png})", ""]
    out += ["## Who is the bottleneck", "",
            f"The client's CPU (loadgen's share of its core over the window; at "
            f"{CLIENT_BOUND:.0%} or more the point is client-bound and measures loadgen as much "
            "as the server) and the server's (share of its core):", ""]
    out += _table(agg, systems, clients, "client_cpu", "{:.2f}")
    out += [""]
    out += _table(agg, systems, clients, "server_cpu", "{:.2f}")
    bound = [(name, c) for (name, c), x in agg.items()
             if measured(x) and x["client_cpu"] is not None and x["client_cpu"] >= CLIENT_BOUND]
    if bound:
        out += ["", f"**The client saturates its core first** at {len(bound)} of the "
                f"{sum(1 for x in agg.values() if measured(x))} measured points (client CPU ≥ "
                f"{CLIENT_BOUND:.2f}), so there the bandwidth is loadgen's ceiling more than the "
                "server's. What compares the servers there is the server's CPU per byte "
                "(nanoseconds of server CPU per byte delivered, lower is better):", ""]
    else:
        out += ["", "The client never reached "
                f"{CLIENT_BOUND:.0%} of its core. The server's CPU per byte (nanoseconds of "
                "server CPU per byte delivered, lower is better):", ""]
    out += _table(agg, systems, clients, "server_ns_per_byte", "{:.2f}")
    starved = [x for x in agg.values() if measured(x) and x["client_cpu"] is not None
               and x["server_cpu"] is not None and x["client_cpu"] < CLIENT_BOUND
               and x["server_cpu"] < CLIENT_BOUND]
    if len(starved) * 2 > sum(1 for x in agg.values() if measured(x)):
        out += ["", f"At {len(starved)} of the measured points neither loadgen nor the server "
                f"used {CLIENT_BOUND:.0%} of its core although the clients never wait: the two "
                "cores were shared with other work (load average "
                f"{ctx.load_before[0]:.1f} before the run, {ctx.load_after[0]:.1f} after), and "
                "the bandwidths move with the CPU time each got. The server's CPU per byte is "
                "the figure that depends least on it."]
    backends = sorted({(s.name, x["backend_used"]) for s in ours for c in clients
                       if measured(x := agg[(s.name, c)]) and x.get("backend_used")})
    if backends:
        out += ["", "Backends httpd reported (its startup line at `-d 1`, or epoll for a "
                "runtime that has no other): " +
                ", ".join(f"{n}: {b}" for n, b in backends) + "."]
    notes = [(name, c, x) for (name, c), x in agg.items() if x["status"] not in ("ok",)]
    if notes:
        out += ["", "## Notes, failures and servers not run", ""]
        out += [f"- {name} at {c:,} clients: **{x['status']}**: {x['note']}"
                for name, c, x in notes if x["status"] != "unavailable"]
        out += sorted({f"- {s.name}: not run: {s.unavailable}" for s in systems
                       if s.unavailable})
    if ours_failed(agg, systems):
        out += ["", "## Not a result", "",
                "**httpd was not measured at every point: a partial report is not a result.**"]
    out += ["", f"CSV: {a.stem}.csv (medians), {a.stem}-rounds.csv (every point).", ""]
    return "\n".join(out)
