#!/usr/bin/env bash
# Start a single-node EventStoreDB for the esdb adapter's tests and for
# trying `recalld --store esdb`: insecure (no TLS, no auth), in memory
# (nothing survives the container), on 127.0.0.1:${ESDB_PORT:-2113}.
# Needs docker or podman; these project machines have neither, so the
# suite skips there and says so.
#
#   scripts/esdb-start.sh            # start (or reuse) the container
#   scripts/esdb-start.sh stop       # remove it
#
# Then: RECALL_ESDB_URL='esdb://127.0.0.1:2113?tls=false' make test
set -euo pipefail

image=${ESDB_IMAGE:-eventstore/eventstore:24.10}
port=${ESDB_PORT:-2113}
name=${ESDB_NAME:-recall-esdb}

engine=""
for e in docker podman; do
	# a client without a running engine (docker --version answers, docker
	# info does not) is no engine
	if command -v "$e" >/dev/null 2>&1 && "$e" info >/dev/null 2>&1; then engine=$e; break; fi
done
if [[ -z $engine ]]; then
	echo "esdb-start: no running container engine (docker or podman) on this machine; EventStoreDB cannot be started here" >&2
	exit 2
fi

if [[ ${1:-} == stop ]]; then
	"$engine" rm -f "$name" >/dev/null
	echo "esdb-start: removed $name"
	exit 0
fi

if ! "$engine" inspect "$name" >/dev/null 2>&1; then
	"$engine" run -d --name "$name" -p "127.0.0.1:$port:2113" \
		-e EVENTSTORE_INSECURE=true -e EVENTSTORE_MEM_DB=true \
		-e EVENTSTORE_RUN_PROJECTIONS=None -e EVENTSTORE_START_STANDARD_PROJECTIONS=false \
		"$image" >/dev/null
fi

# the node answers /health/live once it accepts requests
for _ in $(seq 1 60); do
	if curl -fsS "http://127.0.0.1:$port/health/live" >/dev/null 2>&1; then
		echo "esdb-start: EventStoreDB is up"
		echo "export RECALL_ESDB_URL='esdb://127.0.0.1:$port?tls=false'"
		exit 0
	fi
	sleep 1
done
echo "esdb-start: EventStoreDB did not answer on port $port within 60 s; see: $engine logs $name" >&2
exit 1
