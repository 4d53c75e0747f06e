"""Global shortcut logic. The Windows and macOS calls cannot run here: they sit behind a seam
(an `api` object) that these tests fill with recorders; nothing else is faked."""

from __future__ import annotations

import pytest

from desktop_chat.platform.hotkeys import (
    MOD_NOREPEAT,
    WM_HOTKEY,
    HotkeyError,
    KeyChord,
    MacHotkey,
    WindowsHotkey,
    mac_key_code,
    parse_chord,
    platform_backend,
    windows_virtual_key,
)


def test_parse_chord():
    assert parse_chord("Ctrl+Alt+Space") == KeyChord(frozenset({"ctrl", "alt"}), "space")
    assert parse_chord("Meta+Shift+K") == KeyChord(frozenset({"meta", "shift"}), "k")
    for bad, words in [
        ("", "empty"),
        ("Space", "at least one"),
        ("Ctrl+Alt", "needs a key"),
        ("Hyper+K", "Unknown modifier"),
    ]:
        with pytest.raises(HotkeyError, match=words):
            parse_chord(bad)


class User32:
    """Records what would go to RegisterHotKey/UnregisterHotKey (Windows only)."""

    def __init__(self, accept=True):
        self.accept = accept
        self.calls = []

    def RegisterHotKey(self, hwnd, ident, modifiers, vk):  # noqa: N802
        self.calls.append(("register", ident, modifiers, vk))
        return self.accept

    def UnregisterHotKey(self, hwnd, ident):  # noqa: N802
        self.calls.append(("unregister", ident))
        return True


def test_windows_backend_registers_and_dispatches():
    api = User32()
    backend = WindowsHotkey(api)
    fired = []
    backend.register(parse_chord("Ctrl+Alt+Space"), lambda: fired.append(1))
    assert api.calls == [("register", WindowsHotkey.HOTKEY_ID, MOD_NOREPEAT | 0x2 | 0x1, 0x20)]
    assert backend.handle_message(WM_HOTKEY, WindowsHotkey.HOTKEY_ID) and fired == [1]
    assert not backend.handle_message(WM_HOTKEY, 99) and not backend.handle_message(0x0100, WindowsHotkey.HOTKEY_ID)
    backend.register(parse_chord("Ctrl+Shift+F5"), lambda: None)  # re-registering drops the old one first
    assert api.calls[1] == ("unregister", WindowsHotkey.HOTKEY_ID)
    assert api.calls[2][3] == 0x74
    backend.unregister()
    assert api.calls[-1] == ("unregister", WindowsHotkey.HOTKEY_ID)


def test_windows_conflict_is_reported():
    backend = WindowsHotkey(User32(accept=False))
    with pytest.raises(HotkeyError, match="Another program already uses"):
        backend.register(parse_chord("Ctrl+Alt+Space"), lambda: None)
    assert windows_virtual_key("k") == ord("K") and windows_virtual_key("f12") == 0x7B


class Carbon:
    def __init__(self, accept=True):
        self.accept = accept
        self.calls = []

    def register(self, key_code, modifiers, callback):
        self.calls.append(("register", key_code, modifiers))
        self.callback = callback
        return object() if self.accept else None

    def unregister(self, ref):
        self.calls.append(("unregister",))


def test_mac_backend_logic():
    api = Carbon()
    backend = MacHotkey(api)
    fired = []
    backend.register(parse_chord("Meta+Shift+Space"), lambda: fired.append(1))
    assert api.calls == [("register", 49, (1 << 8) | (1 << 9))]
    api.callback()
    assert fired == [1]
    backend.unregister()
    assert api.calls[-1] == ("unregister",)
    with pytest.raises(HotkeyError, match="already uses"):
        MacHotkey(Carbon(accept=False)).register(parse_chord("Ctrl+K"), lambda: None)
    assert mac_key_code("k") == 40


@pytest.mark.parametrize(
    "env, platform, words",
    [
        ({"XDG_SESSION_TYPE": "wayland", "WAYLAND_DISPLAY": "wayland-0", "DISPLAY": ":0"}, "linux", "Wayland"),
        ({"WAYLAND_DISPLAY": "wayland-0"}, "linux", "Wayland"),
        ({}, "linux", "No display"),
        ({}, "darwin", "macOS"),
    ],
)
def test_no_backend_says_why_and_how_to_bind(env, platform, words):
    with pytest.raises(HotkeyError) as info:
        platform_backend(env, platform)
    assert words in str(info.value) and "desktop-chat --quick-ask" in str(info.value)
