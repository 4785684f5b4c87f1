"""Emulated links on one machine, and transfers measured over them (Linux network namespaces, root).

Modules: :mod:`.links` (one host's access link as two token buckets), :mod:`.namespaces` (the
``ip``/``tc`` commands, whether a lab can be built here, stale labs), :mod:`.lab` (an emulated
network: namespaces, veth pairs, a bridge; built and always torn down), :mod:`.transfer_endpoints`
(the server and sender processes inside a lab), :mod:`.transfer_measurement` (the controller that
measures transfers). Nothing is imported here: the endpoint processes start with the standard
library alone.
"""
