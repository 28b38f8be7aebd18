"""Luxical step 3: distillation through sentence-transformers' trainer (loss, WSD schedule, trainer).

`loss` and `schedule` need only torch and sentence-transformers; `trainer` needs the `train` extra
(datasets, accelerate, matplotlib for the plot), so it is not imported here.
"""

from luxical_st.training.loss import LuxicalDistillLoss, QuantizedEmbedDistillLoss, build_loss
from luxical_st.training.schedule import get_wsd_schedule

__all__ = ["LuxicalDistillLoss", "QuantizedEmbedDistillLoss", "build_loss", "get_wsd_schedule"]
