import sys

from inceptionism.cli import main

sys.exit(main())
