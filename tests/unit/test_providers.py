"""Provider streaming over real HTTP on 127.0.0.1, through the real openai SDK, with every fault."""

from __future__ import annotations

import asyncio
import json
import socket

import pytest

from desktop_chat.core.events import Failed, FailureKind, Finished, ReasoningDelta, TextDelta, UsageReport
from desktop_chat.core.providers import ChatRequest, Endpoint, ProviderClients, ProviderError
from tests.fakes.openai_server import TESTDATA, Pause, Reply, chunk, recorded, sse, text_stream

REQUEST = ChatRequest("test-model", [{"role": "user", "content": "hi"}])


def collect(server, *replies, timeouts=(5.0, 2.0), endpoint=None, request=REQUEST):
    server.queue(*replies)

    async def run():
        clients = ProviderClients()
        try:
            return [
                e
                async for e in clients.stream_reply(
                    endpoint or Endpoint(server.base_url, "sk-test"),
                    request,
                    first_token_timeout=timeouts[0],
                    idle_timeout=timeouts[1],
                )
            ]
        finally:
            await clients.aclose()

    return asyncio.run(run())


def text_of(events):
    return "".join(e.text for e in events if isinstance(e, TextDelta))


def last(events):
    return events[-1]


def test_plain_stream_text_usage_and_request(fake_server):
    events = collect(fake_server, Reply(body=text_stream(["Hel", "lo ", "wörld"])))
    assert text_of(events) == "Hello wörld"
    assert UsageReport(12, 34) in events
    assert last(events) == Finished("stop")
    sent = fake_server.requests[-1]
    assert sent["stream"] is True and sent["model"] == "test-model"
    assert sent["stream_options"] == {"include_usage": True}
    assert fake_server.headers[-1]["authorization"] == "Bearer sk-test"


def test_server_rejecting_stream_options_is_asked_again_without(fake_server):
    refusal = Reply(
        status=400,
        headers={"content-type": "application/json"},
        body=[b'{"error": {"message": "Unrecognized request argument supplied: stream_options"}}'],
    )
    events = collect(fake_server, refusal, Reply(body=text_stream(["ok"], usage=False)))
    assert text_of(events) == "ok" and last(events) == Finished("stop")
    assert "stream_options" not in fake_server.requests[-1]
    assert not any(isinstance(e, UsageReport) for e in events)  # unknown, not zero


@pytest.mark.parametrize(
    "status, body, kind, words",
    [
        (401, b'{"error": {"message": "Incorrect API key provided"}}', "auth", "rejected the API key"),
        (404, b'{"error": {"message": "The model does not exist"}}', "not_found", "model 'test-model'"),
        (500, b'{"error": {"message": "boom"}}', "server", "server error (500)"),
        (503, b'{"error": {"message": "overloaded"}}', "server", "server error (503)"),
        (400, b'{"error": {"message": "bad things"}}', "bad_request", "bad things"),
    ],
)
def test_http_errors_become_clear_failures(fake_server, status, body, kind, words):
    events = collect(fake_server, Reply(status=status, headers={"content-type": "application/json"}, body=[body]))
    failure = last(events).failure
    assert failure.kind == kind and failure.status == status
    assert words in failure.message


def test_rate_limit_reports_retry_after(fake_server):
    body = (TESTDATA / "openai-streams" / "pydantic_ai__openrouter_429_provider_error.reserialized.json").read_bytes()
    events = collect(
        fake_server, Reply(status=429, headers={"content-type": "application/json", "retry-after": "17"}, body=[body])
    )
    failure = last(events).failure
    assert failure.kind == FailureKind.RATE_LIMIT and failure.retry_after == 17
    assert "Try again in 17 s" in failure.message
    assert len(fake_server.requests) == 1  # no silent retries


@pytest.mark.parametrize("status", [200, 502])
def test_html_page_from_a_proxy(fake_server, status):
    page = b"<html><head><title>502 Bad Gateway</title></head><body><h1>Bad Gateway</h1></body></html>"
    events = collect(fake_server, Reply(status=status, headers={"content-type": "text/html"}, body=[page]))
    failure = last(events).failure
    assert failure.kind == FailureKind.HTML and "web page" in failure.message and "<html" not in failure.message


def test_connection_refused():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    # Nothing listens on that port now.
    async def run():
        clients = ProviderClients()
        events = [e async for e in clients.stream_reply(Endpoint(f"http://127.0.0.1:{port}/v1", "k"), REQUEST)]
        await clients.aclose()
        return events

    failure = last(asyncio.run(run())).failure
    assert failure.kind == FailureKind.CONNECTION and "refused" in failure.message


def test_name_resolution_failure():
    # .invalid is reserved (RFC 2606): resolution fails without any query leaving the machine's resolver rules.
    async def run():
        clients = ProviderClients()
        events = [e async for e in clients.stream_reply(Endpoint("http://no-such-host.invalid/v1", "k"), REQUEST)]
        await clients.aclose()
        return events

    failure = last(asyncio.run(run())).failure
    assert failure.kind == FailureKind.DNS and "no-such-host.invalid" in failure.message


def test_no_first_token_within_the_limit(fake_server):
    events = collect(fake_server, Reply(body=[], end="hang"), timeouts=(0.5, 5.0))
    failure = last(events).failure
    assert failure.kind == FailureKind.FIRST_TOKEN_TIMEOUT and "0.5 s" in failure.message
    assert fake_server.closed_early.wait(3), "the HTTP connection must be closed"


def test_stream_going_silent_midway_keeps_text(fake_server):
    events = collect(
        fake_server,
        Reply(body=text_stream(["partial ", "answer"], finish=None, usage=False, done=False), end="hang"),
        timeouts=(5.0, 0.5),
    )
    assert text_of(events) == "partial answer"
    assert last(events).failure.kind == FailureKind.IDLE_TIMEOUT


def test_connection_reset_midstream_keeps_text(fake_server):
    body = text_stream(["kept ", "text"], finish=None, usage=False, done=False)
    events = collect(fake_server, Reply(body=body, end="reset"))
    assert text_of(events) == "kept text"
    failure = last(events).failure
    assert failure.kind == FailureKind.CUT and "cut mid-reply" in failure.message


def test_body_ending_without_done_or_finish_reason_is_interrupted(fake_server):
    events = collect(fake_server, Reply(body=text_stream(["half"], finish=None, usage=False, done=False)))
    assert text_of(events) == "half"
    assert last(events).failure.kind == FailureKind.INTERRUPTED


def test_malformed_chunk(fake_server):
    body = text_stream(["good "], finish=None, usage=False, done=False) + [b"data: {not json\n\n"]
    events = collect(fake_server, Reply(body=body))
    assert text_of(events) == "good "
    assert last(events).failure.kind == FailureKind.MALFORMED


@pytest.mark.parametrize("bad", [b"data: 42\n\n", b'data: ["a list"]\n\n', b'data: {"choices": "nope"}\n\n'])
def test_json_that_is_not_a_chunk_is_malformed(fake_server, bad):
    body = text_stream(["good "], finish=None, usage=False, done=False) + [bad]
    events = collect(fake_server, Reply(body=body))
    assert text_of(events) == "good "
    assert last(events).failure.kind == FailureKind.MALFORMED


def test_odd_but_harmless_chunk_fields_are_skipped(fake_server):
    odd = [
        b'data: {"choices": [{"index": 0, "delta": {"content": null, "reasoning": 7}}], "usage": "n/a"}\n\n',
        b'data: {"choices": [{"index": 1, "delta": {"content": "second choice"}}, "junk"]}\n\n',
        b'data: {"choices": [], "x_groq": {"usage": {"prompt_tokens": 3, "completion_tokens": true}}}\n\n',
    ]
    events = collect(fake_server, Reply(body=odd + text_stream(["fine"])))
    assert text_of(events) == "fine" and last(events) == Finished("stop")
    assert UsageReport(3, None) in events


def test_keepalive_comments_and_empty_choices(fake_server):
    body = [b": keep-alive\n\n", sse(chunk(choices=False)), b": OPENROUTER PROCESSING\n\n"] + text_stream(["fine"])
    events = collect(fake_server, Reply(body=body))
    assert text_of(events) == "fine" and last(events) == Finished("stop")


def test_multibyte_characters_split_across_reads(fake_server):
    text = "naïve café — 你好 🎉"
    raw = b"".join(x for x in text_stream([text]) if isinstance(x, bytes))
    # Cut the body into 1-byte pieces with pauses, so every UTF-8 sequence is split.
    pieces = []
    for i in range(len(raw)):
        pieces.append(raw[i : i + 1])
        if i % 7 == 0:
            pieces.append(Pause(0.001))
    events = collect(fake_server, Reply(body=pieces))
    assert text_of(events) == text


def test_error_object_inside_a_200_stream(fake_server):
    events = collect(
        fake_server, Reply(body=[recorded("pydantic_ai__openrouter_keepalive_comments_midstream_error.sse")])
    )
    failure = last(events).failure
    assert failure.kind == FailureKind.STREAM_ERROR and "Token limit reached" in failure.message


def test_groq_event_error_without_done(fake_server):
    events = collect(fake_server, Reply(body=[recorded("pydantic_ai__groq_gptoss_event_error_midstream.sse")]))
    assert any(isinstance(e, ReasoningDelta) for e in events)
    assert last(events).failure.kind == FailureKind.STREAM_ERROR
    assert "tool call validation failed" in last(events).failure.message.lower()


def test_cancel_closes_the_http_response(fake_server):
    fake_server.queue(Reply(body=text_stream(["a"] * 5, finish=None, usage=False, done=False), end="hang"))

    async def run():
        clients = ProviderClients()
        seen = []

        async def consume():
            async for event in clients.stream_reply(Endpoint(fake_server.base_url, "k"), REQUEST):
                seen.append(event)

        task = asyncio.ensure_future(consume())
        while len(seen) < 5:
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await clients.aclose()
        return seen

    assert text_of(asyncio.run(run())) == "aaaaa"
    assert fake_server.closed_early.wait(3), "Stop must close the HTTP response"


def test_list_models(fake_server):
    async def run():
        clients = ProviderClients()
        try:
            return await clients.list_models(Endpoint(fake_server.base_url, "k"))
        finally:
            await clients.aclose()

    listed = asyncio.run(run())
    assert list(listed) == ["other-model", "test-model"]  # (what it says of them: test_budget.py)


def test_list_models_failure_is_a_provider_error():
    async def run():
        clients = ProviderClients()
        try:
            return await clients.list_models(Endpoint("http://127.0.0.1:9/v1", "k"), timeout=3)
        finally:
            await clients.aclose()

    with pytest.raises(ProviderError) as info:
        asyncio.run(run())
    assert info.value.failure.kind == FailureKind.CONNECTION


# Every real recorded stream gives the right text. The expected text is read from the
# file independently: the content of choice 0 (and refusal text), in order, up to [DONE].
RECORDED = sorted(p.name for p in (TESTDATA / "openai-streams").glob("*.sse"))


def expected_from_recording(raw: bytes) -> tuple[str, bool]:
    text, errored = [], False
    for block in raw.decode().split("\n\n"):
        data = "\n".join(line[5:].lstrip() for line in block.splitlines() if line.startswith("data:"))
        if not data:
            continue
        if data.startswith("[DONE]"):
            break
        obj = json.loads(data)
        if obj.get("error"):
            errored = True
            break
        for choice in obj.get("choices") or []:
            if choice.get("index", 0) == 0:
                delta = choice.get("delta") or {}
                text.append(delta.get("content") or "")
                text.append(delta.get("refusal") or "")
    return "".join(text), errored


@pytest.mark.parametrize("name", RECORDED)
def test_recorded_streams_give_the_right_text(fake_server, name):
    raw = recorded(name)
    expected, errored = expected_from_recording(raw)
    events = collect(fake_server, Reply(body=[raw]))
    assert text_of(events) == expected
    end = last(events)
    if errored:
        assert isinstance(end, Failed) and end.failure.kind == FailureKind.STREAM_ERROR
    else:
        assert isinstance(end, Finished), end


def test_recorded_streams_are_all_there():
    assert len(RECORDED) == 26  # plus three .json error bodies, used above and below


def test_azure_prompt_filter_error_body(fake_server):
    body = (TESTDATA / "openai-streams" / "openllmetry__azure_prompt_filtered_error_body.json").read_bytes()
    events = collect(fake_server, Reply(status=400, headers={"content-type": "application/json"}, body=[body]))
    failure = last(events).failure
    assert failure.kind == FailureKind.BAD_REQUEST and "content management policy" in failure.message.lower()


def test_the_sdk_loads_in_a_background_thread_on_demand():
    import subprocess
    import sys
    import textwrap

    code = textwrap.dedent(
        """
        import asyncio, sys, threading
        from desktop_chat.core import sdk
        print("openai" in sys.modules)
        loop_turns = 0
        async def main():
            global loop_turns
            async def ticker():
                global loop_turns
                while True:
                    loop_turns += 1
                    await asyncio.sleep(0.005)
            tick = asyncio.ensure_future(ticker())
            await sdk.load_sdk()  # the event loop keeps turning while it imports
            tick.cancel()
        asyncio.run(main())
        print("openai" in sys.modules, "httpx2" in sys.modules, loop_turns > 5)
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "True", "True", "True"]


def test_done_without_a_finish_reason_is_a_finished_reply_and_no_done_is_a_cut(fake_server):
    # Some servers end a reply with [DONE] and never send a finish reason; the SDK swallows
    # [DONE], so telling it from a cut connection needs the raw events.
    events = collect(fake_server, Reply(body=text_stream(["all ", "there"], finish=None, usage=False, done=True)))
    assert text_of(events) == "all there" and last(events) == Finished("stop")
    events = collect(fake_server, Reply(body=text_stream(["half"], finish=None, usage=False, done=False)))
    assert last(events).failure.kind == FailureKind.INTERRUPTED
