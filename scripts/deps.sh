#!/bin/sh
# Installs the Debian packages the build needs, only when one is missing.
missing=""
command -v cmake >/dev/null 2>&1 || missing="$missing cmake"
command -v cc >/dev/null 2>&1 || missing="$missing gcc libc6-dev"
command -v make >/dev/null 2>&1 || missing="$missing make"
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "svipc: missing build tools:$missing (install them, or run as root)" >&2
	exit 1
fi
echo "svipc: installing$missing" >&2
apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing
