"""A Python client for EvoLab's REST API and live event stream. It needs `requests` and
`websockets` (and tqdm for the progress bar, pandas for `to_pandas()`), never Django::

    from evolab.client import EvoLab
    lab = EvoLab("http://127.0.0.1:8000", token="evl_...")   # or EVOLAB_URL / EVOLAB_TOKEN
    run = lab.experiments.create("digits-1", dataset="digits", population=20, workers=2)
    run.wait()                                # until finished/stopped/failed, with a bar
    run.best().download("best.zip", format="bundle")

docs/CLIENT.md describes every method."""

from __future__ import annotations

from typing import Any

from .experiments import Experiments, Individual, Individuals, Run
from .http import EvoLabError, NotConfigured, Session, resolve
from .routes import DOWNLOAD_FORMATS, ROUTES, TERMINAL
from .watch import Event

__all__ = [
    "DOWNLOAD_FORMATS",
    "ROUTES",
    "TERMINAL",
    "Event",
    "EvoLab",
    "EvoLabError",
    "Experiments",
    "Individual",
    "Individuals",
    "NotConfigured",
    "Run",
]


class EvoLab:
    """A connection to one EvoLab server.

    `url` and `token` fall back to EVOLAB_URL and EVOLAB_TOKEN, then to what `evolab login`
    stored (its token only for the server it was stored for). Make a token on the settings
    page (/accounts/settings/)."""

    def __init__(self, url: str | None = None, token: str | None = None, *,
                 timeout: float = 30.0) -> None:  # fmt: skip
        url, token = resolve(url, token)
        self.url = url
        self.http = Session(url, token, timeout)
        self.experiments = Experiments(self)

    def __repr__(self) -> str:
        return f"<EvoLab {self.url}>"

    def teams(self) -> list[dict[str, Any]]:
        """The teams you belong to, with your role in each ({"id", "name", "role", ...})."""
        return list(self.http.pages("teams.list"))

    def datasets(self) -> list[dict[str, Any]]:
        """The datasets a run can use, each "ready" (split sizes, shape) or "missing"."""
        return list(self.http.pages("datasets.list"))

    def individual(self, id: int) -> Individual:
        return Individual(self, self.http.call("individuals.retrieve", id))

    def run(self, id: int) -> Run:
        """The same as `lab.experiments.get(id)`."""
        return self.experiments.get(id)
