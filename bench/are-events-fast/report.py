"""The figures and the summary of a run: two plots (gnuplot) and are-events-fast.md, which
checks the issue's targets and says PASS or MISS for each."""
import subprocess
from pathlib import Path

HERE = Path(__file__).resolve().parent

# The targets of the issue.
OURS = ("httpd", "toy-cpc")
RIVALS = ("toy-st", "nginx")  # at least as fast as these from load 100 up...
AIM_RATIO = 0.8  # ...aiming at 0.8x their mean service time
FROM_LOAD = 100
MAX_LOAD = 10000  # no failed request at this load
IDLE_BYTES_MAX = 2048  # per idle keep-alive connection in httpd
WRK_RIVALS = ("nginx", "lighttpd", "h2o")
WRK_RATIO = 1.2


def label(row):
    """A server's name in tables and plots: with its backend ("httpd/io_uring") when it runs
    on the cpc runtime. Rows of runs before the backend column have none."""
    backend = row.get("backend") or ""
    return f"{row['server']}/{backend}" if backend else row["server"]


def plot(rows, outdir):
    if not rows:
        return
    servers = []
    for r in rows:
        if label(r) not in servers:
            servers.append(label(r))
    csv_path = Path(outdir) / "are-events-fast.csv"
    # The backend's column, if the CSV has one (gnuplot reads its label from there).
    backend_col = list(rows[0]).index("backend") + 1 if "backend" in rows[0] else 0
    subprocess.run([
        "gnuplot", "-e",
        f"csv='{csv_path}'; servers='{' '.join(servers)}'; outdir='{outdir}'; "
        f"backend_col={backend_col}",
        str(HERE / "plot.gp")
    ],
                   check=True)


def slope(points):
    """Least-squares slope of mean service time (ms) against load, in ms per client."""
    n = len(points)
    if n < 2:
        return None
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    sxx = sum((x - mx)**2 for x, _ in points)
    return sum((x - mx) * (y - my) for x, y in points) / sxx if sxx else None


def verdict(ok):
    return "PASS" if ok else "MISS"


def summary(rows, wrk_rows, memory, broken, args, started, finished, unavailable=None):
    out = []
    out.append("# \"Are events fast?\" on this machine\n")
    quota = ("no CPU quota" if getattr(args, "no_cgroup", False) else
             f"{args.server_cpu}% of the core (cgroup quota)")
    mode = " --smoke" if getattr(args, "smoke", False) else " --quick" if args.quick else ""
    out.append(f"`bench/are-events-fast/run{mode}`, "
               f"{started:%Y-%m-%d %H:%M}–{finished:%H:%M} UTC. Server on CPU 0 with "
               f"{quota}, client on CPU 1; the 305-byte "
               "page, a new connection per request (loadgen, ab's semantics), the first and "
               "last 1,000 samples discarded. Raw data: are-events-fast.csv.\n")

    by_server = {}
    for r in rows:
        by_server.setdefault(label(r), {})[r["load"]] = r
    loads = sorted({r["load"] for r in rows})

    # Mean service time, a column per load.
    out.append("## Mean service time (ms) by offered load\n")
    out.append("| server | slope (ms per client) | " + " | ".join(str(l) for l in loads) + " |")
    out.append("|---|---|" + "---|" * len(loads))
    slopes = {}
    for name, points in by_server.items():
        good = [(l, p["mean_ms"]) for l, p in sorted(points.items()) if p["failed"] == 0]
        slopes[name] = slope(good)
        cells = []
        for l in loads:
            p = points.get(l)
            if p is None:
                cells.append("–")
            else:
                cells.append(f"{p['mean_ms']:.3f}" + (f" ({p['failed']} failed)"
                                                      if p["failed"] else ""))
        s = slopes[name]
        out.append(f"| {name} | {s:.5f} |" if s is not None else f"| {name} | – |")
        out[-1] += " " + " | ".join(cells) + " |"
    out.append("")

    out.append("## Measured load l_m, client CPU (loadgen's share of its core), server CPU "
               "per request, and ab's mean as a cross-check\n")
    out.append("| server | load | l_m | req/s | client cpu | server us/req | loadgen mean ms | "
               "ab mean ms |")
    out.append("|---|---|---|---|---|---|---|---|")
    for name, points in by_server.items():
        for l, p in sorted(points.items()):
            out.append(f"| {name} | {l} | {p['measured_load']:.1f} | {p['requests_per_s']:.0f} "
                       f"| {p['client_cpu']:.2f} | {p['server_us_per_request']} | "
                       f"{p['mean_ms']:.3f} | {p['ab_mean_ms']} |")
    out.append("")

    if wrk_rows:
        out.append("## Keep-alive: wrk -t1, requests/s (server on CPU 0 without quota, wrk on "
                   "CPU 1)\n")
        out.append("| server | 100 connections | 1,000 connections |")
        out.append("|---|---|---|")
        table = {}
        for r in wrk_rows:
            table.setdefault(label(r), {})[r["connections"]] = r
        for name, t in table.items():
            cells = []
            for c in (100, 1000):
                r = t.get(c)
                cells.append("–" if r is None else f"{r['requests_per_s']:,.0f}" +
                             (f" (errors: {r['socket_errors']})" if r["socket_errors"] else ""))
            out.append(f"| {name} | " + " | ".join(cells) + " |")
        out.append("")

    for m in memory or []:
        out.append(f"## Idle keep-alive connections in {m.get('server', 'httpd')}\n")
        out.append(f"{m['connections']:,} connections, each after one answered request, "
                   f"{m['held']:,} still open at the end: resident memory "
                   f"{m['rss_before'] / 2**20:.1f} MiB before, "
                   f"{m['rss_after'] / 2**20:.1f} MiB after, "
                   f"**{m['bytes_per_connection']:.0f} bytes per connection**.\n")

    if broken:
        out.append("## Servers that did not start\n")
        for name, why in broken.items():
            out.append(f"- {name}: {why}")
        out.append("")

    if unavailable:
        out.append("## Backends not available\n")
        for name, why in unavailable.items():
            out.append(f"- {name}: {why}")
        out.append("")

    # The targets.
    out.append("## Targets\n")
    ranked = sorted((s, n) for n, s in slopes.items() if s is not None)
    ours_labels = [n for n in by_server if n.split("/")[0] in OURS]
    if ranked:
        # Ours (on every backend measured) take the first places.
        first = {n for _, n in ranked[:len(ours_labels)]}
        out.append(f"- {verdict(set(ours_labels) == first)}: {' and '.join(ours_labels)} have "
                   "the smallest slopes. Ranking: " +
                   ", ".join(f"{n} {s:.5f}" for s, n in ranked) + ".")
    for ours in ours_labels:
        for rival in RIVALS:
            if ours not in by_server or rival not in by_server:
                continue
            ratios = []
            for l in loads:
                a, b = by_server[ours].get(l), by_server[rival].get(l)
                if l >= FROM_LOAD and a and b and b["mean_ms"] > 0:
                    ratios.append((l, a["mean_ms"] / b["mean_ms"]))
            if not ratios:
                continue
            worst = max(r for _, r in ratios)
            out.append(f"- {verdict(worst <= 1.0)} (aim {AIM_RATIO}x: "
                       f"{verdict(worst <= AIM_RATIO)}): {ours} against {rival}, mean service "
                       f"time ratio from load {FROM_LOAD} up: " +
                       ", ".join(f"{l}: {r:.2f}" for l, r in ratios) + ".")
    for ours in ours_labels:
        p = by_server.get(ours, {}).get(MAX_LOAD)
        if p:
            out.append(f"- {verdict(p['failed'] == 0)}: {ours} at {MAX_LOAD:,} simultaneous "
                       f"clients: {p['failed']} failed of {p['n']:,}.")
    for m in memory or []:
        b = m["bytes_per_connection"]
        out.append(f"- {verdict(b <= IDLE_BYTES_MAX and m['held'] == m['connections'])}"
                   f": {b:.0f} bytes per idle keep-alive connection in "
                   f"{m.get('server', 'httpd')} (at most {IDLE_BYTES_MAX}).")
    if wrk_rows:
        at100 = {label(r): r["requests_per_s"] for r in wrk_rows if r["connections"] == 100}
        rivals = {n: v for n, v in at100.items() if n in WRK_RIVALS}
        for httpd in [n for n in at100 if n.split("/")[0] == "httpd"]:
            if not rivals:
                break
            best = max(rivals, key=rivals.get)
            ratio = at100[httpd] / rivals[best] if rivals[best] else 0
            out.append(f"- {verdict(ratio >= WRK_RATIO)}: wrk -t1 -c100, {httpd} "
                       f"{at100[httpd]:,.0f} req/s, {ratio:.2f}x the fastest of "
                       f"{', '.join(WRK_RIVALS)} ({best}, {rivals[best]:,.0f}); target "
                       f"{WRK_RATIO}x.")
    out.append("")
    return "\n".join(out)
