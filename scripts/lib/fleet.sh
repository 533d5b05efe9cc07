# Shared by scripts/load.sh and scripts/soak.sh: a fleet of N targets on loopback — one nginx
# TLS server (Debian package nginx-light) behind N target names — and the release exporter
# probing them. Everything lives in a temporary directory and stops when the script exits.
#
#   fleet_start N INTERVAL    # sets FLEET_DIR, EXPORTER_PID, EXPORTER_URL
#   metric NAME               # the value of an unlabelled sample (or a labelled one, quoted)
#   rss_kib PID               # resident set size now

set -euo pipefail

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

fleet_stop() {
  [[ -n "${EXPORTER_PID:-}" ]] && kill "$EXPORTER_PID" 2>/dev/null && wait "$EXPORTER_PID" 2>/dev/null || true
  [[ -n "${FLEET_DIR:-}" && -f "$FLEET_DIR/nginx.pid" ]] && kill "$(cat "$FLEET_DIR/nginx.pid")" 2>/dev/null || true
  [[ -n "${FLEET_DIR:-}" ]] && rm -rf "$FLEET_DIR"
}

fleet_start() {
  local count=$1 interval=$2
  for tool in nginx openssl curl; do
    command -v "$tool" >/dev/null || { echo "missing $tool: apt-get install nginx-light openssl curl" >&2; exit 1; }
  done
  FLEET_DIR=$(mktemp -d)
  trap fleet_stop EXIT
  local d=$FLEET_DIR
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30 \
    -subj "/CN=Fleet CA" -addext "basicConstraints=critical,CA:TRUE" \
    -keyout "$d/ca.key" -out "$d/ca.pem" 2>/dev/null
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=fleet.test" \
    -keyout "$d/leaf.key" -out "$d/leaf.csr" 2>/dev/null
  printf 'subjectAltName=DNS:fleet.test\nextendedKeyUsage=serverAuth\n' >"$d/ext"
  openssl x509 -req -in "$d/leaf.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial \
    -days 30 -extfile "$d/ext" -out "$d/leaf.pem" 2>/dev/null
  local tls_port; tls_port=$(free_port)
  mkdir -p "$d/nginx-tmp"
  cat >"$d/nginx.conf" <<CONF
worker_processes 1;
pid $d/nginx.pid;
error_log $d/nginx-error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $d/nginx-tmp;
  proxy_temp_path $d/nginx-tmp;
  fastcgi_temp_path $d/nginx-tmp;
  uwsgi_temp_path $d/nginx-tmp;
  scgi_temp_path $d/nginx-tmp;
  server {
    listen 127.0.0.1:$tls_port ssl;
    ssl_certificate $d/leaf.pem;
    ssl_certificate_key $d/leaf.key;
    return 200 "ok\n";
  }
}
CONF
  nginx -c "$d/nginx.conf" -e "$d/nginx-error.log"
  {
    printf 'defaults:\n  interval: %s\n  timeout: 5s\n  ca_file: %s/ca.pem\n  revocation: {ocsp: false, crl: false}\ntargets:\n' "$interval" "$d"
    for ((i = 0; i < count; i++)); do
      printf '  - name: t%d\n    address: 127.0.0.1:%d\n    server_name: fleet.test\n' "$i" "$tls_port"
    done
  } >"$d/config.yaml"
  local web_port; web_port=$(free_port)
  EXPORTER_URL="http://127.0.0.1:$web_port"
  "$BINARY" --config.file "$d/config.yaml" --web.listen-address "127.0.0.1:$web_port" \
    --log.level warn 2>"$d/exporter.log" &
  EXPORTER_PID=$!
  for _ in $(seq 1 600); do
    curl -fs "$EXPORTER_URL/-/ready" >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  echo "the exporter did not become ready; its log:" >&2
  tail -20 "$d/exporter.log" >&2
  exit 1
}

# The value of the first sample whose line starts with NAME (labels included, if given).
metric() {
  curl -fs "$EXPORTER_URL/metrics" | awk -v name="$1" '!found && index($0, name) == 1 { print $NF; found = 1 }'
}

rss_kib() {
  awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"
}
