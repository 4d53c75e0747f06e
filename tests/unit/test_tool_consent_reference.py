"""Consent with the reference servers from npm (installed by .ci/run; skipped with how to
install them elsewhere): server-filesystem on a temporary folder, where a write the user
denies must not happen, and read-only tools run unasked only when the user opted in; and
server-everything's image, kept and shown. The model is the loopback server asking for
tools, through the real SDK and the ChatController."""

from __future__ import annotations

import json

from desktop_chat.core.conversation import TOOL_DECLINED, TOOL_DONE, tool_calls
from desktop_chat.core.tools.config import ToolServerConfig
from desktop_chat.core.tools.use import Answer
from tests.fakes import reference_servers
from tests.fakes.chat_services import services_on
from tests.fakes.openai_server import Reply, text_stream, tool_call_stream
from tests.unit.test_tool_calls import Recorder, answer_when_asked, run


def test_a_denied_write_does_not_happen_and_an_allowed_one_does(tmp_path, fake_server):
    folder = tmp_path / "shared"
    folder.mkdir()
    (folder / "notes.txt").write_text("kept\n")
    files = ToolServerConfig("files", **reference_servers.filesystem(folder))
    services = services_on(fake_server.base_url, tmp_path / "h.db", tool_servers=(files,), first_token_timeout=20.0)
    chat = services.chat(Recorder())
    target = folder / "secret.txt"
    write = json.dumps({"path": str(target), "content": "written by the model"})
    fake_server.queue(
        Reply(body=tool_call_stream([("w1", "write_file", write)])),
        Reply(body=text_stream(["I did not write it."])),
        Reply(body=tool_call_stream([("w2", "write_file", write)])),
        Reply(body=text_stream(["Written."])),
    )

    async def scenario():
        denied = chat.send("Write the secret")
        await answer_when_asked(chat, Answer.DENY)
        first = await denied
        assert not target.exists()  # (checked while the server still runs)
        allowed = chat.send("Now write it")
        await answer_when_asked(chat, Answer.ONCE)
        return first, await allowed

    first, second = run(services, scenario())
    assert tool_calls(first.message.parts)[0].status == TOOL_DECLINED
    assert tool_calls(second.message.parts)[0].status == TOOL_DONE
    assert target.read_text() == "written by the model"
    offered = {t["function"]["name"] for t in fake_server.requests[0]["tools"]}
    assert {"write_file", "read_text_file", "list_directory"} <= offered
    services.store.close()


def test_read_only_tools_run_unasked_only_when_the_user_opted_in(tmp_path, fake_server):
    from dataclasses import replace

    folder = tmp_path / "shared"
    folder.mkdir()
    (folder / "notes.txt").write_text("the notes\n")
    files = ToolServerConfig("files", **reference_servers.filesystem(folder))
    services = services_on(fake_server.base_url, tmp_path / "h.db", tool_servers=(files,), first_token_timeout=20.0)
    services.settings.update(replace(services.settings.current, tools_read_only_allowed=True))
    chat = services.chat(Recorder())
    read = json.dumps({"path": str(folder / "notes.txt")})
    fake_server.queue(
        Reply(body=tool_call_stream([("r1", "read_text_file", read)])),
        Reply(body=text_stream(["It says: the notes."])),
    )

    async def scenario():
        task = chat.send("Read my notes")
        assert task is not None
        return await task

    outcome = run(services, scenario())  # (nothing answers a card: none may be asked)
    call = tool_calls(outcome.message.parts)[0]
    assert (call.status, call.result) == (TOOL_DONE, "the notes\n")
    services.store.close()


def test_an_image_a_tool_returns_is_kept_with_the_call(tmp_path, fake_server):
    everything = ToolServerConfig("everything", **reference_servers.everything())
    services = services_on(
        fake_server.base_url, tmp_path / "h.db", tool_servers=(everything,), first_token_timeout=20.0
    )
    chat = services.chat(Recorder())
    fake_server.queue(
        Reply(body=tool_call_stream([("i1", "get-tiny-image", "{}")])),
        Reply(body=text_stream(["A tiny image."])),
    )

    async def scenario():
        task = chat.send("Show me the tiny image")
        await answer_when_asked(chat, Answer.ONCE)
        return await task

    outcome = run(services, scenario())
    call = tool_calls(services.store.message(outcome.message.id).parts)[0]
    (image,) = call.images
    assert image.mime.startswith("image/") and image.width and image.height
    assert services.store.attachments.get(image.digest)[:4] in (b"\x89PNG", b"\xff\xd8\xff\xe0", b"\xff\xd8\xff\xe1")
    told = fake_server.requests[1]["messages"][-1]["content"]
    assert "[The tool returned an image" in told and "base64" not in told
    services.store.close()
