"""Compare shows the settings that differ between the chosen runs (identical ones behind a
toggle), every field in the config's order."""

import pytest

from evolab.evolution.config import EvolutionConfig
from evolab.experiments import services
from evolab.experiments.config_diff import config_diff


def test_only_the_fields_that_differ_are_marked_and_every_value_is_given():
    a = EvolutionConfig(population=20, seed=1).to_json()
    b = EvolutionConfig(population=50, seed=1, selection="aging").to_json()
    rows = config_diff([a, b, a])
    assert [r["field"] for r in rows] == EvolutionConfig.field_names()
    differing = {r["field"]: r["values"] for r in rows if r["differs"]}
    assert differing == {
        "population": [20, 50, 20],
        "selection": ["tournament", "aging", "tournament"],
    }
    seed = next(r for r in rows if r["field"] == "seed")
    assert seed == {"field": "seed", "values": [1, 1, 1], "differs": False}


def test_a_run_stored_before_a_field_existed_shows_the_default_it_ran_with():
    old = EvolutionConfig().to_json()
    del old["val_size"]
    new = {**EvolutionConfig().to_json(), "val_size": 1000, "future_knob": True}
    rows = {r["field"]: r for r in config_diff([old, new])}
    assert rows["val_size"]["values"] == [None, 1000] and rows["val_size"]["differs"]
    assert rows["future_knob"]["values"] == [None, True]  # a key only one run has: listed last
    assert list(rows)[-1] == "future_knob"
    assert not config_diff([old])[0]["differs"]  # one run: nothing differs


@pytest.mark.django_db
def test_the_compare_page_lists_differing_settings_and_hides_the_rest(client, team, member):
    one = services.create_experiment(team, member, "lr-a", {"population": 4, "seed": 1})
    two = services.create_experiment(team, member, "lr-b", {"population": 8, "seed": 1})
    client.force_login(member)
    page = client.get(f"/experiments/compare/?ids={one.pk}&ids={two.pk}").content.decode()
    assert '<tr class="differs" data-field="population">' in page
    assert '<tr class="same" data-field="seed">' in page
    same = len(EvolutionConfig.field_names()) - 1
    assert f"show the {same} identical settings" in page
