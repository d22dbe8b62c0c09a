import sys

from lambdalite.cli import main

sys.exit(main())
