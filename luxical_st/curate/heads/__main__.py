"""`python -m luxical_st.curate.heads train|predict` (see `luxical_st.curate.heads.cli`)."""

import sys

from luxical_st.curate.heads.cli import main

main(sys.argv[1:])
