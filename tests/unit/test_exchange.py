"""Export and import on real files: lossless JSON round trip, Markdown, HTML, the real ChatGPT export."""

from __future__ import annotations

import json
import zipfile

import pytest

from desktop_chat.core.conversation import ReasoningPart, TextPart
from desktop_chat.core.exchange import (
    ImportFailed,
    export_html,
    export_json,
    export_markdown,
    import_chatgpt,
    import_json,
)
from desktop_chat.core.store import HistoryStore
from tests.fakes.openai_server import TESTDATA

CHATGPT = TESTDATA / "chatgpt-export" / "conversations.json"


@pytest.fixture
def store(tmp_path):
    s = HistoryStore(tmp_path / "h.db")
    yield s
    s.close()


def sample(store):
    conv = store.create_conversation("Sample <title>", "OpenAI", "gpt-4o", "Be kind.", 0.5)
    u = store.add_message(conv.id, None, "user", "Hi <b>there</b>")
    a1 = store.add_message(conv.id, u.id, "assistant", "First **reply**", provider="OpenAI", model="gpt-4o")
    store.update_message(a1.id, prompt_tokens=5, completion_tokens=7, finish_reason="stop")
    store.add_message(conv.id, u.id, "assistant", "Second reply\n\n```py\nprint(1)\n```", model="gpt-4o")
    store.set_pinned(conv.id, True)
    store.select_branch(conv.id, a1.id)
    return conv


def sample_with_reasoning(store):
    conv = store.create_conversation("Thinking", "DeepSeek", "deepseek-reasoner")
    u = store.add_message(conv.id, None, "user", "2+2?")
    a = store.add_message(conv.id, u.id, "assistant", "", model="deepseek-reasoner")
    store.update_message(
        a.id,
        parts=(
            ReasoningPart(
                "Two and *two*.", 12.4, {"reasoning_details": [{"type": "reasoning.encrypted", "data": "x"}]}
            ),
            TextPart("It is **4**."),
        ),
    )
    return conv


def snapshot(store):
    """Everything about the history except row ids."""
    out = []
    for c in sorted(store.conversations(), key=lambda c: c.uid):
        tree = store.tree(c.id)
        uid = {m.id: m.uid for m in tree.messages.values()}
        leaf = uid.get(c.current_leaf_id)
        msgs = sorted(
            (
                m.uid,
                uid.get(m.parent_id),
                m.role,
                m.content,
                m.status,
                m.error,
                m.provider,
                m.model,
                m.prompt_tokens,
                m.completion_tokens,
                m.finish_reason,
                m.created_at,
                m.extra,
                m.parts,
            )
            for m in tree.messages.values()
        )
        out.append(
            (
                c.uid,
                c.title,
                c.created_at,
                c.updated_at,
                c.provider,
                c.model,
                c.system_prompt,
                c.temperature,
                c.pinned,
                leaf,
                msgs,
            )
        )
    return out


def test_json_round_trip_is_lossless_and_idempotent(tmp_path, store):
    sample(store)
    text = export_json(store)
    other = HistoryStore(tmp_path / "other.db")
    report = import_json(other, text)
    assert (report.imported, report.skipped, report.messages) == (1, 0, 3)
    assert snapshot(other) == snapshot(store)
    again = import_json(other, text)
    assert (again.imported, again.skipped) == (0, 1)
    assert snapshot(other) == snapshot(store)
    other.close()


def test_reasoning_goes_through_every_export(tmp_path, store):
    sample_with_reasoning(store)
    other = HistoryStore(tmp_path / "other.db")
    import_json(other, export_json(store))
    assert snapshot(other) == snapshot(store)
    reply = [m for m in other.tree(other.conversations()[0].id).messages.values() if m.role == "assistant"][0]
    assert reply.reasoning.opaque == {"reasoning_details": [{"type": "reasoning.encrypted", "data": "x"}]}
    assert other.search_messages("two")[0].part == "reasoning"
    other.close()
    markdown = export_markdown(store)
    assert "<details><summary>Thought for 12 s</summary>\n\nTwo and *two*.\n\n</details>\n\nIt is **4**." in markdown
    page = export_html(store)
    assert "<details class='thought'><summary>Thought for 12 s</summary><p>Two and <i>two</i>.</p>" in page
    assert "It is <b>4</b>." in page


def test_chatgpt_thoughts_and_their_recap_become_reasoning(tmp_path, store):
    # Made-up in the shape of ChatGPT's o-series exports (the real export here has none):
    # user -> thoughts -> reasoning_recap -> answer.
    def node(ident, parent, child, role, content):
        return {
            "id": ident,
            "parent": parent,
            "children": [child] if child else [],
            "message": {"id": f"m-{ident}", "author": {"role": role}, "create_time": 1.0, "content": content},
        }

    mapping = {
        "u": node("u", None, "t", "user", {"content_type": "text", "parts": ["Why?"]}),
        "t": node(
            "t",
            "u",
            "r",
            "assistant",
            {"content_type": "thoughts", "thoughts": [{"summary": "Weighing", "content": "Because of this."}]},
        ),
        "r": node("r", "t", "a", "assistant", {"content_type": "reasoning_recap", "content": "Thought for 1m 5s"}),
        "a": node("a", "r", None, "assistant", {"content_type": "text", "parts": ["Because."]}),
    }
    path = tmp_path / "conversations.json"
    path.write_text(
        json.dumps([{"id": "c1", "title": "T", "create_time": 1.0, "current_node": "a", "mapping": mapping}])
    )
    import_chatgpt(store, path)
    conv = store.conversation_by_uid("chatgpt:c1")
    messages = store.tree(conv.id).path_to(conv.current_leaf_id)
    assert [m.content for m in messages] == ["Why?", "Because."]
    assert messages[1].reasoning == ReasoningPart("**Weighing**\n\nBecause of this.", 65.0)


def test_export_holds_no_keys(store, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret-in-env")
    sample(store)
    for text in (export_json(store), export_markdown(store), export_html(store)):
        assert "sk-secret" not in text


def test_markdown_shows_the_current_branch(store):
    sample(store)
    text = export_markdown(store)
    assert "# Sample <title>" in text and "**You:**" in text and "First **reply**" in text
    assert "Second reply" not in text  # another version, not on the shown branch
    assert "> System prompt: Be kind." in text


def test_html_is_standalone_and_inert(store):
    conv = store.create_conversation("x")
    u = store.add_message(conv.id, None, "user", "<script>alert(1)</script>")
    store.add_message(
        conv.id, u.id, "assistant", "![t](http://evil.example/p.gif) <img src=x onerror=y()> [ok](https://a.example)"
    )
    page = export_html(store)
    assert "<script>" not in page and "<img" not in page
    assert "&lt;script&gt;" in page
    assert "default-src 'none'" in page and "http://evil.example" not in page.split("<body>")[0]
    assert 'href="https://a.example"' in page


def test_bad_json_files_are_refused_clearly(store):
    with pytest.raises(ImportFailed, match="not a JSON file"):
        import_json(store, "{oops")
    with pytest.raises(ImportFailed, match="not a Desktop Chat export"):
        import_json(store, json.dumps({"format": "other"}))
    with pytest.raises(ImportFailed, match="newer version"):
        import_json(store, json.dumps({"format": "desktop-chat-history", "version": 99}))


def test_chatgpt_export_imports_with_branches(store):
    raw = json.loads(CHATGPT.read_text())
    report = import_chatgpt(store, CHATGPT)
    assert report.imported == len(raw) == 192 and report.skipped == 0
    assert store.count_conversations() == 192
    # Titles and times are kept.
    first = raw[0]
    conv = store.conversation_by_uid(f"chatgpt:{first['id']}")
    assert conv.title == first["title"] and conv.created_at == first["create_time"]
    # Every non-empty message is there: none silently dropped.
    expected = sum(
        1
        for c in raw
        for n in c["mapping"].values()
        if n.get("message")
        and not (
            n["message"]["author"]["role"] == "system"
            and not any(isinstance(p, str) and p.strip() for p in n["message"]["content"].get("parts", []) or [])
        )
        and n["message"].get("weight") != 0
    )
    assert report.messages == expected
    # The conversations with edits/regenerations keep their branch tree, and show the current branch.
    branched = [c for c in raw if any(len(n.get("children") or []) > 1 for n in c["mapping"].values())]
    assert branched
    for c in branched:
        conv = store.conversation_by_uid(f"chatgpt:{c['id']}")
        tree = store.tree(conv.id)
        assert any(len(tree.children(m.id)) > 1 for m in tree.messages.values()) or len(tree.children(None)) > 1
        path = tree.path_to(conv.current_leaf_id)
        node = c["current_node"]
        while node and (
            not c["mapping"][node].get("message") or c["mapping"][node]["message"]["author"]["role"] == "system"
        ):
            node = c["mapping"][node]["parent"]
        assert path[-1].uid.endswith(f":{node}")
    # Code and quotes are shown as text.
    code_hits = store.search_messages("import")
    assert code_hits


def test_chatgpt_import_twice_adds_nothing(store):
    import_chatgpt(store, CHATGPT)
    count = store.db.execute("SELECT COUNT(*) FROM messages").fetchone()[0]
    again = import_chatgpt(store, CHATGPT)
    assert again.imported == 0 and again.skipped == 192
    assert store.db.execute("SELECT COUNT(*) FROM messages").fetchone()[0] == count


def test_chatgpt_zip_and_newer_formats(tmp_path, store):
    # The zip from "Export data"; a newer export wrapped in {"conversations": [...]}, with a
    # client-created root, multimodal parts with an image, and a kind this app does not know.
    newer = {
        "conversations": [
            {
                "id": "new-1",
                "title": "Newer",
                "create_time": 1700000000.0,
                "update_time": 1700000100.0,
                "current_node": "n3",
                "mapping": {
                    "client-created-root": {
                        "id": "client-created-root",
                        "message": None,
                        "parent": None,
                        "children": ["n1"],
                    },
                    "n1": {
                        "id": "n1",
                        "parent": "client-created-root",
                        "children": ["n2"],
                        "message": {
                            "id": "m1",
                            "author": {"role": "user"},
                            "create_time": 1700000001.0,
                            "content": {
                                "content_type": "multimodal_text",
                                "parts": [
                                    {"content_type": "image_asset_pointer", "asset_pointer": "file-service://abc"},
                                    "What is this?",
                                ],
                            },
                        },
                    },
                    "n2": {
                        "id": "n2",
                        "parent": "n1",
                        "children": ["n3"],
                        "message": {
                            "id": "m2",
                            "author": {"role": "assistant"},
                            "create_time": 1700000002.0,
                            "content": {"content_type": "thoughts", "thoughts": [{"summary": "hmm"}]},
                        },
                    },
                    "n3": {
                        "id": "n3",
                        "parent": "n2",
                        "children": [],
                        "message": {
                            "id": "m3",
                            "author": {"role": "assistant"},
                            "create_time": 1700000003.0,
                            "metadata": {"model_slug": "gpt-4o", "finish_details": {"type": "stop"}},
                            "content": {"content_type": "text", "parts": ["A cat."]},
                        },
                    },
                },
            }
        ]
    }
    archive = tmp_path / "export.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("chat.html", "<html></html>")
        z.writestr("conversations.json", json.dumps(newer))
    report = import_chatgpt(store, archive)
    assert report.imported == 1 and report.unsupported_parts == {"image": 1}
    conv = store.conversation_by_uid("chatgpt:new-1")
    path = store.tree(conv.id).path_to(conv.current_leaf_id)
    assert [m.content for m in path] == ["[image asset pointer not shown]\nWhat is this?", "A cat."]
    kept = json.loads(path[0].extra)
    assert kept["unsupported"]["data"]["parts"][0]["asset_pointer"] == "file-service://abc"
    # The thoughts are the reasoning of the reply they led to (made-up content: the real
    # export in tests/data has none).
    assert path[1].reasoning == ReasoningPart("**hmm**")
    assert path[1].model == "gpt-4o"


def test_chatgpt_bad_files(tmp_path, store):
    bad = tmp_path / "bad.json"
    bad.write_text("not json")
    with pytest.raises(ImportFailed, match="Could not read"):
        import_chatgpt(store, bad)
    empty_zip = tmp_path / "e.zip"
    with zipfile.ZipFile(empty_zip, "w") as z:
        z.writestr("x.txt", "x")
    with pytest.raises(ImportFailed, match="no conversations.json"):
        import_chatgpt(store, empty_zip)


def test_formulas_are_mathml_in_a_web_page_and_source_in_markdown(store):
    conversation = store.create_conversation("Math")
    question = store.add_message(conversation.id, None, "user", "quadratic?")
    store.add_message(conversation.id, question.id, "assistant", "Roots: \\(x = \\frac{-b}{2a}\\) for $5 only.")
    page = export_html(store)
    assert '<math xmlns="http://www.w3.org/1998/Math/MathML" display="inline">' in page and "<mfrac>" in page
    assert "for $5 only." in page
    assert "Roots: \\(x = \\frac{-b}{2a}\\) for $5 only." in export_markdown(store)


def test_thoughts_that_led_to_no_reply_are_kept(tmp_path, store):
    # Made up: the export ends on the model's thoughts (the reply never came).
    mapping = {
        "u": {
            "id": "u",
            "parent": None,
            "children": ["t"],
            "message": {
                "id": "mu",
                "author": {"role": "user"},
                "create_time": 1.0,
                "content": {"content_type": "text", "parts": ["Hard question"]},
            },
        },
        "t": {
            "id": "t",
            "parent": "u",
            "children": [],
            "message": {
                "id": "mt",
                "author": {"role": "assistant"},
                "create_time": 2.0,
                "content": {"content_type": "thoughts", "thoughts": [{"summary": "Hmm", "content": "Tricky."}]},
            },
        },
    }
    path = tmp_path / "conversations.json"
    path.write_text(
        json.dumps([{"id": "c2", "title": "T", "create_time": 1.0, "current_node": "t", "mapping": mapping}])
    )
    import_chatgpt(store, path)
    conv = store.conversation_by_uid("chatgpt:c2")
    messages = store.tree(conv.id).path_to(conv.current_leaf_id)
    assert [m.role for m in messages] == ["user", "assistant"]
    assert messages[1].content == "" and messages[1].reasoning.text == "**Hmm**\n\nTricky."
