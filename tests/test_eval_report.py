"""The HTML evaluation report: self-contained, complete, and rendered (a screenshot is saved)."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import pytest

from ragdesk.evaluation.qa import YES_NO_MAYBE, AnswerRecord, QAItem
from ragdesk.evaluation.report import REPORT_FILE, RESULTS_FILE, render_html, write_report
from ragdesk.evaluation.runner import EvalRun

SCREENSHOTS = Path(__file__).resolve().parents[1] / "test-artifacts" / "screenshots"


def synthetic_run(n: int = 30) -> EvalRun:
    """A run with known answers: rag right on 2/3 of the labels, closed on 1/3, hybrid on all."""
    labels = ["yes", "no", "maybe"]
    items = [QAItem(f"Question {i}: does treatment {i} <help>?", answer=f"finding {i} holds", label=labels[i % 3],
                    gold_doc=f"doc{i}") for i in range(n)]
    records: dict[str, list[AnswerRecord]] = {"closed": [], "rag": [], "hybrid": []}
    for i, item in enumerate(items):
        wrong = labels[(i + 1) % 3]
        records["closed"].append(AnswerRecord(i, "closed", f"{item.label if i % 3 == 0 else wrong}. I think so.",
                                              None, None, 900 + 37 * (i % 7), 40, 18.0 + i % 4))
        rag_label = item.label if i % 3 else wrong
        cited = [f"doc{i}"] if i % 5 else []
        records["rag"].append(AnswerRecord(i, "rag", f"{rag_label.capitalize()}, finding {i} holds [1].",
                                           [f"doc{i}", "other"] if i % 4 else ["other", f"doc{i}"], cited,
                                           1400 + 53 * (i % 9), 45, 16.0 + i % 3))
        records["hybrid"].append(AnswerRecord(i, "hybrid", f"{item.label} — see [1] and [2].", [f"doc{i}"],
                                              [f"doc{i}", "other"], 1500 + 61 * (i % 8), 50, 15.0 + i % 5))
    return EvalRun(items, ["closed", "rag", "hybrid"], records, YES_NO_MAYBE, 5, 128, "smollm2-135m", "facts-lora",
                   "papers", seconds=321.0)


@pytest.mark.slow  # heavy for the fast pass (subprocesses, a model run or a large build): CI's slow pass runs it
def test_report_is_self_contained_and_complete(tmp_path):
    run = synthetic_run()
    path = write_report(run, tmp_path / "report")
    assert path == tmp_path / "report" / REPORT_FILE
    html = path.read_text(encoding="utf-8")
    saved = json.loads((tmp_path / "report" / RESULTS_FILE).read_text(encoding="utf-8"))
    assert saved == json.loads(json.dumps(run.to_json()))

    # Self-contained: every image is inline, nothing is fetched.
    sources = re.findall(r'src="([^"]+)"', html)
    assert len(sources) == 2 and all(s.startswith("data:image/png;base64,") for s in sources)
    for s in sources:
        assert base64.b64decode(s.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    assert "http://" not in html and "https://" not in html and "<script" not in html

    # The metrics table: closed 1/3 of labels, rag 2/3, hybrid all (see synthetic_run).
    for title in ("Label accuracy", "Token F1", "Retrieval hit@k", "Citation precision", "Latency p95 (ms)"):
        assert title in html
    assert "0.333" in html and "0.667" in html and "1.000" in html
    # Questions where the modes disagree: every one (closed and rag are never both right).
    assert f"Questions where the modes disagree ({len(run.items)})" in html
    assert "&lt;help&gt;" in html and "<help>" not in html  # user text is escaped


@pytest.mark.slow  # heavy for the fast pass (subprocesses, a model run or a large build): CI's slow pass runs it
def test_report_without_labels_or_retrieval(tmp_path):
    items = [QAItem("What is two plus two?", answer="four")]
    records = {"closed": [AnswerRecord(0, "closed", "Four.", latency_ms=12.5, completion_tokens=2, tokens_per_s=9.0)]}
    html = render_html(EvalRun(items, ["closed"], records, YES_NO_MAYBE, 5, 64).to_json())
    assert "Label accuracy" not in html and "hit@k" not in html and "Token F1" in html
    assert "The modes agree" in html


@pytest.mark.slow  # heavy for the fast pass (subprocesses, a model run or a large build): CI's slow pass runs it
def test_report_screenshot(tmp_path, qapp):
    """Render the report the way the app shows it (Qt rich text) and save a screenshot."""
    from PySide6.QtWidgets import QTextBrowser

    html = write_report(synthetic_run(), tmp_path).read_text(encoding="utf-8")
    view = QTextBrowser()
    view.setHtml(html)
    view.resize(1100, 800)
    view.document().setTextWidth(1080)
    height = int(view.document().size().height()) + 20
    assert height > 1500  # the tables and both charts laid out
    view.resize(1100, min(height, 6000))
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    target = SCREENSHOTS / "eval_report.png"
    image = view.grab().toImage()
    assert image.save(str(target))
    # Not a blank page: the charts' colours are in the picture.
    colours = {image.pixelColor(x, y).name() for x in range(0, image.width(), 7) for y in range(0, image.height(), 7)}
    assert {"#1f77b4", "#2ca02c"} <= colours
    assert target.stat().st_size > 20_000
