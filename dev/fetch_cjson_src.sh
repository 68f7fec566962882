#!/usr/bin/env bash
# fetch_cjson_src.sh: put the source of the cJSON we link (Debian's cjson, patches applied) in
# build/cjson-src, so `make fuzz` compiles cJSON.c with the fuzzer's sanitizers and coverage instead of
# linking the prebuilt libcjson (shared/doc/hostile-inputs.md §3.2: against the distro .so libFuzzer
# sees no coverage inside cJSON). Uses apt-get source with a temporary deb-src list; needs dpkg-dev.
# Best effort: exits non-zero if the source cannot be had, and `make fuzz` then links the system lib.
set -euo pipefail
cd "$(dirname "$0")/.."
dest=build/cjson-src
if [ -f "$dest/cJSON.c" ]; then echo "cJSON source already in $dest"; exit 0; fi
command -v dpkg-source >/dev/null 2>&1 || { echo "dpkg-source missing (apt-get install dpkg-dev)"; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
. /etc/os-release
codename=${VERSION_CODENAME:-bookworm}
cat > "$work/src.list" <<LIST
deb-src http://deb.debian.org/debian $codename main
deb-src http://deb.debian.org/debian-security $codename-security main
LIST
apt_opts=(-o Dir::Etc::sourcelist="$work/src.list" -o Dir::Etc::sourceparts=- -o APT::Get::List-Cleanup=0)
apt-get "${apt_opts[@]}" update -qq
# the version of the binary package we link, so the fuzzed code is the shipped code
ver=$(dpkg-query -W -f='${Version}' libcjson1 2>/dev/null || true)
(cd "$work" && apt-get "${apt_opts[@]}" source --download-only "cjson${ver:+=$ver}" >/dev/null 2>&1 \
    || apt-get "${apt_opts[@]}" source --download-only cjson >/dev/null)
(cd "$work" && dpkg-source -x ./*.dsc src >/dev/null 2>&1)
mkdir -p "$dest"
cp "$work/src/cJSON.c" "$work/src/cJSON.h" "$dest/"
echo "cJSON source ($(ls "$work"/*.dsc | xargs -n1 basename)) in $dest"
