# shellcheck shell=bash
# Shared setup for deploy/quickstart.sh and deploy/test.sh. Source it; do not execute it.
#
# itsm_setup makes sure that, afterwards:
#   - PostgreSQL (>= 13) accepts connections where itsm.toml says, with the roles `itsm` (owner of
#     database `itsm`, CREATEDB) and `itsm_app` (plain LOGIN) and the passwords from itsm.toml;
#   - a NATS server with JetStream accepts connections where itsm.toml says;
#   - itsm.toml exists (generated once, mode 600) and .itsm/ holds our runtime state.
# Everything is idempotent: running it again reuses what is there.
#
# Environment overrides (used when itsm.toml is generated; afterwards itsm.toml is the truth):
#   ITSM_PG_HOST (127.0.0.1), ITSM_PG_PORT (5432), ITSM_NATS_PORT (4222), ITSM_CONFIG (./itsm.toml)

if [[ -z ${ITSM_REPO:-} ]]; then
    ITSM_REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
fi
ITSM_STATE="$ITSM_REPO/.itsm"
ITSM_CONFIG_FILE="${ITSM_CONFIG:-$ITSM_REPO/itsm.toml}"

# nats-server, runuser and friends live in sbin, which a normal user's PATH lacks on Debian.
for _itsm_dir in /usr/local/sbin /usr/sbin /sbin; do
    case ":$PATH:" in
        *":$_itsm_dir:"*) ;;
        *) PATH="$PATH:$_itsm_dir" ;;
    esac
done
unset _itsm_dir

ITSM_PG_WAIT_S=30
ITSM_NATS_WAIT_S=15
ITSM_PG_MIN_VERSION_NUM=130000 # xid8 and pg_current_snapshot() arrived in PostgreSQL 13

# ---------------------------------------------------------------------------------------------
# Output

log() { printf '==> %s\n' "$*"; }
note() { printf '    %s\n' "$*"; }
warn() { printf 'WARNING: %s\n' "$*" >&2; }
die() {
    printf 'ERROR: %s\n' "$1" >&2
    shift
    local line
    for line in "$@"; do printf '       %s\n' "$line" >&2; done
    exit 1
}

# ---------------------------------------------------------------------------------------------
# Small helpers

have() { command -v "$1" >/dev/null 2>&1; }

is_root() { [[ $(id -u) -eq 0 ]]; }

systemd_running() { [[ -d /run/systemd/system ]]; }

# Runs a command as root: directly when we are root, through sudo otherwise.
as_root() {
    if is_root; then
        "$@"
    elif have sudo; then
        sudo "$@"
    else
        die "need root privileges for: $*" "Install sudo or run this script as root."
    fi
}

is_local_host() {
    case "$1" in
        127.0.0.1 | localhost | ::1 | '[::1]' | '') return 0 ;;
        *) return 1 ;;
    esac
}

# Hex string of $1 random bytes.
random_hex() { od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'; }

# Base64 of 32 random bytes (the AES-256 master key).
random_key_b64() { head -c 32 /dev/urandom | base64 | tr -d '\n'; }

urldecode() {
    local s="${1//+/ }"
    printf '%b' "${s//%/\\x}"
}

# The locale the environment asks for is usable (no "Cannot set LC_..." complaints)?
locale_ok() {
    have locale || return 0
    [[ -z $(locale 2>&1 >/dev/null) ]]
}

# toml_get FILE SECTION KEY: the value of a basic string `KEY = "value"` in [SECTION], or nothing.
toml_get() {
    awk -v sec="$2" -v key="$3" '
        /^[[:space:]]*\[/ {
            s = $0
            sub(/^[[:space:]]*\[[[:space:]]*/, "", s)
            sub(/[[:space:]]*\].*$/, "", s)
            cur = s
            next
        }
        cur == sec && match($0, "^[[:space:]]*" key "[[:space:]]*=[[:space:]]*\"") {
            v = substr($0, RLENGTH + 1)
            sub(/".*$/, "", v)
            print v
            exit
        }' "$1"
}

# parse_pg_url URL: sets URL_USER URL_PW URL_HOST URL_PORT URL_DB; returns 1 if it cannot.
parse_pg_url() {
    local re='^postgres(ql)?://([^:@/]+):([^@/]*)@([^:/?]+)(:([0-9]+))?/([^?]+)'
    [[ $1 =~ $re ]] || return 1
    URL_USER=$(urldecode "${BASH_REMATCH[2]}")
    URL_PW=$(urldecode "${BASH_REMATCH[3]}")
    URL_HOST=${BASH_REMATCH[4]}
    URL_PORT=${BASH_REMATCH[6]:-5432}
    URL_DB=$(urldecode "${BASH_REMATCH[7]}")
}

# parse_nats_url URL: sets URL_HOST URL_PORT; returns 1 if it cannot.
parse_nats_url() {
    local re='^nats://([^:/]+)(:([0-9]+))?/?$'
    [[ $1 =~ $re ]] || return 1
    URL_HOST=${BASH_REMATCH[1]}
    URL_PORT=${BASH_REMATCH[3]:-4222}
}

# ---------------------------------------------------------------------------------------------
# Rust toolchain

require_cargo() {
    if ! have cargo && [[ -x $HOME/.cargo/bin/cargo ]]; then
        export PATH="$HOME/.cargo/bin:$PATH"
    fi
    have cargo && return 0
    die "cargo (the Rust toolchain) is not installed." \
        "Install it with rustup, then open a new shell (or source ~/.cargo/env) and run this again:" \
        "  curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y" \
        "  . \"\$HOME/.cargo/env\""
}

# ---------------------------------------------------------------------------------------------
# Probes

pg_ready() { pg_isready -q -h "$ITSM_PG_HOST" -p "$ITSM_PG_PORT" -t 2 >/dev/null 2>&1; }

# shellcheck disable=SC2016 # $0/$1 expand in the child shell
tcp_open() { timeout 3 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$1" "$2" 2>/dev/null; }

# nats_probe HOST PORT: prints "none" (nothing listens), "js" (NATS with JetStream),
# "nojs" (NATS without JetStream) or "other" (something else listens).
nats_probe() {
    local info
    if ! tcp_open "$1" "$2"; then
        echo none
        return
    fi
    # A NATS server greets every client with an INFO line.
    # shellcheck disable=SC2016 # $0/$1/$line expand in the child shell
    info=$(timeout 3 bash -c 'exec 3<>"/dev/tcp/$0/$1" && IFS= read -r -t 2 line <&3 && printf %s "$line"' "$1" "$2" 2>/dev/null || true)
    if [[ $info != INFO* ]]; then
        echo other
    elif [[ $info == *'"jetstream":true'* ]]; then
        echo js
    else
        echo nojs
    fi
}

# ---------------------------------------------------------------------------------------------
# Settings: itsm.toml wins when it exists, the ITSM_* overrides decide when it is generated.

itsm_resolve_settings() {
    local cfg_pg_host='' cfg_pg_port='' cfg_nats_host='' cfg_nats_port='' url
    if [[ -f $ITSM_CONFIG_FILE ]]; then
        url=$(toml_get "$ITSM_CONFIG_FILE" database owner_url)
        if parse_pg_url "$url"; then
            cfg_pg_host=$URL_HOST
            cfg_pg_port=$URL_PORT
        fi
        url=$(toml_get "$ITSM_CONFIG_FILE" nats url)
        if parse_nats_url "$url"; then
            cfg_nats_host=$URL_HOST
            cfg_nats_port=$URL_PORT
        fi
    fi

    local env_pg_host=${ITSM_PG_HOST:-} env_pg_port=${ITSM_PG_PORT:-} env_nats_port=${ITSM_NATS_PORT:-}
    ITSM_PG_HOST=${cfg_pg_host:-${ITSM_PG_HOST:-127.0.0.1}}
    ITSM_PG_PORT=${cfg_pg_port:-${ITSM_PG_PORT:-5432}}
    ITSM_NATS_HOST=${cfg_nats_host:-127.0.0.1}
    # "auto": nobody chose the NATS port, so we may pick a free one if 4222 is taken.
    ITSM_NATS_PORT_AUTO=0
    if [[ -n $cfg_nats_port ]]; then
        ITSM_NATS_PORT=$cfg_nats_port
    elif [[ -n ${ITSM_NATS_PORT:-} ]]; then
        :
    else
        ITSM_NATS_PORT=4222
        ITSM_NATS_PORT_AUTO=1
    fi

    if [[ -n $cfg_pg_port ]]; then
        itsm_warn_override ITSM_PG_HOST "$env_pg_host" "$cfg_pg_host" database.owner_url
        itsm_warn_override ITSM_PG_PORT "$env_pg_port" "$cfg_pg_port" database.owner_url
    fi
    if [[ -n $cfg_nats_port ]]; then
        itsm_warn_override ITSM_NATS_PORT "$env_nats_port" "$cfg_nats_port" nats.url
    fi
}

# Warns when an override from the caller's environment differs from what itsm.toml says.
itsm_warn_override() {
    local name=$1 env_value=$2 cfg_value=$3 key=$4
    if [[ -n $env_value && $env_value != "$cfg_value" ]]; then
        warn "$name=$env_value is ignored: $ITSM_CONFIG_FILE already sets $key to use $cfg_value." \
            "Edit that file (or delete it to regenerate it) to change that."
    fi
}

# ---------------------------------------------------------------------------------------------
# Packages

ITSM_APT_UPDATED=0

apt_install() {
    have apt-get || die "apt-get not found; please install these packages yourself: $*"
    local -a envs=(DEBIAN_FRONTEND=noninteractive)
    if [[ $ITSM_APT_UPDATED -eq 0 ]]; then
        log "Updating the package lists (apt-get update)"
        as_root env "${envs[@]}" apt-get update -q
        ITSM_APT_UPDATED=1
    fi
    log "Installing $* (apt-get install)"
    as_root env "${envs[@]}" apt-get install -y -q "$@"
}

pg_server_installed() { compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null; }

# Installs what is missing in one apt-get run. A service that already answers on its port is
# reused, so its server package is not needed then.
itsm_install_packages() {
    local -a pkgs=()
    if [[ ${ITSM_NEED_CC:-0} -eq 1 ]] && ! have cc; then
        pkgs+=(build-essential) # rustc needs a C linker
    fi
    if ! pg_server_installed && is_local_host "$ITSM_PG_HOST" && ! tcp_open "$ITSM_PG_HOST" "$ITSM_PG_PORT"; then
        pkgs+=(postgresql)
    elif ! have psql || ! have pg_isready; then
        pkgs+=(postgresql-client)
    fi
    if ! have nats-server && [[ $(nats_probe "$ITSM_NATS_HOST" "$ITSM_NATS_PORT") != js ]]; then
        pkgs+=(nats-server)
    fi
    if [[ ${#pkgs[@]} -gt 0 ]]; then
        apt_install "${pkgs[@]}"
    fi
    if ! have psql || ! have pg_isready; then
        die "psql/pg_isready still missing after installing packages."
    fi
}

# ---------------------------------------------------------------------------------------------
# PostgreSQL server

pg_wait_ready() {
    local deadline=$((SECONDS + $1))
    until pg_ready; do
        ((SECONDS < deadline)) || return 1
        sleep 1
    done
}

pg_newest_installed_version() {
    local d
    for d in /usr/lib/postgresql/*/bin/postgres; do
        d=${d#/usr/lib/postgresql/}
        echo "${d%%/*}"
    done | sort -V | tail -n 1
}

itsm_ensure_postgres() {
    if pg_ready; then
        log "PostgreSQL accepts connections on $ITSM_PG_HOST:$ITSM_PG_PORT — reusing it"
        return 0
    fi
    is_local_host "$ITSM_PG_HOST" ||
        die "PostgreSQL on $ITSM_PG_HOST:$ITSM_PG_PORT does not accept connections, and it is not local, so it cannot be started from here."
    if ! pg_server_installed; then
        apt_install postgresql
        # The package may have created and started its cluster; give it a moment.
        if pg_wait_ready 5; then
            log "PostgreSQL accepts connections on $ITSM_PG_HOST:$ITSM_PG_PORT"
            return 0
        fi
    fi
    if ! have pg_lsclusters || ! have pg_ctlcluster || ! have pg_createcluster; then
        die "PostgreSQL is not running on port $ITSM_PG_PORT and the Debian cluster tools (postgresql-common) are missing." \
            "Start a PostgreSQL >= 13 on $ITSM_PG_HOST:$ITSM_PG_PORT yourself, or set ITSM_PG_PORT."
    fi

    # PostgreSQL refuses to run as root: the Debian tools run the server as the cluster owner
    # (postgres), whoever calls them.
    local ver name status cluster
    cluster=$(pg_lsclusters -h | awk -v p="$ITSM_PG_PORT" '$3 == p { print $1, $2, $4 }' | sort -V | tail -n 1)
    if [[ -n $cluster ]]; then
        read -r ver name status <<<"$cluster"
        if [[ $status == down* ]]; then
            log "Starting PostgreSQL cluster $ver/$name (port $ITSM_PG_PORT)"
            if systemd_running; then
                as_root pg_ctlcluster "$ver" "$name" start
            else
                as_root pg_ctlcluster --skip-systemctl-redirect "$ver" "$name" start
            fi
        else
            log "PostgreSQL cluster $ver/$name is $status; waiting for it on $ITSM_PG_HOST:$ITSM_PG_PORT"
        fi
    else
        ver=$(pg_newest_installed_version)
        if [[ -z $(pg_lsclusters -h) ]]; then name=main; else name=itsm; fi
        [[ -d /etc/postgresql/$ver/$name ]] &&
            die "cluster $ver/$name exists but does not use port $ITSM_PG_PORT." \
                "Start it and set ITSM_PG_PORT to its port, or choose another port."
        log "Creating PostgreSQL cluster $ver/$name on port $ITSM_PG_PORT"
        as_root pg_createcluster -p "$ITSM_PG_PORT" --start "$ver" "$name"
    fi
    pg_wait_ready "$ITSM_PG_WAIT_S" ||
        die "PostgreSQL did not accept connections on $ITSM_PG_HOST:$ITSM_PG_PORT within ${ITSM_PG_WAIT_S}s." \
            "See /var/log/postgresql/ and check listen_addresses/port in /etc/postgresql/*/*/postgresql.conf."
    log "PostgreSQL accepts connections on $ITSM_PG_HOST:$ITSM_PG_PORT"
}

# ---------------------------------------------------------------------------------------------
# PostgreSQL superuser access (for creating roles and the database)

ITSM_PG_SUPER=()

# Runs psql as the superuser we found, from / (the postgres user may not read our cwd).
pg_super() { (cd / && "${ITSM_PG_SUPER[@]}" -X -w -q -v ON_ERROR_STOP=1 -d postgres "$@"); }

pg_super_try() {
    ITSM_PG_SUPER=("$@")
    local ok
    ok=$(pg_super -tA -c 'SELECT rolsuper OR (rolcreaterole AND rolcreatedb) FROM pg_roles WHERE rolname = current_user' 2>/dev/null) || return 1
    [[ $ok == t ]]
}

itsm_find_pg_superuser() {
    if pg_super_try psql -h "$ITSM_PG_HOST" -p "$ITSM_PG_PORT" -U postgres; then
        note "PostgreSQL admin access: psql -U postgres over TCP"
        return 0
    fi
    if is_local_host "$ITSM_PG_HOST" && id postgres >/dev/null 2>&1; then
        if is_root && have runuser && pg_super_try runuser -u postgres -- psql -p "$ITSM_PG_PORT"; then
            note "PostgreSQL admin access: runuser -u postgres (local socket)"
            return 0
        fi
        if ! is_root && have sudo && pg_super_try sudo -u postgres psql -p "$ITSM_PG_PORT"; then
            note "PostgreSQL admin access: sudo -u postgres (local socket)"
            return 0
        fi
    fi
    if pg_super_try psql -h "$ITSM_PG_HOST" -p "$ITSM_PG_PORT"; then
        note "PostgreSQL admin access: psql as ${PGUSER:-$(id -un)}"
        return 0
    fi
    die "found no PostgreSQL role on $ITSM_PG_HOST:$ITSM_PG_PORT that may create roles and databases." \
        "Tried: psql -U postgres (TCP), runuser/sudo -u postgres psql (local socket), psql as $(id -un)." \
        "Set PGUSER/PGPASSWORD to a superuser of that server and run this again."
}

# ---------------------------------------------------------------------------------------------
# Configuration file

ITSM_CONFIG_CREATED=0

# The secrets of this machine's installation are kept once per user, so that every checkout on
# the machine (a second clone, CI's fresh clone) uses the same roles, passwords, database and
# master key instead of resetting the passwords and locking the others out.
ITSM_USER_CONFIG_FILE="${XDG_CONFIG_HOME:-$HOME/.config}/itsm/itsm.toml"

itsm_write_config_if_missing() {
    if [[ -f $ITSM_CONFIG_FILE ]]; then
        chmod 600 "$ITSM_CONFIG_FILE"
        log "Using existing configuration $ITSM_CONFIG_FILE"
        return 0
    fi
    if [[ -f $ITSM_USER_CONFIG_FILE && -z ${ITSM_CONFIG:-} ]]; then
        log "Copying this machine's configuration $ITSM_USER_CONFIG_FILE to $ITSM_CONFIG_FILE"
        install -m 600 "$ITSM_USER_CONFIG_FILE" "$ITSM_CONFIG_FILE"
        return 0
    fi
    log "Writing configuration $ITSM_CONFIG_FILE (new random passwords and master key)"
    local app_pw owner_pw key tmp
    app_pw=$(random_hex 24)
    owner_pw=$(random_hex 24)
    key=$(random_key_b64)
    mkdir -p "$(dirname "$ITSM_CONFIG_FILE")"
    tmp=$(mktemp "$ITSM_CONFIG_FILE.XXXXXX")
    chmod 600 "$tmp"
    cat >"$tmp" <<EOF
# generated by deploy/quickstart.sh — contains secrets, never commit
[server]
listen = "127.0.0.1:8080"

[database]
url = "postgres://itsm_app:$app_pw@$ITSM_PG_HOST:$ITSM_PG_PORT/itsm"
owner_url = "postgres://itsm:$owner_pw@$ITSM_PG_HOST:$ITSM_PG_PORT/itsm"

[nats]
url = "nats://$ITSM_NATS_HOST:$ITSM_NATS_PORT"

[crypto]
master_key = "$key"
EOF
    mv -f "$tmp" "$ITSM_CONFIG_FILE"
    ITSM_CONFIG_CREATED=1
    if [[ -z ${ITSM_CONFIG:-} ]] && mkdir -p "$(dirname "$ITSM_USER_CONFIG_FILE")" 2>/dev/null; then
        install -m 600 "$ITSM_CONFIG_FILE" "$ITSM_USER_CONFIG_FILE" && note "kept a copy in $ITSM_USER_CONFIG_FILE for other checkouts"
    fi
}

# Reads both database URLs back from the config file: sets ITSM_{OWNER,APP}_{USER,PW}, ITSM_DB.
itsm_read_db_config() {
    local url app_db
    url=$(toml_get "$ITSM_CONFIG_FILE" database owner_url)
    parse_pg_url "$url" ||
        die "cannot read database.owner_url from $ITSM_CONFIG_FILE." \
            "Expected: owner_url = \"postgres://USER:PASSWORD@HOST:PORT/DATABASE\" (or delete the file to regenerate it)."
    ITSM_OWNER_USER=$URL_USER
    ITSM_OWNER_PW=$URL_PW
    ITSM_DB=$URL_DB
    url=$(toml_get "$ITSM_CONFIG_FILE" database url)
    parse_pg_url "$url" ||
        die "cannot read database.url from $ITSM_CONFIG_FILE." \
            "Expected: url = \"postgres://USER:PASSWORD@HOST:PORT/DATABASE\" (or delete the file to regenerate it)."
    ITSM_APP_USER=$URL_USER
    ITSM_APP_PW=$URL_PW
    app_db=$URL_DB
    [[ $app_db == "$ITSM_DB" ]] ||
        die "database.url and database.owner_url in $ITSM_CONFIG_FILE name different databases ($app_db, $ITSM_DB)."
    [[ $ITSM_APP_USER != "$ITSM_OWNER_USER" ]] ||
        die "database.url and database.owner_url in $ITSM_CONFIG_FILE must use different roles."
    [[ -n $ITSM_OWNER_PW && -n $ITSM_APP_PW ]] ||
        die "the database URLs in $ITSM_CONFIG_FILE carry no password."
}

# ---------------------------------------------------------------------------------------------
# Roles and database

# Quotes a value for psql's \set '...'.
psql_quote() {
    local v=${1//\\/\\\\}
    printf "'%s'" "${v//\'/\\\'}"
}

itsm_ensure_roles_and_db() {
    itsm_find_pg_superuser
    local version_num db_existed
    version_num=$(pg_super -tA -c 'SHOW server_version_num')
    ((version_num >= ITSM_PG_MIN_VERSION_NUM)) ||
        die "PostgreSQL on $ITSM_PG_HOST:$ITSM_PG_PORT is version $version_num; itsm needs 13 or newer."

    db_existed=$(pg_super -tA -v db="$ITSM_DB" <<'SQL'
SELECT count(*) FROM pg_database WHERE datname = :'db';
SQL
)
    log "Ensuring roles $ITSM_OWNER_USER (owner), $ITSM_APP_USER (application) and database $ITSM_DB"
    # Passwords travel on stdin (never on a command line, never printed). The password of an
    # existing role is reset to the one in the config file, so both always match.
    pg_super <<SQL
SET client_min_messages TO warning;
\\set owner_role $(psql_quote "$ITSM_OWNER_USER")
\\set owner_pw $(psql_quote "$ITSM_OWNER_PW")
\\set app_role $(psql_quote "$ITSM_APP_USER")
\\set app_pw $(psql_quote "$ITSM_APP_PW")
\\set db $(psql_quote "$ITSM_DB")
SELECT format('CREATE ROLE %I', :'owner_role')
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'owner_role') \\gexec
ALTER ROLE :"owner_role" WITH LOGIN CREATEDB NOSUPERUSER NOCREATEROLE PASSWORD :'owner_pw';
SELECT format('CREATE ROLE %I', :'app_role')
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'app_role') \\gexec
ALTER ROLE :"app_role" WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS PASSWORD :'app_pw';
-- Reporting jobs and BI tools read the reporting views through this role (NOLOGIN: grant it to
-- a login role of your reporting tool; see schemas/README.md).
SELECT 'CREATE ROLE itsm_reporting NOLOGIN'
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'itsm_reporting') \\gexec
SELECT format('CREATE DATABASE %I OWNER %I', :'db', :'owner_role')
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'db') \\gexec
ALTER DATABASE :"db" OWNER TO :"owner_role";
GRANT CONNECT, TEMPORARY ON DATABASE :"db" TO :"app_role";
GRANT CONNECT ON DATABASE :"db" TO itsm_reporting;
-- The owner administers the reporting role (grants it to the login roles of reporting tools).
GRANT itsm_reporting TO :"owner_role" WITH ADMIN OPTION;
-- The owner may end the application role's sessions (DROP DATABASE … WITH (FORCE) of the
-- tests' databases); it gains no right on events it does not have already as their owner.
GRANT :"app_role" TO :"owner_role";
SQL

    if [[ $ITSM_CONFIG_CREATED -eq 1 && $db_existed != 0 ]]; then
        warn "database $ITSM_DB already existed, but $ITSM_CONFIG_FILE was just generated with a new master key." \
            "Personal data encrypted under the old key cannot be decrypted. For a clean start see deploy/README.md (Reset)."
    fi

    # Prove that both roles can log in over TCP with the passwords from the config file.
    local who pw err
    for who in owner app; do
        if [[ $who == owner ]]; then
            set -- "$ITSM_OWNER_USER" "$ITSM_OWNER_PW"
        else
            set -- "$ITSM_APP_USER" "$ITSM_APP_PW"
        fi
        pw=$2
        if ! err=$(PGPASSWORD=$pw PGCONNECT_TIMEOUT=5 psql -X -w -q -tA -h "$ITSM_PG_HOST" -p "$ITSM_PG_PORT" \
            -U "$1" -d "$ITSM_DB" -c 'SELECT 1' 2>&1 >/dev/null); then
            die "role $1 cannot log in to $ITSM_DB on $ITSM_PG_HOST:$ITSM_PG_PORT with the password from $ITSM_CONFIG_FILE:" \
                "$err" \
                "Check pg_hba.conf: it needs a 'host $ITSM_DB all 127.0.0.1/32 scram-sha-256' (or md5) line."
        fi
    done
    note "roles $ITSM_OWNER_USER and $ITSM_APP_USER log in to $ITSM_DB"
}

# ---------------------------------------------------------------------------------------------
# NATS

# nats_wait_js PID PIDFILE SECONDS: waits until our server answers with JetStream; fails early
# when it has died (e.g. the port was taken in the meantime).
nats_wait_js() {
    local deadline=$((SECONDS + $3)) pid
    until [[ $(nats_probe "$ITSM_NATS_HOST" "$ITSM_NATS_PORT") == js ]]; do
        ((SECONDS < deadline)) || return 1
        pid=$1
        [[ -f $2 ]] && pid=$(cat "$2")
        kill -0 "$pid" 2>/dev/null || return 1
        sleep 0.5
    done
}

itsm_start_nats() {
    have nats-server || apt_install nats-server
    local pidfile="$ITSM_STATE/nats.pid" logfile="$ITSM_STATE/nats.log" pid
    mkdir -p "$ITSM_STATE/nats"
    if [[ -f $pidfile ]]; then
        pid=$(cat "$pidfile")
        if [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null &&
            [[ $(cat "/proc/$pid/comm" 2>/dev/null) == nats-server ]]; then
            die "our nats-server (pid $pid) runs but does not answer on $ITSM_NATS_HOST:$ITSM_NATS_PORT." \
                "See $logfile; stop it with: kill $pid"
        fi
        rm -f "$pidfile"
    fi
    log "Starting nats-server with JetStream on 127.0.0.1:$ITSM_NATS_PORT (data in .itsm/nats, log in .itsm/nats.log)"
    setsid nohup nats-server -a 127.0.0.1 -p "$ITSM_NATS_PORT" -js -sd "$ITSM_STATE/nats" \
        -l "$logfile" -P "$pidfile" </dev/null >>"$ITSM_STATE/nats.out" 2>&1 &
    pid=$!
    if ! nats_wait_js "$pid" "$pidfile" "$ITSM_NATS_WAIT_S"; then
        tail -n 20 "$logfile" "$ITSM_STATE/nats.out" >&2 2>/dev/null || true
        die "nats-server did not come up on 127.0.0.1:$ITSM_NATS_PORT within ${ITSM_NATS_WAIT_S}s (see $logfile)."
    fi
    [[ -f $pidfile ]] && pid=$(cat "$pidfile")
    log "nats-server runs (pid $pid); stop it with: kill \$(cat .itsm/nats.pid)"
}

itsm_ensure_nats() {
    local state port
    state=$(nats_probe "$ITSM_NATS_HOST" "$ITSM_NATS_PORT")
    case $state in
        js)
            log "NATS with JetStream accepts connections on $ITSM_NATS_HOST:$ITSM_NATS_PORT — reusing it"
            return 0
            ;;
        none)
            is_local_host "$ITSM_NATS_HOST" ||
                die "nothing accepts connections on NATS $ITSM_NATS_HOST:$ITSM_NATS_PORT, and it is not local."
            itsm_start_nats
            return 0
            ;;
    esac
    local what="a NATS server without JetStream"
    [[ $state == other ]] && what="something that is not NATS"
    if [[ $ITSM_NATS_PORT_AUTO -eq 1 ]]; then
        # Typical after installing Debian's nats-server under systemd: its service listens on 4222
        # without JetStream. Leave it alone and run our own on the next free port.
        for port in $(seq $((ITSM_NATS_PORT + 1)) $((ITSM_NATS_PORT + 50))); do
            if [[ $(nats_probe "$ITSM_NATS_HOST" "$port") == none ]]; then
                log "Port $ITSM_NATS_PORT is taken by $what; using port $port for our own nats-server"
                ITSM_NATS_PORT=$port
                itsm_start_nats
                return 0
            fi
        done
        die "port $ITSM_NATS_PORT is taken by $what and no free port follows it; set ITSM_NATS_PORT."
    fi
    die "$ITSM_NATS_HOST:$ITSM_NATS_PORT is taken by $what; itsm needs NATS with JetStream." \
        "Enable JetStream there (nats-server -js, or 'jetstream {}' in its config), or point nats.url in" \
        "$ITSM_CONFIG_FILE (ITSM_NATS_PORT before it exists) to a free port so this script starts its own."
}

# ---------------------------------------------------------------------------------------------
# Everything

# The browser tests (tests/ui, issue 7) need Debian's Chromium, Node.js with npm, and the npm
# packages of tests/ui/package-lock.json (playwright-core drives the installed Chromium; it never
# downloads a browser). Installs what is missing; `npm ci` only when the lock file changed.
itsm_ensure_browser_tests() {
    local missing=()
    [[ -x ${CHROMIUM:-/usr/bin/chromium} ]] || missing+=(chromium)
    have node || missing+=(nodejs)
    have npm || missing+=(npm)
    [[ ${#missing[@]} -eq 0 ]] || apt_install "${missing[@]}"
    local dir="$ITSM_REPO/tests/ui" stamp="$ITSM_REPO/tests/ui/node_modules/.package-lock.json"
    if [[ ! -f $stamp || $dir/package-lock.json -nt $stamp ]]; then
        log "Installing the browser tests' npm packages (npm ci in tests/ui)"
        (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
    fi
}

# itsm_setup [--build-tools]: --build-tools also installs a C linker for cargo if missing.
itsm_setup() {
    ITSM_NEED_CC=0
    [[ ${1:-} == --build-tools ]] && ITSM_NEED_CC=1
    if ! locale_ok; then
        # e.g. LANG=en_US.UTF-8 in a minimal container without that locale: apt, the Debian
        # PostgreSQL tools and initdb refuse or complain, so use the locale that always exists.
        note "locale ${LC_ALL:-${LANG:-}} is not installed here; using C.UTF-8"
        export LC_ALL=C.UTF-8
    fi
    mkdir -p "$ITSM_STATE"
    # One setup at a time per checkout (e.g. two test runs started together).
    exec 9>"$ITSM_STATE/setup.lock"
    if have flock && ! flock -n 9; then
        log "Another setup runs in this checkout; waiting for it"
        flock 9
    fi

    itsm_resolve_settings
    itsm_install_packages
    itsm_ensure_postgres
    itsm_ensure_nats
    itsm_write_config_if_missing
    itsm_read_db_config
    itsm_ensure_roles_and_db

    have flock && flock -u 9
    exec 9>&-
    log "Setup done: PostgreSQL $ITSM_PG_HOST:$ITSM_PG_PORT, NATS $ITSM_NATS_HOST:$ITSM_NATS_PORT, config $ITSM_CONFIG_FILE"
}
