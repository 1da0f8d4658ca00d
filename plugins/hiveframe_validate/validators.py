"""Every validator this plugin registers (the list the entry module hands to hiveframe)."""

from __future__ import annotations

from hiveframe_validate.fidelity import ColumnFidelity, Detection, PairFidelity
from hiveframe_validate.missingness import Missingness
from hiveframe_validate.privacy import Privacy
from hiveframe_validate.quality import Quality
from hiveframe_validate.relational import Relational
from hiveframe_validate.utility import Utility

#: in the order the report shows them.
VALIDATORS = [ColumnFidelity, PairFidelity, Missingness, Detection, Utility, Relational, Quality, Privacy]

__all__ = ["VALIDATORS", "ColumnFidelity", "Detection", "Missingness", "PairFidelity", "Privacy", "Quality", "Relational",
           "Utility"]
