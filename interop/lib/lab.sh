# shellcheck shell=bash
#
# interop/lib/lab.sh - the routed-IPsec lab used by interop/demo and
# interop/bench-throughput: five network namespaces in a row and the vtid
# daemon in them. Builds on interop/lib/strongswan.sh (namespaces, charon,
# cleanup); source it after that file and after ss_init.
#
#   lan-a ----------- gw-a ------------ inet ------------ gw-b ----------- lan-b
#   10.1.0.2   10.1.0.1  192.0.2.1   .254 | .254  198.51.100.2  10.2.0.1   10.2.0.2
#                 [ipsec7 10.6.106.1/30]      [ipsec7 10.6.106.2/30 or charon's ipsec0]
#
# "inet" is a plain router between two documentation networks (the
# "internet"); the gateways are off link from each other. LAN hosts route
# everything to their gateway; gateways forward.
#
#   lab_build P        create namespaces ${P}lan-a ${P}gw-a ${P}inet ${P}gw-b
#                      ${P}lan-b (names suffixed with the PID, see
#                      ss_netns_name); sets LAB_<P>lan_a ... to their names
#   lab_ns P SHORT     print the full name of namespace SHORT of lab P
#   lab_plain_routes P route the LANs through inet without any tunnel
#   vt_start NAME NS CONF [ARGS...]   start vtid (userspace data plane)
#   vt_wait_log NAME ERE [TIMEOUT]    wait for a line in vtid NAME's log
#   vt_stop NAME [TIMEOUT]            SIGTERM, wait, SIGKILL after TIMEOUT
#   lab_cleanup        stop every vtid, then ss_cleanup (install as EXIT trap)

if [[ -n "${LAB_LIB_LOADED:-}" ]]; then return 0; fi
LAB_LIB_LOADED=1

VT_BIN=${VT_BIN:-}                # path of the vtid binary (set by the caller)
declare -A VT_PID=()              # vtid name -> pid
declare -A VT_LOG=()              # vtid name -> log file

lab_ns() { ss_netns_name "$1$2"; }

# lab_link NS_A IF_A ADDR_A NS_B IF_B ADDR_B: a veth pair between two
# existing namespaces.
lab_link() {
	local na=$1 ia=$2 aa=$3 nb=$4 ib=$5 ab=$6
	ip link add "$ia" netns "$na" type veth peer name "$ib" netns "$nb"
	ip -n "$na" addr add "$aa" dev "$ia"
	ip -n "$nb" addr add "$ab" dev "$ib"
	ip -n "$na" link set "$ia" up
	ip -n "$nb" link set "$ib" up
}

lab_build() {
	local p=$1 s
	for s in lan-a gw-a inet gw-b lan-b; do
		ss_netns_add "$p$s"
		ip netns exec "$(lab_ns "$p" "$s")" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 >/dev/null || true
	done
	local la gwa in gwb lb
	la=$(lab_ns "$p" lan-a); gwa=$(lab_ns "$p" gw-a); in=$(lab_ns "$p" inet)
	gwb=$(lab_ns "$p" gw-b); lb=$(lab_ns "$p" lan-b)
	lab_link "$la" eth0 10.1.0.2/24 "$gwa" lan 10.1.0.1/24
	lab_link "$gwa" wan 192.0.2.1/24 "$in" to-a 192.0.2.254/24
	lab_link "$in" to-b 198.51.100.254/24 "$gwb" wan 198.51.100.2/24
	lab_link "$gwb" lan 10.2.0.1/24 "$lb" eth0 10.2.0.2/24
	ip -n "$la" route add default via 10.1.0.1
	ip -n "$lb" route add default via 10.2.0.1
	ip -n "$gwa" route add default via 192.0.2.254
	ip -n "$gwb" route add default via 198.51.100.254
	for s in "$gwa" "$in" "$gwb"; do
		ip netns exec "$s" sysctl -qw net.ipv4.ip_forward=1 >/dev/null
	done
}

# Without a tunnel: inet learns the LANs (the reference path).
lab_plain_routes() {
	local p=$1 in
	in=$(lab_ns "$p" inet)
	ip -n "$in" route add 10.1.0.0/24 via 192.0.2.1
	ip -n "$in" route add 10.2.0.0/24 via 198.51.100.2
}

vt_start() {
	local name=$1 ns=$2 conf=$3; shift 3
	[[ -x $VT_BIN ]] || { ss_die "vtid binary not found: '$VT_BIN'"; return 1; }
	local log=$SS_WORKDIR/$name.log
	# ip netns exec exec()s vtid, so $! is vtid's pid. Its own control
	# socket path keeps two vtids from fighting over /run/vtid.vici.
	NO_COLOR=1 ip netns exec "$ns" "$VT_BIN" --config "$conf" \
		--vici "$SS_WORKDIR/$name.vici" --dataplane userspace "$@" \
		>"$log" 2>&1 </dev/null &
	VT_PID[$name]=$!
	VT_LOG[$name]=$log
}

vt_log() { printf '%s\n' "${VT_LOG[$1]}"; }

vt_wait_log() {
	local name=$1 re=$2 timeout=${3:-15} pid=${VT_PID[$1]:-}
	local deadline=$((SECONDS + timeout))
	until grep -Eq -- "$re" "${VT_LOG[$name]}" 2>/dev/null; do
		if [[ -n $pid ]] && ! kill -0 "$pid" 2>/dev/null; then
			tail -n 20 "${VT_LOG[$name]}" >&2
			ss_die "vtid '$name' exited while waiting for /$re/ (its log above)"
			return 1
		fi
		if ((SECONDS >= deadline)); then
			tail -n 20 "${VT_LOG[$name]}" >&2
			ss_die "timed out after ${timeout}s waiting for /$re/ in vtid '$name''s log (above)"
			return 1
		fi
		sleep 0.1
	done
}

vt_stop() {
	local name=$1 timeout=${2:-6} pid=${VT_PID[$1]:-}
	[[ -n $pid ]] || return 0
	if kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid" 2>/dev/null || true
		local deadline=$((SECONDS + timeout))
		while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.1; done
		if kill -0 "$pid" 2>/dev/null; then
			ss_log "vtid '$name' (pid $pid) did not stop, killing"
			kill -KILL "$pid" 2>/dev/null || true
		fi
	fi
	local rc=0
	wait "$pid" 2>/dev/null || rc=$?
	unset "VT_PID[$name]"
	return "$rc"
}

lab_cleanup() {
	local rc=$? name
	set +e
	trap - ERR
	for name in "${!VT_PID[@]}"; do vt_stop "$name" 3 >/dev/null 2>&1; done
	(exit "$rc")
	ss_cleanup
}

# vt_conf FILE ROLE TS_LOCAL TS_REMOTE ROUTES [EXTRA_CHILD]
# A vtid configuration in swanctl.conf syntax: one IKE connection to the
# other gateway (PSK, AES-GCM-128), one child bound to ipsec7 by reqid 7,
# and the routed interface ipsec7 with the transit /30. ROLE is a or b.
vt_conf() {
	local file=$1 role=$2 lts=$3 rts=$4 routes=$5 start=${6:-start}
	local me peer myid peerid la ra
	if [[ $role == a ]]; then
		me=192.0.2.1 peer=198.51.100.2 myid=gw-a.example.org peerid=gw-b.example.org
		la=10.6.106.1/30 ra=10.6.106.2
	else
		me=198.51.100.2 peer=192.0.2.1 myid=gw-b.example.org peerid=gw-a.example.org
		la=10.6.106.2/30 ra=10.6.106.1
	fi
	cat >"$file" <<EOF
# Phase 1: the IKE SA with the other gateway
connections {
    site-$([[ $role == a ]] && echo b || echo a) {
        version      = 2
        local_addrs  = $me
        remote_addrs = $peer
        proposals    = aes128gcm16-prfsha256-ecp256
        dpd_delay    = 30s
        local {
            auth = psk
            id   = $myid
        }
        remote {
            auth = psk
            id   = $peerid
        }
        # Phase 2: mode "Routed (VTI)" = the child's reqid names an ipsecN
        children {
            vti {
                reqid         = 7
                local_ts      = $lts
                remote_ts     = $rts
                esp_proposals = aes128gcm16
                start_action  = $start
            }
        }
    }
}
secrets {
    ike-site {
        id-1   = gw-a.example.org
        id-2   = gw-b.example.org
        secret = "vtid demo pre-shared key"
    }
}
vtid {
    interfaces {
        ipsec7 {
            reqid       = 7
            local_addr  = $la    # the transit network
            remote_addr = $ra      # the automatic gateway
            routes      = $routes
            mtu         = 1400
        }
    }
}
EOF
}
