"""`python -m tuner_app ...`"""

from tuner_app.cli import main

raise SystemExit(main())
