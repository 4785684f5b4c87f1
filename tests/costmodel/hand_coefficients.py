"""Round, hand-picked coefficients for tests that check formulas by hand.

The fixed per-event costs, second regimes and the per-model and per-output aggregation costs of
calibration schemas 2 to 4 are 0 here (the proximal term of schema 4 is not), so the hand
derivations of the first model (FLOPs, steps, KL terms, parameters, bytes) hold as written.
"""

HAND_COEFFICIENTS = {
    "flops_per_s": 2.0e9, "step_overhead_s": 3.0e-4, "step_s_per_param": 2.0e-9, "prox_s_per_param": 1.0e-9, "augment_s_per_value": 5.0e-9, "augment_s_per_pixel": 0.0,
    "augment_plan_s_per_class": 1.0e-6, "kl_s_per_evaluation": 4.0e-8, "reschedule_s_per_class_update": 3.0e-9, "reschedule_s_per_step": 2.0e-5,
    "aggregate_s_per_param": 1.5e-9, "serialize_s_per_byte": 1.0e-9, "latency_s": 2.0e-3,
    "link_efficiency": 0.8, "message_overhead_bytes": 100.0,
    "train_s_per_elementwise_value": 0.0, "train_s_per_autograd_node": 0.0, "train_s_per_conv_call": 0.0,
    "train_s_per_visit": 0.0, "augment_s_per_client": 0.0, "augment_plan_s": 0.0,
    "reschedule_s_per_round": 0.0, "aggregate_s_per_round": 0.0, "message_s": 0.0,
    "augment_s_per_data_value": 0.0, "serialize_s_per_uncached_byte": 0.0, "cache_bytes": 1.0e6, "upload_message_s": 0.0,
    "train_time_cv": 0.0, "aggregate_s_per_large_param": 0.0, "aggregate_large_bytes": 3.2e7,
    "aggregate_s_per_model": 0.0, "aggregate_s_per_output_param": 0.0, "train_s_per_conv_value": 0.0,
}
