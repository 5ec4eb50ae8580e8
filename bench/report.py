"""The results table (stdout and ``bench/RESULTS.md``) with the machine and interpreter."""

from __future__ import annotations

import os
import platform
import sys
import sysconfig
from datetime import UTC, datetime
from pathlib import Path

from bench.harness import Row

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
HEADER = (
    "case",
    "what",
    "req/s",
    "p50 ms",
    "p99 ms",
    "failed",
    "server CPU",
    "CPU µs/req",
    "vs ref",
    "target",
)


def ratio(row: Row, rows: list[Row]) -> float | None:
    if row.reference is None:
        return None
    for other in rows:
        if other.is_reference and other.case == row.case and other.subject == row.reference:
            if row.lower_is_better:
                return (other.p99_ms or 0) / row.p99_ms if row.p99_ms else None
            return row.rps / other.rps if row.rps is not None and other.rps else None
    return None


def cells(row: Row, rows: list[Row]) -> tuple[str, ...]:
    value = ratio(row, rows)
    if value is None:
        shown, verdict = ("base" if row.is_reference else "—"), ""
    else:
        shown = f"{value:.1%}" if value < 1 else f"{value:.2f}×"
        verdict = ""
        if row.target is not None:
            wanted = f"≥ {row.target:.0%}" if row.target < 1 else f"≥ {row.target:g}×"
            verdict = f"{wanted} {'met' if value >= row.target else 'MISSED'}"
    return (
        row.case,
        row.subject,
        _num(row.rps, "{:,.0f}"),
        _num(row.p50_ms, "{:.2f}"),
        _num(row.p99_ms, "{:.2f}"),
        str(row.failures),
        _num(row.server_cpu, "{:.0%}"),
        _num(_cpu_per_request(row), "{:,.0f}"),
        shown,
        verdict,
    )


def _cpu_per_request(row: Row) -> float | None:
    if row.server_cpu is None or not row.rps:
        return None
    return row.server_cpu / row.rps * 1e6


def _num(value: float | None, fmt: str) -> str:
    return "—" if value is None else fmt.format(value)


def table(rows: list[Row]) -> str:
    body = [HEADER, *(cells(row, rows) for row in rows)]
    widths = [max(len(line[i]) for line in body) for i in range(len(HEADER))]
    lines = [
        "| " + " | ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)) + " |"
        for line in body
    ]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def notes(rows: list[Row]) -> list[str]:
    lines = [f"- case {row.case} ({row.subject}): {note}" for row in rows for note in row.notes]
    return lines + [line for row in rows if (line := _cpu_ratio_note(row, rows))]


def _cpu_ratio_note(row: Row, rows: list[Row]) -> str | None:
    """The same comparison by server CPU per request: when the load generator or other
    programs hold the reference back, its req/s understates it; its CPU cost does not."""
    if row.reference is None or row.lower_is_better:
        return None
    mine = _cpu_per_request(row)
    for other in rows:
        if other.is_reference and other.case == row.case and other.subject == row.reference:
            theirs = _cpu_per_request(other)
            if mine and theirs:
                return (
                    f"- case {row.case} ({row.subject}): by server CPU per request, "
                    f"{theirs / mine:.1%} of the reference ({theirs:,.0f} vs {mine:,.0f} µs)"
                )
    return None


def interpreter() -> str:
    cflags = sysconfig.get_config_var("PY_CFLAGS") or ""
    config_args = sysconfig.get_config_var("CONFIG_ARGS") or ""
    optimized = any(flag in config_args for flag in ("--enable-optimizations", "--with-lto")) or (
        "-flto" in cflags or "-fprofile-use" in cflags
    )
    build = "PGO/LTO build" if optimized else "no PGO/LTO flags in CONFIG_ARGS/PY_CFLAGS"
    level = next((f for f in cflags.split() if f.startswith("-O")), "?")
    return f"{sys.executable} — CPython {platform.python_version()} ({build}, {level})"


def machine() -> str:
    model = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} cores ({model}), {platform.system()} {platform.release()}"


def write_results(rows: list[Row], *, quick: bool, settings: str) -> str:
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    text = [
        "# Benchmark results",
        "",
        f"Written by `make bench` (`python -m bench.run`{' --quick' if quick else ''}) on {now}.",
        "",
        f"- Machine: {machine()}",
        f"- Python: {interpreter()}",
        f"- Settings: {settings}",
        "",
        table(rows),
        "",
        "Ratios compare each case with its reference from the same run (`vs ref`: requests/s "
        "as a share of the reference's; for latency cases, the reference's p99 over the case's). "
        "`failed` counts non-2xx answers, socket errors and timeouts; `server CPU` is the server "
        "process's CPU time per second of load (100 % = one core), and `CPU µs/req` that time "
        "per answered request: on a shared machine it moves less than req/s does.",
    ]
    text += [
        "",
        "Where the time goes, what was changed for it and what would close the gaps: "
        "[PROFILE.md](PROFILE.md).",
    ]
    extra = notes(rows)
    if extra:
        text += ["", "Notes:", "", *extra]
    if quick:
        text += ["", "**Quick run** (short durations): a smoke test, not a measurement."]
    content = "\n".join(text) + "\n"
    RESULTS.write_text(content)
    return content
