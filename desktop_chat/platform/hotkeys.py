"""Global shortcuts behind one small interface, with a backend per desktop.

- X11: a real key grab on the root window (XGrabKey through python-xlib), events read
  from the X connection's socket on the Qt event loop.
- Windows: RegisterHotKey, WM_HOTKEY caught by a native event filter.
- macOS: Carbon's RegisterEventHotKey.
- Wayland: no backend here yet (the xdg-desktop-portal GlobalShortcuts interface is
  not reachable on this machine to build it against); the app says so once and shows
  how to bind `desktop-chat --quick-ask` in the desktop's keyboard settings.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from desktop_chat.errors import DesktopChatError

HOW_TO_BIND = (
    "Bind the command `desktop-chat --quick-ask` to a shortcut in your desktop's keyboard settings "
    "(GNOME: Settings → Keyboard → Custom Shortcuts; KDE: System Settings → Shortcuts → Custom Shortcuts)."
)


class HotkeyError(DesktopChatError):
    """The shortcut cannot be registered; the message says why, for the user."""


@dataclass(frozen=True)
class KeyChord:
    modifiers: frozenset[str]  # ctrl, alt, shift, meta
    key: str  # lower-case key name: "space", "k", "f1", "return"


MODIFIER_NAMES = {
    "ctrl": "ctrl",
    "control": "ctrl",
    "alt": "alt",
    "option": "alt",
    "shift": "shift",
    "meta": "meta",
    "super": "meta",
    "win": "meta",
    "cmd": "meta",
    "command": "meta",
}


def parse_chord(text: str) -> KeyChord:
    """'Ctrl+Alt+Space' (Qt's portable text) to a chord; HotkeyError if it is not one."""
    parts = [p.strip().lower() for p in text.replace(" ", "").split("+") if p.strip()]
    if not parts:
        raise HotkeyError("The shortcut is empty.")
    *mods, key = parts
    unknown = [m for m in mods if m not in MODIFIER_NAMES]
    if unknown:
        raise HotkeyError(f"Unknown modifier in the shortcut: {unknown[0]}")
    if key in MODIFIER_NAMES:
        raise HotkeyError("A shortcut needs a key besides Ctrl, Alt, Shift or Meta.")
    if not mods:
        raise HotkeyError("A global shortcut needs at least one of Ctrl, Alt or Meta, or it would steal a key.")
    return KeyChord(frozenset(MODIFIER_NAMES[m] for m in mods), key)


class HotkeyBackend(Protocol):
    name: str

    def register(self, chord: KeyChord, callback: Callable[[], None]) -> None: ...

    def unregister(self) -> None: ...


# X11


X11_KEYSYMS = {
    "space": "space",
    "return": "Return",
    "enter": "Return",
    "esc": "Escape",
    "escape": "Escape",
    "tab": "Tab",
    "backspace": "BackSpace",
    "del": "Delete",
    "delete": "Delete",
    "ins": "Insert",
    "home": "Home",
    "end": "End",
    "pgup": "Prior",
    "pgdown": "Next",
    "up": "Up",
    "down": "Down",
    "left": "Left",
    "right": "Right",
    "`": "grave",
    ".": "period",
    ",": "comma",
    "/": "slash",
    ";": "semicolon",
    "'": "apostrophe",
    "-": "minus",
    "=": "equal",
    "[": "bracketleft",
    "]": "bracketright",
    "\\\\": "backslash",
}


class X11Hotkey:
    """A passive grab of the chord on the root window, for every NumLock/CapsLock state."""

    name = "X11"

    def __init__(self, display_name: str | None = None) -> None:
        try:
            from Xlib import XK, X, display, error
        except ImportError as exc:
            raise HotkeyError("python-xlib is not installed.") from exc
        try:
            self.display = display.Display(display_name)
        except Exception as exc:  # no X server, wrong DISPLAY
            raise HotkeyError(f"Cannot reach the X server ({exc}).") from exc
        self._X, self._XK, self._error = X, XK, error
        self.root = self.display.screen().root
        self.grabs: list[tuple[int, int]] = []
        self.callback: Callable[[], None] | None = None
        self.notifier: Any = None

    def keycode(self, chord: KeyChord) -> tuple[int, int]:
        X, XK = self._X, self._XK
        name = X11_KEYSYMS.get(chord.key) or (
            chord.key.upper() if chord.key.startswith("f") and chord.key[1:].isdigit() else chord.key
        )
        keysym = XK.string_to_keysym(name)
        if not keysym:
            raise HotkeyError(f"Unknown key in the shortcut: {chord.key}")
        keycode = self.display.keysym_to_keycode(keysym)
        if not keycode:
            raise HotkeyError(f"This keyboard has no {chord.key} key.")
        mask = 0
        for modifier in chord.modifiers:
            mask |= {"ctrl": X.ControlMask, "alt": X.Mod1Mask, "shift": X.ShiftMask, "meta": X.Mod4Mask}[modifier]
        return keycode, mask

    def register(self, chord: KeyChord, callback: Callable[[], None]) -> None:
        from PySide6.QtCore import QSocketNotifier

        X = self._X
        self.unregister()
        keycode, mask = self.keycode(chord)
        catcher = self._error.CatchError(self._error.BadAccess)
        # The grab must hold whatever the state of NumLock (Mod2) and CapsLock (Lock).
        for extra in (0, X.Mod2Mask, X.LockMask, X.Mod2Mask | X.LockMask):
            self.root.grab_key(keycode, mask | extra, True, X.GrabModeAsync, X.GrabModeAsync, onerror=catcher)
            self.grabs.append((keycode, mask | extra))
        self.display.sync()
        if catcher.get_error():
            self.unregister()
            raise HotkeyError("Another program already uses this shortcut. Choose another one in Settings.")
        self.callback = callback
        self.notifier = QSocketNotifier(self.display.fileno(), QSocketNotifier.Type.Read)
        self.notifier.activated.connect(self._drain)
        self._drain()

    def _drain(self, *_: object) -> None:
        while self.display.pending_events():
            event = self.display.next_event()
            if event.type == self._X.KeyPress and self.callback is not None:
                self.callback()

    def unregister(self) -> None:
        if self.notifier is not None:
            self.notifier.setEnabled(False)
            self.notifier = None
        for keycode, mask in self.grabs:
            self.root.ungrab_key(keycode, mask)
        if self.grabs:
            self.display.sync()
        self.grabs = []


# Windows


WIN_MODIFIERS = {"alt": 0x0001, "ctrl": 0x0002, "shift": 0x0004, "meta": 0x0008}
MOD_NOREPEAT = 0x4000
WM_HOTKEY = 0x0312
WIN_KEYS = {
    "space": 0x20,
    "return": 0x0D,
    "enter": 0x0D,
    "tab": 0x09,
    "esc": 0x1B,
    "escape": 0x1B,
    "backspace": 0x08,
    "delete": 0x2E,
    "home": 0x24,
    "end": 0x23,
    "up": 0x26,
    "down": 0x28,
    "left": 0x25,
    "right": 0x27,
    "`": 0xC0,
}


def windows_virtual_key(key: str) -> int:
    if key in WIN_KEYS:
        return WIN_KEYS[key]
    if len(key) == 1 and key.isalnum():
        return ord(key.upper())
    if key.startswith("f") and key[1:].isdigit() and 1 <= int(key[1:]) <= 24:
        return 0x70 + int(key[1:]) - 1
    raise HotkeyError(f"Unknown key in the shortcut: {key}")


class WindowsHotkey:
    """RegisterHotKey on the GUI thread; `api` is user32 (a seam for tests off Windows)."""

    name = "Windows"
    HOTKEY_ID = 0xB0B

    def __init__(self, api: Any = None) -> None:
        if api is None:
            import ctypes

            api = ctypes.windll.user32  # type: ignore[attr-defined]  # (windll exists on Windows only, where this runs)
        self.api = api
        self.callback: Callable[[], None] | None = None
        self.registered = False
        self.filter: Any = None

    def register(self, chord: KeyChord, callback: Callable[[], None]) -> None:
        self.unregister()
        modifiers = MOD_NOREPEAT
        for modifier in chord.modifiers:
            modifiers |= WIN_MODIFIERS[modifier]
        if not self.api.RegisterHotKey(None, self.HOTKEY_ID, modifiers, windows_virtual_key(chord.key)):
            raise HotkeyError("Another program already uses this shortcut. Choose another one in Settings.")
        self.registered = True
        self.callback = callback

    def handle_message(self, message: int, wparam: int) -> bool:
        """What the native event filter calls for each MSG; True when it was ours."""
        if message == WM_HOTKEY and wparam == self.HOTKEY_ID and self.callback is not None:
            self.callback()
            return True
        return False

    def unregister(self) -> None:
        if self.registered:
            self.api.UnregisterHotKey(None, self.HOTKEY_ID)
            self.registered = False

    def install_filter(self, app: Any) -> None:
        """Route the GUI thread's WM_HOTKEY messages to handle_message (Windows only)."""
        import ctypes.wintypes

        from PySide6.QtCore import QAbstractNativeEventFilter

        backend = self

        class Filter(QAbstractNativeEventFilter):
            def nativeEventFilter(self, event_type: Any, message: Any) -> Any:
                if event_type == b"windows_generic_MSG":
                    msg = ctypes.wintypes.MSG.from_address(int(message))
                    if backend.handle_message(msg.message, msg.wParam):
                        return True, 0
                return False, 0

        self.filter = Filter()
        app.installNativeEventFilter(self.filter)


# macOS


MAC_MODIFIERS = {
    "meta": 1 << 8,
    "shift": 1 << 9,
    "alt": 1 << 11,
    "ctrl": 1 << 12,
}  # cmdKey, shiftKey, optionKey, controlKey
# Carbon virtual key codes (kVK_ANSI_*), which follow the US layout's positions.
MAC_KEYS = {
    "a": 0,
    "s": 1,
    "d": 2,
    "f": 3,
    "h": 4,
    "g": 5,
    "z": 6,
    "x": 7,
    "c": 8,
    "v": 9,
    "b": 11,
    "q": 12,
    "w": 13,
    "e": 14,
    "r": 15,
    "y": 16,
    "t": 17,
    "1": 18,
    "2": 19,
    "3": 20,
    "4": 21,
    "6": 22,
    "5": 23,
    "9": 25,
    "7": 26,
    "8": 28,
    "0": 29,
    "o": 31,
    "u": 32,
    "i": 34,
    "p": 35,
    "l": 37,
    "j": 38,
    "k": 40,
    "n": 45,
    "m": 46,
    "space": 49,
    "return": 36,
    "enter": 36,
    "tab": 48,
    "esc": 53,
    "escape": 53,
    "`": 50,
}


def mac_key_code(key: str) -> int:
    if key in MAC_KEYS:
        return MAC_KEYS[key]
    raise HotkeyError(f"Unknown key in the shortcut: {key}")


class MacHotkey:
    """Carbon RegisterEventHotKey; `api` wraps the Carbon calls (a seam for tests off macOS)."""

    name = "macOS"

    def __init__(self, api: Any) -> None:
        self.api = api
        self.ref: Any = None
        self.callback: Callable[[], None] | None = None

    def register(self, chord: KeyChord, callback: Callable[[], None]) -> None:
        self.unregister()
        modifiers = 0
        for modifier in chord.modifiers:
            modifiers |= MAC_MODIFIERS[modifier]
        self.callback = callback
        self.ref = self.api.register(mac_key_code(chord.key), modifiers, callback)
        if self.ref is None:
            self.callback = None
            raise HotkeyError("Another program already uses this shortcut. Choose another one in Settings.")

    def unregister(self) -> None:
        if self.ref is not None:
            self.api.unregister(self.ref)
            self.ref = None


def platform_backend(environ: dict[str, str] | None = None, platform: str = sys.platform) -> HotkeyBackend:
    """The backend for this desktop, or HotkeyError saying why there is none."""
    env = os.environ if environ is None else environ
    if platform.startswith("win"):
        return WindowsHotkey()
    if platform == "darwin":
        raise HotkeyError("Global shortcuts on macOS need the Carbon bridge, which this build lacks. " + HOW_TO_BIND)
    session = env.get("XDG_SESSION_TYPE", "")
    if session == "wayland" or (env.get("WAYLAND_DISPLAY") and not env.get("DISPLAY")):
        raise HotkeyError("On Wayland an app cannot grab a shortcut for the whole desktop. " + HOW_TO_BIND)
    if not env.get("DISPLAY"):
        raise HotkeyError("No display to grab a shortcut on. " + HOW_TO_BIND)
    return X11Hotkey(env.get("DISPLAY"))
