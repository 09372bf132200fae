"""The algorithm of Real et al. 2017 in plain Python and PyTorch (no web imports).

Modules: dna (genome, JSON, validation), mutations (docs/ALGORITHM.md §3), network (DNA ->
nn.Module, weight inheritance), selection (tournament, aging, random search), flops,
checkpoint. Import them directly; this package imports nothing so that the web side
can use `evolab.evolution.dna` without loading torch.
"""
