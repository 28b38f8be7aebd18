"""Scale-out (extra: scale): Ray Data steps and datatrove steps over the same embedding column format.

The inference modules stay engine-free; everything here imports ray or datatrove inside the functions
that need them, and `require_extra("scale")` fails at once with the install command when they are missing.
"""

from ..extras import require_extra

require_extra("scale", "luxical_st.scale")
