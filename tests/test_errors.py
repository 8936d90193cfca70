"""One exception base and one mapper from failures to the words users see."""

from __future__ import annotations

import errno

import apsw

from ragdesk.errors import RagdeskError, describe, user_message


def _user_facing_classes():
    from ragdesk.chat.conversations import ConversationNotFound
    from ragdesk.chat.modes import ModeError
    from ragdesk.db import DatabaseError
    from ragdesk.embedder import EmbeddingModelError
    from ragdesk.evaluation.qa import QAFileError
    from ragdesk.evaluation.runner import EvalError, MissingAdapterError
    from ragdesk.llm.download import DownloadError
    from ragdesk.llm.engine import EngineBusyError, NotLoadedError
    from ragdesk.llm.generation import PromptTooLongError
    from ragdesk.llm.gguf_info import AdapterError, ModelLoadError
    from ragdesk.llm.model_files import ModelError, ModelNotFound
    from ragdesk.llm.remote_protocol import RemoteEngineError
    from ragdesk.migrations import SchemaTooNew
    from ragdesk.reranker import RerankerError
    from ragdesk.store.collections import CollectionError
    from ragdesk.training import EmptyCollectionError, TrainingError

    return [ConversationNotFound, ModeError, DatabaseError, EmbeddingModelError, QAFileError, EvalError,
            MissingAdapterError, DownloadError, EngineBusyError, NotLoadedError, PromptTooLongError, AdapterError,
            ModelLoadError, ModelError, ModelNotFound, RemoteEngineError, SchemaTooNew, RerankerError,
            CollectionError, TrainingError, EmptyCollectionError]


def test_every_user_facing_error_shares_the_base_and_keeps_its_older_one():
    for cls in _user_facing_classes():
        assert issubclass(cls, RagdeskError), cls
    from ragdesk.evaluation.runner import EvalError
    from ragdesk.llm.engine import NotLoadedError

    assert issubclass(EvalError, ValueError) and issubclass(NotLoadedError, RuntimeError)  # old handlers still match


def test_the_mapper_words_known_failures_and_leaves_bugs_alone():
    from ragdesk.store.collections import CollectionError

    assert user_message(CollectionError("no collection named 'x'")) == "no collection named 'x'"
    assert describe(CollectionError("no collection named 'x'"), "Search failed") == (
        "Search failed", "no collection named 'x'")
    assert user_message(ValueError("the question is empty")) == "the question is empty"
    assert user_message(OSError(errno.ENOSPC, "No space left")).startswith("The disk is full")
    assert user_message(apsw.BusyError("busy")).startswith("The database is locked")
    assert user_message(FileNotFoundError(errno.ENOENT, "No such file", "/x/y")) == "No such file: /x/y"
    assert user_message(FileNotFoundError(errno.ENOENT, "No such file", "/x/y"), os_errors=False) is None
    assert user_message(KeyError("bug")) is None
    title, message = describe(KeyError("bug"))
    assert title == "ragdesk" and message.startswith("something unexpected went wrong (KeyError")

    class WithHint(RagdeskError):
        hint = "run `ragdesk models list`"

    assert user_message(WithHint("no model named 'q'")) == "no model named 'q' (run `ragdesk models list`)"


def test_cli_prints_one_line_for_a_user_error_and_a_traceback_for_a_bug():
    import click
    from click.testing import CliRunner

    from ragdesk.cli.errors import user_errors
    from ragdesk.store.collections import CollectionError

    @click.command()
    @click.argument("what")
    def cmd(what):
        with user_errors():
            raise CollectionError("no collection named 'x'") if what == "user" else KeyError("bug")

    result = CliRunner().invoke(cmd, ["user"])
    assert result.exit_code == 1 and result.output == "Error: no collection named 'x'\n"
    result = CliRunner().invoke(cmd, ["bug"])
    assert isinstance(result.exception, KeyError)


def test_the_cli_writes_the_same_log_file_as_the_app(tmp_path):
    from click.testing import CliRunner

    from ragdesk.cli import cli
    from ragdesk.logging_setup import log_file

    home = tmp_path / "home"
    result = CliRunner().invoke(cli, ["--home", str(home), "search", "anything"])
    assert result.exit_code == 1 and "Error: no collection named 'default'" in result.output
    assert log_file() == home / "logs" / "ragdesk.log"
    assert "ragdesk search" in log_file().read_text(encoding="utf-8")
