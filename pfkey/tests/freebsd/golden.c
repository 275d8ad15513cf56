/*
 * vtid: regenerate the golden values of pfkey/tests/freebsd_golden.rs on a
 * FreeBSD machine (run through regen.sh next to this file).
 *
 * It prints, one "name value" line each, in the test's own format:
 *   size.X / off.X.F   sizeof / offsetof from the system headers
 *   const.X            request codes and constants from the system headers
 *   msg.X              hex of a PF_KEY message as libipsec builds it, for
 *                      the same SA or policy the test builds with vtid;
 *                      msg.RTM_X: a routing-socket message laid out with
 *                      the installed struct rt_msghdr and SA_SIZE() the way
 *                      route(8)'s rtmsg_rtsock() writes it
 * The messages are captured by this program's own send(2), which libipsec's
 * pfkey_send() calls (the executable's definition takes precedence over
 * libc's for the shared libipsec too); it sets sadb_msg_pid to 4242 as the
 * test's messages have, prints, and sends nothing. No PF_KEY socket is
 * opened: it runs unprivileged and changes nothing.
 *
 * This is vtid's own code; it uses only the installed headers and libipsec.
 * libipsec's pfkey_send_* functions are not in an installed header
 * (setkey gets them from the source tree), so their prototypes are
 * declared below as libipsec defines them.
 */
#include <sys/param.h>
#include <sys/types.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/sockio.h>
#include <net/if.h>
#include <net/if_dl.h>
#include <net/if_ipsec.h>
#include <net/route.h>
#include <net/pfkeyv2.h>
#include <netinet/in.h>
#include <netinet/in_var.h>
#include <netinet/udp.h>
#include <netinet6/in6_var.h>
#include <netipsec/ipsec.h>
#include <arpa/inet.h>

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* libipsec (lib/libipsec/libpfkey.h is not installed). */
int pfkey_send_add(int, u_int, u_int, struct sockaddr *, struct sockaddr *,
    u_int32_t, u_int32_t, u_int, caddr_t, u_int, u_int, u_int, u_int, u_int,
    u_int32_t, u_int64_t, u_int64_t, u_int64_t, u_int32_t);
int pfkey_send_update(int, u_int, u_int, struct sockaddr *, struct sockaddr *,
    u_int32_t, u_int32_t, u_int, caddr_t, u_int, u_int, u_int, u_int, u_int,
    u_int32_t, u_int64_t, u_int64_t, u_int64_t, u_int32_t);
int pfkey_send_delete(int, u_int, u_int, struct sockaddr *, struct sockaddr *,
    u_int32_t);
int pfkey_send_register(int, u_int);
int pfkey_send_spdadd(int, struct sockaddr *, u_int, struct sockaddr *, u_int,
    u_int, caddr_t, int, u_int32_t);
int pfkey_send_spddelete(int, struct sockaddr *, u_int, struct sockaddr *,
    u_int, u_int, caddr_t, int, u_int32_t);

#define TEST_PID 4242

static const char *capture_name; /* the msg.X the next send(2) is */
static int captured;

static void
hexline(const char *name, const void *p, size_t n)
{
	const unsigned char *b = p;
	size_t i;

	printf("%s ", name);
	for (i = 0; i < n; i++)
		printf("%02x", b[i]);
	printf("\n");
}

ssize_t
send(int s, const void *buf, size_t len, int flags)
{
	unsigned char m[4096];
	uint32_t pid = TEST_PID;

	(void)s;
	(void)flags;
	if (capture_name == NULL || len < sizeof(struct sadb_msg) ||
	    len > sizeof(m)) {
		errno = EINVAL;
		return (-1);
	}
	memcpy(m, buf, len);
	memcpy(m + offsetof(struct sadb_msg, sadb_msg_pid), &pid, sizeof(pid));
	hexline(capture_name, m, len);
	capture_name = NULL;
	captured++;
	return ((ssize_t)len);
}

/* Fails loudly when libipsec did not reach our send(2). */
static void
expect_sent(const char *name, int ret)
{
	if (ret < 0 || capture_name != NULL) {
		fprintf(stderr, "golden: %s: libipsec returned %d (%s), "
		    "or send(2) was not interposed\n", name, ret,
		    ipsec_strerror());
		exit(1);
	}
}

static void
num(const char *name, unsigned long v)
{
	printf("%s %lu\n", name, v);
}

static struct sockaddr *
addr(struct sockaddr_storage *ss, const char *s)
{
	memset(ss, 0, sizeof(*ss));
	if (strchr(s, ':') != NULL) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;

		a->sin6_len = sizeof(*a);
		a->sin6_family = AF_INET6;
		if (inet_pton(AF_INET6, s, &a->sin6_addr) != 1)
			abort();
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)ss;

		a->sin_len = sizeof(*a);
		a->sin_family = AF_INET;
		if (inet_pton(AF_INET, s, &a->sin_addr) != 1)
			abort();
	}
	return ((struct sockaddr *)ss);
}

static void
layouts(void)
{
	num("size.ifreq", sizeof(struct ifreq));
	num("size.ifaliasreq", sizeof(struct ifaliasreq));
	num("size.in_aliasreq", sizeof(struct in_aliasreq));
	num("size.in6_aliasreq", sizeof(struct in6_aliasreq));
	num("size.in6_addrlifetime", sizeof(struct in6_addrlifetime));
	num("size.sockaddr_in", sizeof(struct sockaddr_in));
	num("size.sockaddr_in6", sizeof(struct sockaddr_in6));
	num("off.ifreq.ifr_ifru", offsetof(struct ifreq, ifr_ifru));
	num("off.in_aliasreq.ifra_addr", offsetof(struct in_aliasreq, ifra_addr));
	num("off.in_aliasreq.ifra_broadaddr",
	    offsetof(struct in_aliasreq, ifra_broadaddr));
	num("off.in_aliasreq.ifra_mask", offsetof(struct in_aliasreq, ifra_mask));
	num("off.in_aliasreq.ifra_vhid", offsetof(struct in_aliasreq, ifra_vhid));
	num("off.in6_aliasreq.ifra_addr",
	    offsetof(struct in6_aliasreq, ifra_addr));
	num("off.in6_aliasreq.ifra_dstaddr",
	    offsetof(struct in6_aliasreq, ifra_dstaddr));
	num("off.in6_aliasreq.ifra_prefixmask",
	    offsetof(struct in6_aliasreq, ifra_prefixmask));
	num("off.in6_aliasreq.ifra_flags",
	    offsetof(struct in6_aliasreq, ifra_flags));
	num("off.in6_aliasreq.ifra_lifetime",
	    offsetof(struct in6_aliasreq, ifra_lifetime));
	num("off.in6_aliasreq.ifra_vhid",
	    offsetof(struct in6_aliasreq, ifra_vhid));
	num("off.in6_addrlifetime.ia6t_vltime",
	    offsetof(struct in6_addrlifetime, ia6t_vltime));
	num("off.in6_addrlifetime.ia6t_pltime",
	    offsetof(struct in6_addrlifetime, ia6t_pltime));
	num("off.sockaddr_in.sin_port", offsetof(struct sockaddr_in, sin_port));
	num("off.sockaddr_in.sin_addr", offsetof(struct sockaddr_in, sin_addr));
	num("off.sockaddr_in6.sin6_port",
	    offsetof(struct sockaddr_in6, sin6_port));
	num("off.sockaddr_in6.sin6_flowinfo",
	    offsetof(struct sockaddr_in6, sin6_flowinfo));
	num("off.sockaddr_in6.sin6_addr",
	    offsetof(struct sockaddr_in6, sin6_addr));
	num("off.sockaddr_in6.sin6_scope_id",
	    offsetof(struct sockaddr_in6, sin6_scope_id));

	num("const.SIOCSIFFLAGS", SIOCSIFFLAGS);
	num("const.SIOCGIFFLAGS", SIOCGIFFLAGS);
	num("const.SIOCAIFADDR", SIOCAIFADDR);
	num("const.SIOCSIFMTU", SIOCSIFMTU);
	num("const.SIOCSIFPHYADDR", SIOCSIFPHYADDR);
	num("const.SIOCIFCREATE2", SIOCIFCREATE2);
	num("const.SIOCIFDESTROY", SIOCIFDESTROY);
	num("const.SIOCAIFADDR_IN6", SIOCAIFADDR_IN6);
	num("const.SIOCSIFPHYADDR_IN6", SIOCSIFPHYADDR_IN6);
	num("const.IPSECGREQID", IPSECGREQID);
	num("const.IPSECSREQID", IPSECSREQID);
	num("const.IFF_UP", IFF_UP);
	num("const.UDP_ENCAP", UDP_ENCAP);
	num("const.UDP_ENCAP_ESPINUDP", UDP_ENCAP_ESPINUDP);
	num("const.IP_IPSEC_POLICY", IP_IPSEC_POLICY);
	num("const.IPV6_IPSEC_POLICY", IPV6_IPSEC_POLICY);
	num("const.pseudo_AF_KEY", pseudo_AF_KEY);
	num("const.AF_INET", AF_INET);
	num("const.AF_INET6", AF_INET6);
	num("const.IPSEC_MODE_ANY", IPSEC_MODE_ANY);
	num("const.IPSEC_MODE_TRANSPORT", IPSEC_MODE_TRANSPORT);
	num("const.IPSEC_MODE_TUNNEL", IPSEC_MODE_TUNNEL);
	num("const.IPSEC_DIR_ANY", IPSEC_DIR_ANY);
	num("const.IPSEC_DIR_INBOUND", IPSEC_DIR_INBOUND);
	num("const.IPSEC_DIR_OUTBOUND", IPSEC_DIR_OUTBOUND);
	num("const.IPSEC_POLICY_DISCARD", IPSEC_POLICY_DISCARD);
	num("const.IPSEC_POLICY_NONE", IPSEC_POLICY_NONE);
	num("const.IPSEC_POLICY_IPSEC", IPSEC_POLICY_IPSEC);
	num("const.IPSEC_POLICY_ENTRUST", IPSEC_POLICY_ENTRUST);
	num("const.IPSEC_POLICY_BYPASS", IPSEC_POLICY_BYPASS);
	num("const.IPSEC_POLICYSCOPE_ANY", IPSEC_POLICYSCOPE_ANY);
	num("const.IPSEC_POLICYSCOPE_GLOBAL", IPSEC_POLICYSCOPE_GLOBAL);
	num("const.IPSEC_POLICYSCOPE_IFNET", IPSEC_POLICYSCOPE_IFNET);
	num("const.IPSEC_LEVEL_DEFAULT", IPSEC_LEVEL_DEFAULT);
	num("const.IPSEC_LEVEL_USE", IPSEC_LEVEL_USE);
	num("const.IPSEC_LEVEL_REQUIRE", IPSEC_LEVEL_REQUIRE);
	num("const.IPSEC_LEVEL_UNIQUE", IPSEC_LEVEL_UNIQUE);
#ifdef IPSEC_MANUAL_REQID_MAX
	num("const.IPSEC_MANUAL_REQID_MAX", IPSEC_MANUAL_REQID_MAX);
#else
	/* Kernel-only in this release: the value from sys/netipsec/ipsec.h. */
	printf("const.IPSEC_MANUAL_REQID_MAX not-in-userland-headers\n");
#endif

	num("size.sadb_msg", sizeof(struct sadb_msg));
	num("size.sadb_ext", sizeof(struct sadb_ext));
	num("size.sadb_sa", sizeof(struct sadb_sa));
	num("size.sadb_lifetime", sizeof(struct sadb_lifetime));
	num("size.sadb_address", sizeof(struct sadb_address));
	num("size.sadb_key", sizeof(struct sadb_key));
	num("size.sadb_ident", sizeof(struct sadb_ident));
	num("size.sadb_sens", sizeof(struct sadb_sens));
	num("size.sadb_prop", sizeof(struct sadb_prop));
	num("size.sadb_comb", sizeof(struct sadb_comb));
	num("size.sadb_supported", sizeof(struct sadb_supported));
	num("size.sadb_alg", sizeof(struct sadb_alg));
	num("size.sadb_spirange", sizeof(struct sadb_spirange));
	num("size.sadb_x_sa2", sizeof(struct sadb_x_sa2));
	num("size.sadb_x_policy", sizeof(struct sadb_x_policy));
	num("size.sadb_x_ipsecrequest", sizeof(struct sadb_x_ipsecrequest));
	num("size.sadb_x_nat_t_type", sizeof(struct sadb_x_nat_t_type));
	num("size.sadb_x_nat_t_port", sizeof(struct sadb_x_nat_t_port));
	num("size.sadb_x_nat_t_frag", sizeof(struct sadb_x_nat_t_frag));
	num("size.sadb_x_sa_replay", sizeof(struct sadb_x_sa_replay));

	num("const.SADB_GETSPI", SADB_GETSPI);
	num("const.SADB_UPDATE", SADB_UPDATE);
	num("const.SADB_ADD", SADB_ADD);
	num("const.SADB_DELETE", SADB_DELETE);
	num("const.SADB_GET", SADB_GET);
	num("const.SADB_ACQUIRE", SADB_ACQUIRE);
	num("const.SADB_REGISTER", SADB_REGISTER);
	num("const.SADB_EXPIRE", SADB_EXPIRE);
	num("const.SADB_FLUSH", SADB_FLUSH);
	num("const.SADB_DUMP", SADB_DUMP);
	num("const.SADB_X_SPDADD", SADB_X_SPDADD);
	num("const.SADB_X_SPDDELETE", SADB_X_SPDDELETE);
	num("const.SADB_X_SPDDUMP", SADB_X_SPDDUMP);
	num("const.SADB_X_SPDFLUSH", SADB_X_SPDFLUSH);
	num("const.SADB_X_SPDDELETE2", SADB_X_SPDDELETE2);
	num("const.SADB_EXT_SA", SADB_EXT_SA);
	num("const.SADB_EXT_LIFETIME_CURRENT", SADB_EXT_LIFETIME_CURRENT);
	num("const.SADB_EXT_LIFETIME_HARD", SADB_EXT_LIFETIME_HARD);
	num("const.SADB_EXT_LIFETIME_SOFT", SADB_EXT_LIFETIME_SOFT);
	num("const.SADB_EXT_ADDRESS_SRC", SADB_EXT_ADDRESS_SRC);
	num("const.SADB_EXT_ADDRESS_DST", SADB_EXT_ADDRESS_DST);
	num("const.SADB_EXT_ADDRESS_PROXY", SADB_EXT_ADDRESS_PROXY);
	num("const.SADB_EXT_KEY_AUTH", SADB_EXT_KEY_AUTH);
	num("const.SADB_EXT_KEY_ENCRYPT", SADB_EXT_KEY_ENCRYPT);
	num("const.SADB_EXT_IDENTITY_SRC", SADB_EXT_IDENTITY_SRC);
	num("const.SADB_EXT_IDENTITY_DST", SADB_EXT_IDENTITY_DST);
	num("const.SADB_EXT_SENSITIVITY", SADB_EXT_SENSITIVITY);
	num("const.SADB_EXT_PROPOSAL", SADB_EXT_PROPOSAL);
	num("const.SADB_EXT_SUPPORTED_AUTH", SADB_EXT_SUPPORTED_AUTH);
	num("const.SADB_EXT_SUPPORTED_ENCRYPT", SADB_EXT_SUPPORTED_ENCRYPT);
	num("const.SADB_EXT_SPIRANGE", SADB_EXT_SPIRANGE);
	num("const.SADB_X_EXT_KMPRIVATE", SADB_X_EXT_KMPRIVATE);
	num("const.SADB_X_EXT_POLICY", SADB_X_EXT_POLICY);
	num("const.SADB_X_EXT_SA2", SADB_X_EXT_SA2);
	num("const.SADB_X_EXT_NAT_T_TYPE", SADB_X_EXT_NAT_T_TYPE);
	num("const.SADB_X_EXT_NAT_T_SPORT", SADB_X_EXT_NAT_T_SPORT);
	num("const.SADB_X_EXT_NAT_T_DPORT", SADB_X_EXT_NAT_T_DPORT);
	num("const.SADB_X_EXT_NAT_T_OAI", SADB_X_EXT_NAT_T_OAI);
	num("const.SADB_X_EXT_NAT_T_OAR", SADB_X_EXT_NAT_T_OAR);
	num("const.SADB_X_EXT_NAT_T_FRAG", SADB_X_EXT_NAT_T_FRAG);
	num("const.SADB_X_EXT_SA_REPLAY", SADB_X_EXT_SA_REPLAY);
	num("const.SADB_X_EXT_NEW_ADDRESS_SRC", SADB_X_EXT_NEW_ADDRESS_SRC);
	num("const.SADB_X_EXT_NEW_ADDRESS_DST", SADB_X_EXT_NEW_ADDRESS_DST);
	num("const.SADB_SATYPE_UNSPEC", SADB_SATYPE_UNSPEC);
	num("const.SADB_SATYPE_AH", SADB_SATYPE_AH);
	num("const.SADB_SATYPE_ESP", SADB_SATYPE_ESP);
	num("const.SADB_X_SATYPE_IPCOMP", SADB_X_SATYPE_IPCOMP);
	num("const.SADB_SASTATE_LARVAL", SADB_SASTATE_LARVAL);
	num("const.SADB_SASTATE_MATURE", SADB_SASTATE_MATURE);
	num("const.SADB_AALG_SHA1HMAC", SADB_AALG_SHA1HMAC);
	num("const.SADB_X_AALG_SHA2_256", SADB_X_AALG_SHA2_256);
	num("const.SADB_X_AALG_SHA2_384", SADB_X_AALG_SHA2_384);
	num("const.SADB_X_AALG_SHA2_512", SADB_X_AALG_SHA2_512);
	num("const.SADB_X_EALG_AES", SADB_X_EALG_AES);
	num("const.SADB_X_EALG_AESGCM16", SADB_X_EALG_AESGCM16);
#ifdef SADB_X_EALG_CHACHA20POLY1305
	num("const.SADB_X_EALG_CHACHA20POLY1305", SADB_X_EALG_CHACHA20POLY1305);
#else
	printf("const.SADB_X_EALG_CHACHA20POLY1305 absent-before-FreeBSD-14\n");
#endif
	num("const.PF_KEY_V2", PF_KEY_V2);
	num("const.SADB_X_SAFLAGS_ESN", SADB_X_SAFLAGS_ESN);

	num("size.rt_msghdr", sizeof(struct rt_msghdr));
	num("size.rt_metrics", sizeof(struct rt_metrics));
	num("size.sockaddr_dl", sizeof(struct sockaddr_dl));
	num("off.rt_msghdr.rtm_version", offsetof(struct rt_msghdr, rtm_version));
	num("off.rt_msghdr.rtm_type", offsetof(struct rt_msghdr, rtm_type));
	num("off.rt_msghdr.rtm_index", offsetof(struct rt_msghdr, rtm_index));
	num("off.rt_msghdr.rtm_flags", offsetof(struct rt_msghdr, rtm_flags));
	num("off.rt_msghdr.rtm_addrs", offsetof(struct rt_msghdr, rtm_addrs));
	num("off.rt_msghdr.rtm_pid", offsetof(struct rt_msghdr, rtm_pid));
	num("off.rt_msghdr.rtm_seq", offsetof(struct rt_msghdr, rtm_seq));
	num("off.rt_msghdr.rtm_errno", offsetof(struct rt_msghdr, rtm_errno));
	num("off.rt_msghdr.rtm_fmask", offsetof(struct rt_msghdr, rtm_fmask));
	num("off.rt_msghdr.rtm_inits", offsetof(struct rt_msghdr, rtm_inits));
	num("off.rt_msghdr.rtm_rmx", offsetof(struct rt_msghdr, rtm_rmx));
	num("off.rt_metrics.rmx_hopcount",
	    offsetof(struct rt_metrics, rmx_hopcount));
	num("off.rt_metrics.rmx_weight", offsetof(struct rt_metrics, rmx_weight));
	num("const.RTM_VERSION", RTM_VERSION);
	num("const.RTM_ADD", RTM_ADD);
	num("const.RTM_DELETE", RTM_DELETE);
	num("const.RTM_CHANGE", RTM_CHANGE);
	num("const.RTM_GET", RTM_GET);
	num("const.RTF_UP", RTF_UP);
	num("const.RTF_GATEWAY", RTF_GATEWAY);
	num("const.RTF_HOST", RTF_HOST);
	num("const.RTF_DONE", RTF_DONE);
	num("const.RTF_STATIC", RTF_STATIC);
	num("const.RTF_PINNED", RTF_PINNED);
	num("const.RTA_DST", RTA_DST);
	num("const.RTA_GATEWAY", RTA_GATEWAY);
	num("const.RTA_NETMASK", RTA_NETMASK);
	num("const.RTA_GENMASK", RTA_GENMASK);
	num("const.RTA_IFP", RTA_IFP);
	num("const.RTA_IFA", RTA_IFA);
	num("const.RTA_AUTHOR", RTA_AUTHOR);
	num("const.RTA_BRD", RTA_BRD);
	num("const.RTAX_MAX", RTAX_MAX);
	num("const.RTV_HOPCOUNT", RTV_HOPCOUNT);
	num("const.RTV_WEIGHT", RTV_WEIGHT);
	num("const.AF_LINK", AF_LINK);
	num("const.PF_ROUTE", PF_ROUTE);
}

/* Key material: bytes from, from+1, ... as the test's km(). */
static void
km(unsigned char *k, unsigned char from, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		k[i] = (unsigned char)(from + i);
}

static void
sa_messages(void)
{
	struct sockaddr_storage s, d;
	unsigned char k[64];
	int r;

	/*
	 * add 198.51.100.2 192.0.2.1 esp 0xc1 -m tunnel -u 7 -r 512
	 *     -E aes-gcm-16 <20 bytes 0x10..>   (seq 0x102; then UPDATE 0x103)
	 */
	km(k, 0x10, 20);
	capture_name = "msg.ADD_GCM_V4";
	r = pfkey_send_add(-1, SADB_SATYPE_ESP, IPSEC_MODE_TUNNEL,
	    addr(&s, "198.51.100.2"), addr(&d, "192.0.2.1"), htonl(0xc1), 7, 512,
	    (caddr_t)k, SADB_X_EALG_AESGCM16, 20, SADB_AALG_NONE, 0, 0, 0, 0, 0,
	    0, 0x102);
	expect_sent("ADD_GCM_V4", r);
	capture_name = "msg.UPDATE_GCM_V4";
	r = pfkey_send_update(-1, SADB_SATYPE_ESP, IPSEC_MODE_TUNNEL,
	    addr(&s, "198.51.100.2"), addr(&d, "192.0.2.1"), htonl(0xc1), 7, 512,
	    (caddr_t)k, SADB_X_EALG_AESGCM16, 20, SADB_AALG_NONE, 0, 0, 0, 0, 0,
	    0, 0x103);
	expect_sent("UPDATE_GCM_V4", r);

	/* AES-GCM-16-256 (36-byte key with salt), window 4, l_bytes 1000. */
	km(k, 0x10, 36);
	capture_name = "msg.ADD_GCM_V4_LIFETIME";
	r = pfkey_send_add(-1, SADB_SATYPE_ESP, IPSEC_MODE_TUNNEL,
	    addr(&s, "192.0.2.1"), addr(&d, "198.51.100.2"), htonl(0xd1), 7, 4,
	    (caddr_t)k, SADB_X_EALG_AESGCM16, 36, SADB_AALG_NONE, 0, 0, 0, 1000,
	    0, 0, 0x104);
	expect_sent("ADD_GCM_V4_LIFETIME", r);
#ifdef SADB_X_EALG_CHACHA20POLY1305
	capture_name = "msg.ADD_CHACHA_V4_LIFETIME";
	r = pfkey_send_add(-1, SADB_SATYPE_ESP, IPSEC_MODE_TUNNEL,
	    addr(&s, "192.0.2.1"), addr(&d, "198.51.100.2"), htonl(0xd1), 7, 4,
	    (caddr_t)k, SADB_X_EALG_CHACHA20POLY1305, 36, SADB_AALG_NONE, 0, 0,
	    0, 1000, 0, 0, 0x104);
	expect_sent("ADD_CHACHA_V4_LIFETIME", r);
#endif

	/* Transport, IPv6, AES-CBC-256 (0x10..) + HMAC-SHA2-256 (0x30..). */
	km(k, 0x10, 64);
	capture_name = "msg.ADD_CBC_SHA256_V6";
	r = pfkey_send_add(-1, SADB_SATYPE_ESP, IPSEC_MODE_TRANSPORT,
	    addr(&s, "2001:db8::1"), addr(&d, "2001:db8:1::2"),
	    htonl(0xc0ffee01), 9, 4, (caddr_t)k, SADB_X_EALG_AES, 32,
	    SADB_X_AALG_SHA2_256, 32, 0, 0, 0, 0, 0, 0x105);
	expect_sent("ADD_CBC_SHA256_V6", r);

	capture_name = "msg.DELETE_V4";
	r = pfkey_send_delete(-1, SADB_SATYPE_ESP, IPSEC_MODE_ANY,
	    addr(&s, "198.51.100.2"), addr(&d, "192.0.2.1"), htonl(0xc1));
	expect_sent("DELETE_V4", r);

	capture_name = "msg.REGISTER_ESP";
	r = pfkey_send_register(-1, SADB_SATYPE_ESP);
	expect_sent("REGISTER_ESP", r);
}

static void
spd(const char *name, int del, const char *src, u_int ps, const char *dst,
    u_int pd, const char *pol)
{
	struct sockaddr_storage s, d;
	char buf[256];
	caddr_t p;
	int r;

	snprintf(buf, sizeof(buf), "%s", pol);
	p = ipsec_set_policy(buf, (int)strlen(buf));
	if (p == NULL) {
		fprintf(stderr, "golden: %s: %s\n", pol, ipsec_strerror());
		exit(1);
	}
	capture_name = name;
	if (del)
		r = pfkey_send_spddelete(-1, addr(&s, src), ps, addr(&d, dst),
		    pd, IPSEC_ULPROTO_ANY, p, ipsec_get_policylen(p), 0);
	else
		r = pfkey_send_spdadd(-1, addr(&s, src), ps, addr(&d, dst), pd,
		    IPSEC_ULPROTO_ANY, p, ipsec_get_policylen(p), 0);
	expect_sent(name, r);
	free(p);
}

static void
spd_messages(void)
{
	char in_bypass[] = "in bypass";
	caddr_t p;

	p = ipsec_set_policy(in_bypass, (int)strlen(in_bypass));
	if (p == NULL)
		exit(1);
	hexline("msg.BYPASS_IN", p, (size_t)ipsec_get_policylen(p));
	free(p);

	spd("msg.SPDADD_OUT_V4", 0, "10.1.0.0", 16, "10.2.0.0", 24,
	    "out ipsec esp/tunnel/192.0.2.1-198.51.100.2/unique:7");
	spd("msg.SPDADD_IN_V4", 0, "10.2.0.0", 24, "10.1.0.0", 16,
	    "in ipsec esp/tunnel/198.51.100.2-192.0.2.1/unique:7");
	spd("msg.SPDDELETE_OUT_V4", 1, "10.1.0.0", 16, "10.2.0.0", 24,
	    "out ipsec esp/tunnel/192.0.2.1-198.51.100.2/unique:7");
	spd("msg.SPDADD_OUT_V6", 0, "2001:db8:a::", 48, "2001:db8:b::", 48,
	    "out ipsec esp/tunnel/2001:db8::1-2001:db8:1::2/unique:9");
}

/*
 * A routing-socket message as route(8)'s rtmsg_rtsock() lays it out: the
 * header, then the sockaddrs of rtm_addrs in RTAX order, each SA_SIZE().
 * dst/gw are addresses, mask a prefix length (-1: none, a host route).
 */
static void
rtm(const char *name, int type, int flags, int seq, const char *dst,
    const char *gw, int plen)
{
	struct {
		struct rt_msghdr h;
		char space[512];
	} m;
	struct sockaddr_storage d, g, k;
	char *cp = m.space;
	int addrs = RTA_DST | RTA_GATEWAY;

	memset(&m, 0, sizeof(m));
	memset(&k, 0, sizeof(k));
	addr(&d, dst);
	addr(&g, gw);
	if (plen >= 0) {
		/* route.c prefixlen(): a full-length mask sockaddr. */
		unsigned char *p;
		int max, i;

		addrs |= RTA_NETMASK;
		if (d.ss_family == AF_INET6) {
			struct sockaddr_in6 *a = (struct sockaddr_in6 *)&k;

			a->sin6_len = sizeof(*a);
			a->sin6_family = AF_INET6;
			p = (unsigned char *)&a->sin6_addr;
			max = 128;
		} else {
			struct sockaddr_in *a = (struct sockaddr_in *)&k;

			a->sin_len = sizeof(*a);
			a->sin_family = AF_INET;
			p = (unsigned char *)&a->sin_addr;
			max = 32;
		}
		for (i = 0; i < max / 8; i++) {
			int bits = plen - 8 * i;

			p[i] = bits >= 8 ? 0xff :
			    bits <= 0 ? 0 : (unsigned char)(0xff00 >> bits);
		}
	}
	m.h.rtm_type = type;
	m.h.rtm_flags = flags;
	m.h.rtm_version = RTM_VERSION;
	m.h.rtm_seq = seq;
	m.h.rtm_addrs = addrs;
	memcpy(cp, &d, SA_SIZE(&d));
	cp += SA_SIZE(&d);
	memcpy(cp, &g, SA_SIZE(&g));
	cp += SA_SIZE(&g);
	if (addrs & RTA_NETMASK) {
		memcpy(cp, &k, SA_SIZE(&k));
		cp += SA_SIZE(&k);
	}
	m.h.rtm_msglen = (u_short)(cp - (char *)&m);
	hexline(name, &m, m.h.rtm_msglen);
}

static void
route_messages(void)
{
	struct {
		struct rt_msghdr h;
		char space[512];
	} m;
	struct sockaddr_storage d;
	struct sockaddr_dl ifp;
	char *cp = m.space;
	int gw = RTF_UP | RTF_STATIC | RTF_GATEWAY;

	/* route add|delete -net 10.2.0.0/24 10.6.106.2 (delete: +PINNED) */
	rtm("msg.RTM_ADD_V4", RTM_ADD, gw, 1, "10.2.0.0", "10.6.106.2", 24);
	rtm("msg.RTM_DELETE_V4", RTM_DELETE, gw | RTF_PINNED, 2, "10.2.0.0",
	    "10.6.106.2", 24);
	rtm("msg.RTM_ADD_V6", RTM_ADD, gw, 3, "2001:db8:b::",
	    "2001:db8:ffff::2", 48);
	/* -interface: no RTF_GATEWAY, the gateway is the interface's address */
	rtm("msg.RTM_ADD_IFACE_V4", RTM_ADD, RTF_UP | RTF_STATIC, 4,
	    "10.3.0.0", "10.6.106.1", 16);
	rtm("msg.RTM_ADD_HOST_V4", RTM_ADD, gw | RTF_HOST, 5, "10.9.9.9",
	    "10.6.106.2", -1);

	/* route -n get 10.2.0.7: RTA_DST and an empty sockaddr_dl as IFP */
	memset(&m, 0, sizeof(m));
	memset(&ifp, 0, sizeof(ifp));
	ifp.sdl_len = sizeof(ifp);
	ifp.sdl_family = AF_LINK;
	addr(&d, "10.2.0.7");
	m.h.rtm_type = RTM_GET;
	m.h.rtm_flags = gw | RTF_HOST;
	m.h.rtm_version = RTM_VERSION;
	m.h.rtm_seq = 6;
	m.h.rtm_addrs = RTA_DST | RTA_IFP;
	memcpy(cp, &d, SA_SIZE(&d));
	cp += SA_SIZE(&d);
	memcpy(cp, &ifp, SA_SIZE(&ifp));
	cp += SA_SIZE(&ifp);
	m.h.rtm_msglen = (u_short)(cp - (char *)&m);
	hexline("msg.RTM_GET_V4", &m, m.h.rtm_msglen);
}

int
main(void)
{
	layouts();
	sa_messages();
	spd_messages();
	route_messages();
	if (fflush(stdout) != 0)
		return (1);
	fprintf(stderr, "golden: %d PF_KEY messages captured from libipsec\n",
	    captured);
	return (0);
}
