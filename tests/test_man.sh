#!/bin/sh
# The man pages (man/man1, man3, man7) against what they document:
#  - every function declared in include/svipc.h has a section-3 page file
#    (its own, or a .so link to a page whose NAME lists it), whose SYNOPSIS
#    shows the header's prototype, and every section-3 page is such a function;
#  - every tool (tools/*.c) has a section-1 page that names every option its
#    --help prints (long and short), and every section-1 page is a tool's;
#  - .so links point to existing pages, references to svipc pages
#    (".BR svipc_x (3)") name existing pages, every page carries the
#    project's version;
#  - the EXAMPLES programs of section 3 compile (-Wall -Wextra -Werror, plus
#    $EXAMPLE_CFLAGS) against the build's libsvipc.a and run, each in a
#    namespace of its own;
#  - every page renders without a groff warning (groff -man -ww). Without
#    groff (Debian: groff-base) that part cannot run: after the other checks
#    pass the test exits 77 (skipped), saying so.
# Usage: test_man.sh BUILD_DIR
set -eu
build=$1
src=$(cd "$(dirname "$0")/.." && pwd)
man=$src/man
header=$src/include/svipc.h
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() {
	echo "FAIL: $*"
	failures=$((failures + 1))
}

for d in man1 man3 man7; do
	[ -d "$man/$d" ] || { echo "FAIL: no man/$d"; exit 1; }
done
[ -f "$man/man7/svipc.7" ] || fail "no svipc(7)"

# The roff source of a page (or stdin) as text: \- as -, font escapes dropped.
plain() {
	sed -e 's/\\-/-/g' -e 's/\\f[BIRP]//g' -e 's/\\&//g' "$@"
}

# The text that macro lines (.B, .BI, .BR, ...) of stdin print: .B's
# arguments joined by spaces, the alternating macros' without.
macro_text() {
	awk '/^\.[BIR]+([ \t]|$)/ {
		m = $1; line = substr($0, length(m) + 1); out = ""; n = 0
		while (length(line)) {
			c = substr(line, 1, 1)
			if (c == " " || c == "\t") { line = substr(line, 2); continue }
			if (c == "\"") {
				i = index(substr(line, 2), "\""); if (!i) i = length(line)
				a = substr(line, 2, i - 1); line = substr(line, i + 2)
			} else {
				i = index(line, " "); if (!i) i = length(line) + 1
				a = substr(line, 1, i - 1); line = substr(line, i)
			}
			out = out ((m == ".B" || m == ".I") && n ? " " : "") a; n++
		}
		print out
	}'
}

# A page that is only a link: ".so manN/x.N". Prints the target.
so_target() {
	sed -n '1s/^\.so[[:space:]]\{1,\}\([^[:space:]]*\)[[:space:]]*$/\1/p' "$1"
}

version=$(sed -n 's/^#define SVIPC_VERSION_STRING "\(.*\)"$/\1/p' "$header")
[ -n "$version" ] || { echo "FAIL: no SVIPC_VERSION_STRING in $header"; exit 1; }

pages=$(cd "$man" && ls man1/* man3/* man7/*)
npages=0
for p in $pages; do
	npages=$((npages + 1))
	sec=${p#man}
	sec=${sec%%/*}
	case "$p" in
	*."$sec") ;;
	*) fail "$p: a page in man$sec must end in .$sec" ;;
	esac
	t=$(so_target "$man/$p")
	if [ -n "$t" ]; then
		[ "$(wc -l < "$man/$p")" -eq 1 ] || fail "$p: a .so link page must hold only the .so line"
		if [ ! -f "$man/$t" ]; then
			fail "$p: .so points to $t, which does not exist"
		elif [ -n "$(so_target "$man/$t")" ]; then
			fail "$p: .so points to $t, itself a link"
		fi
		continue
	fi
	name=$(basename "$p" ".$sec")
	upper=$(echo "$name" | tr '[:lower:]' '[:upper:]')
	th=$(grep -m1 '^\.TH ' "$man/$p" || true)
	case "$th" in
	".TH $upper $sec "*"\"svipc $version\""*) ;;
	*) fail "$p: .TH should be '.TH $upper $sec DATE \"svipc $version\" ...', is '$th'" ;;
	esac
	needed="NAME DESCRIPTION SEE_ALSO"
	[ "$sec" = 7 ] || needed="$needed SYNOPSIS"
	for s in $needed; do
		s=$(echo "$s" | tr _ ' ')
		grep -q "^\.SH \"*$s\"*\$" "$man/$p" || fail "$p: no $s section"
	done
	# References to svipc pages name pages that exist.
	for ref in $(sed -n 's/^\.BR[[:space:]]\{1,\}\(svipc[a-z_]*\)[[:space:]]\{1,\}(\([0-9]\)).*/\1.\2/p' "$man/$p"); do
		rs=${ref##*.}
		[ -f "$man/man$rs/$ref" ] || fail "$p: refers to ${ref%.*}($rs), which has no page"
	done
done
[ "$npages" -gt 0 ] || fail "no pages"

# ---- section 3: the header's functions -------------------------------------
# Declarations: lines that start (outside comments) with a type and declare
# svipc_name(; a prototype may span lines up to its ';'.
funcs=$(sed -n 's/^[a-z][^(]*[ *]\(svipc_[a-z_]*\)(.*/\1/p' "$header" | sort -u)
[ -n "$funcs" ] || { echo "FAIL: no svipc_ function found in $header"; exit 1; }
nfuncs=0
for f in $funcs; do
	nfuncs=$((nfuncs + 1))
	page=$man/man3/$f.3
	if [ ! -f "$page" ]; then
		fail "svipc.h declares $f, which has no page man/man3/$f.3"
		continue
	fi
	t=$(so_target "$page")
	body=$page
	[ -z "$t" ] || body=$man/$t
	[ -f "$body" ] || continue # reported above
	# NAME lists the function.
	sed -n '/^\.SH NAME/,/^\.SH/p' "$body" | grep -q "\\b$f\\b" ||
		fail "$f: the NAME section of ${body#"$man"/} does not list it"
	# SYNOPSIS shows the header's prototype (whitespace aside).
	proto=$(awk -v f="$f" '
		!p && $0 ~ "^[a-z][^(]*[ *]" f "\\(" { p = 1 }
		p { s = s " " $0; if ($0 ~ /;/) { print s; exit } }' "$header" |
		tr -s ' \t' '  ' | sed -e 's/^ //' -e 's/( /(/g' -e 's/ )/)/g')
	syn=$(sed -n '/^\.SH SYNOPSIS/,/^\.SH DESCRIPTION/p' "$body" | plain | macro_text |
		tr '\n' ' ' | tr -s ' \t' '  ' | sed -e 's/( /(/g' -e 's/ )/)/g')
	case "$syn" in
	*"$proto"*) ;;
	*) fail "$f: the SYNOPSIS of ${body#"$man"/} does not show the header's prototype '$proto'" ;;
	esac
done
for p in "$man"/man3/*.3; do
	n=$(basename "$p" .3)
	echo "$funcs" | grep -qx "$n" || fail "man3/$n.3 documents no function of svipc.h"
done

# ---- section 1: the tools ---------------------------------------------------
ntools=0
for c in "$src"/tools/*.c; do
	tool=$(basename "$c" .c)
	grep -q '^int main(' "$c" || continue
	ntools=$((ntools + 1))
	page=$man/man1/$tool.1
	[ -f "$page" ] || { fail "tools/$tool.c has no page man/man1/$tool.1"; continue; }
	bin=$build/bin/$tool
	[ -x "$bin" ] || { fail "$bin not built: cannot check $tool's options against its page"; continue; }
	"$bin" --help > "$tmp/help" 2>&1 || fail "$tool --help exits $?"
	plain "$page" > "$tmp/page"
	for o in $(grep -o -- '--[a-z][a-z0-9-]*' "$tmp/help" | sort -u); do
		grep -Eq -- "$o([^a-z0-9-]|\$)" "$tmp/page" || fail "$tool --help prints $o, man1/$tool.1 does not"
	done
	for o in $(sed -n 's/^ *\(-[a-zA-Z]\), --.*/\1/p' "$tmp/help" | sort -u); do
		grep -Eq -- "(^|[^a-zA-Z0-9-])$o([^a-zA-Z0-9]|\$)" "$tmp/page" ||
			fail "$tool --help prints $o, man1/$tool.1 does not"
	done
done
[ "$ntools" -gt 0 ] || fail "no tool found in tools/"
for p in "$man"/man1/*.1; do
	n=$(basename "$p" .1)
	[ -f "$src/tools/$n.c" ] || fail "man1/$n.1 documents no tool of tools/"
done

# ---- the EXAMPLES programs --------------------------------------------------
nex=0
cc=${CC:-cc}
lib=$build/libsvipc.a
[ -f "$lib" ] || fail "$lib not built: cannot build the examples"
for p in "$man"/man3/*.3; do
	[ -n "$(so_target "$p")" ] && continue
	n=$(basename "$p" .3)
	# The .EX block of the EXAMPLES section that holds a main().
	awk '
		/^\.SH / { ex = ($2 == "EXAMPLES"); next }
		ex && /^\.EX/ { inside = 1; buf = ""; next }
		ex && /^\.EE/ { inside = 0; if (buf ~ /\nmain\(/) { printf "%s\n", buf; exit } next }
		inside { buf = buf "\n" $0 }' "$p" |
		sed -e 's/\\f[BIRP]//g' -e 's/\\-/-/g' -e "s/\\\\(aq/'/g" -e 's/\\(dq/"/g' \
			-e 's/\\&//g' -e 's/\\e/\\/g' > "$tmp/$n.c"
	[ -s "$tmp/$n.c" ] || continue
	nex=$((nex + 1))
	# shellcheck disable=SC2086 # EXAMPLE_CFLAGS: words (the sanitizer build's flags)
	if ! "$cc" ${EXAMPLE_CFLAGS:-} -Wall -Wextra -Werror -I"$src/include" "$tmp/$n.c" "$lib" -lpthread \
		-o "$tmp/$n" 2> "$tmp/$n.err"; then
		fail "the example of man3/$n.3 does not compile:"
		sed 's/^/    /' "$tmp/$n.err"
		continue
	fi
	if ! SVIPC_DIR="$tmp/ns.$n" timeout 30 "$tmp/$n" > "$tmp/$n.out" 2>&1; then
		fail "the example of man3/$n.3 fails:"
		sed 's/^/    /' "$tmp/$n.out"
	fi
done
[ "$nex" -ge 5 ] || fail "only $nex EXAMPLES programs found in man3 (expected at least 5)"

# ---- rendering --------------------------------------------------------------
rendered=0
if command -v groff >/dev/null 2>&1; then
	for p in $pages; do
		# From man/, as man(1) does, so that .so finds its target.
		out=$(cd "$man" && groff -man -ww -z -Tutf8 "$p" 2>&1) || fail "$p: groff exits $?"
		[ -z "$out" ] || { fail "$p: groff warns:"; echo "$out" | sed 's/^/    /'; }
		rendered=$((rendered + 1))
	done
fi

echo "$npages pages, $nfuncs functions, $ntools tools, $nex examples built and run, $rendered pages rendered"
if [ "$failures" -ne 0 ]; then
	echo "$failures failure(s)"
	exit 1
fi
if [ "$rendered" -eq 0 ]; then
	echo "SKIP: groff is not installed (Debian: apt-get install groff-base): the pages were not rendered"
	exit 77
fi
echo "all man page checks passed"
