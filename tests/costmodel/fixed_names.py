"""The fixed project-wide names of the cost model's inputs and coefficients (docs/design.md), in
order: the lists the symbols, the calibration file and every helper build on. One copy for the tests
that pin them (test_symbols.py, test_calibration_file.py).
"""

INPUT_NAMES = (
    "clients_total", "clients_per_round", "classes", "samples_per_client", "samples_per_client_sd",
    "local_epochs", "mediator_epochs", "mediator_size", "batch_size", "rounds", "params", "bytes_per_param",
    "message_header_bytes", "train_flops_per_sample", "conv_input_values", "sample_values", "sample_channels",
    "classes_per_client", "plans_augmentation", "elementwise_values", "autograd_nodes", "conv_calls",
    "conv_padding_flops", "augmented_fraction",
    "augmented_fraction_sd", "client_load_spread", "mediator_load_spread", "removed_fraction",
    "uplink_bits_per_s", "downlink_bits_per_s", "server_bits_per_s",
)
COEFFICIENT_NAMES = (
    "flops_per_s", "train_s_per_conv_value", "train_s_per_elementwise_value",
    "step_overhead_s",
    "train_s_per_autograd_node", "train_s_per_conv_call", "step_s_per_param",
    "prox_s_per_param",
    "train_s_per_visit", "train_time_cv",
    "augment_s_per_value", "augment_s_per_pixel", "augment_s_per_client", "augment_s_per_data_value", "augment_plan_s_per_class",
    "augment_plan_s", "kl_s_per_evaluation", "reschedule_s_per_class_update", "reschedule_s_per_step", "reschedule_s_per_round", "aggregate_s_per_param",
    "aggregate_s_per_round", "aggregate_s_per_model", "aggregate_s_per_output_param", "aggregate_s_per_large_param", "aggregate_large_bytes", "serialize_s_per_byte", "serialize_s_per_uncached_byte", "cache_bytes",
    "upload_message_s", "message_s", "latency_s", "link_efficiency", "message_overhead_bytes",
)
