"""The server's pure parts: model ids, chat messages, OpenAI wire pieces, exposure warnings."""

from __future__ import annotations

import pytest

from ragdesk.chat.prompts import Turn
from ragdesk.llm.remote import ServerAdapter, parse_adapter_map
from ragdesk.llm.remote_protocol import RemoteEngineError, parse_chunk, parse_completion, read_facts
from ragdesk.server.config import ServeConfig, exposure_warning, is_loopback
from ragdesk.server.model_ids import ModelId, ModelIdError, all_ids, format_id, parse_id
from ragdesk.server.protocol import MessagesError, split_messages


@pytest.mark.parametrize("text, expected", [
    ("rag:papers", ModelId("rag", "papers")),
    ("rag", ModelId("rag")),
    ("hybrid:papers@papers-lora", ModelId("hybrid", "papers", "papers-lora")),
    ("hybrid@papers-lora", ModelId("hybrid", None, "papers-lora")),
    ("lora@papers-lora", ModelId("lora", None, "papers-lora")),
    ("lora@team:v2@b", ModelId("lora", None, "team:v2@b")),  # adapter names may hold : and @
    ("rag:me@work", ModelId("rag", "me@work")),  # collection names may hold @
    ("closed", ModelId("closed")),
])
def test_model_ids_parse(text, expected):
    assert parse_id(text) == expected
    assert parse_id(str(expected)) == expected  # format and parse agree


def test_a_hybrid_id_is_split_where_an_existing_collection_ends():
    assert parse_id("hybrid:a@b@c") == ModelId("hybrid", "a", "b@c")
    assert parse_id("hybrid:a@b@c", {"a@b"}.__contains__) == ModelId("hybrid", "a@b", "c")


@pytest.mark.parametrize("text", ["", "gpt-4o", "lora", "lora:papers@x", "rag@x", "closed:papers", "rag:", "hybrid:p"])
def test_bad_model_ids_are_refused_with_a_sentence(text):
    with pytest.raises(ModelIdError) as caught:
        parse_id(text)
    assert str(caught.value)


def test_all_ids_covers_every_combination():
    assert all_ids(["a", "b"], ["x"]) == ["rag:a", "rag:b", "hybrid:a@x", "hybrid:b@x", "lora@x", "closed"]
    assert all_ids([], []) == ["closed"]
    assert format_id("hybrid", "a", "x") == "hybrid:a@x"


def test_messages_become_a_question_and_earlier_turns():
    question, turns = split_messages([
        {"role": "system", "content": "ignored"},
        {"role": "user", "content": "one"},
        {"role": "assistant", "content": "1"},
        {"role": "user", "content": "unanswered"},
        {"role": "user", "content": [{"type": "text", "text": "two"}, {"type": "text", "text": "parts"}]},
    ])
    assert question == "two\nparts" and turns == [Turn("one", "1")]
    for bad in ([], [{"role": "assistant", "content": "x"}], [{"role": "user", "content": "  "}],
                [{"role": "user", "content": [{"type": "image_url", "image_url": {}}]}]):
        with pytest.raises(MessagesError):
            split_messages(bad)


def test_exposure_warning_only_off_loopback_without_a_key():
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0")
    assert exposure_warning(ServeConfig(host="127.0.0.1")) is None
    assert "WITHOUT an API key" in exposure_warning(ServeConfig(host="0.0.0.0"))
    assert exposure_warning(ServeConfig(host="0.0.0.0", api_key="k")) is None


# ---------------------------------------------------------------------------- remote engine wire format


def test_adapter_mappings_parse_both_server_styles():
    mapping = parse_adapter_map(["papers-lora=papers", "x=lora:2"])
    assert mapping == {"papers-lora": ServerAdapter(model="papers"), "x": ServerAdapter(lora_id=2)}
    for bad in (["papers-lora"], ["=x"], ["a=lora:one"], ["a="]):
        with pytest.raises(ValueError):
            parse_adapter_map(bad)


def test_server_kinds_are_recognised_from_what_they_reveal():
    def no_props(path):
        return None

    vllm = read_facts(no_props, {"data": [{"id": "m", "max_model_len": 8192}]})
    assert (vllm.kind, vllm.n_ctx) == ("vllm", 8192)
    cpp = read_facts(lambda p: {"default_generation_settings": {"n_ctx": 4096}, "chat_template": "T"},
                     {"data": [{"id": "m"}]})
    assert (cpp.kind, cpp.n_ctx, cpp.chat_template) == ("llama.cpp", 4096, "T")
    assert read_facts(no_props, {"data": [{"id": "m", "owned_by": "me"}]}).kind == "llama-cpp-python"
    assert read_facts(no_props, {"data": [{"id": "m", "owned_by": "library"}]}).kind == "openai-compatible"
    with pytest.raises(ValueError):
        read_facts(no_props, {"models": []})


def test_stream_chunks_decode_or_fail_with_a_sentence():
    event = parse_chunk("u", '{"choices": [{"delta": {"content": "Hi"}, "finish_reason": null}]}')
    assert (event.text, event.token, event.finish_reason) == ("Hi", True, None)
    assert parse_chunk("u", '{"choices": [], "usage": {"completion_tokens": 3}}').usage["completion_tokens"] == 3
    for garbage in ("not json", "[1]", '{"choices": "x"}', '{"choices": [{"delta": {"content": 5}}]}'):
        with pytest.raises(RemoteEngineError, match="OpenAI-compatible"):
            parse_chunk("http://host/v1", garbage)
    with pytest.raises(RemoteEngineError, match="failed while answering: boom"):
        parse_chunk("u", '{"error": {"message": "boom"}}')
    whole = parse_completion("u", b'{"choices": [{"message": {"content": "Yes"}, "finish_reason": "stop"}]}')
    assert (whole.text, whole.finish_reason) == ("Yes", "stop")
    with pytest.raises(RemoteEngineError):
        parse_completion("u", b"<html>oops</html>")
