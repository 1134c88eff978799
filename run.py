"""Start hotspots on its embedded default: SQLite in instance/, loaded with the Ashfield demo data.

Until the web service lands this imports the bundled police.uk months on first start and
prints the ward summary for the latest 12 months in the store.
"""

from __future__ import annotations

import sys

from hotspots.cli import main

if __name__ == "__main__":
    main(["start", *sys.argv[1:]])
