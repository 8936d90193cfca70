"""``ragdesk mcp``: the MCP SDK's own client session spawns the server over stdio and calls the tools."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import pytest
from support.serving import prepare_home

pytestmark = pytest.mark.slow  # spawns a Python that imports torch and the embedding model

ROOT = Path(__file__).resolve().parents[1]


def call_tools(home_dir: Path, calls: list[tuple[str, dict]]) -> tuple[list[str], list]:
    """Start ``python -m ragdesk mcp`` with the SDK's stdio client; (tool names, results of ``calls``)."""
    from mcp import ClientSession, StdioServerParameters
    from mcp.client.stdio import stdio_client

    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
           "RAGDESK_HOME": str(home_dir)}
    params = StdioServerParameters(command=sys.executable, args=["-m", "ragdesk", "mcp", "--model", "tiny"], env=env)

    async def session():
        async with stdio_client(params) as (read, write):
            async with ClientSession(read, write) as client:
                await client.initialize()
                names = [t.name for t in (await client.list_tools()).tools]
                return names, [await client.call_tool(name, args) for name, args in calls]

    return asyncio.run(asyncio.wait_for(session(), 180))


def payload(result):
    assert not result.is_error, result.content
    return json.loads(result.content[0].text)


@pytest.fixture
def mcp_home(tmp_path, tiny_model, tiny_lora):
    """A data folder (RAGDESK_HOME) with documents indexed and the tiny model and its adapter registered."""
    home = tmp_path / "home"
    db, settings = prepare_home(home, tiny_model.gguf_path, tiny_lora)
    assert db == home / "ragdesk.db"  # where ragdesk looks for it
    settings.save(home / "settings.json")
    return home


def test_the_three_tools_over_stdio(mcp_home):
    names, (collections, found, answer, wrong) = call_tools(mcp_home, [
        ("list_collections", {}),
        ("search_documents", {"query": "descaling citric acid", "collection": "manuals", "k": 2}),
        ("ask", {"question": "How often must the kettle be descaled?", "mode": "hybrid", "collection": "manuals",
                 "adapter": "tiny-lora"}),
        ("ask", {"question": "x", "collection": "nope"}),
    ])
    assert set(names) == {"search_documents", "ask", "list_collections"}
    listed = payload(collections)["collections"]
    assert [c["name"] for c in listed] == ["manuals"] and listed[0]["documents"] == 2
    hits = payload(found)["hits"]
    assert hits[0]["name"] == "kettle.md" and hits[0]["heading"] == "Aurora Kettle manual > Descaling"
    assert "citric acid" in hits[0]["text"] and hits[0]["page"] is None
    reply = payload(answer)
    assert reply["mode"] == "hybrid" and reply["adapter"] == "tiny-lora" and reply["collection"] == "manuals"
    assert isinstance(reply["answer"], str) and isinstance(reply["citations"], list)
    assert wrong.is_error and "no collection named 'nope'" in wrong.content[0].text
