"""Key bindings: ids, default keys, and remapping from the settings file.

Every action has a binding id. The ``[keys]`` table of the settings file maps
ids to other keys, for example ``beat_now = "n"``. Only keys that arrive
intact through tmux, screen and SSH are accepted: letters, digits, arrows,
Enter, Escape, Tab, Space and F1 to F10, alone or with Shift. ``ctrl+h``,
``ctrl+i``, ``ctrl+m`` and ``ctrl+enter`` arrive as other keys, and Home/End
can arrive raw inside tmux, so they are refused.
"""

from __future__ import annotations

import re

# id -> (default key, description shown in help)
BINDINGS: dict[str, tuple[str, str]] = {
    "beat_now": ("b", "send a heartbeat now"),
    "toggle_pause": ("p", "pause or resume the selected session"),
    "change_interval": ("i", "change the selected session's interval"),
    "retry": ("r", "retry a failed session"),
    "add_session": ("a", "add a session through the pickers"),
    "close_session": ("x", "close the selected session"),
    "next_session": ("tab", "select the next session"),
    "failures_only": ("f", "show failures only, or every beat"),
    "export": ("e", "export the selected session's history"),
    "toggle_view": ("v", "show the live events or the heartbeat history"),
    "search_events": ("slash", "search the live events"),
    "save_events": ("w", "save the live events to a JSON Lines file"),
    "events_filters": ("l", "edit the live-tail (server-side) filters"),
    "client_filters": ("c", "edit the client-side filters: header, IP, sampling"),
    "history_newest": ("n", "jump to the newest beats"),
    "toggle_theme": ("t", "switch between the dark and light theme"),
    "toggle_bell": ("g", "ring the terminal bell on failures, or not"),
    "help": ("f1", "show this help"),
    "back": ("escape", "go back"),
    "reload": ("f5", "reload a picker's list"),
    "enter_token": ("f2", "enter an API token"),
    "quit": ("q", "quit"),
}

_SAFE_KEY = re.compile(
    r"^(shift\+)?([a-z0-9]|f[1-9]|f10|up|down|left|right|enter|escape|tab|space"
    r"|pageup|pagedown|minus|plus|question_mark|slash)$"
)


def check_keymap(keys: dict[str, str]) -> tuple[dict[str, str], list[str]]:
    """Return the usable part of a ``[keys]`` table and a notice per bad entry."""
    usable: dict[str, str] = {}
    notices: list[str] = []
    for binding_id, key in keys.items():
        key = key.strip().lower()
        if binding_id not in BINDINGS:
            notices.append(
                f"[keys] {binding_id!r} is not a binding id; known ids: "
                + ", ".join(sorted(BINDINGS))
            )
            continue
        if not all(_SAFE_KEY.match(part.strip()) for part in key.split(",")):
            notices.append(
                f"[keys] {binding_id} = {key!r}: use letters, digits, arrows, Enter, "
                "Escape, Tab, Space or F1 to F10 (keys that survive tmux and SSH)"
            )
            continue
        usable[binding_id] = key
    return usable, notices


def key_for(binding_id: str, keymap: dict[str, str] | None = None) -> str:
    """Return the key bound to ``binding_id`` after remapping."""
    if keymap and binding_id in keymap:
        return keymap[binding_id]
    return BINDINGS[binding_id][0]
