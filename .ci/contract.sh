#!/usr/bin/env bash
# The API contract: schemathesis against a node it starts (SQLite, loopback),
# driven by the node's own /api/v1/openapi.json, three times: the console
# operations with an admin session, the product operations with a product's
# key, the public ones with nothing. Checks: no 5xx, every status
# documented, every content type and body as documented.
#   .ci/contract.sh            (VIGIL_BIN: the vigil binary; default target/debug/vigil)
# Installs schemathesis into .ci/venv when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
ST_VERSION=4.32.5
ST=.ci/venv/bin/st
if ! [ -x "$ST" ] || ! "$ST" --version 2>/dev/null | grep -q "$ST_VERSION"; then
  python3 -m venv .ci/venv
  .ci/venv/bin/pip install --quiet --disable-pip-version-check "schemathesis==$ST_VERSION"
fi
bin=${VIGIL_BIN:-target/debug/vigil}
work=$(mktemp -d) port=$((20000 + RANDOM % 20000))
base="http://127.0.0.1:$port"
password=contract-admin-password secret=contract-enrollment-secret-0123456789
cleanup() {
  [ -n "${pid:-}" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
VIGIL_LOG=warn VIGIL_DATA_DIR=$work VIGIL_LISTEN=127.0.0.1:$port VIGIL_UDP_LISTEN=127.0.0.1:0 \
  VIGIL_NODE_NAME=contract VIGIL_ADMIN_PASSWORD=$password VIGIL_ENROLLMENT_SECRET=$secret \
  "$bin" serve >"$work/node.log" 2>&1 &
pid=$!
for _ in $(seq 100); do curl -fs "$base/healthz" >/dev/null && break; sleep 0.1; done
cookie=$(curl -fs -D - -o /dev/null -H 'content-type: application/json' \
  -d "{\"username\":\"admin\",\"password\":\"$password\"}" "$base/api/v1/auth/login" \
  | sed -n 's/^[Ss]et-[Cc]ookie: \(vigil_session=[^;]*\).*/\1/p')
product=$(curl -fs -H 'content-type: application/json' \
  -d "{\"enrollment_secret\":\"$secret\",\"uuid\":\"7d9f3c1e-4a2b-4c8d-9e0f-1a2b3c4d5e6f\",\"name\":\"contract\",\"product_type\":\"test\",\"version\":\"1\"}" \
  "$base/api/v1/products/register")
field() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$product" "$1"; }
key=$(field key)
# The product's own id in the product operations' paths, so they reach
# their logic instead of answering 404.
printf '[parameters]\n"path.id" = "%s"\n' "$(field product_id)" >"$work/product.toml"

run() {
  local config=()
  if [ "$1" = --config-file ]; then config=(--config-file "$2"); shift 2; fi
  "$ST" "${config[@]}" run "$base/api/v1/openapi.json" \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
    --phases examples,coverage,fuzzing --max-examples "${CONTRACT_EXAMPLES:-40}" --seed 7 --no-shrink \
    --workers 2 --request-timeout 10 --generation-with-security-parameters false \
    --exclude-path-regex '/auth/(login|logout|handoff)$|/enrollment/rotate$' \
    --suppress-health-check all --generation-database none --no-color "$@"
}
# Objects for the console operations' paths, made through the API (the
# admin session, from this origin).
api() { curl -fs -H 'content-type: application/json' -H "Cookie: $cookie" -H "Origin: $base" "$@"; }
id_of() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])["id"])' "$1"; }
folder=$(id_of "$(api -d '{"name":"Contract folder"}' "$base/api/v1/content/folders")")
item=$(id_of "$(api -d '{"name":"Offline","definition":"products where status = offline"}' "$base/api/v1/content")")
alert=$(id_of "$(api -d '{"kind":"alert","name":"Offline alert","definition":"products where status = offline","alert":{"condition":"rows > 0","period":"60s"}}' "$base/api/v1/content")")
command=$(id_of "$(api -d "{\"product_id\":\"$(field product_id)\",\"kind\":\"ping\"}" "$base/api/v1/commands")")
api -d '{"username":"contract-user","password":"contract-user-password","role":"viewer"}' "$base/api/v1/users" >/dev/null
token=$(id_of "$(api -d '{"name":"contract token"}' "$base/api/v1/tokens")")
cat >"$work/console.toml" <<TOML
[[operations]]
include-path-regex = '^/api/v1/products/\{id\}'
parameters = { "path.id" = "$(field product_id)" }
[[operations]]
include-path-regex = '^/api/v1/content/\{id\}(?!/nodes)'
parameters = { "path.id" = "$item" }
[[operations]]
include-path-regex = '^/api/v1/content/\{id\}/nodes/'
parameters = { "path.id" = "$alert", "path.node" = "contract" }
[[operations]]
include-path-regex = '^/api/v1/content/folders/'
parameters = { "path.id" = "$folder" }
[[operations]]
include-path-regex = '^/api/v1/alerts/'
parameters = { "path.id" = "$alert" }
[[operations]]
include-path-regex = '^/api/v1/commands/'
parameters = { "path.id" = "$command" }
[[operations]]
include-path-regex = '^/api/v1/users/'
parameters = { "path.name" = "contract-user" }
[[operations]]
include-path-regex = '^/api/v1/tokens/'
parameters = { "path.id" = "$token" }
[[operations]]
include-path-regex = '^/api/v1/(nodes|centralization)/'
parameters = { "path.name" = "contract", "path.node" = "contract" }
TOML

status=0
echo "== product operations, a product's key"
run --config-file "$work/product.toml" --include-tag product -H "Authorization: Bearer $key" || status=1
echo "== public operations, no credentials"
run --include-tag public || status=1
# Last: some console operations change what the others rely on.
echo "== console operations, admin session"
run --config-file "$work/console.toml" --include-tag console -H "Cookie: $cookie" || status=1
if [ "$status" != 0 ]; then
  echo "the node's log:"; tail -20 "$work/node.log"
fi
exit $status
