"""The data of a run: datasets, their global and local imbalance, the federated layout, and the warps.

Modules: :mod:`.datasets` (the digits and two generated datasets shaped like EMNIST and CINIC-10),
:mod:`.partition` (global imbalance by class, local imbalance and client sizes), :mod:`.federated`
(the federated data of a :class:`~reference_impl.config.RunConfig`), :mod:`.augmentation` (the
clients' batched random affine warps). Nothing is imported here.
"""
