#!/bin/sh
# Installs the Debian packages that the tests of unmodified programs use
# (tests/test_stress_ng.sh, test_python_sysv_ipc.sh, test_ipcmk_shim.sh):
# stress-ng, python3-sysv-ipc, and strace (to check that no call reaches the
# kernel). Only what is missing, only as root, with one apt-get update.
# It never fails: without them (no network, not root) those tests skip
# (exit 77) and say why. util-linux (ipcmk, ipcs, ipcrm) is essential in
# Debian and always there.
missing=""
command -v stress-ng >/dev/null 2>&1 || missing="$missing stress-ng"
# Debian's module is for Debian's python (/usr/bin/python3), not a pyenv one
{ [ -x /usr/bin/python3 ] && /usr/bin/python3 -c 'import sysv_ipc' 2>/dev/null; } ||
	missing="$missing python3-sysv-ipc"
command -v strace >/dev/null 2>&1 || missing="$missing strace"
# clang and its libFuzzer runtime for fuzz/ (test_fuzz_smoke, make fuzz);
# installed by a separate apt-get below, so that a release without
# libclang-rt-14-dev does not stop the others
fuzzpkgs=""
{ command -v clang >/dev/null 2>&1 &&
	ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a >/dev/null 2>&1; } ||
	fuzzpkgs="clang libclang-rt-14-dev"
if [ -n "$fuzzpkgs" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
	echo "svipc: installing for the fuzz targets: $fuzzpkgs" >&2
	{ command -v timeout >/dev/null 2>&1 && tb="timeout 600"; } || tb=""
	{ $tb apt-get update -qq &&
		DEBIAN_FRONTEND=noninteractive $tb apt-get install -y -qq --no-install-recommends $fuzzpkgs >/dev/null; } ||
		echo "svipc: could not install $fuzzpkgs; test_fuzz_smoke will be skipped" >&2
fi
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
	echo "svipc: the tests of real programs need:$missing (not installed: not root, or no apt-get); they will be skipped" >&2
	exit 0
fi
echo "svipc: installing for the tests:$missing" >&2
bound=""
command -v timeout >/dev/null 2>&1 && bound="timeout 600"
if $bound apt-get update -qq &&
	DEBIAN_FRONTEND=noninteractive $bound apt-get install -y -qq --no-install-recommends $missing >/dev/null; then
	exit 0
fi
echo "svipc: could not install$missing; the tests that need them will be skipped" >&2
exit 0
