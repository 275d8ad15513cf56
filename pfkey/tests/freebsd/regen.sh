#!/bin/sh
# Regenerates the golden values of pfkey/tests/freebsd_golden.rs on a
# FreeBSD machine and compares them with the test's.
#
#   pfkey/tests/freebsd/regen.sh            build golden.c, run it, compare
#   pfkey/tests/freebsd/regen.sh --print    only print what FreeBSD gives
#   pfkey/tests/freebsd/regen.sh --expected print what the test holds
#                                           (any system)
#
# Needs cc and the base system's headers and libipsec (a FreeBSD install;
# pfSense has no compiler: use the FreeBSD release its base is, e.g.
# pfSense 2.7 = FreeBSD 14.0). Unprivileged: no PF_KEY socket is opened.
# Exit status: 0 all equal, 1 a value differs (listed), 2 cannot run.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
test_rs="$here/../freebsd_golden.rs"

# The test's values as "name value" lines: the GOLDEN block verbatim, then
# each hex message constant as msg.NAME.
expected() {
	awk '
		/^const GOLDEN: &str = "\\$/ { in_golden = 1; next }
		in_golden && /^";$/ { in_golden = 0; next }
		in_golden { print; next }
		/^const [A-Z0-9_]+: &str = "[0-9a-f]+";$/ {
			name = $2; sub(/:$/, "", name)
			hex = $0; sub(/^[^"]*"/, "", hex); sub(/";$/, "", hex)
			print "msg." name " " hex
		}
	' "$test_rs"
}

case "${1:-}" in
--expected)
	expected
	exit 0
	;;
--print | "") ;;
*)
	echo "usage: $0 [--print | --expected]" >&2
	exit 2
	;;
esac

if [ "$(uname -s)" != FreeBSD ]; then
	echo "regen.sh: FreeBSD's headers and libipsec are needed; this is $(uname -s)" >&2
	exit 2
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/vtid-golden.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
${CC:-cc} -O0 -Wall -Werror -o "$work/golden" "$here/golden.c" -lipsec
"$work/golden" >"$work/freebsd.txt"

if [ "${1:-}" = --print ]; then
	cat "$work/freebsd.txt"
	exit 0
fi

expected >"$work/expected.txt"
# Every value FreeBSD gives must be the test's; the test's values FreeBSD
# cannot give (SADB_EXPIRE/ACQUIRE are built by the kernel) are listed.
awk -v uname="$(uname -r)" '
	NR == FNR { want[$1] = $2; next }
	{
		seen[$1] = 1
		if (!($1 in want)) { printf "extra  %s %s (not in the test)\n", $1, $2; bad++ }
		else if (want[$1] != $2) {
			printf "DIFF   %s\n  test:    %s\n  FreeBSD: %s\n", $1, want[$1], $2; bad++
		} else ok++
	}
	END {
		for (n in want) if (!(n in seen)) printf "not regenerated: %s\n", n
		printf "%d equal, %d differ (FreeBSD %s)\n", ok, bad, uname
		exit bad ? 1 : 0
	}
' "$work/expected.txt" "$work/freebsd.txt"
