#!/usr/bin/env bash
# Runs the whole test suite against real PostgreSQL and NATS: the same setup as quickstart.sh
# (install/start/reuse the services, roles, database, itsm.toml), then `cargo test --workspace`.
# Extra arguments go to cargo test, e.g. `deploy/test.sh -p domain` or `deploy/test.sh -- --nocapture`.
set -euo pipefail

ITSM_REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=deploy/lib.sh
source "$ITSM_REPO/deploy/lib.sh"
cd "$ITSM_REPO"

require_cargo
itsm_setup --build-tools

# The tests find ./itsm.toml themselves; the variable makes it explicit for any working directory.
export ITSM_CONFIG="$ITSM_CONFIG_FILE"
log "Running the tests (cargo test --workspace --locked $*)"
exec cargo test --workspace --locked "$@"
