"""Start hotspots on its embedded default: SQLite in instance/, loaded with the Ashfield demo data.

    python run.py [--host 127.0.0.1] [--port 5000] [--tiles osm|none|URL]

On first start it imports the bundled police.uk months and back-tests the methods once to
choose each group's default map, then serves the maps on http://localhost:5000/.
"""

from __future__ import annotations

import sys

from hotspots.cli import main

if __name__ == "__main__":
    main(["serve", *sys.argv[1:]])
