"""The best-so-far curve (the paper's figure and the compare page) keeps only its steps."""

from evolab.experiments import dashboard


def test_it_returns_the_points_where_the_best_rose_and_the_last(exp, birth):
    for acc in (0.2, 0.1, 0.5, 0.4, 0.3):
        birth(acc)
    assert [(n, acc) for n, _, acc in dashboard.best_so_far(exp)] == [(1, 0.2), (3, 0.5), (5, 0.5)]


def test_compare_gives_each_run_its_curve_and_final_numbers(exp, birth):
    birth(0.3)
    exp.best_val_accuracy, exp.individuals_trained = 0.3, 1
    (row,) = dashboard.compare([exp])
    assert row["best_val_accuracy"] == 0.3 and row["curve"][0][2] == 0.3
