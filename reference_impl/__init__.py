"""The reference implementation: Astraea and FedAvg run for real in PyTorch, every phase recorded.

Packages, bottom to top (each imports only those before it):

``config``
    :class:`~reference_impl.config.RunConfig`, the one configuration of a run (torch-free).
``protocols``
    The algorithms, one module each (:mod:`~reference_impl.protocols.astraea`,
    :mod:`~reference_impl.protocols.fedavg`), registered once in :data:`reference_impl.protocols.PROTOCOLS`
    and checked there against the algorithms the cost model prices; the step types they hand an
    engine; Astraea's rescheduling and augmentation plans (numpy only, no torch).
``data``
    Datasets, global and local imbalance, the federated data of a run, the augmentation warps.
``models``
    The papers' CNNs, four more architecture families, models of one's own (``PATH.py:FUNCTION``),
    their FLOPs by operator class and the architecture features the cost model prices.
``engine``
    The in-process engine (virtual clock, measured events), the loop over a run's rounds, training,
    aggregation, the wire format and the trace files.
``network``
    Emulated links in network namespaces and transfers measured over them (root).
``distributed``
    The same protocols with one process per device over ``torch.distributed``.
``flower``
    The same protocols as a Flower App (ServerApp and ClientApp, Message API and ``Grid``) on a
    Flower deployment of one SuperLink and one SuperNode process per client (``--engine flower``).
``workload``, ``studies``
    A run's data side planned without training; algorithms compared over seeds, the papers'
    imbalance regime.
``cli``
    The handlers of ``astraea-cost run`` (``--engine inprocess`` or ``flower``), ``compare`` and
    ``describe-model``.
``commands``
    Their declarations (options and help; no torch), found by the ``astraea-cost`` dispatcher through
    the entry points of ``pyproject.toml``.

Adding an algorithm is one module in ``protocols`` and one entry in its registry (and its cost
counterpart in the cost model); nothing else branches on an algorithm's name.
"""
