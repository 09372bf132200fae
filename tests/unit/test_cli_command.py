"""`make install` puts the `evolab` command on .venv/bin (.ci/cli-wrapper): it runs this
checkout's CLI from any folder, as `python -m evolab.cli` does."""

import subprocess
import sys
from pathlib import Path

COMMAND = Path(sys.executable).parent / "evolab"


def test_the_evolab_command_runs_the_cli_from_any_folder(tmp_path):
    assert COMMAND.exists(), "make install writes .venv/bin/evolab"
    shown = subprocess.run([COMMAND, "--help"], cwd=tmp_path, capture_output=True, text=True)
    assert shown.returncode == 0 and "watch" in shown.stdout and "download" in shown.stdout
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    down = subprocess.run([COMMAND, "--url", "http://127.0.0.1:9", "--token", "t", "teams"],
                          cwd=tmp_path, capture_output=True, text=True, env=env)  # fmt: skip
    assert down.returncode == 1 and "Traceback" not in down.stderr, down.stderr
    assert "127.0.0.1:9" in down.stderr + down.stdout
