"""Render the results as markdown: counts per test file and backend, then the findings.

The same text is written to `report.md` in full and printed with long lists cut,
so CI logs stay short while the file keeps every test id.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from conformance.compare import Comparison, Finding
from conformance.gate import Verdict
from conformance.known import Known
from conformance.outcomes import RunResult, TestResult

_ORDER = ("asyncio", "trio", "pike", "pike+poll", "none", "none@pike")


def _column_order(columns: Mapping[str, object]) -> list[str]:
    known = [name for name in _ORDER if name in columns]
    return known + sorted(set(columns) - set(known))


def _counts(results: Mapping[str, TestResult], file: str | None = None) -> str:
    tally: Counter[str] = Counter()
    for test, result in results.items():
        if file is None or test.split("::", 1)[0] == file:
            tally["p" if result.good else "f" if result.bad else "s"] += 1
    if not tally:
        return ""
    return f"{tally['p']} / {tally['f']} / {tally['s']}"


def _table(columns: Mapping[str, Mapping[str, TestResult]]) -> list[str]:
    names = _column_order(columns)
    files = sorted({test.split("::", 1)[0] for col in columns.values() for test in col})
    lines = [
        "| test file | " + " | ".join(names) + " |",
        "|---|" + "---:|" * len(names),
    ]
    for file in files:
        cells = [_counts(columns[name], file) for name in names]
        lines.append(f"| {file} | " + " | ".join(cells) + " |")
    lines.append("| **total** | " + " | ".join(f"**{_counts(columns[n])}**" for n in names)
                 + " |")
    return lines


def _run_summary(run: RunResult) -> str:
    text = f"{run.name} {run.elapsed:.0f}s exit {run.exit_code}"
    if run.resumed:
        text += f", resumed {len(run.resumed)}x"
    return text + (f" ({run.note})" if run.note else "")


def _finding(finding: Finding, cause: str | None = None) -> str:
    refs = ", ".join(f"{name}={outcome}" for name, outcome in finding.references.items())
    text = f"- `{finding.test}`: {finding.result.outcome}"
    if finding.result.message:
        text += f" ({finding.result.message})"
    if refs:
        text += f"; {refs}"
    if finding.why:
        text += f"; {finding.why}"
    if cause:
        text += f" - known: {cause}"
    return text


def _section(title: str, lines: Sequence[str], limit: int | None) -> list[str]:
    if not lines:
        return []
    shown = list(lines if limit is None else lines[:limit])
    if limit is not None and len(lines) > limit:
        shown.append(f"- ... and {len(lines) - limit} more (see conformance/report.md)")
    return ["", f"### {title} ({len(lines)})", "", *shown]


@dataclass
class Report:
    """Everything a report shows."""

    anyio_version: str
    runs: Sequence[RunResult]
    columns: Mapping[str, Mapping[str, TestResult]]
    comparisons: Sequence[Comparison]
    variants: Mapping[str, str]  # subject column -> known-failures table
    known: Known
    unavailable: Mapping[str, str]  # run name -> why its backend cannot run
    verdict: Verdict | None = None
    flaky: Sequence[tuple[str, str]] = ()  # (column, test)
    notes: Sequence[str] = ()  # about the run as a whole


RULES = """\
How pike failures are judged: a failure is *shared* (the environment's, not
pike's) when a reference variant of the same test failed in the same run too and
either no reference passed it or one failed the same way (same outcome and
exception type). Any other failure is rerun alone, in a fresh process per backend,
on pike and on the references at once: if pike passes it is a *flake* (listed, not
gating); if pike fails again and a reference fails the same way it is shared;
otherwise it is a *regression*. The gate fails on regressions not in
known_failures.toml, on tests every reference collected but pike did not, and on
tests skipped only on pike."""


def summary(data: Report) -> dict[str, object]:
    """Counts per column and per comparison, for machines (the matrix reads it)."""
    columns = {
        name: {
            "passed": sum(1 for r in results.values() if r.good),
            "failed": sum(1 for r in results.values() if r.bad),
            "skipped": sum(1 for r in results.values() if not r.good and not r.bad),
        }
        for name, results in data.columns.items()
    }
    comparisons = {
        c.subject: {
            "tests": c.tests,
            "regressions": sum(1 for f in c.regressions
                               if f.test not in data.known.get(data.variants[c.subject], {})),
            "known": sum(1 for f in c.regressions
                         if f.test in data.known.get(data.variants[c.subject], {})),
            "shared": len(c.shared_failures),
            "skipped_only_here": len(c.skipped_only_here),
            "not_collected": len(c.not_collected),
            "flaky": sum(1 for column, _ in data.flaky if column == c.subject),
        }
        for c in data.comparisons
    }
    return {"anyio": data.anyio_version, "columns": columns, "comparisons": comparisons,
            "gate": None if data.verdict is None else data.verdict.ok,
            "problems": [] if data.verdict is None else list(data.verdict.problems)}


def render(data: Report, limit: int | None = None) -> str:
    """The whole report; `limit` cuts each list of tests to that many lines."""
    anyio_version, runs, columns = data.anyio_version, data.runs, data.columns
    comparisons, variants, known = data.comparisons, data.variants, data.known
    unavailable, verdict = data.unavailable, data.verdict
    lines = [f"# anyio {anyio_version} test suite on pike", ""]
    for name, reason in unavailable.items():
        lines.append(f"**{name} is unavailable**: {reason}; all its tests count as failing.")
        lines.append("")
    lines += [f"**Note**: {note}." for note in data.notes]
    lines.append("Runs: " + "; ".join(_run_summary(run) for run in runs))
    for run in runs:
        lines += [f"- {run.name} resumed after it {event}" for event in run.resumed]
    lines += ["", "Cells are passed / failed / skipped. `none` holds tests without a backend",
              "parameter, as shipped; `none@pike` holds the same tests",
              "run with pike registered as a backend.", "", *_table(columns)]
    for comparison in comparisons:
        listed = known.get(variants[comparison.subject], {})
        new = [_finding(f) for f in comparison.regressions if f.test not in listed]
        old = [_finding(f, listed[f.test]) for f in comparison.regressions if f.test in listed]
        lines += ["", f"## {comparison.subject} vs {', '.join(comparison.references) or '-'}"
                  f" ({comparison.tests} tests)"]
        lines += _section("regressions", new, limit)
        lines += _section("known failures (known_failures.toml)", old, limit)
        lines += _section("not collected on this backend (every reference collected them)",
                          [f"- `{test}`" for test in comparison.not_collected], limit)
        lines += _section("failing on a reference too (not pike's fault)",
                          [_finding(f) for f in comparison.shared_failures], limit)
        lines += _section("skipped only here", [_finding(f) for f in comparison.skipped_only_here],
                          limit)
        lines += _section("passing only here", [_finding(f) for f in comparison.passed_only_here],
                          limit)
        if not comparison.regressions:
            lines += ["", "No regressions."]
    flaky = [f"- `{test}` on {column}: {columns[column][test].message}"
             for column, test in data.flaky]
    lines += _section("flaky on pike (failed, then passed when rerun alone)", flaky, limit)
    lines += ["", "## How failures are judged", "", RULES]
    if verdict is not None:
        lines += ["", "## Gate: " + ("PASS" if verdict.ok else "FAIL")]
        lines += [f"- {problem}" for problem in verdict.problems]
        lines += _section("notes", [f"- {note}" for note in verdict.notes], limit)
    return "\n".join(lines) + "\n"
