"""``python -m llm_sched_env`` runs the ``llm-sched`` command line."""

import sys

from llm_sched_env.cli import main

sys.exit(main())
