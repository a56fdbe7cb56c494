#!/bin/bash
# install-deps.sh — the Debian 12 packages parasim needs to build and test.
set -e
PKGS="build-essential autoconf automake libtool pkg-config gsl-bin libgsl-dev
 libsqlite3-dev sqlite3 libyaml-dev libopenblas-dev libopenmpi-dev openmpi-bin
 libcmocka-dev gnuplot-nox nettle-dev clang"
missing=
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
	SUDO=; [ "$(id -u)" -ne 0 ] && SUDO=sudo
	$SUDO apt-get update
	$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y $missing
fi
