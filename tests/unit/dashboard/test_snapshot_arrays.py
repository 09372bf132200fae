"""The snapshot is columnar, ordered by training time, without DNA; children in training apart."""

from evolab.experiments import dashboard


def test_it_serves_one_array_per_field_in_order_of_training(exp, birth):
    a = birth(0.2)
    b = birth(0.5, parent=a, mutation="INSERT-CONVOLUTION")
    birth(0.1, parent=b, mutation="ADD-SKIP", state="dead")
    snap = dashboard.snapshot(exp)
    cols = snap["individuals"]
    assert cols["number"] == [0, 1, 2]
    assert cols["acc"] == [0.2, 0.5, 0.1]
    assert cols["parent"] == [None, a.pk, b.pk]
    assert [snap["states"][s] for s in cols["state"]] == ["alive", "alive", "dead"]
    assert [snap["mutations"][m] if m >= 0 else None for m in cols["mut"]] == [
        None,
        "INSERT-CONVOLUTION",
        "ADD-SKIP",
    ]
    assert cols["t"] == [10.0, 11.0, 12.0]


def test_it_carries_no_dna_and_lists_children_in_training_separately(exp, birth):
    birth(0.2)
    birth(None, trained=False, state="training", worker="gpu-0", progress_step=7)
    snap = dashboard.snapshot(exp)
    assert "dna" not in str(snap["individuals"].keys())
    assert len(snap["individuals"]["id"]) == 1
    assert [(c["number"], c["worker"], c["step"]) for c in snap["inflight"]] == [(1, "gpu-0", 7)]
    assert snap["last_seq"] == exp.last_seq


def test_an_empty_run_has_empty_arrays(exp):
    snap = dashboard.snapshot(exp)
    assert snap["individuals"]["id"] == [] and snap["inflight"] == []


def test_the_costs_of_the_trained_come_apart_by_id(exp, birth, client, member):
    a = birth(0.2, flops=123_456_789.0, params=1234)
    b = birth(0.4, flops=2.5e12, params=98_765)
    birth(None, trained=False, state="training", flops=1.0, params=1)
    assert dashboard.costs(exp) == {"id": [a.pk, b.pk], "flops": [123_500_000.0, 2.5e12],
                                    "params": [1234, 98_765]}  # fmt: skip
    client.force_login(member)
    assert client.get(f"/experiments/{exp.pk}/costs.json").json() == dashboard.costs(exp)
