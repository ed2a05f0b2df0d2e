#!/usr/bin/env bash
# spark-connect.sh: a real Apache Spark Connect server on this machine, for
# Ophicleide's tests (internal/sparkconnect/sparktest, make test) and for
# people trying the Spark training engine (make spark-start, spark-stop).
#
#   scripts/spark-connect.sh install    install the pinned Spark if missing
#   scripts/spark-connect.sh start DIR  install if missing, start a server,
#                                       wait until it answers, print its URL
#   scripts/spark-connect.sh stop DIR   stop it; fine if it does not run
#   scripts/spark-connect.sh url DIR    print its URL; exit 1 if it does not run
#   scripts/spark-connect.sh home       install if missing, print SPARK_HOME
#
# install: Spark 4.3.0 comes from PyPI as the sdist of pyspark 4.3.0 (456 MB;
# pip reaches PyPI where nothing else may be reachable). Its deps/ directory
# is a Spark distribution: bin/spark-submit, jars/ (the Connect server is in
# the default jars since Spark 4.0), sbin/. pip downloads it with its sha256
# pinned below (pip checks it before it runs anything from the sdist; this
# script checks it again), deps/ is extracted without examples/ and data/
# into a temporary directory beside the install, checked (bin/spark-submit,
# jars/spark-connect_2.13-4.3.0.jar), renamed into place, and the tarball is
# deleted. The install lives outside the repository, in
#   ${OPH_SPARK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ophicleide/spark}/4.3.0
# (~470 MB). Installing needs ~1.5 GB free there and fails early if not.
# Runs that race take a lock (flock): one installs, the others wait for it.
#
# start: runs org.apache.spark.sql.connect.service.SparkConnectServer with
# spark-submit (what sbin/start-connect-server.sh does, minus its daemon
# wrapper) on 127.0.0.1, on a free port, in the background, in a session of
# its own (setsid) so that stop can end the whole process tree. DIR holds
#   DIR/log        the server's output (log4j INFO)
#   DIR/pid        the session leader: the JVM
#   DIR/url        sc://127.0.0.1:PORT, written once the server answers
#   DIR/tmp        java.io.tmpdir      DIR/local  SPARK_LOCAL_DIRS
#   DIR/warehouse  spark.sql.warehouse.dir
#   DIR/conf       SPARK_CONF_DIR, empty (a spark-defaults.conf or
#                  log4j2.properties put there is used)
# start returns once the log says "Spark Connect server started" and the
# port takes a TCP connection (timeout OPH_SPARK_START_TIMEOUT); it then
# prints the URL. The Connect server fails fast when its port was taken
# between the pick and its bind (spark.connect.grpc.port.maxRetries is 0):
# a server that dies while starting is tried again on another port, 3 times
# in all; on failure start prints the log's tail and exits non-zero. (The
# URL names the port that the log line names, should Spark move to another.)
# Starting on a DIR whose server runs prints that server's URL.
#
# The server's settings, each overridable with OPH_SPARK_CONF:
#   spark.connect.execute.reattachable.senderMaxStreamDuration=1s: the server
#     ends every ExecutePlan response stream after 1 s (Spark's default is
#     2m) and the client must ReattachExecute from the last response, so the
#     tests exercise reattach on every fit longer than a second, as Spark's
#     own Connect tests do.
#   spark.sql.shuffle.partitions=4 (default 200): test data is small.
#   spark.sql.catalogImplementation=in-memory: no Hive metastore, no Derby
#     (no metastore_db/ or derby.log).
#   spark.ui.enabled=false; driver, block manager and gRPC on 127.0.0.1.
#   Nothing goes to /tmp: java.io.tmpdir and the local dirs are under DIR,
#     and the JVMs run with -XX:-UsePerfData (no /tmp/hsperfdata_*).
#
# stop: TERM to the server's process group, up to OPH_SPARK_STOP_TIMEOUT
# seconds for it to end, then KILL; removes DIR/pid, DIR/url and the scratch
# directories (DIR/tmp, DIR/local).
#
# Environment:
#   OPH_SPARK_CACHE          where installs live (see install)
#   OPH_SPARK_MASTER         Spark master, local[2]; local-cluster[2,1,1024]
#                            runs two executor JVMs (in the same session)
#   OPH_SPARK_DRIVER_MEMORY  driver heap, 2g
#   OPH_SPARK_CONF           extra confs, "k=v k=v" (no spaces in values),
#                            applied after the ones above
#   OPH_SPARK_START_TIMEOUT  seconds for a server to answer, 120
#   OPH_SPARK_STOP_TIMEOUT   seconds between TERM and KILL, 20
#   OPH_SPARK_WATCH_PID      a process id: the server stops itself when that
#                            process ends (sparktest and with-spark.sh pass
#                            their own, so that a test binary killed on a
#                            timeout leaves no JVM behind)
#   OPH_SPARK_WATCH_RMDIR    1: when it stops the server so, the watcher
#                            also removes DIR (a temporary one)
#   JAVA_HOME                Java 17 or 21 (Spark 4 needs one), else java
#                            on PATH
set -euo pipefail

readonly SPARK_VERSION=4.3.0
# sha256 of pyspark-4.3.0.tar.gz as PyPI serves it.
readonly SPARK_SHA256=e8c517948eff7088a7aa07449aa8eafa4a15a8d50319de2525a6fd26622476c6
readonly CONNECT_JAR=spark-connect_2.13-$SPARK_VERSION.jar
readonly CONNECT_CLASS=org.apache.spark.sql.connect.service.SparkConnectServer
readonly NEED_MB=1536
readonly ATTEMPTS=3

cache=${OPH_SPARK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ophicleide/spark}
home=$cache/$SPARK_VERSION
start_timeout=${OPH_SPARK_START_TIMEOUT:-120}
stop_timeout=${OPH_SPARK_STOP_TIMEOUT:-20}
self=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")

say() { printf 'spark-connect: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

# Cleanup on exit: temporary paths, and a server that did not come up.
scratch=()
starting=""
on_exit() {
	if [[ -n $starting ]]; then
		kill -KILL -- "-$starting" 2>/dev/null || true
	fi
	if ((${#scratch[@]})); then
		rm -rf -- "${scratch[@]}"
	fi
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

alive() { # pid: the process exists and is not a zombie
	local stat
	stat=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
	[[ -n $stat && $stat != Z* ]]
}

installed() { [[ -x $home/bin/spark-submit && -f $home/jars/$CONNECT_JAR ]]; }

sha_ok() { [[ $(sha256sum "$1" | cut -d' ' -f1) == "$SPARK_SHA256" ]]; }

pip_cmd() {
	if command -v pip3 >/dev/null 2>&1; then
		echo pip3
	elif command -v python3 >/dev/null 2>&1 && python3 -m pip --version >/dev/null 2>&1; then
		echo "python3 -m pip"
	else
		die "installing Spark needs pip (pip3 or python3 -m pip) to download pyspark $SPARK_VERSION from PyPI"
	fi
}

install_spark() {
	installed && return 0
	mkdir -p "$cache"
	exec 8>"$cache/.lock"
	if ! flock -w 1800 8; then
		die "waited 30 min for another install ($cache/.lock)"
	fi
	if installed; then
		exec 8>&-
		return 0
	fi
	local avail
	avail=$(df -Pk "$cache" | awk 'NR == 2 { print int($4 / 1024) }')
	if ((avail < NEED_MB)); then
		die "installing Spark $SPARK_VERSION needs ~$NEED_MB MB free in $cache; $avail MB are (set OPH_SPARK_CACHE elsewhere?)"
	fi

	local dl=$cache/dl tarball tmp pip
	tarball=$dl/pyspark-$SPARK_VERSION.tar.gz
	tmp=$(mktemp -d "$cache/.install.XXXXXX")
	scratch+=("$tmp")
	if [[ -f $tarball ]] && ! sha_ok "$tarball"; then
		rm -f "$tarball" # a partial or foreign download
	fi
	if [[ ! -f $tarball ]]; then
		say "downloading pyspark $SPARK_VERSION (456 MB) from PyPI into $dl"
		pip=$(pip_cmd)
		printf 'pyspark==%s --hash=sha256:%s\n' "$SPARK_VERSION" "$SPARK_SHA256" >"$tmp/requirements.txt"
		# shellcheck disable=SC2086 # pip may be "python3 -m pip"
		if ! $pip download --no-deps --no-cache-dir --progress-bar off \
			--require-hashes -r "$tmp/requirements.txt" -d "$dl" >&2; then
			die "downloading pyspark $SPARK_VERSION with pip failed"
		fi
	fi
	[[ -f $tarball ]] || die "pip left no $tarball"
	sha_ok "$tarball" || die "$tarball: sha256 is not $SPARK_SHA256"

	say "extracting Spark $SPARK_VERSION into $home"
	local top=pyspark-$SPARK_VERSION/deps
	mkdir "$tmp/home"
	tar -xzf "$tarball" -C "$tmp/home" --strip-components=2 \
		--exclude="$top/examples" --exclude="$top/data" "$top"
	[[ -x $tmp/home/bin/spark-submit ]] || die "the tarball has no $top/bin/spark-submit"
	[[ -f $tmp/home/jars/$CONNECT_JAR ]] || die "the tarball has no $top/jars/$CONNECT_JAR"
	chmod 755 "$tmp/home"
	mv -T "$tmp/home" "$home"
	rm -f "$tarball"
	rmdir "$dl" 2>/dev/null || true
	exec 8>&-
	say "installed Spark $SPARK_VERSION in $home ($(du -sh "$home" | cut -f1))"
}

check_java() {
	local java=java v
	if [[ -n ${JAVA_HOME:-} ]]; then
		java=$JAVA_HOME/bin/java
	fi
	command -v "$java" >/dev/null 2>&1 ||
		die "no java ($java): Spark $SPARK_VERSION needs Java 17 or 21 (e.g. apt-get install openjdk-17-jre-headless, or set JAVA_HOME)"
	v=$("$java" -version 2>&1 | sed -n 's/.* version "\([0-9][0-9]*\).*/\1/p' | head -n 1)
	[[ -n $v ]] || die "cannot read the version of $java"
	((v >= 17)) || die "$java is Java $v; Spark $SPARK_VERSION needs Java 17 or 21"
}

free_port() {
	if command -v python3 >/dev/null 2>&1; then
		python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' && return
	fi
	local p i
	for ((i = 0; i < 100; i++)); do
		p=$((20000 + RANDOM % 30000))
		if ! port_open "$p"; then
			echo "$p"
			return
		fi
	done
	die "found no free port on 127.0.0.1"
}

# shellcheck disable=SC2016 # $1 is the inner shell's
port_open() { timeout 1 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1"' _ "$1" 2>/dev/null; }

# pid of the server running in dir, if any.
server_pid() {
	local pid
	pid=$(cat "$1/pid" 2>/dev/null) || return 1
	[[ $pid =~ ^[0-9]+$ ]] || return 1
	# the process group is the server's (its leader went through
	# spark-submit, spark-class and then the JVM; the watcher runs _run)
	pgrep -g "$pid" -f "$CONNECT_CLASS|spark-connect\\.sh _run" >/dev/null 2>&1 || return 1
	echo "$pid"
}

abs_dir() {
	mkdir -p "$1"
	(cd "$1" && pwd)
}

# Sets extra_conf to OPH_SPARK_CONF's confs.
extra_conf=()
extra_confs() {
	local kv
	read -r -a extra_conf <<<"${OPH_SPARK_CONF:-}"
	for kv in "${extra_conf[@]}"; do
		[[ $kv == [!=]*=* ]] || die "OPH_SPARK_CONF: \"$kv\" is not k=v"
	done
}

# _run DIR PORT: the server itself, in a session of its own, output in DIR/log.
run_server() {
	local dir=$1 port=$2
	echo $$ >"$dir/pid.new"
	mv -f "$dir/pid.new" "$dir/pid"
	if [[ -n ${OPH_SPARK_WATCH_PID:-} ]]; then
		watch_parent "$OPH_SPARK_WATCH_PID" $$ "$dir" &
	fi
	local confs=(
		--conf spark.connect.grpc.binding.address=127.0.0.1
		--conf "spark.connect.grpc.binding.port=$port"
		--conf spark.driver.host=127.0.0.1
		--conf spark.driver.bindAddress=127.0.0.1
		--conf spark.ui.enabled=false
		--conf spark.ui.showConsoleProgress=false
		--conf spark.connect.execute.reattachable.senderMaxStreamDuration=1s
		--conf spark.sql.shuffle.partitions=4
		--conf spark.sql.catalogImplementation=in-memory
		--conf "spark.sql.warehouse.dir=$dir/warehouse"
		--conf "spark.driver.extraJavaOptions=-XX:-UsePerfData -Djava.io.tmpdir=$dir/tmp -Dderby.system.home=$dir/tmp"
		--conf "spark.executor.extraJavaOptions=-XX:-UsePerfData -Djava.io.tmpdir=$dir/tmp"
	)
	local kv
	extra_confs
	for kv in "${extra_conf[@]}"; do
		confs+=(--conf "$kv")
	done
	export SPARK_HOME=$home SPARK_LOCAL_IP=127.0.0.1 SPARK_CONF_DIR=$dir/conf
	export SPARK_LAUNCHER_OPTS="-XX:-UsePerfData -Djava.io.tmpdir=$dir/tmp"
	# rather than spark.local.dir, which makes Spark warn that the cluster
	# manager may override it
	export SPARK_LOCAL_DIRS=$dir/local
	trap - EXIT INT TERM
	exec "$home/bin/spark-submit" --class "$CONNECT_CLASS" \
		--name "Ophicleide Spark Connect ($dir)" \
		--master "${OPH_SPARK_MASTER:-local[2]}" \
		--driver-memory "${OPH_SPARK_DRIVER_MEMORY:-2g}" \
		"${confs[@]}" spark-internal
}

# Stops the server (leader) when process parent ends. Runs in the server's
# process group, so that stopping the server ends it too.
watch_parent() {
	local parent=$1 leader=$2 dir=$3 i
	trap - EXIT INT TERM
	while kill -0 "$parent" 2>/dev/null && alive "$leader"; do
		sleep 2
	done
	alive "$leader" || exit 0
	say "process $parent ended: stopping the server"
	kill -TERM "$leader" 2>/dev/null || true
	for ((i = 0; i < stop_timeout && i < 60; i++)); do
		alive "$leader" || break
		sleep 1
	done
	kill -KILL "$leader" 2>/dev/null || true
	if [[ ${OPH_SPARK_WATCH_RMDIR:-} == 1 ]]; then
		rm -rf -- "$dir" 2>/dev/null || true
	else
		rm -f "$dir/pid" "$dir/url" 2>/dev/null || true
	fi
	kill -KILL -- "-$leader" 2>/dev/null || true # the rest, this watcher too
}

# Waits for the server started in dir (launcher: the background job's pid).
# Sets ready_port; returns 2 if the server died, 1 on timeout.
ready_port=""
wait_ready() {
	local dir=$1 port=$2 launcher=$3 deadline pid="" line got
	ready_port=""
	deadline=$((SECONDS + start_timeout))
	while ((SECONDS < deadline)); do
		if [[ -z $pid && -s $dir/pid ]]; then
			pid=$(cat "$dir/pid")
			starting=$pid
		fi
		if line=$(grep -a -m 1 'Spark Connect server started' "$dir/log" 2>/dev/null); then
			got=$(sed -n 's/.*started at: *[^ ]*:\([0-9][0-9]*\).*/\1/p' <<<"$line")
			if port_open "${got:-$port}"; then
				ready_port=${got:-$port}
				return 0
			fi
		fi
		if [[ -n $pid ]]; then
			alive "$pid" || return 2
		elif ! alive "$launcher"; then
			return 2
		fi
		sleep 0.2
	done
	return 1
}

start_server() {
	local dir pid port attempt launcher rc t0=$SECONDS
	dir=$(abs_dir "$1")
	[[ $dir != *[[:space:]]* ]] || die "DIR may not contain spaces: $dir"
	exec 9>"$dir/.lock"
	flock -w 600 9 || die "another start or stop holds $dir/.lock"
	if pid=$(server_pid "$dir"); then
		if [[ -s $dir/url ]]; then
			say "already running in $dir (pid $pid)"
			cat "$dir/url"
			return 0
		fi
		die "a server runs in $dir (pid $pid) but has no URL: stop it first"
	fi
	rm -f "$dir/pid" "$dir/url"
	extra_confs
	install_spark
	check_java
	mkdir -p "$dir/tmp" "$dir/local" "$dir/warehouse" "$dir/conf"
	for ((attempt = 1; attempt <= ATTEMPTS; attempt++)); do
		port=$(free_port)
		rm -f "$dir/pid"
		: >"$dir/log"
		setsid "$BASH" "$self" _run "$dir" "$port" </dev/null >>"$dir/log" 2>&1 8>&- 9>&- &
		launcher=$!
		starting=$launcher # until _run writes DIR/pid (the same pid: setsid need not fork)
		rc=0
		wait_ready "$dir" "$port" "$launcher" || rc=$?
		if ((rc == 0)); then
			starting=""
			port=$ready_port
			echo "sc://127.0.0.1:$port" >"$dir/url.new"
			mv -f "$dir/url.new" "$dir/url"
			say "Spark Connect $SPARK_VERSION answers on 127.0.0.1:$port after $((SECONDS - t0)) s (pid $(cat "$dir/pid"), log $dir/log)"
			cat "$dir/url"
			return 0
		fi
		if [[ -n $starting ]]; then
			kill -KILL -- "-$starting" 2>/dev/null || true
			starting=""
		fi
		say "the server did not start (attempt $attempt of $ATTEMPTS): the tail of $dir/log:"
		tail -n 40 "$dir/log" >&2 || true
		rm -f "$dir/pid"
		if ((rc == 1)); then
			die "no answer on 127.0.0.1:$port after $start_timeout s"
		fi
	done
	die "the server died $ATTEMPTS times while starting"
}

stop_server() {
	local dir=$1 pid i
	[[ -d $dir ]] || return 0
	dir=$(cd "$dir" && pwd)
	exec 9>"$dir/.lock"
	flock -w 600 9 || die "another start or stop holds $dir/.lock"
	if pid=$(server_pid "$dir"); then
		kill -TERM -- "-$pid" 2>/dev/null || true
		for ((i = 0; i < stop_timeout * 5; i++)); do
			pgrep -g "$pid" >/dev/null 2>&1 || break
			sleep 0.2
		done
		if pgrep -g "$pid" >/dev/null 2>&1; then
			say "the server (pid $pid) did not end within $stop_timeout s of TERM: KILL"
			kill -KILL -- "-$pid" 2>/dev/null || true
			for ((i = 0; i < 50; i++)); do
				pgrep -g "$pid" >/dev/null 2>&1 || break
				sleep 0.1
			done
		fi
		say "stopped the server in $dir (pid $pid)"
	fi
	rm -f "$dir/pid" "$dir/url" "$dir/url.new" "$dir/pid.new"
	rm -rf "$dir/tmp" "$dir/local"
}

print_url() {
	local dir=$1
	if server_pid "$dir" >/dev/null && [[ -s $dir/url ]]; then
		cat "$dir/url"
		return 0
	fi
	say "no Spark Connect server runs in $dir"
	return 1
}

usage() {
	sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$self" >&2
	exit 2
}

cmd=${1:-}
case $cmd in
install) [[ $# == 1 ]] || usage; install_spark ;;
home) [[ $# == 1 ]] || usage; install_spark; echo "$home" ;;
start) [[ $# == 2 ]] || usage; start_server "$2" ;;
stop) [[ $# == 2 ]] || usage; stop_server "$2" ;;
url) [[ $# == 2 ]] || usage; print_url "$2" ;;
_run) run_server "$2" "$3" ;;
*) usage ;;
esac
