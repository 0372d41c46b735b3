import sys

from vai.gateway.main import main

sys.exit(main())
