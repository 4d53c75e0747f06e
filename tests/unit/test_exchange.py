"""Export and import on real files: lossless JSON round trip, Markdown, HTML, the real ChatGPT export."""

from __future__ import annotations

import io
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


# Images of a ChatGPT export zip. The layout (no schema is published) as open-source
# converters read it: user uploads `file-<id>-<name>` at the root, newer images
# `file_<hex>-<uuid>.png` (also in `user-<id>/`), DALL·E's in `dalle-generations/`, and
# since 2026 `file-<id>.dat` named by conversation_asset_file_names.json.


def _image_bytes(size, mode="RGB", fmt="PNG", colour=(200, 30, 30)):
    from PIL import Image

    out = io.BytesIO()
    Image.new(mode, size, colour if mode == "RGB" else (*colour, 128)).save(out, fmt)
    return out.getvalue()


def _pointer(pointer, width=None, height=None, **more):
    return {
        "content_type": "image_asset_pointer",
        "asset_pointer": pointer,
        "size_bytes": 1234,
        "width": width,
        "height": height,
        "fovea": None,
        "metadata": more or None,
    }


def _chain(conversation_id, *messages, current=None):
    """A ChatGPT conversation of (node id, role, content[, extra message fields]) in a row."""
    mapping = {}
    previous = None
    for node_id, role, content, *more in messages:
        message = {
            "id": f"m-{node_id}",
            "author": {"role": role, **({"name": "dalle.text2im"} if role == "tool" else {})},
            "create_time": 1700000000.0 + len(mapping),
            "content": content,
            "status": "finished_successfully",
            "weight": 1.0,
            **(more[0] if more else {}),
        }
        mapping[node_id] = {"id": node_id, "parent": previous, "children": [], "message": message}
        if previous:
            mapping[previous]["children"].append(node_id)
        previous = node_id
    return {
        "id": conversation_id,
        "title": "Pictures",
        "create_time": 1700000000.0,
        "update_time": 1700000100.0,
        "current_node": current or previous,
        "mapping": mapping,
    }


def _export_zip(path, conversations, files):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("conversations.json", json.dumps(conversations))
        z.writestr("chat.html", "<html></html>")
        for name, data in files.items():
            z.writestr(name, data)
    return path


def _multimodal(*parts):
    return {"content_type": "multimodal_text", "parts": list(parts)}


def _attachment_files(tmp_path):
    return sorted(p.name for p in (tmp_path / "attachments").rglob("*") if p.is_file())


def test_chatgpt_zip_images_become_attachments(tmp_path, store):
    from PIL import Image

    photo = _image_bytes((3000, 1500), fmt="JPEG")  # a photo: scaled to 2048 px, JPEG
    screenshot = _image_bytes((40, 30), mode="RGBA")  # transparent: kept PNG
    conversation = _chain(
        "c-img",
        (
            "u",
            "user",
            _multimodal(
                _pointer("file-service://file-AbC123xyz", 3000, 1500),
                _pointer("sediment://file_00000000a1b2c3d4e5f6?shared_conversation_id=x", 40, 30),
                "What are these?",
            ),
        ),
        ("a", "assistant", {"content_type": "text", "parts": ["A red photo and a red screenshot."]}),
    )
    archive = _export_zip(
        tmp_path / "export.zip",
        [conversation],
        {
            "file-AbC123xyz-holiday photo.jpg": photo,
            "user-Q1w2E3/file_00000000a1b2c3d4e5f6-5d3a1f0e-8c1b-4a7e-9b2d-1e2f3a4b5c6d.png": screenshot,
            "file-AbC123xyzOther-not this one.jpg": b"not looked at",
        },
    )
    report = import_chatgpt(store, archive)
    assert (report.imported, report.images, report.images_missing, report.images_unreadable) == (1, 2, 0, 0)
    assert report.unsupported_parts == {}
    assert "2 images attached from the export" in report.summary()

    conv = store.conversation_by_uid("chatgpt:c-img")
    user, reply = store.tree(conv.id).path_to(conv.current_leaf_id)
    assert user.content == "What are these?" and reply.content == "A red photo and a red screenshot."
    first, second, text = user.parts
    assert text == TextPart("What are these?")
    assert (first.name, first.mime, first.width, first.height) == ("holiday photo.jpg", "image/jpeg", 2048, 1024)
    assert (second.name, second.mime, second.width, second.height) == ("image.png", "image/png", 40, 30)
    for part in (first, second):
        data = store.attachments.get(part.digest)
        assert data is not None and len(data) == part.size
        with Image.open(io.BytesIO(data)) as image:
            assert image.size == (part.width, part.height)
    # What the export said of them is kept; nothing is left as "not shown".
    kept = json.loads(user.extra)
    assert [p["asset_pointer"] for p in kept["attached"]][0] == "file-service://file-AbC123xyz"
    assert "unsupported" not in kept

    # Imported again: nothing added, no image read or kept twice.
    messages = store.db.execute("SELECT COUNT(*) FROM messages").fetchone()[0]
    files = _attachment_files(tmp_path)
    assert len(files) == 2
    again = import_chatgpt(store, archive)
    assert (again.imported, again.skipped, again.images) == (0, 1, 0)
    assert store.db.execute("SELECT COUNT(*) FROM messages").fetchone()[0] == messages
    assert _attachment_files(tmp_path) == files

    # The JSON export carries them, bytes and all, into another history.
    exported = export_json(store)
    (tmp_path / "other").mkdir()
    other = HistoryStore(tmp_path / "other" / "h.db")
    import_json(other, exported)
    conv = other.conversation_by_uid("chatgpt:c-img")
    moved = other.tree(conv.id).path_to(conv.current_leaf_id)[0]
    assert moved.parts == user.parts
    assert other.attachments.get(first.digest) == store.attachments.get(first.digest)
    other.close()


def test_chatgpt_images_of_tools_and_the_2026_layout(tmp_path, store):
    dalle = _image_bytes((64, 64), fmt="WEBP")
    upload = _image_bytes((20, 10), fmt="JPEG")
    hidden = {"metadata": {"is_visually_hidden_from_conversation": True}}
    conversation = _chain(
        "c-tools",
        ("u", "user", _multimodal(_pointer("file-service://file-Up1oad"), "Make it blue")),
        (
            "call",
            "assistant",
            {"content_type": "text", "parts": ['{"prompt": "blue"}']},
            {"recipient": "dalle.text2im"},
        ),
        ("t1", "tool", _multimodal(_pointer("sediment://file_00000000dd11", 64, 64, dalle={"prompt": "blue"}))),
        ("t2", "tool", _multimodal(_pointer("sediment://file_00000000ee22")), hidden),  # hidden, shown: found
        ("t3", "tool", _multimodal(_pointer("sediment://file_00000000ff33")), hidden),  # hidden, stays: missing
        ("a", "assistant", {"content_type": "text", "parts": ["Here it is."]}),
    )
    archive = _export_zip(
        tmp_path / "export.zip",
        [conversation],
        {
            "file-Up1oad.dat": upload,
            "conversation_asset_file_names.json": json.dumps({"file-Up1oad.dat": "Screenshot_20250827.jpg"}),
            "dalle-generations/file_00000000dd11-0b9e3c55-1f6e-4d0a-8f7e-2c3b4a5d6e7f.webp": dalle,
            "file_00000000ee22-sanitized.png": _image_bytes((8, 8)),
        },
    )
    report = import_chatgpt(store, archive)
    assert (report.images, report.images_missing) == (3, 0)
    conv = store.conversation_by_uid("chatgpt:c-tools")
    path = store.tree(conv.id).path_to(conv.current_leaf_id)
    assert [m.role for m in path] == ["user", "assistant", "tool", "tool", "assistant"]
    assert path[0].parts[0].name == "Screenshot_20250827.jpg" and path[0].content == "Make it blue"
    # A DALL·E result stays on the tool's message that gave it, where ChatGPT showed it.
    assert [(p.mime, p.width) for p in path[2].parts if p.kind == "attachment"] == [("image/jpeg", 64)]
    assert json.loads(path[2].extra)["attached"][0]["metadata"]["dalle"]["prompt"] == "blue"
    assert path[3].parts[0].name == "image.png" and path[3].content == ""
    assert path[4].content == "Here it is." and not path[4].parts


def test_chatgpt_images_missing_from_the_export_keep_their_note(tmp_path, store):
    conversation = _chain(
        "c-miss", ("u", "user", _multimodal(_pointer("file-service://file-Gone1"), "Look")), current="u"
    )
    alone = tmp_path / "conversations.json"
    alone.write_text(json.dumps([conversation]))
    for archive in (
        _export_zip(tmp_path / "export.zip", [conversation], {"file-Other1-x.png": _image_bytes((4, 4))}),
        alone,
    ):
        other = HistoryStore(tmp_path / f"{archive.stem}.db")
        report = import_chatgpt(other, archive)
        assert (report.images, report.images_missing) == (0, 1)
        assert report.unsupported_parts == {"image": 1}
        assert "1 image was not in the file imported" in report.summary()
        conv = other.conversation_by_uid("chatgpt:c-miss")
        (user,) = other.tree(conv.id).path_to(conv.current_leaf_id)
        assert user.content == "[image asset pointer not shown]\nLook" and not user.parts
        kept = json.loads(user.extra)["unsupported"]["data"]["parts"]
        assert kept[0]["asset_pointer"] == "file-service://file-Gone1"
        other.close()


def test_chatgpt_zip_members_that_are_not_images_are_refused(tmp_path, store, monkeypatch):
    from desktop_chat.core import attachments

    good = _image_bytes((10, 10))
    conversation = _chain(
        "c-bad",
        (
            "u",
            "user",
            _multimodal(
                _pointer("file-service://file-Broken1"),  # a PNG header, then garbage
                _pointer("file-service://file-Text1"),  # text where an image was meant
                _pointer("file-service://file-Huge1"),  # larger than MAX_FILE_BYTES: never read
                _pointer("file-service://file-Empty1"),
                _pointer("file-service://file-Good1"),
                "Which work?",
            ),
        ),
    )
    archive = _export_zip(
        tmp_path / "export.zip",
        [conversation],
        {
            "file-Broken1-a.png": b"\x89PNG\r\n\x1a\n" + b"\x00garbage" * 50,
            "file-Text1-notes.png": b"just some words",
            "file-Huge1-big.png": _image_bytes((600, 600)) + b"\x00" * 4000,
            "file-Empty1-e.png": b"",
            "file-Good1-ok.png": good,
        },
    )
    monkeypatch.setattr(attachments, "MAX_FILE_BYTES", len(good) + 1000)
    opened = []
    real_open = zipfile.ZipFile.open

    def spy(self, name, *args, **kwargs):
        opened.append(getattr(name, "filename", name))
        return real_open(self, name, *args, **kwargs)

    monkeypatch.setattr(zipfile.ZipFile, "open", spy)
    report = import_chatgpt(store, archive)
    assert (report.imported, report.images, report.images_unreadable, report.images_missing) == (1, 1, 4, 0)
    assert "4 images in the zip could not be read" in report.summary()
    assert "file-Huge1-big.png" not in opened
    conv = store.conversation_by_uid("chatgpt:c-bad")
    (user,) = store.tree(conv.id).path_to(conv.current_leaf_id)
    assert [p.name for p in user.parts if p.kind == "attachment"] == ["ok.png"]
    assert user.content == "\n".join(["[image asset pointer not shown]"] * 4 + ["Which work?"])
    assert len(json.loads(user.extra)["unsupported"]["data"]["parts"]) == 4
