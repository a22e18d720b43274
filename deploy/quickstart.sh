#!/usr/bin/env bash
# Sets up and starts itsm on this machine: installs PostgreSQL and nats-server if missing, starts
# them (or reuses running ones), creates the database and roles, writes itsm.toml, builds the
# release binary, migrates, prints how to get an admin token and serves. See deploy/README.md.
set -euo pipefail

usage() {
    cat <<'EOF'
Usage: deploy/quickstart.sh [--no-serve] [--no-build]

  --no-serve   stop after the migration instead of starting the server
  --no-build   skip `cargo build` (and the migration and server if target/release/itsm is missing)
  -h, --help   show this help

Environment (read when itsm.toml is generated): ITSM_PG_HOST, ITSM_PG_PORT, ITSM_NATS_PORT.
ITSM_SERVER__LISTEN overrides the listen address of the server.
EOF
}

serve=1
build=1
while [[ $# -gt 0 ]]; do
    case $1 in
        --no-serve) serve=0 ;;
        --no-build) build=0 ;;
        -h | --help)
            usage
            exit 0
            ;;
        *)
            usage >&2
            exit 2
            ;;
    esac
    shift
done

ITSM_REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=deploy/lib.sh
source "$ITSM_REPO/deploy/lib.sh"
cd "$ITSM_REPO"

if [[ $build -eq 1 ]]; then
    require_cargo
    itsm_setup --build-tools
    log "Building the release binary (cargo build --release --locked); the first build takes a few minutes"
    cargo build --release --locked
else
    itsm_setup
fi

bin=target/release/itsm
if [[ ! -x $bin ]]; then
    [[ $build -eq 0 ]] || die "$bin is missing after the build."
    warn "--no-build given and $bin does not exist: skipping the migration and the server."
    exit 0
fi

log "Migrating the database ($bin migrate)"
"$bin" migrate

listen=${ITSM_SERVER__LISTEN:-$(toml_get "$ITSM_CONFIG_FILE" server listen)}
listen=${listen:-127.0.0.1:8080}
case $listen in
    0.0.0.0:* | '[::]':*) base_url="http://127.0.0.1:${listen##*:}" ;;
    *) base_url="http://$listen" ;;
esac

config_hint=''
if [[ $ITSM_CONFIG_FILE != "$ITSM_REPO/itsm.toml" ]]; then
    config_hint=$'\n'"      export ITSM_CONFIG=$ITSM_CONFIG_FILE"
fi

cat <<EOF

==> Ready. itsm serves on $base_url (configuration: $ITSM_CONFIG_FILE)

    Web UI: $base_url/ (accounts that log in need a password, in another shell:
      echo '<password, 12+ characters>' | $bin user add k.meier --role agent --password-stdin)

    Get an admin token (in another shell):

      cd $ITSM_REPO${config_hint}
      TOKEN=\$($bin token issue --user admin --role admin)

    Open a ticket:

      curl -sS -X POST $base_url/api/v1/tickets \\
        -H "Authorization: Bearer \$TOKEN" \\
        -H 'Content-Type: application/json' \\
        -d '{"type":"incident","title":"Drucker im 2. OG druckt nicht","description":"Seit heute Morgen kommt kein Ausdruck mehr an.","requester":{"name":"Erika Mustermann","email":"erika@example.org"},"impact":"medium","urgency":"high"}'

    Show its events and verify their hash chain:  $bin events <ticket id or number>
    All operator commands and settings:           $bin --help

EOF

if [[ $serve -eq 0 ]]; then
    log "--no-serve given: not starting the server. Start it with: $bin serve"
    exit 0
fi

log "Starting the server ($bin serve); stop it with Ctrl-C"
exec "$bin" serve
