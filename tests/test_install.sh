#!/bin/sh
# What `make install` installs is usable: it installs the build into a
# temporary DESTDIR, then builds and runs a small program against the
# installed files, found with pkg-config (shared and static) and with
# CMake's find_package(svipc); and the shared library exports the public
# API only.
set -eu
build=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
DESTDIR=$tmp/dest cmake --install "$build" --prefix /opt/svipc >/dev/null
root=$tmp/dest/opt/svipc
lib=$(dirname "$(find "$root" -name libsvipc.so -print -quit)")
[ -f "$root/include/svipc.h" ] || { echo "FAIL: svipc.h not installed"; exit 1; }
[ -f "$lib/libsvipc-preload.so" ] || { echo "FAIL: the shim is not installed"; exit 1; }
# Every man page of man/ (man1, man3, man7), .so links included, in share/man.
src=$(cd "$(dirname "$0")/.." && pwd)
npages=0
for p in $(cd "$src/man" && ls man1/*.1 man3/*.3 man7/*.7); do
	[ -f "$root/share/man/$p" ] || { echo "FAIL: man page $p not installed in $root/share/man"; exit 1; }
	cmp -s "$src/man/$p" "$root/share/man/$p" || { echo "FAIL: installed $p differs from man/$p"; exit 1; }
	npages=$((npages + 1))
done
[ "$npages" -gt 0 ] || { echo "FAIL: no man page found in $src/man"; exit 1; }
for s in 1 3 7; do
	[ "$(ls "$root/share/man/man$s" | wc -l)" -eq "$(ls "$src/man/man$s" | wc -l)" ] ||
		{ echo "FAIL: share/man/man$s holds other files than man/man$s"; exit 1; }
done
echo "man pages: $npages installed in share/man/man1, man3, man7"

cat > "$tmp/p.c" <<'PROG'
#include <svipc.h>
#include <stdio.h>
int main(void)
{
	int q = svipc_msgget(IPC_PRIVATE, 0600), s = svipc_semget(IPC_PRIVATE, 1, 0600);
	struct sembuf up = { 0, 1, 0 };
	if (q < 0 || s < 0 || svipc_semop(s, &up, 1) || svipc_semctl(s, 0, GETVAL) != 1)
		return 1;
	if (svipc_msgctl(q, IPC_RMID, NULL) || svipc_semctl(s, 0, IPC_RMID))
		return 1;
	puts("ok");
	return 0;
}
PROG
run() { # program: it must print ok, in a namespace of its own
	out=$(SVIPC_DIR="$tmp/ns.$$" LD_LIBRARY_PATH="$lib" "$1") || { echo "FAIL: $1 exited $?"; exit 1; }
	[ "$out" = ok ] || { echo "FAIL: $1 printed '$out'"; exit 1; }
}

if command -v pkg-config >/dev/null 2>&1; then
	export PKG_CONFIG_PATH="$lib/pkgconfig"
	pkg-config --exists svipc || { echo "FAIL: pkg-config does not find svipc"; exit 1; }
	cc $(pkg-config --cflags svipc) "$tmp/p.c" -o "$tmp/p_shared" $(pkg-config --libs svipc)
	run "$tmp/p_shared"
	cc -static-libgcc $(pkg-config --cflags svipc) "$tmp/p.c" -o "$tmp/p_static" \
		"$lib/libsvipc.a" $(pkg-config --libs-only-other --static svipc) -lpthread
	run "$tmp/p_static"
	echo "pkg-config: shared and static builds run"
else
	echo "note: no pkg-config on this machine; that part skipped"
fi

mkdir "$tmp/cm"
cp "$tmp/p.c" "$tmp/cm/p.c"
cat > "$tmp/cm/CMakeLists.txt" <<'CM'
cmake_minimum_required(VERSION 3.16)
project(p C)
find_package(svipc 0.1 REQUIRED)
add_executable(p p.c)
target_link_libraries(p PRIVATE svipc::svipc)
CM
cmake -S "$tmp/cm" -B "$tmp/cm/b" -DCMAKE_PREFIX_PATH="$root" >/dev/null
cmake --build "$tmp/cm/b" >/dev/null
run "$tmp/cm/b/p"
echo "find_package(svipc): builds and runs"

extra=$(nm -D --defined-only "$lib/libsvipc.so" | awk '{print $3}' | grep -v '^svipc_' | grep -v '^SVIPC_' || true)
[ -z "$extra" ] || { echo "FAIL: libsvipc.so exports more than the API: $extra"; exit 1; }
echo "libsvipc.so exports the svipc_* API only"
