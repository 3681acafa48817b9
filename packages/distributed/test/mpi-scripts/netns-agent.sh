#!/bin/sh
# SPDX-License-Identifier: MIT
# mpirun's launcher agent (--mca plm_rsh_agent) for the two-hosts test: where ssh would log in
# to HOST and run the daemon command, this runs it inside the network namespace that owns
# HOST's address. HEED_NETNS_HOSTS maps addresses to namespaces: "10.77.0.2=heedB,...".
host="$1"
shift
ns=""
for pair in $(echo "$HEED_NETNS_HOSTS" | tr ',' ' '); do
  [ "${pair%%=*}" = "$host" ] && ns="${pair#*=}"
done
if [ -z "$ns" ]; then
  echo "netns-agent: no namespace for host $host (HEED_NETNS_HOSTS=$HEED_NETNS_HOSTS)" >&2
  exit 1
fi
exec ip netns exec "$ns" sh -c "$*"
