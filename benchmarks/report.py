"""Turn runs into medians and ratios; render the table, the JSON and the chart.

Ratios are ``subject rate / other rate`` of the medians from *this* run (never
mixed with numbers from another run or machine), so > 1 means the subject
(pike) is faster.  The geometric mean is the right average for ratios: a 2x
win and a 2x loss cancel out, which an arithmetic mean would not do.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import argparse

    from benchmarks.orchestrator import Job, Run

from benchmarks.backends import FLOOR

ROOT = Path(__file__).resolve().parent.parent
BACKEND_LABELS = {"uvloop": "asyncio+uvloop", "rloop": "asyncio+rloop"}


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def geomean(values: list[float]) -> float | None:
    """Geometric mean of positive ratios (None if there are none)."""
    values = [v for v in values if v and v > 0]
    if not values:
        return None
    return math.exp(sum(math.log(v) for v in values) / len(values))


def summarise(
    suite_jobs: dict[str, list[Job]],
    suite_backends: dict[str, list[str]],
    runs: dict[tuple[str, str], list[Run]],
    subject: str,
) -> dict[str, Any]:
    """Medians per (workload, backend), ratios subject/other, geometric means."""
    out: dict[str, Any] = {}
    for suite, jobs in suite_jobs.items():
        backends = suite_backends[suite]
        has_subject = subject in backends
        others = [b for b in backends if b != subject] if has_subject else []
        workloads: dict[str, Any] = {}
        ratio_lists: dict[str, list[float]] = {f"{subject}/{o}": [] for o in others}
        for job in jobs:
            per_backend: dict[str, Any] = {}
            for backend in backends:
                mine = [r for r in runs.get((suite, job.workload), []) if r.backend == backend]
                ok = [r for r in mine if r.ok]
                entry: dict[str, Any] = {
                    "median": _median([r.rate for r in ok]),
                    "rates": [r.rate for r in ok],
                    "seconds": [r.seconds for r in ok],
                    "cpu_seconds": [r.extra.get("cpu_seconds") for r in ok],
                    "failures": [{"round": r.round, "error": r.error, "traceback": r.traceback}
                                 for r in mine if not r.ok and not r.unsupported],
                }
                unsupported = {r.unsupported for r in mine if r.unsupported}
                if unsupported:
                    entry["unsupported"] = "; ".join(sorted(unsupported))
                if ok:
                    entry["loop"] = ok[0].extra.get("loop")
                    for key in ("p50_ms", "p99_ms", "p999_ms"):
                        if key in ok[0].extra:
                            entry[key] = _median([float(r.extra[key]) for r in ok])
                    if "client" in ok[0].extra:
                        entry["client"] = ok[0].extra["client"]
                    known = sum(int(r.extra.get("known_upstream_errors", 0)) for r in ok)
                    if known:
                        entry["known_upstream_errors"] = known
                per_backend[backend] = entry
            ratios: dict[str, float | None] = {}
            # Per-round ratios (runs of one round are adjacent in time, so they
            # share the machine's state): their spread shows how stable a ratio is.
            by_round: dict[str, dict[int, float]] = {}
            for r in runs.get((suite, job.workload), []):
                if r.ok and r.seconds > 0:
                    by_round.setdefault(r.backend, {})[r.round] = r.rate
            round_ratios = {
                f"{subject}/{o}": [by_round[subject][k] / by_round[o][k]
                                   for k in sorted(by_round.get(subject, {}))
                                   if by_round.get(o, {}).get(k)]
                for o in others
            }
            subject_rate = per_backend.get(subject, {}).get("median") if has_subject else None
            for other in others:
                other_rate = per_backend[other]["median"]
                ratio = (subject_rate / other_rate
                         if subject_rate is not None and other_rate else None)
                ratios[f"{subject}/{other}"] = ratio
                if ratio is not None:
                    ratio_lists[f"{subject}/{other}"].append(ratio)
            workloads[job.workload] = {"unit": job.unit, "what": job.what, "size": job.size,
                                       "backends": per_backend, "ratios": ratios,
                                       "ratios_per_round": round_ratios}
        floor: dict[str, Any] = {}
        for job in jobs:
            floor_runs = [r for r in runs.get((suite, job.workload), []) if r.backend == FLOOR]
            floor_rate = _median([r.rate for r in floor_runs if r.ok])
            if floor_runs and not floor_rate:
                floor[job.workload] = {"median": None, "subject_share": None,
                                       "error": floor_runs[0].error}
            elif floor_rate:
                subject_rate = workloads[job.workload]["backends"].get(subject, {}).get("median")
                floor[job.workload] = {"median": floor_rate, "subject_share": (
                    subject_rate / floor_rate if subject_rate else None)}
        out[suite] = {
            "floor": floor,
            "backends": backends,
            "subject": subject if has_subject else None,
            "workloads": workloads,
            "geomean": {key: geomean(vals) for key, vals in ratio_lists.items()},
            # How many workloads each geometric mean covers: a mean over the
            # survivors of a partly failed run must not pass for the whole suite.
            "geomean_count": {key: len(vals) for key, vals in ratio_lists.items()},
        }
    return out


def failures(results: dict[str, Any]) -> list[str]:
    """One human-readable block per failed workload run, traceback included."""
    lines = []
    for suite, data in results.items():
        for name, wl in data["workloads"].items():
            for backend, entry in wl["backends"].items():
                for fail in entry["failures"]:
                    detail = fail["traceback"].rstrip()
                    if detail.strip() == fail["error"].strip():
                        detail = ""
                    lines.append(f"--- {suite}/{name} on {backend}, round {fail['round']}: "
                                 f"{fail['error']}" + (f"\n{detail}" if detail else ""))
    return lines


def _fmt_rate(value: float | None, unsupported: bool = False) -> str:
    if value is None:
        return "n/a" if unsupported else "FAIL"
    if value >= 100:
        return f"{value:,.0f}"
    return f"{value:.1f}"


def _fmt_ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def _table(header: list[str], rows: list[list[str]], left: int = 2) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        return "  ".join(c.ljust(w) if i < left else c.rjust(w)
                         for i, (c, w) in enumerate(zip(cells, widths, strict=True)))

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(header), rule, *(line(r) for r in rows)])


def busy(meta: dict[str, Any]) -> bool:
    """Whether something besides the benchmark competed for the CPUs.

    The benchmark itself keeps about one CPU busy (two during HTTP); a median
    1-minute load average above that plus some slack means other work ran.
    """
    load = meta.get("loadavg_median")
    return load is not None and load > 1.0 + 0.25 * (meta["cpus"] or 1)


def render_tables(results: dict[str, Any], meta: dict[str, Any]) -> str:
    """The human report: one table per suite, medians and ratios."""
    parts: list[str] = []
    titles = {"anyio": "anyio programs", "native": "native kernels (pike.run vs trio.run)"}
    for suite, data in results.items():
        backends = data["backends"]
        ratio_keys = list(data["geomean"])
        header = ["workload", "unit", *(BACKEND_LABELS.get(b, b) for b in backends), *ratio_keys]
        rows = []
        for name, wl in data["workloads"].items():
            per = wl["backends"]
            rows.append([name, wl["unit"],
                         *(_fmt_rate(per[b]["median"], "unsupported" in per[b]) for b in backends),
                         *(_fmt_ratio(wl["ratios"][k]) for k in ratio_keys)])
            if any("p99_ms" in per[b] for b in backends):
                p99 = [per[b].get("p99_ms") for b in backends]
                subj = data["subject"]
                inverse = []  # latency: other/subject, so > 1 still means subject better
                for key in ratio_keys:
                    other = key.split("/", 1)[1]
                    s, o = per.get(subj, {}).get("p99_ms"), per[other].get("p99_ms")
                    inverse.append(_fmt_ratio(o / s if s and o else None))
                rows.append([f"{name} p99", "ms (lower=better)",
                             *(_fmt_rate(v, "unsupported" in per[b]) if v is None
                               else f"{v:.2f}" for b, v in zip(backends, p99, strict=True)),
                             *inverse])
        if ratio_keys:
            covered = min(data["geomean_count"].values())
            total = len(data["workloads"])
            note = "" if covered == total else f"over {covered}/{total} only"
            rows.append(["geometric mean", note, *("" for _ in backends),
                         *(_fmt_ratio(data["geomean"][k]) for k in ratio_keys)])
        heading = (f"{titles[suite]} — median of {meta['rounds']} interleaved round(s), "
                   f"one process per run; higher is better")
        if not parts and busy(meta):
            heading = (f"WARNING: median load average {meta['loadavg_median']} on "
                       f"{meta['cpus']} CPUs - other work was running; treat ratios with "
                       "care\n" + heading)
        parts.append(f"{heading}\n{_table(header, rows)}")
        for name, fl in data.get("floor", {}).items():
            share = fl["subject_share"]
            if fl.get("error"):
                parts[-1] += f"\n(floor: {name} FAILED: {fl['error']})"
                continue
            parts[-1] += (f"\n(floor: {name} on a bare coroutine trampoline through anyio's "
                          f"dispatch, see floor.py: {_fmt_rate(fl['median'])} "
                          f"{data['workloads'][name]['unit']}"
                          + (f"; {data['subject']} reaches {share:.0%} of it)" if share else ")"))
        gaps = sorted({f"{BACKEND_LABELS.get(b, b)}: {e['unsupported']}"
                       for wl in data["workloads"].values()
                       for b, e in wl["backends"].items() if e.get("unsupported")})
        for gap in gaps:
            parts[-1] += f"\n(n/a = the loop cannot run the workload; {gap})"
        if "http" in data["workloads"]:
            clients = {e.get("client") for e in data["workloads"]["http"]["backends"].values()}
            clients.discard(None)
            if clients:
                parts[-1] += (f"\n(http load: {', '.join(sorted(clients))}, "
                              f"{meta['http_connections']} connections; "
                              "p99 ratio is other/subject, so > 1 still favours the subject)")
            known = {b: e["known_upstream_errors"]
                     for b, e in data["workloads"]["http"]["backends"].items()
                     if e.get("known_upstream_errors")}
            if known:
                parts[-1] += ("\n(tolerated at disconnect, after counting: known uvloop/anyio "
                              "write_eof RuntimeError, see benchmarks/http_workload.py: "
                              + ", ".join(f"{b} x{n}" for b, n in known.items()) + ")")
    return "\n\n".join(parts)


def _version(dist: str) -> str | None:
    try:
        return importlib_metadata.version(dist)
    except importlib_metadata.PackageNotFoundError:
        return None


def metadata(
    opts: argparse.Namespace, elapsed: float, load_samples: list[float] | None = None
) -> dict[str, Any]:
    """Where and how the numbers were taken, saved next to them."""
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                                capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = ""
    return {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "git_commit": commit or None,
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "versions": {d: _version(d) for d in ("anyio", "trio", "uvloop", "rloop", "anycorn",
                                               "pike-anyio")},
        "wrk": shutil.which("wrk"),
        "http_client": opts.http_client,
        "http_connections": opts.http_connections,
        "smoke": opts.smoke,
        "rounds": opts.rounds,
        "scale": opts.scale,
        "elapsed_seconds": round(elapsed, 1),
        # Other work on the machine skews everything; the 1-minute load average,
        # sampled after every worker, says whether the box was quiet.
        "loadavg_median": round(statistics.median(load_samples), 2) if load_samples else None,
        "loadavg_max": round(max(load_samples), 2) if load_samples else None,
    }


def chart(results: dict[str, Any], meta: dict[str, Any], path: Path) -> Path | None:
    """Bar chart of subject/other ratios per workload (log scale, 1x line).

    Returns None when no suite has the subject backend (nothing to compare).
    """
    suites = [(s, d) for s, d in results.items() if d["subject"] and d["geomean"]]
    if not suites:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, NullFormatter

    widths = [len(d["workloads"]) + 1 for _, d in suites]
    fig, axes = plt.subplots(1, len(suites), figsize=(max(8, 0.75 * sum(widths) + 3), 5),
                             gridspec_kw={"width_ratios": widths}, squeeze=False)
    colours = {"asyncio": "#4C72B0", "uvloop": "#55A868", "rloop": "#DD8452", "trio": "#C44E52",
               "pike": "#8172B2"}
    for ax, (suite, data) in zip(axes[0], suites, strict=True):
        names = [*data["workloads"], "geomean"]
        keys = list(data["geomean"])
        bar = 0.8 / max(1, len(keys))
        for i, key in enumerate(keys):
            other = key.split("/", 1)[1]
            values = [data["workloads"][n]["ratios"].get(key) for n in names[:-1]]
            values.append(data["geomean"][key])
            xs = [j + (i - (len(keys) - 1) / 2) * bar for j in range(len(names))]
            # Bars grow from the 1x line: up where the subject wins, down where it loses.
            ax.bar(xs, [v - 1.0 if v else 0.0 for v in values], bar, bottom=1.0,
                   label=f"{data['subject']} / {BACKEND_LABELS.get(other, other)}",
                   color=colours.get(other))
        ax.axhline(1.0, color="black", linewidth=0.8)
        ax.set_yscale("log")
        present = [v for k in keys for v in
                   [*(data["workloads"][n]["ratios"].get(k) for n in names[:-1]),
                    data["geomean"][k]] if v]
        low, high = min([*present, 1.0]), max([*present, 1.0])
        ticks = [2.0**e for e in range(math.floor(math.log2(low)),
                                        math.ceil(math.log2(high)) + 1)]
        ax.set_yticks(ticks)
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}x"))
        ax.yaxis.set_minor_formatter(NullFormatter())
        for j, name in enumerate(names[:-1]):  # a missing bar must read as a failure
            wl = data["workloads"][name]
            missing = [k.split("/", 1)[1] for k in keys if wl["ratios"].get(k) is None]
            if missing:
                gap = all("unsupported" in wl["backends"][b] for b in missing)
                ax.annotate("n/a" if gap else "FAILED", (j, 1.0), ha="center", va="bottom",
                            fontsize="x-small", color="grey" if gap else "red", rotation=90,
                            xytext=(0, 3), textcoords="offset points")
        for i, key in enumerate(keys):  # label the summary bars with their value
            value = data["geomean"][key]
            if value:
                x = len(names) - 1 + (i - (len(keys) - 1) / 2) * bar
                ax.annotate(f"{value:.2f}x", (x, value), ha="center",
                            va="bottom" if value >= 1 else "top",
                            fontsize="x-small", rotation=90,
                            xytext=(0, 2 if value >= 1 else -2),
                            textcoords="offset points")
        ax.set_xticks(range(len(names)))
        covered, total = min(data["geomean_count"].values()), len(data["workloads"])
        labels = [*names[:-1], "geomean" if covered == total else f"geomean ({covered}/{total})"]
        ax.set_xticklabels(labels, rotation=45, ha="right")
        ax.set_ylabel("throughput ratio (> 1: subject faster)")
        ax.set_title(f"{suite}: {data['subject']} vs others")
        ax.legend(fontsize="small")
        ax.grid(axis="y", which="both", alpha=0.3)
    load = (f", load avg {meta['loadavg_median']} (busy machine!)" if busy(meta)
            else "")
    fig.suptitle(f"median of {meta['rounds']} interleaved rounds — {meta['date']}, "
                 f"Python {meta['python']}, {meta['cpus']} CPUs{load}", fontsize="medium")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
