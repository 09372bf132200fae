"""The lineage of an individual reaches an initial individual, with each link's accuracy change."""

import pytest

from evolab.experiments import dashboard


def test_it_walks_back_to_the_initial_individual_with_deltas(exp, birth):
    root = birth(0.1)
    birth(0.9)  # another initial individual, not an ancestor
    child = birth(0.3, parent=root, mutation="INSERT-CONVOLUTION")
    grandchild = birth(0.25, parent=child, mutation="ALTER-LEARNING-RATE")
    chain = dashboard.lineage(exp, grandchild.number)
    assert [link["number"] for link in chain] == [3, 2, 0]
    assert [link["mutation"] for link in chain] == [
        "ALTER-LEARNING-RATE",
        "INSERT-CONVOLUTION",
        None,
    ]
    assert chain[0]["delta"] == pytest.approx(-0.05)
    assert chain[1]["delta"] == pytest.approx(0.2)
    assert chain[-1]["initial"] is True and chain[-1]["delta"] is None


def test_an_unknown_number_has_no_lineage(exp):
    assert dashboard.lineage(exp, 99) is None


def test_a_long_lineage_takes_one_recursive_query(exp, birth, django_assert_max_num_queries):
    parent = birth(0.0)
    for i in range(300):
        parent = birth(i / 300, parent=parent, mutation="IDENTITY")
    with django_assert_max_num_queries(2):
        chain = dashboard.lineage(exp, parent.number)
    assert len(chain) == 301 and chain[-1]["number"] == 0
