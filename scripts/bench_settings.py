"""Settings for scripts/bench_pages.py only: the production settings plus two bare pages to compare with.

Everything else (DEBUG off, the middleware, the session engine, the manifest
static files) is exactly what portal.settings gives for the environment it is run with.
"""

from portal.settings import *  # noqa: F403
from portal.settings import VAR_DIR

ROOT_URLCONF = "scripts.bench_urls"
# Collected here by the benchmark, away from the deploy's own staticfiles/.
STATIC_ROOT = VAR_DIR / "bench-static"
