#!/usr/bin/env bash
# with-spark.sh: run a command against one Spark Connect server.
#
#   scripts/with-spark.sh COMMAND [ARG...]
#
# Starts a server with scripts/spark-connect.sh (see its header for the
# server's settings and OPH_SPARK_MASTER, OPH_SPARK_DRIVER_MEMORY,
# OPH_SPARK_CONF) in a new directory ${TMPDIR:-/tmp}/ophicleide-spark-test.XXXX,
# runs COMMAND with OPH_TEST_SPARK_URL set to the server's URL and
# OPH_SPARK_REQUIRED=1 (tests using internal/sparkconnect/sparktest then
# share that server and fail rather than skip without one), then stops the
# server and removes the directory whatever COMMAND's outcome (an interrupt
# too; should this script be killed outright, the server notices and stops
# itself), and exits with COMMAND's status. make test runs go test so.
#
# With OPH_TEST_SPARK_URL already set it starts nothing and uses that
# server. With OPH_SPARK_KEEP=1 the directory (the server's log) is kept
# and its path printed.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if (($# == 0)); then
	echo "usage: $0 COMMAND [ARG...]" >&2
	exit 2
fi
export OPH_SPARK_REQUIRED=1
if [[ -n ${OPH_TEST_SPARK_URL:-} ]]; then
	exec "$@"
fi

dir=$(mktemp -d "${TMPDIR:-/tmp}/ophicleide-spark-test.XXXX")
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
	bash "$here/spark-connect.sh" stop "$dir" || true
	if [[ ${OPH_SPARK_KEEP:-} == 1 ]]; then
		echo "with-spark: kept $dir (OPH_SPARK_KEEP=1)" >&2
	else
		rm -rf -- "$dir"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

watch=("OPH_SPARK_WATCH_PID=$$")
if [[ ${OPH_SPARK_KEEP:-} != 1 ]]; then
	watch+=(OPH_SPARK_WATCH_RMDIR=1)
fi
OPH_TEST_SPARK_URL=$(env "${watch[@]}" bash "$here/spark-connect.sh" start "$dir")
export OPH_TEST_SPARK_URL

status=0
"$@" || status=$?
exit "$status"
