import sys

from vai.worker.main import main

sys.exit(main())
