import sys

from pynchy_agent.runner import main

sys.exit(main())
