"""Studies built on runs and planned workloads: algorithms compared over seeds, and the papers' imbalance regime.

Modules: :mod:`.compare` (every registered algorithm on the same data, seed by seed),
:mod:`.convergence` (accuracy curves over seeds, in the cost model's curves format),
:mod:`.imbalance` (clients' and mediators' KL to uniform, planned without training).
"""
