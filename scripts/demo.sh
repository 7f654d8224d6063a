#!/usr/bin/env bash
# make demo: start netmaster on its embedded SQLite store and walk through a
# tenant, a network, a group and a policy with netctl. With a terminal it then
# keeps netmaster running for you to explore until Ctrl-C; without one it stops.
set -euo pipefail
cd "$(dirname "$0")/.."

PORT=${DEMO_PORT:-9999}
if (exec 3<>/dev/tcp/127.0.0.1/"$PORT") 2>/dev/null; then
  PORT=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
fi
STATE_DIR=$(mktemp -d /tmp/netplugin-demo.XXXXXX)
export NETMASTER="http://127.0.0.1:$PORT"

bin/netmaster --listen-url "127.0.0.1:$PORT" --store "sqlite://$STATE_DIR/netmaster.db" 2>"$STATE_DIR/netmaster.log" &
NM_PID=$!
cleanup() {
  kill "$NM_PID" 2>/dev/null && wait "$NM_PID" 2>/dev/null || true
  rm -rf "$STATE_DIR"
  echo "demo stopped; netmaster (pid $NM_PID) is gone and its state removed"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

for _ in $(seq 1 100); do
  curl -fs "$NETMASTER/api/v1/globals/global/" >/dev/null 2>&1 && break
  sleep 0.1
done

step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }

echo "netmaster is running at $NETMASTER (pid $NM_PID), state in $STATE_DIR/netmaster.db"
step bin/netctl version
step bin/netctl tenant create blue
step bin/netctl net create -t blue -s 10.1.1.0/24 -g 10.1.1.254 -s6 fd00:1::/64 web-net
step bin/netctl net create -t blue -e vlan -s 10.1.2.0/24 -g 10.1.2.254 db-net
step bin/netctl net ls -t blue
step bin/netctl netprofile create -t blue -b 10Mbps -d 10 -s 100 slow
step bin/netctl policy create -t blue web-policy
step bin/netctl policy rule-add -t blue -d in -l tcp -j deny -p 1 web-policy 1
step bin/netctl policy rule-add -t blue -d in -l tcp -P 80 -j allow -p 100 web-policy 2
step bin/netctl policy rule-ls -t blue web-policy
step bin/netctl group create -t blue -p web-policy -n slow -r 10.1.1.10-10.1.1.50 web-net web
step bin/netctl group ls -t blue

printf '\n\033[1m# a host agent attaches two containers to group "web" (what netplugin will do through the API):\033[0m\n'
for c in web-1 web-2; do
  curl -fs -X POST "$NETMASTER/api/v1/agent/endpoints/" -H 'content-type: application/json' \
    -d "{\"tenantName\":\"blue\",\"groupName\":\"web\",\"containerID\":\"$c\",\"containerName\":\"$c\",\"host\":\"demo-host\"}" |
    node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const e=JSON.parse(s).endpoint;console.log(`${e.containerName}: ${e.ipAddress} ${e.ipv6Address} ${e.macAddress}`)})'
done
step bin/netctl group inspect -t blue web
step bin/netctl net inspect -t blue web-net

printf '\n\033[1m# bad input is refused and changes nothing:\033[0m\n'
step bin/netctl net create -t blue -s 10.1.1.128/25 overlap || true
step bin/netctl tenant rm blue || true
step bin/netctl global info

echo
if [ -t 0 ]; then
  echo "netmaster keeps running: try 'NETMASTER=$NETMASTER bin/netctl net ls -a' in another terminal. Ctrl-C stops it."
  wait "$NM_PID"
else
  echo "no terminal: stopping now (run 'make demo' in a terminal to keep netmaster running)"
fi
