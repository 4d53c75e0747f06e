"""What a screen reader sees of an application, read over the real AT-SPI bus.

Run by the system python (`/usr/bin/python3`, with Debian's python3-pyatspi), not the
project's venv: it imports nothing but the stdlib, gi and pyatspi. The bus it talks to is
the one of the environment (DISPLAY, DBUS_SESSION_BUS_ADDRESS), as Orca finds it.

    atspi_probe.py dump APP [WAIT]      the accessible tree of application APP as one JSON
                                        list: per object its path (child indexes from the
                                        application), role, name, description, states,
                                        interfaces, actions and text (Text interface, the
                                        first TEXT_CHARS). Waits up to WAIT s (10) for APP.
    atspi_probe.py press APP NAME       does the first action of the shown push button named
                                        NAME (as a screen reader user activates it); prints
                                        true, or false when there is none.
    atspi_probe.py listen SECONDS       one JSON line per event: {"ready": true} once the
                                        listeners are registered, then every
                                        object:announcement and, to show that events arrive
                                        at all, focus and text changes; exits after SECONDS.
"""

from __future__ import annotations

import json
import sys
import time

import pyatspi
from gi.repository import GLib

TEXT_CHARS = 2000
# object:announcement is what the test is about; the others prove the listener hears.
EVENTS = ("object:announcement", "object:state-changed:focused", "object:text-changed:insert")


def _states(obj) -> list[str]:
    return sorted(state.value_nick for state in obj.get_state_set().get_states())


def _describe(obj, path: list[int]) -> dict:
    node: dict = {"path": path, "depth": len(path)}
    try:
        node["role"] = obj.getRoleName()
        node["name"] = obj.name or ""
        node["description"] = obj.description or ""
        node["states"] = _states(obj)
        node["interfaces"] = sorted(obj.get_interfaces())
        node["child_count"] = obj.childCount
        if "Action" in node["interfaces"]:
            action = obj.queryAction()
            node["actions"] = [action.getName(i) for i in range(action.nActions)]
        if "Text" in node["interfaces"]:
            text = obj.queryText()
            node["text"] = text.getText(0, min(text.characterCount, TEXT_CHARS))
    except Exception as error:  # an object that went away while we looked: say so, go on
        node["error"] = repr(error)
    return node


def dump(app_name: str, wait: float = 10.0) -> list[dict]:
    deadline = time.monotonic() + wait
    while True:
        desktop = pyatspi.Registry.getDesktop(0)
        apps = [desktop.getChildAtIndex(i) for i in range(desktop.childCount)]
        app = next((a for a in apps if a is not None and a.name == app_name), None)
        if app is not None and app.childCount:
            break
        if time.monotonic() > deadline:
            names = [a.name for a in apps if a is not None]
            raise SystemExit(f"no application {app_name!r} on the AT-SPI bus; there are {names}")
        time.sleep(0.2)
    nodes = []
    stack = [(app, [])]
    while stack:
        obj, path = stack.pop()
        node = _describe(obj, path)
        nodes.append(node)
        for index in reversed(range(node.get("child_count", 0))):
            child = obj.getChildAtIndex(index)
            if child is not None:
                stack.append((child, [*path, index]))
    return nodes


def press(app_name: str, name: str) -> bool:
    desktop = pyatspi.Registry.getDesktop(0)
    apps = [desktop.getChildAtIndex(i) for i in range(desktop.childCount)]
    app = next((a for a in apps if a is not None and a.name == app_name), None)
    stack = [app] if app is not None else []
    while stack:
        obj = stack.pop()
        try:
            showing = obj.get_state_set().contains(pyatspi.STATE_SHOWING)
            if obj.getRoleName() == "push button" and obj.name == name and showing:
                obj.queryAction().doAction(0)
                return True
            stack.extend(c for c in (obj.getChildAtIndex(i) for i in range(obj.childCount)) if c is not None)
        except Exception:
            continue
    return False


def listen(seconds: float) -> None:
    def heard(event) -> None:
        data = event.any_data
        source = event.source
        line = {
            "type": event.type,
            "any_data": data if isinstance(data, (str, int, float, bool)) or data is None else repr(data),
            "detail1": event.detail1,
            "detail2": event.detail2,
            "source_role": source.getRoleName() if source is not None else None,
            "source_name": source.name if source is not None else None,
        }
        print(json.dumps(line), flush=True)

    def ready() -> bool:
        print(json.dumps({"ready": True}), flush=True)
        return False  # (once)

    for kind in EVENTS:
        pyatspi.Registry.registerEventListener(heard, kind)
    GLib.timeout_add(int(seconds * 1000), pyatspi.Registry.stop)
    GLib.idle_add(ready)
    pyatspi.Registry.start()


def main(argv: list[str]) -> None:
    if len(argv) >= 2 and argv[0] == "dump":
        print(json.dumps(dump(argv[1], float(argv[2]) if len(argv) > 2 else 10.0), indent=1))
    elif len(argv) == 3 and argv[0] == "press":
        print(json.dumps(press(argv[1], argv[2])))
    elif len(argv) == 2 and argv[0] == "listen":
        listen(float(argv[1]))
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
