"""Where the CLI's login is stored: `$XDG_CONFIG_HOME/evolab/config.json` (by default
`~/.config/evolab/config.json`; `%APPDATA%\\evolab\\config.json` on Windows), mode 0600.

`EVOLAB_CONFIG` names another file (tests, several servers)."""

from __future__ import annotations

import json
import os
from pathlib import Path


def config_path() -> Path:
    if os.environ.get("EVOLAB_CONFIG"):
        return Path(os.environ["EVOLAB_CONFIG"])
    if os.name == "nt" and os.environ.get("APPDATA"):
        base = Path(os.environ["APPDATA"])
    else:
        base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "evolab" / "config.json"


def load_login() -> dict:
    """{"url": ..., "token": ...} as `evolab login` stored them; {} when there is none."""
    try:
        data = json.loads(config_path().read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def save_login(url: str, token: str) -> Path:
    """Write the login readable by its owner only (the file is created 0600, never widened)."""
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump({"url": url, "token": token}, f, indent=2)
        f.write("\n")
    os.chmod(tmp, 0o600)  # an older tmp file may have been wider
    os.replace(tmp, path)
    return path


def forget_login() -> bool:
    try:
        config_path().unlink()
    except FileNotFoundError:
        return False
    return True
