"""Reads a TensorBoard event file with tensorboard's own EventAccumulator and hparams plugin metadata parsers, and
prints what TensorBoard would show as JSON (used by tests/unit/tensorboard_logger_test.cpp when some python has the
tensorboard package):

    {"scalars": [[tag, step, value], ...],            # every scalar, by tag then step
     "hparams": {name: number or string},             # the session's hyper-parameter values
     "hparam_types": {name: "DATA_TYPE_..."},         # from the experiment summary
     "metrics": [tag, ...],                           # the experiment's metric tags
     "status": "STATUS_..."}                          # the session end status

Usage: python read_tensorboard.py EVENT_FILE
"""
import json
import sys

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.hparams import api_pb2, metadata


def main(path):
    acc = EventAccumulator(path)
    acc.Reload()
    scalars = []
    for tag in sorted(acc.Tags()["scalars"]):
        scalars += [[tag, e.step, e.value] for e in acc.Scalars(tag)]
    out = {"scalars": scalars}
    content = acc.PluginTagToContent(metadata.PLUGIN_NAME)
    # the parsers check the plugin data version and which oneof member each summary holds
    if metadata.EXPERIMENT_TAG in content:
        exp = metadata.parse_experiment_plugin_data(content[metadata.EXPERIMENT_TAG])
        out["hparam_types"] = {h.name: api_pb2.DataType.Name(h.type) for h in exp.hparam_infos}
        out["metrics"] = [m.name.tag for m in exp.metric_infos]
    if metadata.SESSION_START_INFO_TAG in content:
        ssi = metadata.parse_session_start_info_plugin_data(content[metadata.SESSION_START_INFO_TAG])
        out["hparams"] = {
            k: (v.number_value if v.WhichOneof("kind") == "number_value" else v.string_value)
            for k, v in ssi.hparams.items()
        }
    if metadata.SESSION_END_INFO_TAG in content:
        sei = metadata.parse_session_end_info_plugin_data(content[metadata.SESSION_END_INFO_TAG])
        out["status"] = api_pb2.Status.Name(sei.status)
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1])
