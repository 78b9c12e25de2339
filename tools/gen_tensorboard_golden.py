"""Writes tests/golden/tensorboard/*.json: the event records Lightning 2.2.5's TensorBoardLogger writes, decoded.

Needs the oracle's Lightning plus the `tensorboard` package (torch.utils.tensorboard imports it). Installing
tensorboard into the shared oracle venv would make Lightning's Trainer default to TensorBoardLogger instead of
CSVLogger for every other generator, so use a separate venv built by the same script:

    export VOLT_ORACLE_VENV=$HOME/.cache/volt-tb-oracle
    python=$(/work/shared/tools/lightning-oracle/setup.sh) && $python -m pip install tensorboard
    $python tools/gen_tensorboard_golden.py

Each scenario drives a TensorBoardLogger directly (the calls the Trainer makes: log_hyperparams, log_metrics,
finalize), reads the event file back with tensorboard's RawEventFileLoader and records per record: the step,
file_version, every Summary.Value (tag, simple_value as float.hex, plugin name, plugin
content as hex and decoded with MessageToDict) and `event_hex`: the serialized Event with wall_time cleared, which
is the whole record except the wall time, so volt's bytes can be compared exactly. File names and wall times are
not recorded.
"""
import json
import os
import shutil
import sys
import tempfile
import warnings

# The pure-Python protobuf backend writes map entries (SessionStartInfo.hparams) in insertion order; the default upb
# backend writes them in hash-table order, which no C++ writer can reproduce (protobuf leaves map order unspecified
# and readers do not depend on it). Everything else is identical between the backends.
os.environ["PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION"] = "python"

from google.protobuf import __version__ as protobuf_version
from google.protobuf.internal import api_implementation
from google.protobuf.json_format import MessageToDict
from lightning.pytorch.loggers import TensorBoardLogger
import lightning
import tensorboard
import torch
from tensorboard.backend.event_processing.event_file_loader import RawEventFileLoader
from tensorboard.compat.proto.event_pb2 import Event
from tensorboard.plugins.hparams.plugin_data_pb2 import HParamsPluginData

warnings.filterwarnings("ignore")
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "golden", "tensorboard")

# int, float, bool, string, None, nested dict (flattened with "/"), list and tuple (str()'d by Lightning)
PARAMS = {
    "lr": 0.001,
    "batch_size": 32,
    "use_bn": True,
    "dropout_off": False,
    "optimizer": "adam",
    "scheduler": None,
    "model": {"layers": [64, 32], "act": "relu", "depth": 3, "inner": {"eps": 1e-05}},
    "betas": (0.9, 0.999),
    "big": 12345678901,
    "neg": -2.5,
}


def scenario_default(root):
    # default_hp_metric: hp_metric=-1 at step 0, then the three hparams summaries; then the fit's metrics
    logger = TensorBoardLogger(root, name="lightning_logs", version=0)
    logger.log_hyperparams(PARAMS)
    # keys sorted: volt's log_metrics takes a std::map, Lightning writes a dict in its own order
    logger.log_metrics({"epoch": 0, "train_loss": 0.75}, step=4)
    logger.log_metrics({"val_acc": 0.1}, step=9)
    logger.finalize("success")
    return logger


def scenario_metrics(root):
    # explicit metrics and a prefix: the scalars get the prefix, the experiment's metric_infos do not
    logger = TensorBoardLogger(root, name="lightning_logs", version=0, prefix="fold1", default_hp_metric=False)
    logger.log_hyperparams({"lr": 0.1, "name": "boring"}, metrics={"val_loss": 0.25, "acc": 1})
    logger.log_metrics({"val_loss": 0.125}, step=2)
    logger.finalize("success")
    return logger


def scenario_no_hp_metric(root):
    # default_hp_metric=False and no metrics: Lightning writes no hparams summaries at all
    logger = TensorBoardLogger(root, name="lightning_logs", version=0, default_hp_metric=False)
    logger.log_hyperparams({"lr": 0.1})
    logger.log_metrics({"a": 1.5}, step=1)
    logger.finalize("success")
    return logger


def scenario_save_only(root):
    # save() alone creates the writer (the first record) and writes hparams.yaml ({})
    logger = TensorBoardLogger(root, name="lightning_logs", version=0)
    logger.save()
    logger.finalize("success")
    return logger


SCENARIOS = {
    "hparams_default": scenario_default,
    "hparams_metrics_prefix": scenario_metrics,
    "no_hp_metric": scenario_no_hp_metric,
    "save_only": scenario_save_only,
}


def record(event):
    rec = {"step": event.step}  # proto3: 0 is not written
    if event.HasField("file_version"):
        rec["file_version"] = event.file_version
    values = []
    for v in event.summary.value:
        val = {"tag": v.tag}
        if v.HasField("simple_value"):
            val["simple_value"] = float(v.simple_value).hex()
        if v.HasField("metadata"):
            pd = v.metadata.plugin_data
            val["plugin_name"] = pd.plugin_name
            val["content_hex"] = pd.content.hex()
            if pd.plugin_name == "hparams":
                val["content"] = MessageToDict(HParamsPluginData.FromString(pd.content),
                                               preserving_proto_field_name=True)
        values.append(val)
    if event.HasField("summary"):
        rec["summary_hex"] = event.summary.SerializeToString().hex()
        rec["values"] = values
    copy = type(event)()
    copy.CopyFrom(event)
    copy.ClearField("wall_time")
    rec["event_hex"] = copy.SerializeToString().hex()
    return rec


def main(names):
    os.makedirs(OUT, exist_ok=True)
    for name in names or SCENARIOS:
        root = tempfile.mkdtemp()
        try:
            logger = SCENARIOS[name](root)
            files = [f for f in os.listdir(logger.log_dir) if f.startswith("events.out.tfevents.")]
            assert len(files) == 1, files
            # the raw records: EventFileLoader would migrate them (simple_value -> tensor, added metadata)
            events = [Event.FromString(r) for r in RawEventFileLoader(os.path.join(logger.log_dir, files[0])).Load()]
            with open(os.path.join(logger.log_dir, "hparams.yaml")) as f:
                yaml_text = f.read()
            out = {
                "generator": "tools/gen_tensorboard_golden.py",
                "versions": {"lightning": lightning.__version__, "torch": torch.__version__,
                             "tensorboard": tensorboard.__version__, "protobuf": protobuf_version,
                             "protobuf_backend": api_implementation.Type()},
                "scenario": name,
                "records": [record(e) for e in events],
                "hparams_yaml": yaml_text,
            }
            with open(os.path.join(OUT, name + ".json"), "w") as f:
                json.dump(out, f, indent=1)
                f.write("\n")
        finally:
            shutil.rmtree(root)


if __name__ == "__main__":
    main(sys.argv[1:])
