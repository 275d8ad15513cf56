#!/usr/bin/env python3
"""Classifies `perf script` samples of vtid's packet threads (vti-out and
vti-seal: outbound; vti-in: inbound) into buckets, one bucket per sample (self time, so the shares add
up to 100 %): vtid's own code, the AES-GCM crypto, libc, and kernel time
split by what the kernel was doing. Reads `perf script -F comm,ip,sym,dso`
(call chains, innermost frame first) on stdin."""
import collections
import re
import sys

BUCKETS = [
    # (name, test on the list of symbols of the chain, innermost first)
    ("kernel: softirq (forwarding/TCP of the other namespaces, run inline)",
     lambda s: any(x in ("net_rx_action", "do_softirq.part.0", "__do_softirq", "handle_softirqs") for x in s)),
    ("kernel: TUN read (tun_do_read)", lambda s: "tun_do_read" in s or "tun_chr_read_iter" in s),
    ("kernel: TUN write (tun_get_user)", lambda s: "tun_get_user" in s),
    ("kernel: UDP send (udp_sendmsg, own part)", lambda s: "udp_sendmsg" in s),
    ("kernel: UDP receive (udp_recvmsg)", lambda s: "udp_recvmsg" in s),
    ("kernel: raw ESP send (raw_sendmsg, own part)", lambda s: "raw_sendmsg" in s),
    ("kernel: raw ESP receive (raw_recvmsg)", lambda s: "raw_recvmsg" in s),
    ("kernel: poll and scheduling", lambda s: any(x.startswith(("__x64_sys_poll", "do_sys_poll", "schedule", "__schedule", "finish_task_switch")) for x in s)),
]

def main():
    per = collections.defaultdict(collections.Counter)
    comm, chain, first = None, [], None
    def flush():
        if comm is None or not chain:
            return
        sym, dso = chain[0]
        if "kernel" not in dso:
            if "ring" in sym or "aes_gcm" in sym or "gcm_" in sym:
                b = "user: AES-GCM (ring)"
            elif "libc" in dso:
                b = "user: libc (syscall wrappers, memcpy)"
            else:
                b = "user: vtid (ESP framing, SA lookup, selectors, loop)"
        else:
            syms = [s for s, _ in chain]
            b = next((n for n, t in BUCKETS if t(syms)), "kernel: other")
        per[comm][b] += 1
    for line in sys.stdin:
        if not line.strip():
            flush(); comm, chain = None, []
            continue
        if not line.startswith((" ", "\t")):
            flush(); chain = []
            # vti-out0, vti-seal1, vti-in1, ...: one bucket table per
            # direction (readers and seal threads are both outbound).
            comm = re.sub(r"\d+$", "", line.split()[0]).replace("vti-seal", "vti-out")
            continue
        m = re.match(r"\s+[0-9a-f]+\s+(\S+?)(?:\+0x[0-9a-f]+)?\s+\((.*)\)", line)
        if m:
            chain.append((m.group(1), m.group(2)))
    flush()
    for c in ("vti-out", "vti-in"):
        n = sum(per[c].values())
        if not n:
            continue
        print("%s: %d samples" % (c, n))
        for b, k in per[c].most_common():
            print("  %5.1f %%  %s" % (100.0 * k / n, b))

main()
