"""Astraea, FedAvg and FedProx as a Flower App, run on a Flower deployment on this machine (``--engine flower``).

The same protocols, data, models, training, wire format and trace as the project's own engines,
on the federated-learning framework people deploy: Flower 1.42 (``flwr``; the ``flower`` extra),
its Message API and ``Grid``, a SuperLink and one SuperNode process per client, on loopback or each
SuperNode in its own network namespace behind tbf-shaped links.

Modules, bottom to top: :mod:`.options` (``--engine`` and how a run is deployed; no torch, no flwr),
:mod:`.job` (the run config the app reads, the app's project file, the run's failure),
:mod:`.records` (the messages' payloads and their Flower bytes), :mod:`.device` (one client device),
:mod:`.client_app` (the ClientApp), :mod:`.exchange` (the ServerApp's message loop),
:mod:`.server` (the engine whose clients are SuperNodes), :mod:`.server_app` (the ServerApp),
:mod:`.deployment` (the processes, started, watched and torn down), :mod:`.launcher` (a run end to
end, ``astraea-cost run --engine flower``). Nothing is imported here, so the command line
registers ``--engine`` without loading flwr or torch.
"""
