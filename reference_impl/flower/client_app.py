"""The ClientApp: one client device of Astraea, FedAvg or FedProx, answering the ServerApp's messages.

Every SuperNode is one client (``--node-config 'partition-id=k'``). Flower starts a fresh
``flwr-clientapp`` process for every message, which builds the device
(:class:`~reference_impl.flower.device.ClientDevice`) and answers:

==================  ==========================================  ============================================
message type        instruction carries                         reply carries
==================  ==========================================  ============================================
``query.hello``     nothing                                     ``hello`` (client, params, classes) and the
                                                                client's ``histogram``
``query.report``    nothing                                     ``histogram``: the distribution report
``query.augment``   ``class_sizes``: the global class sizes     ``histogram`` after augmenting and
                                                                ``augmentation`` (seconds, samples added
                                                                and removed)
``train``           ``model`` and ``visit`` (round, visit)      ``model`` trained E local epochs and
                                                                ``training`` (seconds, steps, samples)
==================  ==========================================  ============================================

Payloads are wire-format Arrays (:mod:`reference_impl.flower.records`). Every reply also carries
``timing``: wall-clock times (``time.time()``) of the process start, the handler's start, the start
and end of its work (the visit's training, the augmentation), and the CPU seconds the process had
spent when the handler started (Flower's and Python's cold start). The ServerApp turns them into the
trace's transfer intervals.

The plan: the device makes Astraea's augmentation plan from the global class sizes itself, with the
run's registered protocol, as every engine's clients do. The augmented samples stay on the device:
they are kept in the node's ``Context.state``, which Flower hands to every later message of the run.
"""

from __future__ import annotations

import os
import time

from flwr.app import ConfigRecord, Context, Message, MetricRecord, RecordDict
from flwr.clientapp import ClientApp

from reference_impl.flower import records
from reference_impl.flower.job import FlowerJob

__all__ = ["app"]

_STATE_SAMPLES = "samples"
app = ClientApp()


def _device(context: Context):
    from reference_impl.flower.device import ClientDevice     # torch: only once a message is handled

    job = FlowerJob.from_run_config(context.run_config)
    client = int(context.node_config["partition-id"])
    kept = context.state.array_records.get(_STATE_SAMPLES)
    samples = records.samples_from_record(kept) if kept is not None else None
    return job, ClientDevice(job.config, client, samples)


def _cpu_s() -> float:
    times = os.times()
    return times.user + times.system


def _reply(message: Message, content: RecordDict, *, handler_s: float, cpu_s: float, work_start_s: float,
           work_end_s: float, cpu_at_work_s: float = float("nan")) -> Message:
    content["timing"] = records.metrics(process_start_s=records.process_start_s(), handler_s=handler_s,
                                        cpu_at_handler_s=cpu_s, cpu_at_work_s=cpu_at_work_s,
                                        work_start_s=work_start_s, work_end_s=work_end_s, pid=os.getpid())
    return Message(content, reply_to=message)


@app.query("hello")
def hello(message: Message, context: Context) -> Message:
    """The client's id, its model's size and classes, and its histogram (the server's node map)."""
    handler_s, cpu_s = time.time(), _cpu_s()
    _, device = _device(context)
    content = RecordDict({"hello": MetricRecord({"client": device.client, "params": device.params,
                                                 "classes": device.num_classes}),
                          "histogram": records.counts_record(device.histogram())})
    now = time.time()
    return _reply(message, content, handler_s=handler_s, cpu_s=cpu_s, work_start_s=now, work_end_s=now)


@app.query("report")
def report(message: Message, context: Context) -> Message:
    """Astraea's distribution report: the client's label histogram."""
    handler_s, cpu_s = time.time(), _cpu_s()
    _, device = _device(context)
    start = time.time()
    content = RecordDict({"histogram": records.counts_record(device.histogram())})
    return _reply(message, content, handler_s=handler_s, cpu_s=cpu_s, work_start_s=start, work_end_s=time.time())


@app.query("augment")
def augment(message: Message, context: Context) -> Message:
    """Make the plan from the global class sizes and augment the client's data, which stays on the node."""
    from reference_impl.protocols import protocol_of

    handler_s, cpu_s = time.time(), _cpu_s()
    job, device = _device(context)
    class_sizes = records.counts_from_record(message.content.array_records["class_sizes"])
    plan = protocol_of(job.config.algorithm).plan_augmentation(job.config, class_sizes)
    if plan is None:
        raise ValueError(f"{job.config.algorithm} makes no augmentation plan, yet client {device.client} "
                         f"was asked to augment.")
    start = time.time()
    duration_s, augmented, removed = device.augment_client(device.client, plan)
    end = time.time()
    context.state[_STATE_SAMPLES] = records.samples_record(*device.samples)
    content = RecordDict({"histogram": records.counts_record(device.histogram()),
                          "augmentation": records.metrics(duration_s=duration_s, augmented=augmented,
                                                          removed=removed)})
    return _reply(message, content, handler_s=handler_s, cpu_s=cpu_s, work_start_s=start, work_end_s=end)


@app.train()
def train(message: Message, context: Context) -> Message:
    """One visit: E local epochs from the model received, with the in-process engine's seeds."""
    handler_s, cpu_s = time.time(), _cpu_s()
    _, device = _device(context)
    visit: ConfigRecord = message.content.config_records["visit"]
    vector = records.vector_from_record(message.content.array_records["model"])
    device.warm_up()
    cpu_at_work_s, start = _cpu_s(), time.time()
    trained, event = device.train_visit(vector, client=device.client, round=int(visit["round"]),
                                        visit=int(visit["visit"]))
    end = time.time()
    content = RecordDict({"model": records.vector_record(trained),
                          "training": records.metrics(duration_s=event.duration_s, steps=event.steps,
                                                      samples=event.samples)})
    return _reply(message, content, handler_s=handler_s, cpu_s=cpu_s, work_start_s=start, work_end_s=end,
                  cpu_at_work_s=cpu_at_work_s)
