"""The distributed engine: one process per device over ``torch.distributed``, on loopback or emulated links.

Modules: :mod:`.options` (how a run is distributed; the ``--network`` options, no torch),
:mod:`.launcher` (the controller: starts, watches and reaps the processes; ``run_distributed``),
:mod:`.job` (what every process reads, client placement, a rank's failure), :mod:`.rank` (one
process: ``python -m reference_impl.distributed.rank JOB.json``), :mod:`.peer` (messages between two
ranks, each with a deadline), :mod:`.server` (rank 0: the engine whose clients live on the workers),
:mod:`.worker` (ranks 1..W: the client devices). Nothing is imported here, so the command line
registers ``--network`` without loading torch.
"""
