#!/bin/sh
# deps.sh - make sure the Debian packages syncspool builds and tests with
# are installed. As root it installs what is missing; otherwise it prints
# the exact apt-get line and fails, so make stops with something to do.
set -u

pkgs="build-essential pkg-config libyaml-dev liblmdb-dev libjansson-dev \
libcmocka-dev inotify-tools perl jq lmdb-utils curl openssh-client \
openssh-server mandoc strace clang libclang-rt-dev"

missing=""
have_pc() { pkg-config --exists "$1" 2>/dev/null; }
have_cmd() { command -v "$1" >/dev/null 2>&1; }

have_cmd cc || missing="$missing build-essential"
have_cmd pkg-config || missing="$missing pkg-config"
have_pc yaml-0.1 || missing="$missing libyaml-dev"
have_pc lmdb || missing="$missing liblmdb-dev"
have_pc jansson || missing="$missing libjansson-dev"
have_pc cmocka || missing="$missing libcmocka-dev"
have_cmd inotifywait || missing="$missing inotify-tools"
have_cmd prove || missing="$missing perl"
have_cmd jq || missing="$missing jq"
have_cmd mdb_stat || missing="$missing lmdb-utils"
have_cmd curl || missing="$missing curl"
have_cmd sftp || missing="$missing openssh-client"
{ have_cmd sshd || [ -x /usr/sbin/sshd ]; } || missing="$missing openssh-server"
have_cmd mandoc || missing="$missing mandoc"
have_cmd strace || missing="$missing strace"
# libFuzzer, for the fuzzers make test runs: clang and its runtime.
have_cmd clang || missing="$missing clang libclang-rt-dev"

[ -z "$missing" ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
	echo "deps.sh: installing:$missing" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >&2 || exit 1
	# shellcheck disable=SC2086
	apt-get install -y -qq $missing >&2 || exit 1
	exit 0
fi

echo "deps.sh: missing Debian packages. Install them with:" >&2
echo "  sudo apt-get install$missing" >&2
echo "(all of them: sudo apt-get install $pkgs)" >&2
exit 1
