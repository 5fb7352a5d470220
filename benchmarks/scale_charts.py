"""Charts for the README from saved results, one panel per interpreter.

The runs that produce the data are long and the machine is shared, so the
charts are drawn from the JSON the runs saved rather than re-measured:

    python -m benchmarks.scale_charts scale 311.json 313.json -o benchmarks/scale.png
    python -m benchmarks.scale_charts latency 311.json 313.json -o benchmarks/latency.png

``scale`` takes ``benchmarks.scale``'s ``scale.json`` files (server CPU per
1,000 round trips against connections); ``latency`` takes ``python -m
benchmarks``' JSON with the ``busy_pingpong`` workload in it (p50/p99/p99.9 per
backend).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

PERCENTILES = (("p50_ms", "p50"), ("p99_ms", "p99"), ("p999_ms", "p99.9"))


def _figure(panels: int) -> tuple[Any, list[Any]]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, panels, figsize=(6.2 * panels, 4.4), squeeze=False)
    return fig, list(axes[0])


def _save(fig: Any, out: Path) -> None:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)


def scale_chart(files: list[Path], out: Path) -> None:
    fig, axes = _figure(len(files))
    for ax, path in zip(axes, files, strict=True):
        data = json.loads(path.read_text())
        meta, cells = data["meta"], data["cells"]
        sizes = sorted({c["connections"] for c in cells})
        for backend in dict.fromkeys(c["backend"] for c in cells):
            points = [(c["connections"], c["cpu_per_1000"] * 1000) for c in cells
                      if c["backend"] == backend and c["cpu_per_1000"] is not None]
            if points:
                ax.plot(*zip(*points, strict=True), marker="o", label=backend)
        ax.set_xscale("log")
        ax.set_xticks(sizes, [f"{n:,}" for n in sizes])
        ax.set_xlabel("concurrent connections")
        ax.set_ylabel("server CPU ms per 1,000 round trips")
        ax.set_title(f"TCP echo via anyio, Python {meta['python']} @ {meta['commit']}")
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
        ax.legend()
    _save(fig, out)


def latency_chart(files: list[Path], out: Path) -> None:
    fig, axes = _figure(len(files))
    for ax, path in zip(axes, files, strict=True):
        data = json.loads(path.read_text())
        meta = data["meta"]
        rows = data["suites"]["anyio"]["workloads"]["busy_pingpong"]["backends"]
        names = [b for b, r in rows.items() if r.get("p99_ms") is not None]
        width = 0.8 / len(PERCENTILES)
        for i, (key, label) in enumerate(PERCENTILES):
            xs = [j + (i - 1) * width for j in range(len(names))]
            bars = ax.bar(xs, [rows[b][key] for b in names], width, label=label)
            ax.bar_label(bars, fmt="%.1f", fontsize=7)
        ax.set_xticks(range(len(names)), names)
        ax.set_ylabel("round-trip latency, ms (lower is better)")
        ax.set_title(f"busy_pingpong via anyio, Python {meta['python']} @ {meta['git_commit']}\n"
                     f"(load average {meta['loadavg_median']:.1f} on {meta['cpus']} CPUs)",
                     fontsize=10)
        ax.grid(axis="y", alpha=0.3)
        ax.legend()
    _save(fig, out)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.scale_charts",
                                     description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("kind", choices=("scale", "latency"))
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("-o", "--output", type=Path, required=True)
    args = parser.parse_args(argv)
    (scale_chart if args.kind == "scale" else latency_chart)(args.files, args.output)
    print(f"chart: {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
