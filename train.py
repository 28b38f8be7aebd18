"""Train a Luxical model end to end from one config: `python train.py --config configs/quickstart.yaml`.

The same as the `luxical-train` console script (`luxical_st.cli.train`): --config takes a YAML file or a
shipped config name (quickstart, tiny, luxical-one), and any config key can be overridden after it, e.g.
`--num_train_epochs 1 --output_dir runs/try`.
"""

from __future__ import annotations

import sys

from luxical_st.cli import train

if __name__ == "__main__":
    sys.exit(train())
