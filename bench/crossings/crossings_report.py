"""The figures of bench/crossings: a row per run, the medians per system and backend, the CSV
files and the Markdown table."""
import csv
import statistics

TOP = 5  # each system's most used calls are named in the table; the others are in "other"


def round_row(system, backend, round_no, m):
    """One measured round: CPU from the untraced run, system calls from the traced one, each
    per unit (request, or 16 KiB block) of its own run."""
    per = {name: n / m["traced_units"] for name, n in m["counts"].items()} \
        if m["traced_units"] else {}
    top = sorted(per.items(), key=lambda kv: -kv[1])[:4]
    return {
        "system": system.name,
        "backend": backend,
        "unit": system.unit,
        "round": round_no,
        "units": m["units"],
        "seconds": m["seconds"],
        "traced_units": m["traced_units"],
        # Units per second traced against untraced: what tracing cost the server's pace.
        "traced_pace": (m["traced_units"] / m["traced_seconds"]) / (m["units"] / m["seconds"])
                       if m["units"] and m["traced_seconds"] else 0.0,
        "user_us": m["user_s"] * 1e6 / m["units"] if m["units"] else 0.0,
        "sys_us": m["sys_s"] * 1e6 / m["units"] if m["units"] else 0.0,
        "syscalls": sum(per.values()),
        "per_syscall": per,
        "top": ", ".join(f"{k} {v:.2f}" for k, v in top),
    }


def medians(rows):
    """A row per (system, backend), in the order first measured: the median over rounds of
    each figure, a system call missing from a round counting as 0 there."""
    groups = {}
    for r in rows:
        groups.setdefault((r["system"], r["backend"]), []).append(r)
    out = []
    for (system, backend), rs in groups.items():
        names = sorted({n for r in rs for n in r["per_syscall"]})
        out.append({
            "system": system,
            "backend": backend,
            "unit": rs[0]["unit"],
            "rounds": len(rs),
            "units_per_run": statistics.median(r["units"] for r in rs),
            "user_us": statistics.median(r["user_us"] for r in rs),
            "sys_us": statistics.median(r["sys_us"] for r in rs),
            "syscalls": statistics.median(r["syscalls"] for r in rs),
            "traced_pace": statistics.median(r["traced_pace"] for r in rs),
            "per_syscall": {
                n: statistics.median(r["per_syscall"].get(n, 0.0) for r in rs)
                for n in names
            },
        })
    return out


def syscall_columns(rows):
    """Every system call seen, the most used first (the sum over the rows of its calls per
    unit: a call every system makes once per request ranks above one a single system makes
    twice)."""
    total = {}
    for r in rows:
        for n, v in r["per_syscall"].items():
            total[n] = total.get(n, 0.0) + v
    return sorted(total, key=lambda n: (-total[n], n))


def write_csv(path, rows):
    names = syscall_columns(rows)
    fields = ["system", "backend", "unit", "rounds", "units_per_run", "user_us", "sys_us",
              "cpu_us", "traced_pace", "syscalls"] + names
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields)
        w.writeheader()
        for r in rows:
            out = {k: r[k] for k in ("system", "backend", "unit", "rounds")}
            out["units_per_run"] = round(r["units_per_run"])
            for k in ("user_us", "sys_us", "syscalls", "traced_pace"):
                out[k] = round(r[k], 3)
            out["cpu_us"] = round(r["user_us"] + r["sys_us"], 3)
            for n in names:
                out[n] = round(r["per_syscall"].get(n, 0.0), 3)
            w.writerow(out)


def write_rounds_csv(path, rows):
    names = syscall_columns(rows)
    fields = ["system", "backend", "unit", "round", "units", "seconds", "traced_units",
              "user_us", "sys_us", "traced_pace", "syscalls"] + names
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields)
        w.writeheader()
        for r in rows:
            out = {k: r[k] for k in fields[:7]}
            out["units"] = round(out["units"])
            out["traced_units"] = round(out["traced_units"])
            for k in ("user_us", "sys_us", "syscalls", "traced_pace"):
                out[k] = round(r[k], 3)
            for n in names:
                out[n] = round(r["per_syscall"].get(n, 0.0), 3)
            w.writerow(out)


def summary(rows, unavailable, failed, args, started, finished, load_note):
    mode = " --smoke" if args.smoke else " --quick" if args.quick else ""
    # The columns: each system's TOP most used calls, the most used over all systems first.
    shown = {n for r in rows for n, _ in sorted(r["per_syscall"].items(),
                                                key=lambda kv: -kv[1])[:TOP]}
    names = [n for n in syscall_columns(rows) if n in shown]
    out = [
        "# Kernel crossings per request", "",
        f"`bench/crossings/run{mode}`, {started:%Y-%m-%d %H:%M}–{finished:%H:%M} UTC, "
        f"{args.rounds} round(s) in A B B A order, medians. Server on CPU 0, client on CPU 1; "
        f"the 305-byte page, loadgen -c 100, {args.requests:,} requests per run (kept alive: "
        f"{args.requests_keepalive:,}); hekate: {args.peers} swarm_sim leechers, "
        f"{args.swarm_seconds:g} s measured after {args.swarm_warmup:g} s, per 16 KiB block. "
        f"System calls counted with {tracer_text(args.tracer)} in one run, CPU "
        f"(/proc/PID/stat utime and stime) in another without tracing. {load_note}", "",
        "| system | backend | per | " + " | ".join(names) +
        " | other | **system calls** | user µs | sys µs | CPU µs | traced pace |",
        "|---|---|---|" + "---|" * len(names) + "---|---|---|---|---|---|",
    ]
    for r in rows:
        shown = [r["per_syscall"].get(n, 0.0) for n in names]
        other = r["syscalls"] - sum(shown)
        out.append(f"| {r['system']} | {r['backend'] or '–'} | {r['unit']} | " +
                   " | ".join(fmt(v) for v in shown) +
                   f" | {fmt(max(other, 0.0))} | **{r['syscalls']:.2f}** | {r['user_us']:.2f} | "
                   f"{r['sys_us']:.2f} | {r['user_us'] + r['sys_us']:.2f} | "
                   f"{r['traced_pace']:.2f} |")
    out.append("")
    out.append("Per request (per 16 KiB block for hekate). Traced pace: requests per second of "
               "the traced run over those of the untraced one (1.00: tracing did not slow the "
               "load; the client, not the server, may set that pace). Every system call of each "
               "system is in the CSV (crossings.csv; every run in crossings-rounds.csv).")
    out.append("")
    if unavailable:
        out += ["## Not available", ""]
        out += [f"- {s} on {b}: {why}" for (s, b), why in unavailable.items()]
        out.append("")
    if failed:
        out += ["## Failed", ""]
        out += [f"- {s}{' on ' + b if b else ''}: {why}" for (s, b), why in failed.items()]
        out.append("")
    return "\n".join(out)


def tracer_text(tracer):
    return ("perf stat on the syscalls:sys_enter_* tracepoints, filtered on the server's "
            "threads" if tracer == "perf" else "strace -c -f (ptrace: the traced server is "
            "several times slower, and batches more per kernel look)")


def fmt(v):
    return "–" if v == 0 else f"{v:.2f}"
