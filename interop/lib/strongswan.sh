# shellcheck shell=bash
#
# interop/lib/strongswan.sh - run real strongSwan charon instances in network
# namespaces for interop tests and packet captures.
#
# Source it from a bash script that runs as root:
#
#     . "$(dirname "$0")/lib/strongswan.sh"
#     ss_init                                   # work dir + cleanup trap
#     ss_netns_pair moon 192.0.2.1/24 sun 192.0.2.2/24
#     ss_charon_start moon "$SS_NS_moon" moon-swanctl-dir moon-strongswan.conf
#     ss_wait_vici moon 10
#     ss_swanctl moon --load-all
#     ss_capture_start cap "$SS_NS_moon" veth-moon out.pcap 'udp port 500 or udp port 4500'
#     ss_swanctl moon --initiate --child net
#     ss_capture_stop cap
#     # ss_cleanup runs on EXIT (or call it yourself)
#
# Model (what the functions do, so you can reason about failures):
#   * Every namespace name gets a unique suffix (the top-level shell's PID,
#     "$$"), so parallel runs do not collide. The real names are stored in
#     variables SS_NS_<short> (e.g. SS_NS_moon).
#   * Each charon runs in the foreground (charon never daemonizes) inside
#     `ip netns exec NS unshare -m sh -c '...; exec charon'`, i.e. in its own
#     network namespace AND its own private mount namespace in which
#       - /run is a fresh tmpfs (own charon.pid, own /run/charon.vici),
#       - /etc/swanctl is a bind mount of the instance's swanctl dir,
#     and STRONGSWAN_CONF points at the instance's strongswan.conf. Because
#     every step exec()s, the PID of the background job IS charon's PID.
#   * swanctl is run with `nsenter -t <charon pid> -m -n swanctl ...`, so it
#     sees that instance's /run/charon.vici and /etc/swanctl. (Alternative
#     without nsenter: `swanctl --uri unix:///proc/<pid>/root/run/charon.vici`
#     - see ss_vici_uri.)
#   * Nothing is left behind: ss_cleanup (installed as EXIT trap by ss_init)
#     stops captures, kills the charons it started (by PID), deletes the
#     namespaces it created and removes the work dir (unless SS_KEEP=1).
#
# Every wait is bounded by a timeout. All functions are safe under
# `set -euo pipefail` (they return non-zero on failure, with a message on
# stderr, and do not rely on unset variables).
#
# Requirements (Debian 12): strongswan-charon strongswan-swanctl
# libcharon-extra-plugins libstrongswan-extra-plugins
# libstrongswan-standard-plugins iproute2 util-linux tcpdump tshark.
# The kernel needs netns, veth and TUN; kernel ESP is NOT needed when the
# charon config loads the kernel-libipsec plugin (userspace ESP on TUN
# ipsec0, always UDP-encapsulated on port 4500).

# Guard against double sourcing.
if [[ -n "${SS_LIB_LOADED:-}" ]]; then return 0; fi
SS_LIB_LOADED=1

SS_CHARON=${SS_CHARON:-/usr/lib/ipsec/charon}
SS_SUFFIX=${SS_SUFFIX:-$$}    # unique suffix for namespace names
SS_WORKDIR=${SS_WORKDIR:-}    # scratch dir (ss_init creates one)
SS_KEEP=${SS_KEEP:-0}         # 1 = keep the work dir on exit (debugging)

# Bookkeeping for cleanup. Indexed by the short names given by the caller.
declare -a SS_CREATED_NETNS=()     # full netns names we created
declare -A SS_CHARON_PID=()        # instance name -> charon pid
declare -A SS_CAPTURE_PID=()       # capture name -> tcpdump pid
declare -A SS_CAPTURE_FILE=()      # capture name -> pcap path

ss_log() { printf '[%(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
ss_die() { ss_log "ERROR: $*"; return 1; }

# ss_init: create the scratch work dir and install the cleanup trap on EXIT
# (plus INT/TERM, which turn into EXIT). Call once, early.
ss_init() {
	[[ $EUID -eq 0 ]] || { ss_die "must run as root"; return 1; }
	local tool
	for tool in ip unshare nsenter "$SS_CHARON" swanctl tcpdump; do
		command -v "$tool" >/dev/null 2>&1 || [[ -x $tool ]] ||
			{ ss_die "missing tool: $tool (see interop/deps.txt)"; return 1; }
	done
	if [[ -z $SS_WORKDIR ]]; then
		# Not under /run: each charon gets a private tmpfs over /run, and
		# its log files must land somewhere visible from the host.
		SS_WORKDIR=$(mktemp -d /tmp/ss-interop.XXXXXX)
	fi
	mkdir -p "$SS_WORKDIR"
	trap 'ss_cleanup' EXIT
	# Say which command failed under set -e (otherwise the exit is silent);
	# errtrace makes functions and subshells inherit the ERR trap.
	set -o errtrace
	trap 'ss_log "FAILED (exit $?): $BASH_COMMAND"' ERR
	trap 'exit 130' INT
	trap 'exit 143' TERM
}

# ss_wait_for TIMEOUT_SECONDS DESCRIPTION CMD...: poll CMD every 0.1 s until
# it succeeds; fail after the timeout.
ss_wait_for() {
	local timeout=$1 what=$2; shift 2
	local deadline=$((SECONDS + timeout))
	until "$@" >/dev/null 2>&1; do
		if ((SECONDS >= deadline)); then
			ss_die "timed out after ${timeout}s waiting for: $what"
			return 1
		fi
		sleep 0.1
	done
}

# ss_netns_name SHORT: print the full (suffixed) namespace name.
ss_netns_name() { printf '%s-%s\n' "$1" "$SS_SUFFIX"; }

# ss_netns_add SHORT: create namespace "SHORT-<suffix>" with lo up and set
# SS_NS_<SHORT> to its name.
ss_netns_add() {
	local short=$1 ns
	ns=$(ss_netns_name "$short")
	ip netns add "$ns"
	SS_CREATED_NETNS+=("$ns")
	ip -n "$ns" link set lo up
	printf -v "SS_NS_${short//-/_}" '%s' "$ns"
}

# ss_netns_pair A ADDR_A B ADDR_B [IF_A] [IF_B]
# Create namespaces A and B joined by a veth pair (interfaces veth-A in A and
# veth-B in B unless given) with the given addresses in CIDR notation (IPv4
# or IPv6). Sets SS_NS_A and SS_NS_B. IPv6 DAD is disabled so the addresses
# are usable at once.
ss_netns_pair() {
	local a=$1 addr_a=$2 b=$3 addr_b=$4
	local if_a=${5:-veth-$a} if_b=${6:-veth-$b}
	local ns_a ns_b
	ss_netns_add "$a"; ns_a=$(ss_netns_name "$a")
	ss_netns_add "$b"; ns_b=$(ss_netns_name "$b")
	ip link add "$if_a" netns "$ns_a" type veth peer name "$if_b" netns "$ns_b"
	local ns ifc addr
	for ns in "$ns_a" "$ns_b"; do
		ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.accept_dad=0 \
			net.ipv6.conf.default.accept_dad=0 || true
	done
	for spec in "$ns_a $if_a $addr_a" "$ns_b $if_b $addr_b"; do
		read -r ns ifc addr <<<"$spec"
		ip -n "$ns" addr add "$addr" dev "$ifc" nodad 2>/dev/null ||
			ip -n "$ns" addr add "$addr" dev "$ifc"
		ip -n "$ns" link set "$ifc" up
	done
}

# ss_netns_addr NS ADDR [DEV]: add an extra address (e.g. the inner subnet
# address a tunnel protects) to DEV (default lo) in namespace NS.
ss_netns_addr() {
	local ns=$1 addr=$2 dev=${3:-lo}
	ip -n "$ns" addr add "$addr" dev "$dev"
}

# ss_charon_start NAME NS SWANCTL_DIR STRONGSWAN_CONF [STDERR_LOG]
# Start charon instance NAME in network namespace NS, in a private mount
# namespace (tmpfs /run, SWANCTL_DIR bind-mounted on /etc/swanctl), with
# STRONGSWAN_CONF as its strongswan.conf. Logging goes wherever that
# strongswan.conf says (use filelog with absolute paths outside /run); charon's
# own stdout/stderr go to STDERR_LOG (default $SS_WORKDIR/NAME.stderr).
# Records the PID in SS_CHARON_PID[NAME]. Does not wait: see ss_wait_vici.
ss_charon_start() {
	local name=$1 ns=$2 swdir=$3 conf=$4
	local errlog=${5:-$SS_WORKDIR/$name.stderr}
	[[ -d $swdir ]] || { ss_die "swanctl dir not found: $swdir"; return 1; }
	[[ -f $conf ]] || { ss_die "strongswan.conf not found: $conf"; return 1; }
	swdir=$(realpath "$swdir"); conf=$(realpath "$conf")
	if [[ -n ${SS_CHARON_PID[$name]:-} ]]; then
		ss_die "charon '$name' already started"; return 1
	fi
	# ip netns exec, unshare (without --fork) and sh all exec() the next
	# program, so $! is charon's own PID. unshare -m makes the mount
	# propagation private, so the mounts never leak to the host.
	ip netns exec "$ns" unshare -m -- sh -c '
		set -e
		mount -t tmpfs -o mode=0755 none /run
		mount --bind "$1" /etc/swanctl
		export STRONGSWAN_CONF="$2"
		exec "$3"
	' ss-charon "$swdir" "$conf" "$SS_CHARON" >"$errlog" 2>&1 </dev/null &
	SS_CHARON_PID[$name]=$!
	ss_log "charon '$name' started in $ns (pid ${SS_CHARON_PID[$name]})"
}

# ss_charon_pid NAME: print the PID of charon instance NAME.
ss_charon_pid() {
	local pid=${SS_CHARON_PID[$1]:-}
	[[ -n $pid ]] || { ss_die "no charon named '$1'"; return 1; }
	printf '%s\n' "$pid"
}

# ss_vici_uri NAME: print a vici URI usable from the host mount namespace,
# e.g. for `swanctl --uri "$(ss_vici_uri moon)" --list-sas` (note that
# swanctl --load-* would then read the HOST's /etc/swanctl; use --file).
ss_vici_uri() {
	local pid; pid=$(ss_charon_pid "$1") || return 1
	printf 'unix:///proc/%s/root/run/charon.vici\n' "$pid"
}

# ss_charon_alive NAME: true while charon NAME runs.
ss_charon_alive() {
	local pid; pid=$(ss_charon_pid "$1") || return 1
	kill -0 "$pid" 2>/dev/null
}

# ss_wait_vici NAME [TIMEOUT=15]: wait until charon NAME's vici socket exists
# (i.e. it is ready for swanctl). Fails early if charon died.
ss_wait_vici() {
	local name=$1 timeout=${2:-15} pid
	pid=$(ss_charon_pid "$name") || return 1
	local deadline=$((SECONDS + timeout))
	until [[ -S /proc/$pid/root/run/charon.vici ]]; do
		if ! kill -0 "$pid" 2>/dev/null; then
			ss_die "charon '$name' exited during startup; see its logs"
			return 1
		fi
		if ((SECONDS >= deadline)); then
			ss_die "timed out after ${timeout}s waiting for vici of '$name'"
			return 1
		fi
		sleep 0.1
	done
}

# ss_swanctl NAME ARGS...: run swanctl ARGS against charon NAME, inside its
# mount and network namespaces (so /etc/swanctl is the instance's dir).
# Bounded by SS_SWANCTL_TIMEOUT seconds (default 30).
ss_swanctl() {
	local name=$1; shift
	local pid; pid=$(ss_charon_pid "$name") || return 1
	timeout "${SS_SWANCTL_TIMEOUT:-30}" nsenter -t "$pid" -m -n -- swanctl "$@"
}

# ss_charon_exec NAME CMD...: run any command in charon NAME's namespaces.
ss_charon_exec() {
	local name=$1; shift
	local pid; pid=$(ss_charon_pid "$name") || return 1
	nsenter -t "$pid" -m -n -- "$@"
}

# ss_charon_stop NAME [TIMEOUT=5]: SIGTERM charon NAME, wait for it to exit
# (SIGKILL after the timeout).
ss_charon_stop() {
	local name=$1 timeout=${2:-5} pid
	pid=${SS_CHARON_PID[$name]:-}
	[[ -n $pid ]] || return 0
	if kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid" 2>/dev/null || true
		local deadline=$((SECONDS + timeout))
		while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do
			sleep 0.1
		done
		if kill -0 "$pid" 2>/dev/null; then
			ss_log "charon '$name' (pid $pid) did not stop, killing"
			kill -KILL "$pid" 2>/dev/null || true
		fi
	fi
	wait "$pid" 2>/dev/null || true
	unset "SS_CHARON_PID[$name]"
}

# ss_wait_log FILE PATTERN [TIMEOUT=15]: wait until FILE contains a line
# matching the extended regex PATTERN.
ss_wait_log() {
	local file=$1 pattern=$2 timeout=${3:-15}
	ss_wait_for "$timeout" "/$pattern/ in $file" grep -Eq -- "$pattern" "$file"
}

# ss_capture_start NAME NS IFACE PCAP [BPF_FILTER]
# Start tcpdump in namespace NS on IFACE, writing PCAP (classic pcap,
# packet-buffered so a stop loses nothing). Waits (bounded) until tcpdump is
# actually listening, so no packet sent afterwards is missed.
ss_capture_start() {
	local name=$1 ns=$2 ifc=$3 pcap=$4 filter=${5:-}
	local errlog=$SS_WORKDIR/capture-$name.stderr
	rm -f "$pcap"
	# --immediate-mode: hand each packet to tcpdump at once (otherwise
	#   packets still in the TPACKET ring when we stop it are lost);
	# -U: write each packet to the file at once; -Z root: do not drop to
	#   the tcpdump user (the work dir may not be writable for it).
	# shellcheck disable=SC2086 # the filter is intentionally word-split
	ip netns exec "$ns" tcpdump -n --immediate-mode -U -Z root -s 0 \
		-i "$ifc" -w "$pcap" $filter \
		>"$errlog" 2>&1 </dev/null &
	SS_CAPTURE_PID[$name]=$!
	SS_CAPTURE_FILE[$name]=$pcap
	ss_wait_for 10 "tcpdump '$name' to listen" grep -q 'listening on' "$errlog" || {
		cat "$errlog" >&2; return 1; }
}

# ss_capture_stop NAME [TIMEOUT=5]: stop capture NAME and wait until the pcap
# is complete.
ss_capture_stop() {
	local name=$1 timeout=${2:-5} pid
	pid=${SS_CAPTURE_PID[$name]:-}
	[[ -n $pid ]] || return 0
	# tcpdump -U writes each packet as it arrives; give the last ones a
	# moment to travel through the capture buffer before stopping.
	sleep 0.3
	kill -INT "$pid" 2>/dev/null || true
	local deadline=$((SECONDS + timeout))
	while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	unset "SS_CAPTURE_PID[$name]"
}

# ss_cleanup: stop captures, stop charons, delete namespaces, remove the
# work dir (unless SS_KEEP=1). Idempotent; runs on EXIT after ss_init.
ss_cleanup() {
	local rc=$? name ns
	set +e
	trap - ERR
	for name in "${!SS_CAPTURE_PID[@]}"; do ss_capture_stop "$name" 2; done
	for name in "${!SS_CHARON_PID[@]}"; do ss_charon_stop "$name" 3; done
	for ns in "${SS_CREATED_NETNS[@]}"; do
		# Anything still running in the namespace was started by us.
		local pids; pids=$(ip netns pids "$ns" 2>/dev/null)
		[[ -n $pids ]] && kill -KILL $pids 2>/dev/null
		ip netns del "$ns" 2>/dev/null
	done
	SS_CREATED_NETNS=()
	if [[ -n $SS_WORKDIR && -d $SS_WORKDIR ]]; then
		if [[ $SS_KEEP == 1 ]]; then
			ss_log "keeping work dir $SS_WORKDIR"
		else
			rm -rf -- "$SS_WORKDIR"
		fi
	fi
	return "$rc"
}

# ss_write_strongswan_conf FILE LOGFILE [EXTRA]: write a minimal
# strongswan.conf for a charon using userspace ESP (kernel-libipsec) with a
# verbose filelog that includes the derived keys (ike/chd level 4) and the
# parsed/generated payloads (enc level 4). EXTRA is pasted inside charon {}.
# WARNING: level 4 logs SECRET key material - lab use only.
ss_write_strongswan_conf() {
	local file=$1 logfile=$2 extra=${3:-}
	cat >"$file" <<EOF
# generated by interop/lib/strongswan.sh
charon {
	load = random nonce aes sha1 sha2 hmac gmp curve25519 chapoly x509 pubkey pem pkcs1 pkcs8 openssl kdf kernel-libipsec kernel-netlink socket-default vici updown
	# only the filelog below; keep the host's syslog quiet
	syslog {
		daemon { default = -1 }
		auth { default = -1 }
	}
	filelog {
		main {
			path = $logfile
			time_format = %H:%M:%S
			append = no
			flush_line = yes
			ike_name = yes
			default = 2
			ike = 4
			chd = 4
			enc = 4
			cfg = 2
			net = 2
			knl = 1
			lib = 1
		}
	}
	$extra
}
EOF
}
