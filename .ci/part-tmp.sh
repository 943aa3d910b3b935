#!/usr/bin/env bash
# CI entry point: `bash .ci/run` (CI=true, as root, fresh clone, Debian bookworm).
# Ensures PostgreSQL (with pgvector) and Redis are up, then installs, builds,
# lints, checks the supergraph composition and runs the test suite against a
# fresh PostgreSQL database that is dropped again on exit.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

export DEBIAN_FRONTEND=noninteractive
PGHOST_ADDR=127.0.0.1
PGPORT_NUM=5432
PSQL=(psql -h "$PGHOST_ADDR" -p "$PGPORT_NUM" -U postgres -v ON_ERROR_STOP=1 -X -q)

T0=$SECONDS
TEST_DB=""
TMP_DIRS=()

cleanup() {
  local rc=$?
  if [[ -n "$TEST_DB" ]]; then
    "${PSQL[@]}" -d postgres -c "DROP DATABASE IF EXISTS \"$TEST_DB\" WITH (FORCE)" >/dev/null 2>&1 || true
  fi
  for d in "${TMP_DIRS[@]+"${TMP_DIRS[@]}"}"; do rm -rf "$d"; done
  echo "== done: exit $rc after $((SECONDS - T0))s total =="
  exit "$rc"
}
trap cleanup EXIT

# step NAME CMD...: section header, run, elapsed seconds.
step() {
  local name=$1; shift
  local s=$SECONDS
  echo
  echo "== $name =="
  "$@"
  echo "-- $name: $((SECONDS - s))s"
}

# retry N CMD...: for network operations (apt mirrors, npm registry).
retry() {
  local n=$1; shift
  local i
  for ((i = 1; i <= n; i++)); do
    if "$@"; then return 0; fi
    [[ $i -lt $n ]] && { echo "  (attempt $i failed, retrying in $((i * 5))s)"; sleep $((i * 5)); }
  done
  return 1
}

wait_for() { # wait_for SECONDS CMD...
  local t=$1; shift
  local i
  for ((i = 0; i < t * 2; i++)); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.5
  done
  "$@"
}

# ---------------------------------------------------------------- services --
ensure_services() {
  if pg_isready -h "$PGHOST_ADDR" -p "$PGPORT_NUM" >/dev/null 2>&1; then
    echo "postgres: already running"
  else
    local ver
    ver=$(ls /etc/postgresql | sort -V | tail -n1)
    echo "postgres: starting cluster $ver/main"
    pg_ctlcluster --skip-systemctl-redirect "$ver" main start
    wait_for 30 pg_isready -h "$PGHOST_ADDR" -p "$PGPORT_NUM"
  fi
  pg_isready -h "$PGHOST_ADDR" -p "$PGPORT_NUM"

  if [[ "$(redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null || true)" == PONG ]]; then
    echo "redis: already running"
  else
    echo "redis: starting"
    mkdir -p /var/lib/redis /var/log/redis
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" \
      --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log
    wait_for 30 redis-cli -h 127.0.0.1 -p 6379 ping
  fi
  echo "redis: $(redis-cli -h 127.0.0.1 -p 6379 ping)"
}

# ---------------------------------------------------------------- pgvector --
vector_available() {
  [[ -n "$("${PSQL[@]}" -d postgres -Atc "SELECT 1 FROM pg_available_extensions WHERE name='vector'")" ]]
}

# Debian bookworm ships no postgresql-15-pgvector, so build Debian's own
# pgvector source package (from trixie) against postgresql-server-dev-N.
# The trixie deb-src entry lives only in a throw-away apt configuration
# (private sources list, private lists dir, no binary caches): the system's
# apt sources, lists and pinning are never touched, so nothing from trixie
# can ever be installed as a binary.
install_pgvector() {
  local major pg_config work
  major=$("${PSQL[@]}" -d postgres -Atc "SELECT current_setting('server_version_num')::int / 10000")
  pg_config=/usr/lib/postgresql/$major/bin/pg_config
  echo "server major version: $major"

  if [[ ! -f /usr/include/postgresql/$major/server/postgres.h ]] \
     || ! command -v make >/dev/null || ! command -v gcc >/dev/null \
     || ! command -v dpkg-source >/dev/null || [[ ! -x $pg_config ]]; then
    retry 3 apt-get -q update
    retry 3 apt-get -q install -y --no-install-recommends \
      "postgresql-server-dev-$major" build-essential dpkg-dev
  fi

  work=$(mktemp -d /tmp/nexus-pgvector.XXXXXX)
  TMP_DIRS+=("$work")
  chmod 755 "$work"
  mkdir -p "$work/apt/lists/partial" "$work/apt/sources.list.d" "$work/src"
  echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie main" \
    > "$work/apt/sources.list"
  local aptopts=(
    -o "Dir::Etc::SourceList=$work/apt/sources.list"
    -o "Dir::Etc::SourceParts=$work/apt/sources.list.d"
    -o "Dir::State::Lists=$work/apt/lists"
    -o "Dir::Cache::pkgcache="
    -o "Dir::Cache::srcpkgcache="
  )
  retry 3 apt-get -q "${aptopts[@]}" update
  chown _apt "$work/src" 2>/dev/null || true
  # apt-get source downloads into the current directory and unpacks with
  # dpkg-source (applying Debian's patches, e.g. dropping -march=native).
  (cd "$work/src" && retry 3 apt-get -q "${aptopts[@]}" source pgvector)
  local srcdir
  srcdir=$(find "$work/src" -mindepth 1 -maxdepth 1 -type d -name 'pgvector-*' | head -n1)
  [[ -n "$srcdir" ]] || { echo "pgvector source not unpacked" >&2; return 1; }
  echo "building $(basename "$srcdir") against $($pg_config --version)"
  make -C "$srcdir" -j"$(nproc)" PG_CONFIG="$pg_config" OPTFLAGS="" >"$work/build.log" 2>&1 \
    || { tail -n 50 "$work/build.log"; return 1; }
  make -C "$srcdir" PG_CONFIG="$pg_config" OPTFLAGS="" install >>"$work/build.log" 2>&1 \
    || { tail -n 50 "$work/build.log"; return 1; }
}

ensure_pgvector() {
  if vector_available; then
    echo "pgvector: already available"
  else
    echo "pgvector: not available, building from Debian source"
    install_pgvector
    vector_available || { echo "pgvector still not available after install" >&2; return 1; }
  fi
  # Sanity check in a scratch database.
  local scratch="nexus_ci_vec_$$"
  "${PSQL[@]}" -d postgres -c "DROP DATABASE IF EXISTS \"$scratch\"" -c "CREATE DATABASE \"$scratch\""
  local ok=0
  "${PSQL[@]}" -d "$scratch" -Atc "CREATE EXTENSION vector" \
    -c "SELECT 'pgvector ' || extversion || ': ' || ('[1,2,3]'::vector <-> '[1,2,4]'::vector) FROM pg_extension WHERE extname='vector'" \
    || ok=$?
  "${PSQL[@]}" -d postgres -c "DROP DATABASE IF EXISTS \"$scratch\" WITH (FORCE)"
  return "$ok"
}

# ------------------------------------------------------------------- tests --
run_tests() {
  TEST_DB="nexus_ci_$$"
  "${PSQL[@]}" -d postgres -c "DROP DATABASE IF EXISTS \"$TEST_DB\"" -c "CREATE DATABASE \"$TEST_DB\""
  export DATABASE_URL="postgres://postgres@$PGHOST_ADDR:$PGPORT_NUM/$TEST_DB"
  export REDIS_URL="redis://127.0.0.1:6379"
  echo "DATABASE_URL=$DATABASE_URL"
  echo "REDIS_URL=$REDIS_URL"
  npm test
}

step "services" ensure_services
step "pgvector" ensure_pgvector
