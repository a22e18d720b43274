#!/usr/bin/env bash
# Runs the whole test suite against real PostgreSQL and NATS: the same setup as quickstart.sh
# (install/start/reuse the services, roles, database, itsm.toml), plus Chromium, Node.js and the
# browser tests' npm packages, then `cargo test --workspace`.
# Extra arguments go to cargo test, e.g. `deploy/test.sh -p domain` or `deploy/test.sh -- --nocapture`.
set -euo pipefail

ITSM_REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=deploy/lib.sh
source "$ITSM_REPO/deploy/lib.sh"
cd "$ITSM_REPO"

require_cargo
itsm_setup --build-tools
itsm_ensure_browser_tests

# Every test creates its own database itsm_test_<uuid> and drops it when done; drop those a
# cut-short run left behind, all in one psql session (\gexec runs each DROP on its own).
owner_url=$(toml_get "$ITSM_CONFIG_FILE" database owner_url)
dropped=$(psql "$owner_url" -X -At 2>/dev/null <<'SQL' | grep -c '^DROP DATABASE' || true
SELECT format('DROP DATABASE IF EXISTS %I WITH (FORCE)', datname)
  FROM pg_database WHERE datname LIKE 'itsm\_test\_%' \gexec
SQL
)
[[ $dropped -eq 0 ]] || log "Dropped $dropped test databases left by earlier runs"

# The tests find ./itsm.toml themselves; the variable makes it explicit for any working directory.
export ITSM_CONFIG="$ITSM_CONFIG_FILE"
log "Running the tests (cargo test --workspace --locked $*)"
output=$(mktemp)
trap 'rm -f "$output"' EXIT
status=0
cargo test --workspace --locked "$@" 2>&1 | tee "$output" || status=${PIPESTATUS[0]}
# cargo's last line is the (empty) doc-test run of the last crate; close with the total instead.
awk '/^test result:/ { for (i = 2; i <= NF; i++) { if ($i == "passed;") p += $(i - 1); if ($i == "failed;") f += $(i - 1) } }
     END { printf "tests: %d passed, %d failed\n", p, f }' "$output"
exit "$status"
