#!/usr/bin/env python3
"""Lightning 2.2.5's logging rules per hook (_FxValidator.functions), as JSON, for tests/unit/hook_table_test.cpp.

    python=$(../shared/tools/lightning-oracle/setup.sh)
    "$python" tools/gen_fx_validator_golden.py > tests/golden/hooks/fx_validator.json

Each entry is [name, null] (logging forbidden) or [name, {allowed_on_step, allowed_on_epoch, default_on_step,
default_on_epoch}], in Lightning's order. Names missing from the list are "not implemented" in Lightning."""
import json

import lightning
from lightning.pytorch.trainer.connectors.logger_connector.fx_validator import _FxValidator

entries = []
for name, options in _FxValidator.functions.items():
    if options is not None:
        options = {key: list(value) if isinstance(value, tuple) else value for key, value in options.items()}
    entries.append([name, options])
lines = ",\n  ".join(json.dumps(entry) for entry in entries)
print('{"lightning": "%s",\n "functions": [\n  %s\n ]}' % (lightning.__version__, lines))
