"""Which settings differ between runs: the Compare page's config table.

One row per config field, in the config's own order (then any other key a stored config
has), with each run's value. A run stored before a field existed ran with its default, so
that is its value. Plain Python: the page and a test call it the same way.
"""

from __future__ import annotations

from typing import Any

from evolab.evolution.config import EvolutionConfig

ORDER = EvolutionConfig.field_names()
DEFAULTS = EvolutionConfig().to_json()


def config_diff(configs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """[{"field", "values": one per config, "differs"}], every field, identical ones too."""
    extra = sorted({key for config in configs for key in config} - set(ORDER))
    rows = []
    for field in ORDER + extra:
        values = [config.get(field, DEFAULTS.get(field)) for config in configs]
        differs = any(value != values[0] for value in values[1:])
        rows.append({"field": field, "values": values, "differs": differs})
    return rows
