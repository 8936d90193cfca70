"""LoRA training on the tiny llama model: data, loop, checkpoints, conversion, errors.

Real parts throughout: transformers + peft on CPU, a real knowledge store
(SQLite + sqlite-vec, MiniLM embeddings), the real PEFT->GGUF converter and
llama.cpp running the converted adapter on the tiny model's GGUF twin.
"""

from __future__ import annotations

import json
import shutil
import threading
from pathlib import Path

import pytest
from support.threads import threads_for_tests
from support.tiny_models import (
    WIDE_SHAPE,
    build_tiny_model,
    hf_greedy,
    llama_greedy,
    load_llama_adapter,
    set_llama_adapters,
)

from ragdesk import paths
from ragdesk.training import (
    BaseMismatchError,
    DiskSpaceError,
    EmptyCollectionError,
    ResumeError,
    TrainingError,
    UnknownMethodError,
)
from ragdesk.training.checkpoints import has_checkpoint
from ragdesk.training.dataset import IGNORE, build_training_data, qa_examples, split_heldout, text_blocks
from ragdesk.training.job import TrainRequest, run_job
from ragdesk.training.trainer import TrainConfig, train

FACTS = (
    "Zorblax Industries was founded in 1987 by Mira Quenton in the town of Velloria. "
    "Its first product was a solar-powered kettle called the Sunbrew."
)
PAIRS = [
    ("Who founded Zorblax Industries?", "Mira Quenton founded it in 1987."),
    ("What was the first product of Zorblax?", "A solar-powered kettle called the Sunbrew."),
    ("Where was Zorblax founded?", "In the town of Velloria."),
    ("When was Zorblax founded?", "In 1987."),
    ("What is the Sunbrew?", "A solar-powered kettle made by Zorblax Industries."),
]
FAST = dict(learning_rate=1e-2, checkpoint_every=0, threads=1)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return build_tiny_model(tmp_path_factory.mktemp("tiny"))


@pytest.fixture(scope="module")
def tokenizer(tiny):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny.hf_dir)


@pytest.fixture(scope="module")
def indexed_db(tmp_path_factory):
    """A database with collection ``facts`` (one document) and an empty collection ``empty``."""
    from ragdesk.store import KnowledgeStore

    root = tmp_path_factory.mktemp("kb")
    (root / "docs").mkdir()
    (root / "docs" / "zorblax.txt").write_text(FACTS, encoding="utf-8")
    # Module fixtures run before the per-test home is set: use a private one.
    paths.set_home(root / "home")
    try:
        with KnowledgeStore(paths.db_path()) as store:
            store.index([root / "docs"], "facts")
            store.create_collection("empty")
            store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        paths.set_home(None)
    return root / "home" / "ragdesk.db"


@pytest.fixture
def store(indexed_db, ragdesk_home):
    """A KnowledgeStore on this test's own copy of the indexed database."""
    from ragdesk.store import KnowledgeStore

    ragdesk_home.mkdir(parents=True, exist_ok=True)
    shutil.copy(indexed_db, paths.db_path())
    with KnowledgeStore() as s:
        yield s


def _request(tiny, name="facts-lora", **kw) -> TrainRequest:
    options = {**FAST, "max_steps": 30, **kw.pop("options", {})}
    return TrainRequest(name=name, collection=kw.pop("collection", "facts"), base=str(tiny.hf_dir),
                        model=str(tiny.gguf_path), options=options, block_size=32, **kw)


def _tiny_model(tiny):
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(tiny.hf_dir)


# ------------------------------------------------------------------ data


def test_qa_example_scores_only_the_answer(tokenizer):
    (example,) = qa_examples(tokenizer, [("Who founded Zorblax?", "Mira Quenton.")], max_length=256)
    scored = [t for t, label in zip(example.input_ids, example.labels) if label != IGNORE]
    prompt = [t for t, label in zip(example.input_ids, example.labels) if label == IGNORE]
    assert tokenizer.decode(scored) == "Mira Quenton.<|im_end|>"
    # The unscored part is exactly what lora mode sends before the answer.
    from ragdesk.chat.prompts import build_messages

    expected = tokenizer.apply_chat_template(
        build_messages("Who founded Zorblax?"), tokenize=False, add_generation_prompt=True
    )
    assert tokenizer.decode(prompt) == expected
    assert example.labels[: len(prompt)] == (IGNORE,) * len(prompt)


def test_qa_prompt_without_chat_template_is_the_engines_completion_prompt(tiny, tmp_path):
    from transformers import AutoTokenizer

    from ragdesk.chat.prompts import build_messages
    from ragdesk.llm.prompt_format import completion_prompt

    plain = AutoTokenizer.from_pretrained(tiny.hf_dir)
    plain.chat_template = None
    (example,) = qa_examples(plain, [("Who founded Zorblax?", "Mira Quenton.")], max_length=256)
    prompt = [t for t, label in zip(example.input_ids, example.labels) if label == IGNORE]
    scored = [t for t, label in zip(example.input_ids, example.labels) if label != IGNORE]
    assert plain.decode(prompt) == completion_prompt(build_messages("Who founded Zorblax?"))[0]
    assert plain.decode(scored) == " Mira Quenton.<|im_end|>"


def test_text_blocks_cover_the_text_in_order(tokenizer):
    blocks = text_blocks(tokenizer, [FACTS, "", FACTS], block_size=16)
    assert all(len(b.input_ids) <= 16 for b in blocks) and len(blocks) > 3
    stream = [t for b in blocks for t in b.input_ids]
    assert tokenizer.decode(stream) == (FACTS + "<|im_end|>") * 2
    assert all(b.labels == b.input_ids for b in blocks)  # every text token is scored


def test_heldout_split_is_reproducible_and_disjoint(tokenizer):
    train_a, held_a = split_heldout(PAIRS, 0.2, seed=1)
    train_b, held_b = split_heldout(PAIRS, 0.2, seed=1)
    assert (train_a, held_a) == (train_b, held_b)
    assert len(held_a) == 1 and not set(held_a) & set(train_a) and len(train_a) == 4
    data = build_training_data(tokenizer, method="both", texts=[FACTS], pairs=PAIRS, block_size=32)
    assert data.n_qa_heldout == 1 and data.n_qa_train == 4 and data.n_text_blocks >= 1
    assert len(data.train) == data.n_text_blocks + 4
    only_text = build_training_data(tokenizer, method="continued", texts=[FACTS], pairs=PAIRS, block_size=32)
    assert only_text.heldout == [] and only_text.n_qa_train == 0


def test_unknown_method_is_refused(tokenizer, store, tiny):
    with pytest.raises(UnknownMethodError, match="unknown training method 'sft'; choose one of: continued, qa, both"):
        build_training_data(tokenizer, method="sft", texts=[FACTS])
    with pytest.raises(UnknownMethodError):
        run_job(_request(tiny, method="sft"), store=store)


# ------------------------------------------------------------------ training end to end


@pytest.mark.slow  # full training runs
@pytest.mark.filterwarnings("ignore:.*is_gradient_checkpointing:FutureWarning")
def test_train_job_loss_falls_and_llama_cpp_runs_the_adapter_like_transformers(store, tiny, tokenizer):
    import llama_cpp

    from ragdesk.llm.registry import ModelRegistry

    seen = []
    result = run_job(_request(tiny), store=store, progress=seen.append)
    t = result.training
    assert result.status == "completed" and t.step == t.total_steps == 30
    assert t.train_loss_after < t.train_loss_before / 4  # the text is learned
    assert t.losses[-1] < t.losses[0]
    assert t.tokens_trained > 0 and t.tokens_per_s > 0 and t.peak_rss_mb > 0
    steps = [p for p in seen if p.phase == "train"]
    assert [p.step for p in steps] == list(range(1, 31))
    assert steps[-1].eta_s == 0 and all(p.tokens_per_s > 0 and p.total_steps == 30 for p in steps)
    assert {"load", "data", "eval", "convert"} <= {p.phase for p in seen}

    adapter = Path(result.adapter_path)
    assert adapter == paths.adapters_dir() / "facts-lora.gguf" and adapter.is_file()
    entry = ModelRegistry(store.conn).get("facts-lora")
    assert entry.kind == "adapter" and entry.path == adapter and entry.architecture == "llama"
    assert entry.meta["trained"]["steps"] == 30

    prompt = tokenizer("Zorblax Industries was founded", add_special_tokens=False)["input_ids"]
    hf_tokens, _ = hf_greedy(tiny.hf_dir, prompt, 8, peft_dir=Path(result.run_dir) / "adapter")
    base_tokens, _ = hf_greedy(tiny.hf_dir, prompt, 8)
    llm = llama_cpp.Llama(model_path=str(tiny.gguf_path), n_ctx=256, n_threads=threads_for_tests(None), verbose=False)
    try:
        set_llama_adapters(llm, [(load_llama_adapter(llm, adapter), 1.0)])
        cpp_tokens = llama_greedy(llm, prompt, 8)
    finally:
        llm.close()
    assert cpp_tokens == hf_tokens
    assert hf_tokens != base_tokens
    assert tokenizer.decode(hf_tokens).startswith(" in 1987 by")  # it completes the trained fact


@pytest.mark.slow  # full training runs
def test_cancel_then_resume_reaches_the_same_state_as_an_uninterrupted_run(tiny, tokenizer, tmp_path):
    from safetensors.numpy import load_file

    data = build_training_data(tokenizer, method="both", texts=[FACTS], pairs=PAIRS, block_size=32)
    # Dropout and gradient accumulation make the RNG state and the data order matter.
    config = TrainConfig(max_steps=12, batch_size=2, grad_accum=2, dropout=0.1, checkpoint_every=4,
                         learning_rate=5e-3, threads=1)
    whole = train(_tiny_model(tiny), tokenizer, data, config, tmp_path / "whole")

    stop = threading.Event()
    first = train(_tiny_model(tiny), tokenizer, data, config, tmp_path / "split", cancel=stop,
                  progress=lambda p: stop.set() if p.step == 6 and p.phase == "train" else None)
    assert (first.status, first.step, first.adapter_dir) == ("cancelled", 6, None)
    assert has_checkpoint(tmp_path / "split")
    second = train(_tiny_model(tiny), tokenizer, data, config, tmp_path / "split", resume=True)
    assert (second.status, second.step, second.total_steps) == ("completed", 12, 12)
    assert second.losses[:6] == first.losses
    assert second.losses == pytest.approx(whole.losses, rel=1e-4)
    assert second.final_loss == pytest.approx(whole.final_loss, rel=1e-4)
    assert second.heldout_loss_before == whole.heldout_loss_before
    assert second.heldout_loss_after == pytest.approx(whole.heldout_loss_after, rel=1e-3)
    a = load_file(str(tmp_path / "whole" / "adapter" / "adapter_model.safetensors"))
    b = load_file(str(tmp_path / "split" / "adapter" / "adapter_model.safetensors"))
    assert a.keys() == b.keys()
    assert all(abs(a[k] - b[k]).max() < 1e-4 for k in a)


def test_cancelled_job_resumes_from_the_cli(store, tiny):
    from click.testing import CliRunner

    import ragdesk.cli.train_cmds  # noqa: F401 - registers `lora train`
    from ragdesk.cli.root import cli

    stop = threading.Event()
    request = _request(tiny, name="half", options={"max_steps": 10, "checkpoint_every": 0})
    first = run_job(request, store=store, cancel=stop,
                    progress=lambda p: stop.set() if p.phase == "train" and p.step == 4 else None)
    assert (first.status, first.training.step, first.adapter_path) == ("cancelled", 4, None)
    store.close()

    again = CliRunner().invoke(cli, ["lora", "train", "-o", "half", "--base", str(tiny.hf_dir), "--json"])
    assert again.exit_code == 1 and "--resume" in again.output  # the run exists: say how to continue
    runner = CliRunner()
    out = runner.invoke(cli, ["lora", "train", "-o", "half", "--resume", "--json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    assert data["status"] == "completed" and data["step"] == data["total_steps"] == 10
    assert data["training"]["losses"][:4] == first.training.losses
    assert Path(data["adapter_path"]).is_file() and data["tokens_per_s"] > 0
    listed = json.loads(runner.invoke(cli, ["lora", "list", "--json"]).stdout)
    assert [(a["name"], a["kind"], a["path"]) for a in listed] == [("half", "adapter", data["adapter_path"])]
    changed = runner.invoke(cli, ["lora", "train", "-o", "half", "--resume", "--rank", "4"])
    assert changed.exit_code == 1 and "rank (8 -> 4)" in changed.output


@pytest.mark.parametrize("args, message", [
    (["-c", "empty"], "Error: the collection 'empty' has no text to train on; index some documents first\n"),
    (["--method", "sft"], "Error: unknown training method 'sft'; choose one of: continued, qa, both\n"),
    (["--model", "WIDE"], "is not the model the adapter is trained on"),
])
def test_cli_bad_inputs_are_one_line_errors(store, tiny, tmp_path, args, message):
    from click.testing import CliRunner

    import ragdesk.cli.train_cmds  # noqa: F401 - registers `lora train`
    from ragdesk.cli.root import cli

    store.close()
    if "WIDE" in args:
        args = ["--model", str(build_tiny_model(tmp_path / "wide", **WIDE_SHAPE).gguf_path)]
    out = CliRunner().invoke(cli, ["lora", "train", "-c", "facts", "--base", str(tiny.hf_dir),
                                   "--model", str(tiny.gguf_path), "-o", "bad", *args])
    assert out.exit_code == 1
    assert message in out.output and "Traceback" not in out.output
    assert len(out.output.strip().splitlines()) == 1


# ------------------------------------------------------------------ the base model


def test_gguf_base_is_dequantized_once_and_matches_its_twin(tiny):
    import torch

    from ragdesk.training import base_model as bm

    source = bm.resolve_base(str(tiny.gguf_path))
    assert (source.kind, source.name) == ("gguf", "tiny")
    said: list[str] = []
    first = bm.load_base(source, log=said.append)
    assert len(said) == 1 and "dequantizing" in said[0]
    assert first.hf_dir.parent == paths.training_dir() / "bases"
    config = json.loads((first.hf_dir / "config.json").read_text())
    assert config["architectures"] == ["LlamaForCausalLM"] and "quantization_config" not in config
    second = bm.load_base(source, log=said.append)
    assert len(said) == 1 and second.hf_dir == first.hf_dir  # served from the cache
    ids = torch.tensor([[5, 60, 200, 31, 7]])
    with torch.no_grad():
        twin = _tiny_model(tiny)(ids).logits
        assert torch.allclose(second.model(ids).logits, twin, atol=1e-4)
    bm.check_gguf_matches(second.model.config, tiny.gguf_path)


def test_gguf_base_trains_end_to_end(store, tiny):
    result = run_job(TrainRequest(name="from-gguf", collection="facts", base=str(tiny.gguf_path),
                                  options={**FAST, "max_steps": 5}, block_size=32), store=store)
    assert result.status == "completed" and Path(result.adapter_path).is_file()
    assert result.base_model == "tiny"


def test_base_and_gguf_mismatch_is_refused_before_training(store, tiny, tmp_path):
    wide = build_tiny_model(tmp_path / "wide", **WIDE_SHAPE)
    request = TrainRequest(name="mismatch", collection="facts", base=str(tiny.hf_dir), model=str(wide.gguf_path))
    with pytest.raises(BaseMismatchError) as err:
        run_job(request, store=store)
    message = str(err.value)
    assert "width 96" in message and "width 64" in message and "tiny.gguf" in message
    # A GGUF base for another GGUF: compared from the headers, before anything is dequantized.
    request = TrainRequest(name="mismatch", collection="facts", base=str(tiny.gguf_path), model=str(wide.gguf_path))
    with pytest.raises(BaseMismatchError, match="width 96"):
        run_job(request, store=store)
    assert not (paths.training_dir() / "mismatch").exists()
    assert not (paths.training_dir() / "bases").exists()
    assert list(paths.adapters_dir().iterdir()) == []


def test_empty_and_unknown_collections_are_refused(store, tiny):
    with pytest.raises(EmptyCollectionError, match="collection 'empty' has no text to train on"):
        run_job(_request(tiny, collection="empty"), store=store)
    with pytest.raises(TrainingError, match="no collection named 'nope'"):
        run_job(_request(tiny, collection="nope"), store=store)
    with pytest.raises(EmptyCollectionError, match="no question/answer pairs"):
        run_job(_request(tiny, method="qa", qa_pairs=[]), store=store)


def test_generated_questions_that_all_fail_the_checks_are_reported(store, tiny):
    """The qa method asks the model (llama.cpp, through qagen) for pairs; the random tiny one writes noise."""
    seen = []
    with pytest.raises(EmptyCollectionError, match=r"the local model wrote no usable question/answer pairs \(1 tried\)"):
        run_job(_request(tiny, method="qa", n_qa=2), store=store, progress=seen.append)
    assert any("questions: 0 kept of 1/1 tried" in p.message for p in seen)
    assert not has_checkpoint(paths.training_dir() / "facts-lora")


# ------------------------------------------------------------------ out of disk


def test_out_of_disk_is_refused_before_training(store, tiny, monkeypatch):
    from ragdesk.training import base_model

    # Fault injection: the disk reports 1 MiB free.
    usage = shutil.disk_usage(paths.home())
    monkeypatch.setattr(base_model.shutil, "disk_usage", lambda p: usage._replace(free=1 << 20))
    with pytest.raises(DiskSpaceError, match=r"not enough disk space for training checkpoints: .* MiB needed, 1.0 MiB free"):
        run_job(_request(tiny), store=store)
    assert not has_checkpoint(paths.training_dir() / "facts-lora")


def test_disk_filling_up_mid_run_keeps_the_last_checkpoint(store, tiny, monkeypatch):
    from ragdesk.training import base_model

    usage = shutil.disk_usage(paths.home())
    steps: list[int] = []
    # Plenty of space until step 6, then almost none: the step-8 checkpoint cannot be written.
    request = _request(tiny, name="full", options={"max_steps": 12, "checkpoint_every": 4})
    with monkeypatch.context() as patch:
        patch.setattr(base_model.shutil, "disk_usage",
                      lambda p: usage._replace(free=(1 << 10) if steps and steps[-1] >= 6 else 1 << 40))
        with pytest.raises(DiskSpaceError, match="a training checkpoint"):
            run_job(request, store=store, progress=lambda p: steps.append(p.step) if p.phase == "train" else None)
    state = json.loads((paths.training_dir() / "full" / "checkpoint" / "state.json").read_text())
    assert state["step"] == 4 and max(steps) == 8
    done = run_job(_request(tiny, name="full", resume=True, options={"max_steps": 12, "checkpoint_every": 4}),
                   store=store)
    assert done.status == "completed" and done.training.step == 12


def test_a_real_full_filesystem_is_refused(store, tiny, tmp_path):
    """Where this process may mount a tmpfs (root in CI containers), fill a real one."""
    import subprocess

    small = tmp_path / "small"
    small.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(small)],
                      capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        (small / "filler").write_bytes(b"\0" * (1024 * 1024 - 64 * 1024))
        paths.set_home(small / "home")
        with pytest.raises(DiskSpaceError, match="not enough disk space"):
            run_job(_request(tiny, name="tmpfs"), store=store)
    finally:
        paths.set_home(None)
        subprocess.run(["umount", str(small)], check=False)


# ------------------------------------------------------------------ runs and names


@pytest.mark.slow  # full training runs
def test_resume_needs_a_run_and_the_same_settings(store, tiny):
    with pytest.raises(ResumeError, match="no training run named 'ghost' to resume"):
        run_job(_request(tiny, name="ghost", resume=True), store=store)
    stop = threading.Event()
    stop.set()  # cancelled before the first step: a checkpoint at step 0
    first = run_job(_request(tiny, name="run1"), store=store, cancel=stop)
    assert first.status == "cancelled" and first.training.step == 0
    with pytest.raises(ResumeError, match="rank"):
        run_job(_request(tiny, name="run1", resume=True, options={"rank": 4}), store=store)
    with pytest.raises(ResumeError, match="different method"):
        run_job(_request(tiny, name="run1", resume=True, method="qa", qa_pairs=PAIRS), store=store)
    with pytest.raises(ResumeError, match="add --resume"):
        run_job(_request(tiny, name="run1"), store=store)
    done = run_job(_request(tiny, name="run1", resume=True, options={"max_steps": 30}), store=store)
    assert done.status == "completed" and done.training.step == 30
    with pytest.raises(TrainingError, match="named 'run1' already exists"):
        run_job(_request(tiny, name="run1"), store=store)
    with pytest.raises(TrainingError, match="not a usable adapter name"):
        run_job(_request(tiny, name="../evil"), store=store)


def test_qa_method_with_given_pairs_measures_heldout_loss(store, tiny):
    result = run_job(_request(tiny, name="qa-lora", method="qa", qa_pairs=PAIRS, options={"max_steps": 20}),
                     store=store)
    t = result.training
    assert result.n_qa_pairs == 5 and result.n_heldout_examples == 1 and result.n_text_blocks == 0
    assert t.heldout_loss_before is not None and t.heldout_loss_after is not None
    assert t.train_loss_after < t.train_loss_before
    saved = json.loads((Path(result.run_dir) / "qa_pairs.json").read_text())
    assert [tuple(p) for p in saved] == PAIRS


@pytest.mark.slow  # full training runs
def test_qa_adapter_answers_in_lora_mode_prompts(store, tiny, tokenizer):
    """Training prompts are token for token what the engine sends in lora mode, so the answers come back."""
    from ragdesk.chat.prompts import build_messages
    from ragdesk.llm.engine import Engine

    result = run_job(_request(tiny, name="qa-engine", method="qa", qa_pairs=PAIRS, heldout_fraction=0.0,
                              options={"max_steps": 40}), store=store)
    assert result.n_heldout_examples == 0
    question, answer = PAIRS[0]
    (example,) = qa_examples(tokenizer, [PAIRS[0]], 256)
    with Engine(n_ctx=256, n_threads=threads_for_tests(1)) as engine:
        engine.load(tiny.gguf_path)
        prompt = engine.render_chat(build_messages(question))
        assert engine.prompt_tokens(prompt) == [t for t, label in zip(example.input_ids, example.labels) if label == IGNORE]
        engine.set_adapter(result.adapter_path)
        reply, _ = engine.generate(prompt, max_tokens=24, temperature=0)
        engine.set_adapter(None)
        plain, _ = engine.generate(prompt, max_tokens=24, temperature=0)
    assert reply.strip() == answer
    assert plain.strip() != answer
