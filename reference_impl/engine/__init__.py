"""The engines' common machinery: run a protocol for real and record every phase on a virtual clock.

Modules: :mod:`.in_process` (the :class:`~reference_impl.engine.in_process.Engine`: data, model,
timed protocol operations, and the in-process transport), :mod:`.drive` (the loop over a run's setup
and rounds, and :func:`~reference_impl.engine.drive.run`), :mod:`.seeds` (the run's random streams),
:mod:`.training` (local epochs and accuracy), :mod:`.aggregation` (the weighted average),
:mod:`.wire` (the wire format of models and histograms), :mod:`.trace` (trace rows and run files),
:mod:`.allocator` (the process's allocator settings). The distributed transport is
:mod:`reference_impl.distributed`.

Nothing is imported here, so reading a trace (:mod:`.trace`) does not load torch.
"""
