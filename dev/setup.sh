#!/bin/sh
# dev/setup.sh: install what the C build needs, if missing (Debian/Ubuntu): gcc, make, pkg-config,
# libcjson-dev, check. Uses sudo when not run as root. Safe to run again.
set -eu
need=""
command -v gcc >/dev/null 2>&1 || need="$need gcc"
command -v make >/dev/null 2>&1 || need="$need make"
command -v pkg-config >/dev/null 2>&1 || need="$need pkg-config"
pkg-config --exists libcjson 2>/dev/null || need="$need libcjson-dev"
pkg-config --exists check 2>/dev/null || need="$need check"
if [ -z "$need" ]; then echo "build dependencies present"; exit 0; fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
echo "installing:$need"
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $need >/dev/null
