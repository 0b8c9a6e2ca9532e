#!/usr/bin/env bash
# The state machines with every sequence they are written for; the suite (`make test`, CI) runs
# a share of each (the "ci" Hypothesis profile in tests/conftest.py). On PostgreSQL and Redis:
#
#   DATABASE_URL=postgres://postgres@127.0.0.1:5432/marrow REDIS_URL=redis://127.0.0.1:6379/1 \
#     scripts/full_state_machines.sh [more pytest options]
#
# About 3 minutes alone on a 2-core machine; each prints how many sequences and steps it ran.
set -euo pipefail
cd "$(dirname "$0")/.."
make --no-print-directory messages >/dev/null
exec .venv/bin/python -m pytest --hypothesis-profile=full -q -s \
  tests/test_change_sequences.py \
  tests/procedures/test_page_cache.py::test_random_changes_never_leave_a_kept_page_behind \
  "$@"
