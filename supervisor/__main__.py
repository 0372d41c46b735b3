import sys

from vai.supervisor.cli import main

sys.exit(main())
