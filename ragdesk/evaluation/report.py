"""A self-contained HTML report of an evaluation run.

One file, no external resources: charts are matplotlib PNGs (Agg canvas,
imported only here) embedded as base64 ``data:`` URLs. The HTML keeps to what
both browsers and Qt's rich-text widgets (``QTextBrowser``) render, so the GUI
can show the same report. Sections: the metrics table with 95% intervals, a bar
chart per metric, the latency distribution of each mode, and the questions on
which the modes disagree, with their answers.
"""

from __future__ import annotations

import base64
import html
import io
import json
from datetime import datetime
from pathlib import Path

from ragdesk.chat.modes import MODES

REPORT_FILE, RESULTS_FILE = "report.html", "results.json"
MAX_DISAGREEMENTS = 100
ANSWER_CHARS = 280

# (key, title, is a share in [0, 1])
METRIC_ROWS = (
    ("label_accuracy", "Label accuracy", True),
    ("token_f1", "Token F1", True),
    ("containment", "Containment", True),
    ("hit_at_k", "Retrieval hit@k", True),
    ("mrr", "Retrieval MRR", True),
    ("citation_precision", "Citation precision", True),
    ("no_citation_share", "Answers citing nothing", True),
    ("latency_p50_ms", "Latency p50 (ms)", False),
    ("latency_p95_ms", "Latency p95 (ms)", False),
    ("tokens_per_s", "Tokens/s", False),
)
COLOURS = {"closed": "#8c8c8c", "rag": "#1f77b4", "lora": "#ff7f0e", "hybrid": "#2ca02c"}


def _colour(mode: str) -> str:
    return COLOURS.get(mode, "#9467bd")


def _label(mode: str) -> str:
    return MODES[mode].label if mode in MODES else mode


def _fmt(value, share: bool) -> str:
    if value is None:
        return "–"
    return f"{value:.3f}" if share else f"{value:,.1f}"


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _figure(width: float, height: float):
    # A bare Figure renders with the Agg canvas and never touches pyplot's global state,
    # so reports can be drawn on a GUI worker thread.
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height))


def metrics_chart(result: dict) -> str | None:
    """Bars of each applicable metric per mode, with 95% intervals as error bars."""
    modes = list(result["modes"])
    shown = [(k, t, s) for k, t, s in METRIC_ROWS if any(result["modes"][m].get(k) is not None for m in modes)]
    if not shown:
        return None
    cols = min(3, len(shown))  # about 900 px wide: fits a laptop window and the app's report view
    rows = (len(shown) + cols - 1) // cols
    fig = _figure(3.0 * cols, 2.5 * rows)
    axes = fig.subplots(rows, cols, squeeze=False)
    for ax in axes.flat[len(shown):]:
        ax.set_visible(False)
    for ax, (key, title, share) in zip(axes.flat, shown):
        values, lows, highs = [], [], []
        for m in modes:
            value = result["modes"][m].get(key)
            ci = result["modes"][m].get(key + "_ci")
            values.append(value or 0.0)
            # A bootstrap interval need not contain the estimate (percentiles, ratios): clip at 0.
            lows.append(max(0.0, value - ci[0]) if value is not None and ci else 0.0)
            highs.append(max(0.0, ci[1] - value) if value is not None and ci else 0.0)
        x = range(len(modes))
        ax.bar(x, values, color=[_colour(m) for m in modes], yerr=[lows, highs], capsize=3,
               error_kw={"elinewidth": 1, "ecolor": "#333333"})
        for i, m in enumerate(modes):
            if result["modes"][m].get(key) is None:
                ax.text(i, 0, "n/a", ha="center", va="bottom", fontsize=8, color="#777777")
        ax.set_xticks(list(x), [_label(m) for m in modes], fontsize=8, rotation=15)
        ax.set_title(title, fontsize=10)
        ax.tick_params(axis="y", labelsize=8)
        if share:
            ax.set_ylim(0, 1.05)
        ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return _png(fig)


def latency_chart(result: dict) -> str | None:
    """The distribution of answer latencies per mode: box plot with every answer as a dot."""
    modes = list(result["modes"])
    data = [[q["answers"][m]["latency_ms"] / 1000 for q in result["questions"] if m in q["answers"]] for m in modes]
    if not any(data):
        return None
    fig = _figure(8, 0.7 + 0.55 * len(modes))
    ax = fig.subplots()
    positions = list(range(1, len(modes) + 1))
    kept = [(p, d, m) for p, d, m in zip(positions, data, modes) if d]
    ax.boxplot([d for _, d, _ in kept], positions=[p for p, _, _ in kept], orientation="horizontal", widths=0.5,
               showfliers=False)
    for p, d, m in kept:
        # A deterministic spread keeps equal values visible without randomness in the report.
        offsets = [((i * 7919) % 100 / 100 - 0.5) * 0.3 for i in range(len(d))]
        ax.scatter(d, [p + o for o in offsets], s=9, color=_colour(m), alpha=0.7, zorder=3)
    ax.set_yticks(positions, [_label(m) for m in modes])
    ax.set_xlabel("seconds per answer (retrieval + generation)")
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return _png(fig)


def _metrics_table(result: dict) -> str:
    modes = list(result["modes"])
    head = "".join(f'<th style="background-color:{_colour(m)};color:white">{html.escape(_label(m))}</th>'
                   for m in modes)
    rows = [f"<tr><th>Metric</th>{head}</tr>"]
    for key, title, share in METRIC_ROWS:
        if all(result["modes"][m].get(key) is None for m in modes):
            continue
        cells = []
        for m in modes:
            metrics = result["modes"][m]
            ci = metrics.get(key + "_ci")
            text = _fmt(metrics.get(key), share)
            if ci and metrics.get(key) is not None:
                interval = f"[{_fmt(ci[0], share)}, {_fmt(ci[1], share)}]"
                text += f'<br><span style="color:#666666;font-size:small">{interval}</span>'
            cells.append(f'<td align="right">{text}</td>')
        rows.append(f"<tr><td>{title}</td>{''.join(cells)}</tr>")
    counts = "".join(f'<td align="right">{result["modes"][m]["n"]}</td>' for m in modes)
    rows.append(f"<tr><td>Questions answered</td>{counts}</tr>")
    return '<table border="1" cellspacing="0" cellpadding="5">' + "".join(rows) + "</table>"


def _short(text: str | None) -> str:
    text = " ".join((text or "").split())
    return html.escape(text if len(text) <= ANSWER_CHARS else text[:ANSWER_CHARS] + "…")


def _disagreement_table(result: dict) -> str:
    indices = result.get("disagreements") or []
    if not indices:
        return "<p>The modes agree on every question (or no question has a gold label or answer).</p>"
    modes = list(result["modes"])
    head = "".join(f"<th>{html.escape(_label(m))}</th>" for m in modes)
    rows = [f"<tr><th>#</th><th>Question</th><th>Gold</th>{head}</tr>"]
    for index in indices[:MAX_DISAGREEMENTS]:
        q = result["questions"][index]
        gold = html.escape(q["label"]) if q.get("label") else _short(q.get("answer"))
        cells = []
        for m in modes:
            a = q["answers"].get(m)
            if a is None:
                cells.append("<td>–</td>")
                continue
            ok = a.get("label_correct") if q.get("label") else a.get("contained")
            mark = ('<b style="color:#2ca02c">✓</b> ' if ok else '<b style="color:#d62728">✗</b> ')
            label = f"<i>{html.escape(a['parsed_label'] or 'no label')}</i> · " if q.get("label") else ""
            text = _short(a["text"]) or '<span style="color:#999999">(empty answer)</span>'
            cells.append(f'<td valign="top">{mark}{label}{text}</td>')
        rows.append(f'<tr><td valign="top">{index + 1}</td><td valign="top">{_short(q["question"])}</td>'
                    f'<td valign="top">{gold}</td>{"".join(cells)}</tr>')
    more = len(indices) - MAX_DISAGREEMENTS
    note = f"<p>… and {more} more (see {RESULTS_FILE}).</p>" if more > 0 else ""
    return '<table border="1" cellspacing="0" cellpadding="4" width="100%">' + "".join(rows) + "</table>" + note


def render_html(result: dict, *, title: str = "ragdesk evaluation") -> str:
    """The report for a run's JSON (``EvalRun.to_json()`` or a saved results.json)."""
    config = [("Questions", str(result["n"])), ("Model", result.get("model") or "–"),
              ("Adapter", result.get("adapter") or "–"), ("Collection", result.get("collection") or "–"),
              ("Chunks retrieved (k)", str(result.get("k"))), ("Max answer tokens", str(result.get("max_tokens"))),
              ("Run time", f"{result.get('seconds', 0):.0f} s")]
    if result.get("cancelled"):
        config.append(("Status", "cancelled: metrics cover the questions answered"))
    config_rows = "".join(f"<tr><td><b>{k}</b></td><td>{html.escape(v)}</td></tr>" for k, v in config)
    parts = [
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\">",
        f"<title>{html.escape(title)}</title>",
        "<style>body{font-family:sans-serif;margin:16px;color:#222222} h1{font-size:22px} h2{font-size:17px;"
        "margin-top:22px} td,th{font-size:13px} th{background-color:#eeeeee;text-align:left}</style>",
        "</head><body>",
        f"<h1>{html.escape(title)}</h1>",
        f'<p style="color:#666666">{datetime.now():%Y-%m-%d %H:%M} · closed-book is the base model without '
        "retrieval or adapter, for reference.</p>",
        f'<table cellspacing="0" cellpadding="2">{config_rows}</table>',
        "<h2>Metrics (95% intervals in brackets)</h2>",
        _metrics_table(result),
    ]
    chart = metrics_chart(result)
    if chart:
        parts += ["<h2>Metrics per mode</h2>", f'<p><img src="{chart}" alt="metrics per mode"></p>']
    chart = latency_chart(result)
    if chart:
        parts += ["<h2>Latency</h2>", f'<p><img src="{chart}" alt="latency per mode"></p>']
    parts += [f"<h2>Questions where the modes disagree ({len(result.get('disagreements') or [])})</h2>",
              _disagreement_table(result), "</body></html>"]
    return "\n".join(parts)


def write_report(run, out_dir: str | Path, *, title: str = "ragdesk evaluation") -> Path:
    """Write ``report.html`` and ``results.json`` into ``out_dir``; returns the report's path.

    ``run`` is an ``EvalRun`` or its ``to_json()`` dict.
    """
    result = run if isinstance(run, dict) else run.to_json()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / RESULTS_FILE).write_text(json.dumps(result, indent=2, ensure_ascii=False), encoding="utf-8")
    path = out / REPORT_FILE
    path.write_text(render_html(result, title=title), encoding="utf-8")
    return path
