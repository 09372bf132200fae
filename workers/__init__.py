"""What runs on a worker box: datasets, the training loop and the headless runner.

`evolab.datasets` and `workers.training` know nothing of the web; the Celery tasks
and the headless runner (`python -m workers.evolve`) both call them.
"""
