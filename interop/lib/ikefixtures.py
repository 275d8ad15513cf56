#!/usr/bin/env python3
"""Turn a pcap plus strongSwan charon logs into IKEv2 test fixtures.

Python 3 standard library only. Used by interop/capture-fixtures; each
subcommand can also be run by hand:

  split  PCAP OUTDIR            one .bin per IKE message (UDP payload, the
                                4-byte non-ESP marker of port-4500 packets
                                removed, ESP packets skipped); prints the
                                manifest lines to stdout
  keys   INIT_LOG RESP_LOG OUTDIR [name=value ...]
                                keys.txt from the charon logs (keys logged by
                                keymat_v2 at ike/chd level 4), cross-checked
                                between initiator and responder and against
                                the .bin files in OUTDIR
  trim   LOG                    the key/derivation/proposal/message lines of
                                a charon log, to stdout
  uat    KEYS_TXT               Wireshark ikev2_decryption_table line(s) to
                                stdout (exit 3 if Wireshark has no name for
                                the cipher, e.g. ChaCha20-Poly1305)
  check  KEYS_TXT               recompute SKEYSEED, SK_* and the CHILD_SA
                                KEYMATs (RFC 7296 2.14/2.17, HMAC from the
                                stdlib) from Ni, Nr, g^ir, SPIs; compare
  esp-uat KEYS_TXT              Wireshark esp_sa lines (both directions of
                                every CHILD_SA) to stdout (exit 3 likewise)

The packet bytes are read with tshark (`-T fields -e udp.payload`: on port
4500 that field still includes the non-ESP marker).
"""

import hashlib
import hmac
import os
import re
import struct
import subprocess
import sys

EXCHANGES = {34: "ike_sa_init", 35: "ike_auth", 36: "create_child_sa",
             37: "informational", 43: "ike_intermediate"}
NONESP_MARKER = b"\x00\x00\x00\x00"
PAYLOAD_NONCE = 40
PAYLOAD_KE = 34


def die(msg):
    sys.stderr.write("ikefixtures: error: %s\n" % msg)
    sys.exit(1)


# ---------------------------------------------------------------- packets

def udp_payloads(pcap):
    """Yield (frame, src, dst, sport, dport, payload bytes) for each UDP
    packet of the pcap, via tshark."""
    cmd = ["tshark", "-n", "-r", pcap, "-Y", "udp", "-T", "fields",
           "-E", "separator=|", "-e", "frame.number", "-e", "ip.src",
           "-e", "ipv6.src", "-e", "ip.dst", "-e", "ipv6.dst",
           "-e", "udp.srcport", "-e", "udp.dstport", "-e", "udp.payload"]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    for line in out.splitlines():
        f = line.split("|")
        if len(f) != 8:
            continue
        frame, s4, s6, d4, d6, sport, dport, payload = f
        yield (int(frame), s4 or s6, d4 or d6, int(sport), int(dport),
               bytes.fromhex(payload.replace(":", "")))


def ike_header(msg):
    """Parse the fixed 28-byte IKE header."""
    if len(msg) < 28:
        return None
    spi_i, spi_r, np, ver, xchg, flags, msgid, length = struct.unpack(
        ">8s8sBBBBII", msg[:28])
    return dict(spi_i=spi_i.hex(), spi_r=spi_r.hex(), next_payload=np,
                version=ver, exchange=xchg, flags=flags, msgid=msgid,
                length=length)


def ike_messages(pcap):
    """Yield dicts describing each IKE message in the capture."""
    for frame, src, dst, sport, dport, payload in udp_payloads(pcap):
        marker = False
        if 4500 in (sport, dport):
            if len(payload) == 1 and payload == b"\xff":
                continue                      # NAT-T keepalive
            if payload[:4] != NONESP_MARKER:
                continue                      # ESP in UDP
            payload = payload[4:]
            marker = True
        hdr = ike_header(payload)
        if hdr is None or hdr["version"] != 0x20:
            continue
        if hdr["length"] != len(payload):
            die("frame %d: IKE length %d != UDP payload %d (truncated?)"
                % (frame, hdr["length"], len(payload)))
        hdr.update(frame=frame, src=src, dst=dst, sport=sport, dport=dport,
                   marker=marker, data=payload,
                   response=bool(hdr["flags"] & 0x20),
                   from_initiator=bool(hdr["flags"] & 0x08))
        yield hdr


def cmd_split(pcap, outdir):
    os.makedirs(outdir, exist_ok=True)
    n = 0
    for m in ike_messages(pcap):
        n += 1
        xname = EXCHANGES.get(m["exchange"], "exchange%d" % m["exchange"])
        rr = "resp" if m["response"] else "req"
        name = "%02d-%s-%s.bin" % (n, xname, rr)
        with open(os.path.join(outdir, name), "wb") as f:
            f.write(m["data"])
        print("%s  %s %s msgid=%d sender=%s %s:%d -> %s:%d udp=%d%s "
              "len=%d frame=%d" % (
                  name, xname.upper(), "response" if m["response"]
                  else "request", m["msgid"],
                  "initiator" if m["from_initiator"] else "responder",
                  m["src"], m["sport"], m["dst"], m["dport"], m["dport"],
                  " non-esp-marker-removed" if m["marker"] else "",
                  len(m["data"]), m["frame"]))
    if n == 0:
        die("no IKE messages in %s" % pcap)


def payloads(msg):
    """Yield (type, body) for the plaintext payload chain of a message."""
    hdr = ike_header(msg)
    np, off = hdr["next_payload"], 28
    while np != 0 and off + 4 <= len(msg):
        nxt, _crit, plen = struct.unpack(">BBH", msg[off:off + 4])
        yield np, msg[off + 4:off + plen]
        if np == 46:            # SK: the rest is encrypted
            return
        np, off = nxt, off + plen


# ---------------------------------------------------------------- logs

LINE_RE = re.compile(r"^(\S+) (\d+)\[(\w+)\] (?:<[^>]*> )?(.*)$")
BLOCK_RE = re.compile(r"^(.*?) ?=> (\d+) bytes @ 0x[0-9a-f]+$")
HEX_RE = re.compile(r"^\s*(\d+): ((?:[0-9A-F]{2} ){0,15}[0-9A-F]{2})")


def parse_log(path):
    """Return a list of events: ("line", thread, subsys, text, lineno) and
    ("block", thread, subsys, label, bytes, lineno). Hex dumps that charon
    prints after a "LABEL => N bytes @ 0x..." line are attached to it (by
    thread, since threads interleave)."""
    events, open_blocks = [], {}
    with open(path, errors="replace") as f:
        for lineno, raw in enumerate(f, 1):
            m = LINE_RE.match(raw.rstrip("\n"))
            if not m:
                continue
            _t, thread, subsys, text = m.groups()
            h = HEX_RE.match(text)
            blk = open_blocks.get(thread)
            if h and blk is not None and int(h.group(1)) == len(blk[4]):
                blk[4].extend(bytes.fromhex(h.group(2)))
                continue
            b = BLOCK_RE.match(text)
            if b:
                ev = ["block", thread, subsys, b.group(1).strip(),
                      bytearray(), lineno, int(b.group(2))]
                events.append(ev)
                open_blocks[thread] = ev
                continue
            open_blocks.pop(thread, None)
            events.append(["line", thread, subsys, text, lineno])
    for ev in events:
        if ev[0] == "block" and len(ev[4]) != ev[6]:
            die("%s:%d: block '%s' has %d of %d bytes" % (
                path, ev[5], ev[3], len(ev[4]), ev[6]))
    return events


IKE_KEYS = [("shared Diffie Hellman secret", "g_ir"), ("SKEYSEED", "skeyseed"),
            ("Sk_d secret", "sk_d"), ("Sk_ai secret", "sk_ai"),
            ("Sk_ar secret", "sk_ar"), ("Sk_ei secret", "sk_ei"),
            ("Sk_er secret", "sk_er"), ("Sk_pi secret", "sk_pi"),
            ("Sk_pr secret", "sk_pr")]
CHILD_KEYS = [("seed", "seed"), ("encryption initiator key", "encr_i"),
              ("encryption responder key", "encr_r"),
              ("integrity initiator key", "integ_i"),
              ("integrity responder key", "integ_r")]
SPIS_RE = re.compile(r"with SPIs ([0-9a-f]{16})_i ([0-9a-f]{16})_r")
CHILD_EST_RE = re.compile(
    r"CHILD_SA (\S+)\{(\d+)\} established with SPIs ([0-9a-f]{8})_i "
    r"([0-9a-f]{8})_o")


def extract(path):
    """Extract IKE key sets, CHILD_SA key sets, proposals from one log."""
    events = parse_log(path)
    ike_sets, child_sets, info = [], [], {}
    cur_ike, cur_child = None, {}
    ike_labels, child_labels = dict(IKE_KEYS), dict(CHILD_KEYS)
    for i, ev in enumerate(events):
        if ev[0] == "block":
            _, thread, subsys, label, data = ev[:5]
            if subsys == "IKE" and label in ike_labels:
                if label == "shared Diffie Hellman secret" or cur_ike is None:
                    cur_ike = {"thread": thread}
                    ike_sets.append(cur_ike)
                cur_ike[ike_labels[label]] = data.hex()
                if label == "Sk_pr secret":
                    # the thread checks the SA in with both SPIs afterwards
                    for later in events[i:]:
                        if later[0] == "line" and later[1] == thread:
                            s = SPIS_RE.search(later[3])
                            if s and s.group(2) != "0" * 16:
                                cur_ike["spi_i"], cur_ike["spi_r"] = s.groups()
                                break
                    cur_ike = None
            elif subsys == "IKE" and label == "secret":
                info["psk_hex"] = data.hex()
            elif subsys == "CHD" and label in child_labels:
                if label == "seed":
                    cur_child[thread] = {}
                    child_sets.append(cur_child[thread])
                cur_child.setdefault(thread, {})[child_labels[label]] = data.hex()
        else:
            _, thread, subsys, text = ev[:4]
            m = re.match(r"selected proposal: (IKE|ESP|AH):(.*)$", text)
            if m and subsys == "CFG":
                key = "ike_selected" if m.group(1) == "IKE" else "child_selected"
                info.setdefault(key, []).append(m.group(1) + ":" + m.group(2))
            m = CHILD_EST_RE.search(text)
            if m and thread in cur_child:
                c = cur_child[thread]
                c.update(name=m.group(1), unique_id=m.group(2),
                         spi_in=m.group(3), spi_out=m.group(4))
                if "inbound CHILD_SA" not in text:
                    del cur_child[thread]
    return ike_sets, child_sets, info


def fmt(name, value):
    return "%s = %s\n" % (name, value)


def cmd_keys(init_log, resp_log, outdir, extras):
    i_ike, i_child, i_info = extract(init_log)
    r_ike, r_child, r_info = extract(resp_log)
    if not i_ike:
        die("no IKE keys in %s (is 'ike = 4' set in filelog?)" % init_log)
    # --- cross-checks: both peers must have derived the same keys
    strip = lambda d: {k: v for k, v in d.items() if k != "thread"}
    if [strip(s) for s in i_ike] != [strip(s) for s in r_ike]:
        die("IKE keys differ between initiator and responder logs")
    if len(i_child) != len(r_child):
        die("different number of CHILD_SA key sets in the two logs")
    for ic, rc in zip(i_child, r_child):
        for k in ("seed", "encr_i", "encr_r", "integ_i", "integ_r"):
            if ic.get(k) != rc.get(k):
                die("CHILD_SA %s differs between logs" % k)
        if (ic.get("spi_in"), ic.get("spi_out")) != (rc.get("spi_out"),
                                                       rc.get("spi_in")):
            die("CHILD_SA SPIs do not match between logs")
    if i_info.get("psk_hex") != r_info.get("psk_hex"):
        die("PSK differs between logs")
    # --- cross-check with the packets: SPIs and nonces
    bins = sorted(f for f in os.listdir(outdir) if f.endswith(".bin"))
    msgs = [open(os.path.join(outdir, f), "rb").read() for f in bins]
    init_req = next((m for m in msgs if m[18] == 34 and not m[19] & 0x20), None)
    init_resp = next((m for m in msgs if m[18] == 34 and m[19] & 0x20), None)
    if init_req is None or init_resp is None:
        die("no IKE_SA_INIT request/response among %s" % bins)
    hdr = ike_header(init_resp)
    first = i_ike[0]
    if (first.get("spi_i"), first.get("spi_r")) != (hdr["spi_i"], hdr["spi_r"]):
        die("SPIs in log %s/%s != packet %s/%s" % (
            first.get("spi_i"), first.get("spi_r"), hdr["spi_i"], hdr["spi_r"]))
    ni = next(b for t, b in payloads(init_req) if t == PAYLOAD_NONCE)
    nr = next(b for t, b in payloads(init_resp) if t == PAYLOAD_NONCE)
    if i_child and i_child[0].get("seed") != (ni + nr).hex():
        die("first CHILD_SA seed != Ni | Nr from the packets")

    out = []
    out.append("# IKEv2 fixture keys, derived by strongSwan charon and taken from its\n"
               "# log (keymat_v2, ike/chd level 4); throwaway lab PSK, not a secret.\n"
               "# Format: one 'name = value' per line; byte strings are contiguous\n"
               "# lowercase hex (SPIs in network byte order, as on the wire);\n"
               "# an empty value means charon derived no such key (AEAD: no SK_a*).\n"
               "# See tests/fixtures/strongswan/README.md.\n")
    for kv in extras:
        k, _, v = kv.partition("=")
        out.append(fmt(k, v))
    out.append(fmt("psk_hex", i_info.get("psk_hex", "")))
    for n, s in enumerate(i_ike, 1):
        pre = "" if n == 1 else "ike%d." % n
        if n == 1:
            out.append(fmt("ike_selected", i_info.get("ike_selected", [""])[0]))
        for k in ("spi_i", "spi_r"):
            out.append(fmt(pre + k, s.get(k, "")))
        if n == 1:
            out.append(fmt("ni", ni.hex()))
            out.append(fmt("nr", nr.hex()))
        for _label, k in IKE_KEYS:
            out.append(fmt(pre + k, s.get(k, "")))
    sel = i_info.get("child_selected", [])
    for n, c in enumerate(i_child, 1):
        pre = "child%d." % n
        out.append(fmt(pre + "name", c.get("name", "")))
        out.append(fmt(pre + "selected", sel[n - 1] if n - 1 < len(sel) else ""))
        # the initiator's inbound SPI is SPIi (chosen by the initiator, used
        # on packets responder -> initiator, protected with encr_r/integ_r)
        out.append(fmt(pre + "spi_i", c.get("spi_in", "")))
        out.append(fmt(pre + "spi_r", c.get("spi_out", "")))
        for _label, k in CHILD_KEYS:
            out.append(fmt(pre + k, c.get(k, "")))
    with open(os.path.join(outdir, "keys.txt"), "w") as f:
        f.writelines(out)


# ---------------------------------------------------------------- trim

KEEP_ENC_BLOCKS = {"plain", "padding", "encrypted", "assoc", "IV", "ICV"}
KEEP_LINE_RE = re.compile(
    r"(selected proposal|received proposals|configured proposals|"
    r"^(generating|parsed) \S+ (request|response)|"
    r"^(sending|received) packet|established|SPI 0x|allocated SPI|"
    r"adding (inbound|outbound) ESP SA|DELETE|authentication of|"
    r"initiating IKE_SA|rekeying|using .* for (encryption|integrity)|"
    r"state change|loaded plugins|remote host is behind NAT|"
    r"local host is behind NAT|strongSwan)")


def cmd_trim(log):
    keep_block = {}
    with open(log, errors="replace") as f:
        for raw in f:
            m = LINE_RE.match(raw.rstrip("\n"))
            if not m:
                continue
            _t, thread, subsys, text = m.groups()
            if HEX_RE.match(text) and keep_block.get(thread) is not None:
                if keep_block[thread]:
                    sys.stdout.write(raw)
                continue
            b = BLOCK_RE.match(text)
            if b:
                label = b.group(1).strip()
                keep = subsys in ("IKE", "CHD") or (
                    subsys == "ENC" and label in KEEP_ENC_BLOCKS)
                keep_block[thread] = keep
                if keep:
                    sys.stdout.write(raw)
                continue
            keep_block[thread] = None
            if subsys in ("JOB", "MGR") or "parsing rule" in text or \
                    "generating rule" in text:
                continue
            if KEEP_LINE_RE.search(text):
                sys.stdout.write(raw)


# ---------------------------------------------------------------- uat

# Names of Wireshark's isakmp dissector (vs_ikev2_encr_algs /
# vs_ikev2_auth_algs in epan/dissectors/packet-isakmp.c); the same table is
# used by strongSwan's save-keys plugin.
WS_ENCR = {
    "AES_CBC_128": "AES-CBC-128 [RFC3602]",
    "AES_CBC_192": "AES-CBC-192 [RFC3602]",
    "AES_CBC_256": "AES-CBC-256 [RFC3602]",
    "3DES_CBC": "3DES [RFC2451]",
    "AES_CTR_128": "AES-CTR-128 [RFC5930]",
    "AES_CTR_192": "AES-CTR-192 [RFC5930]",
    "AES_CTR_256": "AES-CTR-256 [RFC5930]",
}
for _icv in (8, 12, 16):
    for _bits in (128, 192, 256):
        WS_ENCR["AES_GCM_%d_%d" % (_icv, _bits)] = \
            "AES-GCM-%d with %d octet ICV [RFC5282]" % (_bits, _icv)
        WS_ENCR["AES_CCM_%d_%d" % (_icv, _bits)] = \
            "AES-CCM-%d with %d octet ICV [RFC5282]" % (_bits, _icv)
WS_INTEG = {
    "HMAC_MD5_96": "HMAC_MD5_96 [RFC2403]",
    "HMAC_SHA1_96": "HMAC_SHA1_96 [RFC2404]",
    "HMAC_SHA2_256_128": "HMAC_SHA2_256_128 [RFC4868]",
    "HMAC_SHA2_384_192": "HMAC_SHA2_384_192 [RFC4868]",
    "HMAC_SHA2_512_256": "HMAC_SHA2_512_256 [RFC4868]",
    None: "NONE [RFC4306]",
}


def read_keys(path):
    keys = {}
    with open(path) as f:
        for line in f:
            if line.startswith("#") or "=" not in line:
                continue
            k, _, v = line.partition("=")
            keys[k.strip()] = v.strip()
    return keys


def cmd_uat(path):
    keys = read_keys(path)
    prefixes = [""] + sorted({k.split(".")[0] + "." for k in keys
                              if re.match(r"ike\d+\.", k)})
    # proposal string as charon prints it, e.g.
    # IKE:AES_CBC_256/HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/MODP_2048
    algs = keys["ike_selected"].split(":", 1)[1].split("/")
    encr = WS_ENCR.get(algs[0])
    integ_name = next((a for a in algs[1:] if a.startswith("HMAC_")), None)
    integ = WS_INTEG.get(integ_name)
    if encr is None or integ is None:
        sys.stderr.write("ikefixtures: Wireshark cannot decrypt %s\n" % algs)
        sys.exit(3)
    for p in prefixes:
        print('%s,%s,%s,%s,"%s",%s,%s,"%s"' % (
            keys[p + "spi_i"], keys[p + "spi_r"], keys[p + "sk_ei"],
            keys[p + "sk_er"], encr, keys[p + "sk_ai"], keys[p + "sk_ar"],
            integ))


# ---------------------------------------------------------------- check

PRFS = {"PRF_HMAC_SHA2_256": hashlib.sha256, "PRF_HMAC_SHA2_384": hashlib.sha384,
        "PRF_HMAC_SHA2_512": hashlib.sha512, "PRF_HMAC_SHA1": hashlib.sha1}


def prf_plus(digest, key, seed, length):
    """RFC 7296 2.13: prf+ (K,S) = T1 | T2 | ..., Tn = prf(K, Tn-1 | S | n)."""
    out, t, n = b"", b"", 1
    while len(out) < length:
        t = hmac.new(key, t + seed + bytes([n]), digest).digest()
        out, n = out + t, n + 1
    return out[:length]


def cmd_check(path):
    """Recompute SKEYSEED, the SK_* keys and the first CHILD_SA's KEYMAT
    from Ni, Nr, g^ir and the SPIs in keys.txt (RFC 7296 2.14 and 2.17),
    independently of charon, and compare with the logged values."""
    keys = read_keys(path)
    prf = next((a for a in keys["ike_selected"].split("/") if a in PRFS), None)
    if prf is None:
        die("no supported PRF in %s" % keys["ike_selected"])
    digest = PRFS[prf]
    h = lambda k: bytes.fromhex(keys[k])
    ni, nr = h("ni"), h("nr")
    skeyseed = hmac.new(ni + nr, h("g_ir"), digest).digest()
    if skeyseed != h("skeyseed"):
        die("SKEYSEED mismatch")
    names = ["sk_d", "sk_ai", "sk_ar", "sk_ei", "sk_er", "sk_pi", "sk_pr"]
    total = sum(len(h(n)) for n in names)
    stream = prf_plus(digest, skeyseed, ni + nr + h("spi_i") + h("spi_r"), total)
    off = 0
    for n in names:
        ln = len(h(n))
        if stream[off:off + ln] != h(n):
            die("%s mismatch" % n)
        off += ln
    checked = 1
    c = 1
    while "child%d.seed" % c in keys:
        p = "child%d." % c
        # no PFS here: KEYMAT = prf+(SK_d, Ni | Nr) (seed as charon logged it)
        order = [p + "encr_i", p + "integ_i", p + "encr_r", p + "integ_r"]
        stream = prf_plus(digest, h("sk_d"), h(p + "seed"),
                          sum(len(h(n)) for n in order))
        off = 0
        for n in order:
            ln = len(h(n))
            if stream[off:off + ln] != h(n):
                die("%s mismatch" % n)
            off += ln
        checked, c = checked + 1, c + 1
    print("ok: SKEYSEED, SK_* and %d CHILD_SA KEYMAT(s) recomputed and equal"
          % (checked - 1))


# ESP names of Wireshark's esp_sa UAT (packet-ipsec.c), as strongSwan's
# save-keys plugin writes them, except that Wireshark 4.0 insists on "NULL"
# authentication with AES-GCM (the ICV is then not checked) and the GCM name
# that includes the ICV length. Wireshark 4.0 has no ChaCha20-Poly1305 (newer
# versions call it "ChaCha20 with Poly1305 [RFC7634]").
WS_ESP_ENCR = {"AES_CBC": "AES-CBC [RFC3602]", "AES_CTR": "AES-CTR [RFC3686]",
               "3DES_CBC": "TripleDes-CBC [RFC2451]",
               "AES_GCM_8": "AES-GCM with 8 octet ICV [RFC4106]",
               "AES_GCM_12": "AES-GCM with 12 octet ICV [RFC4106]",
               "AES_GCM_16": "AES-GCM with 16 octet ICV [RFC4106]",
               "NULL": "NULL"}
WS_ESP_INTEG = {"HMAC_SHA1_96": "HMAC-SHA-1-96 [RFC2404]",
                "HMAC_MD5_96": "HMAC-MD5-96 [RFC2403]",
                "HMAC_SHA2_256_128": "HMAC-SHA-256-128 [RFC4868]",
                "HMAC_SHA2_384_192": "HMAC-SHA-384-192 [RFC4868]",
                "HMAC_SHA2_512_256": "HMAC-SHA-512-256 [RFC4868]",
                "AES_GCM_8": "NULL", "AES_GCM_12": "NULL",
                "AES_GCM_16": "NULL"}


def cmd_esp_uat(path):
    """Wireshark esp_sa lines (two per CHILD_SA, one per direction)."""
    keys = read_keys(path)
    n = 1
    while "child%d.spi_i" % n in keys:
        p = "child%d." % n
        algs = keys[p + "selected"].split(":", 1)[1].split("/")
        enc_alg = re.sub(r"_(128|192|256)$", "", algs[0])
        encr = WS_ESP_ENCR.get(enc_alg)
        integ = WS_ESP_INTEG.get(next((a for a in algs[1:]
                                       if a.startswith("HMAC_")), enc_alg))
        if encr is None or integ is None:
            sys.stderr.write("ikefixtures: Wireshark cannot decrypt %s\n" % algs)
            sys.exit(3)
        # initiator -> responder uses the responder's SPI and the _i keys
        for src, dst, spi, e, a in (
                (keys["addr_i"], keys["addr_r"], keys[p + "spi_r"],
                 keys[p + "encr_i"], keys[p + "integ_i"]),
                (keys["addr_r"], keys["addr_i"], keys[p + "spi_i"],
                 keys[p + "encr_r"], keys[p + "integ_r"])):
            fam = "IPv6" if ":" in src else "IPv4"
            print('"%s","%s","%s","0x%s","%s","0x%s","%s","0x%s"' % (
                fam, src, dst, spi, encr, e, integ, a))
        n += 1


def main(argv):
    if len(argv) >= 3 and argv[0] == "split":
        cmd_split(argv[1], argv[2])
    elif len(argv) >= 4 and argv[0] == "keys":
        cmd_keys(argv[1], argv[2], argv[3], argv[4:])
    elif len(argv) == 2 and argv[0] == "trim":
        cmd_trim(argv[1])
    elif len(argv) == 2 and argv[0] == "uat":
        cmd_uat(argv[1])
    elif len(argv) == 2 and argv[0] == "check":
        cmd_check(argv[1])
    elif len(argv) == 2 and argv[0] == "esp-uat":
        cmd_esp_uat(argv[1])
    else:
        sys.stderr.write(__doc__)
        sys.exit(2)


if __name__ == "__main__":
    main(sys.argv[1:])
