// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
//
// The bond's in-kernel fast path (issue 18): two tc programs that apply what
// the Go engine decides. The engine (package bond, on its control goroutine)
// writes the maps through package fastpath; nothing here decides a failover.
//
//  bond_egress   tcx/clsact egress of the bond's TAP: sends each frame the
//                host stack transmits through the bond to the slave the
//                mode picks (bond_start_xmit's per-mode branch), or leaves
//                it to the TAP fd (TC_ACT_OK) when the bond has no entry in
//                bond_cfg (a mode not on the fast path) or the frame is one
//                the engine must see.
//  slave_ingress tcx/clsact ingress of every slave: redirects received
//                frames into the bond device (bond_handle_frame), drops
//                those of an inactive slave (bond_should_deliver_exact_match)
//                and the slow-protocol frames the engine consumes; the
//                engine reads its copies from its AF_PACKET socket, whose
//                taps run before tc ingress.
//
//  slave_egress  tcx/clsact egress of every slave: a frame bond_egress sent
//                to an active-backup bond's active slave after that slave
//                lost its carrier (before the engine's MII monitor has
//                seen it: linkwatch may tell userspace up to a second
//                late) goes back to the bond's TAP fd instead of being
//                dropped by the slave. The engine then sends it as the
//                userspace path does, and resends it on the new active
//                slave at the failover (requeueDropped), so a carrier loss
//                costs no more frames than on the userspace path.
//
// One loaded object serves every bond of the namespace: all maps are keyed
// by ifindex. bond_egress and slave_ingress use only __sk_buff fields and
// bpf_skb_load_bytes: no CO-RE, so they load on any kernel with the hooks.
// slave_egress reads the slave's carrier (net_device.state) through the
// bpf_cast_to_kern_ctx kfunc and CO-RE (Linux 6.3+, kernel BTF); package
// fastpath loads it on its own and runs without it where it does not load.

#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_core_read.h>

#define MAX_SLAVES 32 // slaves per bond on the fast path (fastpath.MaxSlaves)

// bond_cfg.mode
#define FP_ACTIVE 1 // active-backup: cfg.active
#define FP_RR 2     // balance-rr: packets_per_slave frames per slave in turn
#define FP_HASH 3   // balance-xor, 802.3ad: xmit_hash_policy hash % n
#define FP_BCAST 4  // broadcast: every usable slave
#define FP_TLB 5    // balance-tlb, balance-alb: the engine's tlb table (flags FPF_*)

// bond_cfg.flags (FP_TLB)
#define FPF_DYNAMIC 1 // tlb_dynamic_lb: tlb_tab per hash bucket, else hash % n over tx_slaves
#define FPF_RLB 2     // balance-alb: bond_xmit_alb_slave_get's rules, ARP to the engine

// slave_state.flags
#define SL_DROP 1         // inactive slave: frames are not delivered
#define SL_UNICAST 2      // ... except unicast ones (balance-alb)
#define SL_CONSUME_SLOW 4 // the engine consumes slow-protocol frames (802.3ad)
#define SL_LOCAL 8        // frames to local[] are readdressed to master[]

// stats index (per-CPU array of struct fp_stats per ifindex)
struct fp_stats {
	__u64 tx_packets, tx_bytes, tx_dropped;
	__u64 rx_packets, rx_bytes, rx_dropped;
	__u64 slow; // frames left to the engine (TAP fd) or consumed by it
};

struct bond_cfg {
	__u32 mode;   // FP_*
	__u32 active; // ifindex of curr_active_slave (FP_ACTIVE), 0: drop
	__u32 policy; // xmit_hash_policy (FP_HASH)
	__u32 pps;    // packets_per_slave (FP_RR)
	__u32 n;      // usable slaves in tx_slaves generation gen
	__u32 gen;    // 0 or 1: which half of tx_slaves is current
	__u32 flags;  // FPF_* (FP_TLB)
};

struct slot_key {
	__u32 bond; // bond ifindex
	__u32 slot; // gen*MAX_SLAVES + i
};

struct slave_state {
	__u32 bond;  // the bond's ifindex
	__u32 flags; // SL_*
	__u8 local[6];
	__u8 master[6];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct bond_cfg);
} bond_cfg SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096 * 2 * MAX_SLAVES);
	__type(key, struct slot_key);
	__type(value, __u32);
} tx_slaves SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, __u64);
} rr_ctr SEC(".maps");

// tlb_tab mirrors the engine's tlb table (tx_hashtbl) of the bonds in
// FP_TLB with FPF_DYNAMIC: key {bond, hash bucket 0..255}, value the bound
// slave's ifindex; a missing entry is an unbound bucket, whose frame goes to
// the engine, which binds it (__tlb_choose_channel) and writes it here.
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 256 * 256);
	__type(key, struct slot_key);
	__type(value, __u32);
} tlb_tab SEC(".maps");

// tlb_bytes counts the bytes each bucket of an FPF_DYNAMIC bond sent
// (tlb_client_info.tx_bytes; bucket 256: unbalanced_load); the engine takes
// them before each rebalance (load_history).
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 256 * 257);
	__type(key, struct slot_key);
	__type(value, __u64);
} tlb_bytes SEC(".maps");

static __always_inline void tlb_count(__u32 bond, __u32 idx, __u64 n)
{
	struct slot_key k = {.bond = bond, .slot = idx};
	__u64 *v = bpf_map_lookup_elem(&tlb_bytes, &k);
	if (v)
		__sync_fetch_and_add(v, n);
	else
		bpf_map_update_elem(&tlb_bytes, &k, &n, BPF_NOEXIST);
}

struct tx_mac {
	__u8 mac[6];
	__u16 pad;
};

// tx_mac is each FP_TLB slave's address (dev_addr): the source address of
// the frames it sends that the current slave does not.
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct tx_mac);
} tx_mac SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct slave_state);
} slave_state SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 16384 + 4096);
	__type(key, __u32);
	__type(value, struct fp_stats);
} stats SEC(".maps");

// ---- bond_xmit_hash (same function as Go's frame.XmitHash) ----

#define ETH_IPV4 0x0800
#define ETH_ARP 0x0806
#define ETH_RARP 0x8035
#define ETH_VLAN 0x8100
#define ETH_QINQ 0x88a8
#define ETH_IPV6 0x86dd
#define ETH_MPLS_UC 0x8847
#define ETH_MPLS_MC 0x8848
#define ETH_PPP_SES 0x8864
#define ETH_TEB 0x6558
#define ETH_PPP 0x880b
#define ETH_SLOW 0x8809

#define P_HOPOPTS 0
#define P_ICMP 1
#define P_IPIP 4
#define P_TCP 6
#define P_UDP 17
#define P_DCCP 33
#define P_IPV6 41
#define P_ROUTING 43
#define P_FRAG 44
#define P_GRE 47
#define P_ESP 50
#define P_AH 51
#define P_ICMPV6 58
#define P_DSTOPTS 60
#define P_SCTP 132
#define P_UDPLITE 136
#define P_MPLS 137

#define MAX_DISSECT_HDRS 15

struct flow_keys_b {
	__u32 src, dst, ports;
	__u8 icmp_type, icmp_code;
	__u16 icmp_id;
};

static __always_inline int ld8(struct __sk_buff *skb, __u32 off, __u8 *v)
{
	return bpf_skb_load_bytes(skb, off, v, 1);
}

static __always_inline int ld16(struct __sk_buff *skb, __u32 off, __u16 *v)
{
	__u16 x;
	if (bpf_skb_load_bytes(skb, off, &x, 2))
		return -1;
	*v = bpf_ntohs(x);
	return 0;
}

// ld32 reads 4 bytes as a host (little-endian) u32, as the kernel's
// (__force u32) of a __be32 does.
static __always_inline int ld32(struct __sk_buff *skb, __u32 off, __u32 *v)
{
	return bpf_skb_load_bytes(skb, off, v, 4);
}

static __always_inline __u32 ipv6_addr_hash(const __u32 *a)
{
	return a[0] ^ a[1] ^ a[2] ^ a[3];
}

// get_ports is __skb_flow_get_ports.
static __always_inline __u32 get_ports(struct __sk_buff *skb, __u32 thoff, int proto)
{
	__u32 off = 0, v = 0;
	switch (proto) {
	case P_TCP: case P_UDP: case P_DCCP: case P_ESP: case P_SCTP: case P_UDPLITE:
		break;
	case P_AH:
		off = 4;
		break;
	default:
		return 0;
	}
	if (thoff + off + 4 > skb->len)
		return 0;
	if (ld32(skb, thoff + off, &v))
		return 0;
	return v;
}

static __always_inline int icmp_has_id(__u8 t)
{
	return t == 0 || t == 8 || t == 13 || t == 14 || t == 128 || t == 129;
}

// get_icmp is skb_flow_get_icmp_tci.
static __always_inline void get_icmp(struct __sk_buff *skb, __u32 thoff, struct flow_keys_b *fk)
{
	__u8 h[8];
	if (thoff + 8 > skb->len || bpf_skb_load_bytes(skb, thoff, h, 8))
		return;
	fk->icmp_type = h[0];
	fk->icmp_code = h[1];
	fk->icmp_id = 0;
	if (icmp_has_id(h[0])) {
		fk->icmp_id = ((__u16)h[4] << 8) | h[5];
		if (!fk->icmp_id)
			fk->icmp_id = 1;
	}
}

// flow_ip is bond_flow_ip: 0 when the header is not IPv4/IPv6 or is cut.
static __always_inline int flow_ip(struct __sk_buff *skb, __u16 proto, __u32 *nh, int *ip_proto,
				   int l34, struct flow_keys_b *fk)
{
	__u32 len = skb->len;
	if (proto == ETH_IPV4) {
		__u8 ip[20];
		if (*nh + 20 > len || bpf_skb_load_bytes(skb, *nh, ip, 20))
			return 0;
		__builtin_memcpy(&fk->src, &ip[12], 4);
		__builtin_memcpy(&fk->dst, &ip[16], 4);
		*nh += (ip[0] & 0x0f) << 2;
		if (((((__u16)ip[6] << 8) | ip[7]) & 0x3fff) == 0)
			*ip_proto = ip[9];
	} else if (proto == ETH_IPV6) {
		__u32 a[8];
		__u8 nxt;
		if (*nh + 40 > len || bpf_skb_load_bytes(skb, *nh + 8, a, 32) || ld8(skb, *nh + 6, &nxt))
			return 0;
		fk->src = ipv6_addr_hash(&a[0]);
		fk->dst = ipv6_addr_hash(&a[4]);
		*nh += 40;
		*ip_proto = nxt;
	} else {
		return 0;
	}
	if (l34 && *ip_proto >= 0)
		fk->ports = get_ports(skb, *nh, *ip_proto);
	return 1;
}

// flow_dissect_l3 is bond_flow_dissect for layer2+3 and layer3+4.
static __noinline int flow_dissect_l3(struct __sk_buff *skb, __u16 proto, __u32 nh, int l34,
				      struct flow_keys_b *fk)
{
	int ip_proto = -1;
	if (!flow_ip(skb, proto, &nh, &ip_proto, l34, fk))
		return 0;
	if (ip_proto == P_ICMP) {
		get_icmp(skb, nh, fk);
		__u8 t = fk->icmp_type;
		if (!(t == 3 || t == 4 || t == 5 || t == 11 || t == 12))
			return 1;
	} else if (ip_proto == P_ICMPV6) {
		get_icmp(skb, nh, fk);
		__u8 t = fk->icmp_type;
		if (!(t >= 1 && t <= 4))
			return 1;
	} else {
		return 1;
	}
	nh += 8;
	return flow_ip(skb, proto, &nh, &ip_proto, l34, fk);
}

// dissect steps (where the walk goes next)
#define ST_FAIL 0
#define ST_DONE 1
#define ST_NETWORK 2
#define ST_TRANSPORT 3
#define ST_PORTS 4

struct dissect_state {
	__u32 nh;
	int ip_proto;
	__u16 proto;
};

// dissect_gre reads a GRE header at st->nh (dissectGRE in Go).
static __always_inline int dissect_gre(struct __sk_buff *skb, struct dissect_state *st)
{
	__u32 nh = st->nh, len = skb->len, off = 4;
	__u16 flags, gp, v;
	if (nh + 4 > len || ld16(skb, nh, &flags) || ld16(skb, nh + 2, &gp))
		return ST_FAIL;
	if (flags & 0x4000)
		return ST_DONE;
	__u16 ver = flags & 7;
	if (ver > 1)
		return ST_DONE;
	if (ver == 1 && !(gp == ETH_PPP && (flags & 0x2000)))
		return ST_DONE;
	if (flags & 0x8000)
		off += 4;
	if (flags & 0x2000) {
		if (nh + off + 4 > len)
			return ST_FAIL;
		off += 4;
	}
	if (flags & 0x1000)
		off += 4;
	if (ver == 0) {
		if (gp == ETH_TEB) {
			if (nh + off + 14 > len || ld16(skb, nh + off + 12, &gp))
				return ST_FAIL;
			off += 14;
		}
	} else {
		if (flags & 0x0080)
			off += 4;
		if (nh + off + 4 > len || ld16(skb, nh + off + 2, &v))
			return ST_FAIL;
		if (v == 0x21)
			gp = ETH_IPV4;
		else if (v == 0x57)
			gp = ETH_IPV6;
		off += 4;
	}
	st->proto = gp;
	st->nh = nh + off;
	return ST_NETWORK;
}

// dissect_transport is dissectTransport in Go.
static __always_inline int dissect_transport(struct __sk_buff *skb, struct dissect_state *st,
					     struct flow_keys_b *fk)
{
	__u32 len = skb->len;
	__u8 b[2];
	switch (st->ip_proto) {
	case P_GRE:
		return dissect_gre(skb, st);
	case P_HOPOPTS: case P_ROUTING: case P_DSTOPTS:
		if (st->proto != ETH_IPV6)
			return ST_PORTS;
		if (st->nh + 2 > len || bpf_skb_load_bytes(skb, st->nh, b, 2))
			return ST_FAIL;
		st->nh += ((__u32)b[1] + 1) << 3;
		st->ip_proto = b[0];
		return ST_TRANSPORT;
	case P_FRAG:
		if (st->proto != ETH_IPV6)
			return ST_PORTS;
		if (st->nh + 8 > len)
			return ST_FAIL;
		return ST_DONE;
	case P_IPIP:
		st->proto = ETH_IPV4;
		return ST_NETWORK;
	case P_IPV6:
		st->proto = ETH_IPV6;
		return ST_NETWORK;
	case P_MPLS:
		st->proto = ETH_MPLS_UC;
		return ST_NETWORK;
	case P_ICMP: case P_ICMPV6:
		get_icmp(skb, st->nh, fk);
	}
	return ST_PORTS;
}

// dissect is __skb_flow_dissect with the bonding keys (encap2+3,
// encap3+4); Go's dissect. Returns 1 when the keys count, 0 when not,
// -1 when the walk went beyond what this program follows (never with
// MAX_DISSECT_HDRS bounding both).
static __noinline int dissect(struct __sk_buff *skb, __u16 proto, __u32 nh, struct flow_keys_b *fk)
{
	struct dissect_state st = {.nh = nh, .ip_proto = -1, .proto = proto};
	__u32 len = skb->len;
	int hdrs = 0, step = ST_NETWORK;

	for (int i = 0; i < 2 * MAX_DISSECT_HDRS + 2; i++) {
		if (step == ST_NETWORK) {
			hdrs++;
			switch (st.proto) {
			case ETH_VLAN: case ETH_QINQ: {
				__u16 p;
				if (st.nh + 4 > len || ld16(skb, st.nh + 2, &p))
					return 0;
				st.proto = p;
				st.nh += 4;
				if (hdrs >= MAX_DISSECT_HDRS)
					return 1;
				continue;
			}
			case ETH_IPV4: {
				__u8 ip[20];
				if (st.nh + 20 > len || bpf_skb_load_bytes(skb, st.nh, ip, 20) || (ip[0] & 0x0f) < 5)
					return 0;
				__builtin_memcpy(&fk->src, &ip[12], 4);
				__builtin_memcpy(&fk->dst, &ip[16], 4);
				fk->icmp_id = 0;
				fk->ports = 0;
				st.nh += (ip[0] & 0x0f) * 4;
				st.ip_proto = ip[9];
				if ((((__u16)ip[6] << 8) | ip[7]) & 0x3fff)
					return 1;
				break;
			}
			case ETH_IPV6: {
				__u32 a[8];
				__u8 nxt;
				if (st.nh + 40 > len || bpf_skb_load_bytes(skb, st.nh + 8, a, 32) || ld8(skb, st.nh + 6, &nxt))
					return 0;
				fk->src = ipv6_addr_hash(&a[0]);
				fk->dst = ipv6_addr_hash(&a[4]);
				fk->icmp_id = 0;
				fk->ports = 0;
				st.ip_proto = nxt;
				st.nh += 40;
				break;
			}
			case ETH_ARP: case ETH_RARP: case ETH_MPLS_UC: case ETH_MPLS_MC:
				return 1;
			case ETH_PPP_SES: {
				__u8 h[8];
				if (st.nh + 8 > len || bpf_skb_load_bytes(skb, st.nh, h, 8))
					return 0;
				if (h[0] != 0x11 || h[1] != 0)
					return 0;
				__u16 pp = ((__u16)h[6] << 8) | h[7];
				st.nh += 8;
				if (pp == 0x21)
					st.proto = ETH_IPV4;
				else if (pp == 0x57)
					st.proto = ETH_IPV6;
				else
					return 0;
				if (hdrs >= MAX_DISSECT_HDRS)
					return 1;
				continue;
			}
			default:
				return 0;
			}
			step = ST_TRANSPORT;
			continue;
		}
		// ST_TRANSPORT
		hdrs++;
		if (hdrs > MAX_DISSECT_HDRS)
			return 1;
		step = dissect_transport(skb, &st, fk);
		if (step == ST_PORTS) {
			fk->ports = get_ports(skb, st.nh, st.ip_proto);
			return 1;
		}
		if (step == ST_DONE)
			return 1;
		if (step == ST_FAIL)
			return 0;
	}
	return -1;
}

#define XMIT_LAYER2 0
#define XMIT_LAYER34 1
#define XMIT_LAYER23 2
#define XMIT_ENCAP23 3
#define XMIT_ENCAP34 4
#define XMIT_VLAN_SRCMAC 5

// xmit_hash is bond_xmit_hash; 0 in *ok when the frame must go to the
// engine instead (never, unless dissect gives up).
static __noinline __u32 xmit_hash(struct __sk_buff *skb, __u32 policy, int *ok)
{
	__u8 eh[18];
	__u32 len = skb->len, tci = 0, nh = 14;
	int tagged = 0;
	*ok = 1;
	if (len < 14 || bpf_skb_load_bytes(skb, 0, eh, 14))
		return 0;
	__u16 proto = ((__u16)eh[12] << 8) | eh[13];
	if (skb->vlan_present) {
		// the outermost tag is out of band already, as on a kernel bond
		tci = skb->vlan_tci;
		tagged = 1;
	} else if ((proto == ETH_VLAN || proto == ETH_QINQ) && len >= 18) {
		__u16 t, p;
		if (ld16(skb, 14, &t) || ld16(skb, 16, &p))
			return 0;
		tci = t;
		proto = p;
		nh = 18;
		tagged = 1;
	}
	if (policy == XMIT_VLAN_SRCMAC) {
		__u32 vendor = ((__u32)eh[6] << 16) | ((__u32)eh[7] << 8) | eh[8];
		__u32 dev = ((__u32)eh[9] << 16) | ((__u32)eh[10] << 8) | eh[11];
		if (!tagged)
			tci = 0;
		return tci ^ vendor ^ dev;
	}
	__u32 eth = (__u32)(eh[5] ^ eh[11]) ^ proto;
	if (policy == XMIT_LAYER2)
		return eth;
	struct flow_keys_b fk = {};
	int r;
	if (policy == XMIT_ENCAP23 || policy == XMIT_ENCAP34)
		r = dissect(skb, proto, nh, &fk);
	else
		r = flow_dissect_l3(skb, proto, nh, policy == XMIT_LAYER34, &fk);
	if (r < 0) {
		*ok = 0;
		return 0;
	}
	if (!r)
		return eth;
	__u32 h;
	if (policy == XMIT_LAYER23 || policy == XMIT_ENCAP23)
		h = eth;
	else if (fk.icmp_id)
		h = (__u32)fk.icmp_type | ((__u32)fk.icmp_code << 8) | ((__u32)fk.icmp_id << 16);
	else
		h = fk.ports;
	h ^= fk.dst ^ fk.src;
	h ^= h >> 16;
	h ^= h >> 8;
	if (policy == XMIT_LAYER34 || policy == XMIT_ENCAP34)
		return h >> 1;
	return h;
}

// ---- balance-tlb / balance-alb (bond_tlb_xmit, bond_alb_xmit) ----

// tlb_choice: where tlb_pick sends the frame
#define TLB_CURR 0   // not balanced: the current slave
#define TLB_HASH 1   // *idx is the bucket, hash the xmit hash
#define TLB_ENGINE 2 // the engine must see it (ARP in balance-alb)

static __always_inline int tlb_is_nd(struct __sk_buff *skb, __u32 off)
{
	__u8 nxt, t;
	if (off + 40 > skb->len || ld8(skb, off + 6, &nxt))
		return 1;
	if (nxt != P_ICMPV6)
		return 0;
	if (off + 44 > skb->len || ld8(skb, off + 40, &t))
		return 1;
	return t == 135 || t == 136;
}

// tlb_pick is bond_xmit_tlb_slave_get / bond_xmit_alb_slave_get up to the
// bucket: modes/alb's tlbSlaveGet and albSlaveGet.
static __noinline int tlb_pick(struct __sk_buff *skb, __u32 flags, __u32 *idx)
{
	__u8 eh[14];
	__u32 off = 14;
	if (bpf_skb_load_bytes(skb, 0, eh, 14))
		return TLB_CURR;
	__u16 et = ((__u16)eh[12] << 8) | eh[13];
	if (!skb->vlan_present && et == ETH_VLAN && skb->len >= 18) {
		if (ld16(skb, 16, &et))
			return TLB_CURR;
		off = 18;
	}
	int bcast = eh[0] == 0xff && eh[1] == 0xff && eh[2] == 0xff && eh[3] == 0xff && eh[4] == 0xff && eh[5] == 0xff;
	if (!(flags & FPF_RLB)) {
		if (eh[0] & 1)
			return TLB_CURR;
		if (et == ETH_IPV6) {
			if (tlb_is_nd(skb, off))
				return TLB_CURR;
		} else if (et != ETH_IPV4) {
			return TLB_CURR;
		}
		return TLB_HASH; // bucket: xmit hash & 0xff
	}
	if (et == ETH_IPV4) {
		__u8 ip[20];
		if (bcast || off + 20 > skb->len || bpf_skb_load_bytes(skb, off, ip, 20))
			return TLB_CURR;
		if ((ip[16] & ip[17] & ip[18] & ip[19]) == 0xff || ip[9] == 2)
			return TLB_CURR;
		*idx = ip[16] ^ ip[17] ^ ip[18] ^ ip[19];
		return TLB_HASH;
	}
	if (et == ETH_IPV6) {
		__u8 a[32];
		if (bcast || (eh[0] == 0x33 && eh[1] == 0x33 && !eh[2] && !eh[3] && !eh[4] && eh[5] == 1))
			return TLB_CURR;
		if (tlb_is_nd(skb, off) || bpf_skb_load_bytes(skb, off + 8, a, 32))
			return TLB_CURR;
		__u8 z = 0, h = 0;
		for (int i = 0; i < 16; i++) {
			z |= a[i];
			h ^= a[16 + i];
		}
		if (!z)
			return TLB_CURR; // DAD probe
		*idx = h;
		return TLB_HASH;
	}
	if (et == ETH_ARP)
		return TLB_ENGINE; // receive load balancing rewrites it (rlb_arp_xmit)
	return TLB_CURR;
}

// ---- programs ----

static __always_inline struct fp_stats *stats_of(__u32 ifindex)
{
	return bpf_map_lookup_elem(&stats, &ifindex);
}

static __always_inline void count_tx(__u32 bond, __u32 slave, __u64 bytes)
{
	struct fp_stats *s = stats_of(bond);
	if (s) {
		s->tx_packets++;
		s->tx_bytes += bytes;
	}
	s = stats_of(slave);
	if (s) {
		s->tx_packets++;
		s->tx_bytes += bytes;
	}
}

static __always_inline int tx_drop(__u32 bond)
{
	struct fp_stats *s = stats_of(bond);
	if (s)
		s->tx_dropped++;
	return TC_ACT_SHOT;
}

static __always_inline int to_engine(__u32 bond)
{
	struct fp_stats *s = stats_of(bond);
	if (s)
		s->slow++;
	return TC_ACT_OK;
}

static __always_inline __u32 slot(struct bond_cfg *c, __u32 bond, __u32 i)
{
	struct slot_key k = {.bond = bond, .slot = (c->gen & 1) * MAX_SLAVES + (i % MAX_SLAVES)};
	__u32 *v = bpf_map_lookup_elem(&tx_slaves, &k);
	return v ? *v : 0;
}

// The marks bond_egress and slave_egress leave in skb->cb[2..3] (tc's cb
// area; a redirect to another device's egress keeps it): FP_SENT on a
// frame bond_egress redirected to the slave in cb[1], FP_BACK on one
// slave_egress sends back to the bond for the engine. Two words, so that
// what the host stack left in cb never passes for a mark.
#define FP_SENT 0x5e7bd0a1
#define FP_BACK 0xbac4d0a1
#define FP_MARK2 0x0b0d1d66

// bond_egress: tcx/clsact egress of the bond's TAP. skb->cb[0] gets the
// transmit hash and cb[1] the chosen slave (BPF_PROG_TEST_RUN reads them
// back; tc's cb area is scratch for programs).
SEC("tc")
int bond_egress(struct __sk_buff *skb)
{
	__u32 bond = skb->ifindex;
	if (skb->cb[2] == FP_BACK && skb->cb[3] == FP_MARK2) {
		skb->cb[2] = 0;
		skb->cb[3] = 0;
		return to_engine(bond); // back from a slave without carrier
	}
	struct bond_cfg *c = bpf_map_lookup_elem(&bond_cfg, &bond);
	if (!c)
		return TC_ACT_OK; // not on the fast path: the engine reads the TAP
	__u32 out = 0, n = c->n;
	switch (c->mode) {
	case FP_ACTIVE:
		out = c->active;
		break;
	case FP_RR: {
		if (!n)
			return tx_drop(bond);
		__u64 id;
		if (c->pps == 0) {
			id = bpf_get_prandom_u32();
		} else {
			__u64 *ctr = bpf_map_lookup_elem(&rr_ctr, &bond);
			if (!ctr)
				return to_engine(bond);
			id = __sync_fetch_and_add(ctr, 1);
			if (c->pps > 1)
				id /= c->pps;
		}
		out = slot(c, bond, (__u32)(id % n));
		break;
	}
	case FP_HASH: {
		if (!n)
			return tx_drop(bond);
		int ok;
		__u32 h = xmit_hash(skb, c->policy, &ok);
		if (!ok)
			return to_engine(bond);
		skb->cb[0] = h;
		out = slot(c, bond, h % n);
		break;
	}
	case FP_BCAST: {
		if (!n)
			return tx_drop(bond);
		__u32 last = 0;
		for (__u32 i = 0; i < MAX_SLAVES; i++) {
			if (i >= n)
				break;
			__u32 s = slot(c, bond, i);
			if (!s)
				continue;
			if (last) {
				if (bpf_clone_redirect(skb, last, 0) == 0)
					count_tx(bond, last, skb->len);
			}
			last = s;
		}
		out = last;
		break;
	}
	case FP_TLB: {
		__u32 idx = 0;
		int how = tlb_pick(skb, c->flags, &idx);
		if (how == TLB_ENGINE)
			return to_engine(bond);
		out = c->active;
		if (how != TLB_HASH) {
			if (c->flags & FPF_DYNAMIC)
				tlb_count(bond, 256, skb->len);
			break;
		}
		int ok;
		__u32 h = xmit_hash(skb, c->policy, &ok);
		if (!ok)
			return to_engine(bond);
		skb->cb[0] = h;
		if (!(c->flags & FPF_RLB))
			idx = h & 0xff;
		if (c->flags & FPF_DYNAMIC) {
			struct slot_key k = {.bond = bond, .slot = idx};
			__u32 *v = bpf_map_lookup_elem(&tlb_tab, &k);
			if (!v)
				return to_engine(bond); // unbound: the engine binds it
			out = *v;
			tlb_count(bond, idx, skb->len);
		} else if (n) {
			out = slot(c, bond, h % n);
		}
		if (out && out != c->active) {
			struct tx_mac *m = bpf_map_lookup_elem(&tx_mac, &out);
			if (!m)
				return to_engine(bond);
			if (bpf_skb_store_bytes(skb, 6, m->mac, 6, 0))
				return tx_drop(bond);
		}
		break;
	}
	default:
		return to_engine(bond);
	}
	skb->cb[1] = out;
	if (!out)
		return tx_drop(bond);
	count_tx(bond, out, skb->len);
	if (c->mode == FP_ACTIVE) {
		skb->cb[2] = FP_SENT;
		skb->cb[3] = FP_MARK2;
	}
	return bpf_redirect(out, 0);
}

// The kernel types slave_egress reads, relocated by CO-RE against the
// running kernel's BTF (only the fields named here).
struct net_device {
	unsigned long state;
} __attribute__((preserve_access_index));

struct sk_buff {
	struct net_device *dev;
} __attribute__((preserve_access_index));

enum netdev_state_t {
	__LINK_STATE_NOCARRIER = 2,
};

extern void *bpf_cast_to_kern_ctx(void *obj) __ksym;

// slave_egress: tcx/clsact egress of every slave. Only frames bond_egress
// sent to an active-backup bond's active slave are looked at; the engine's
// own frames (AF_PACKET) and anything else pass untouched.
SEC("tc")
int slave_egress(struct __sk_buff *skb)
{
	if (skb->cb[2] != FP_SENT || skb->cb[3] != FP_MARK2)
		return TC_ACT_OK;
	skb->cb[2] = 0;
	skb->cb[3] = 0;
	__u32 ifindex = skb->ifindex;
	if (skb->cb[1] != ifindex)
		return TC_ACT_OK;
	struct sk_buff *k = bpf_cast_to_kern_ctx(skb);
	struct net_device *dev = k->dev;
	if (!dev)
		return TC_ACT_OK;
	unsigned long nocarrier = 1UL << bpf_core_enum_value(enum netdev_state_t, __LINK_STATE_NOCARRIER);
	if (!(dev->state & nocarrier))
		return TC_ACT_OK;
	struct slave_state *st = bpf_map_lookup_elem(&slave_state, &ifindex);
	if (!st)
		return TC_ACT_OK;
	__u32 bond = st->bond;
	// counted as sent by bond_egress: the engine's send counts it again
	__u64 bytes = skb->len;
	struct fp_stats *s = stats_of(ifindex);
	if (s) {
		s->tx_packets--;
		s->tx_bytes -= bytes;
	}
	struct fp_stats *bs = stats_of(bond);
	if (bs) {
		bs->tx_packets--;
		bs->tx_bytes -= bytes;
	}
	skb->cb[2] = FP_BACK;
	skb->cb[3] = FP_MARK2;
	return bpf_redirect(bond, 0);
}

// slave_ingress: tcx/clsact ingress of every slave.
SEC("tc")
int slave_ingress(struct __sk_buff *skb)
{
	__u32 ifindex = skb->ifindex;
	struct slave_state *st = bpf_map_lookup_elem(&slave_state, &ifindex);
	if (!st)
		return TC_ACT_OK; // not on the fast path: the engine's socket has it
	__u8 eh[14];
	if (bpf_skb_load_bytes(skb, 0, eh, 14))
		return TC_ACT_SHOT;
	__u16 proto = ((__u16)eh[12] << 8) | eh[13];
	struct fp_stats *s = stats_of(ifindex);
	if (proto == ETH_SLOW && !skb->vlan_present && (st->flags & SL_CONSUME_SLOW)) {
		if (s)
			s->slow++;
		return TC_ACT_SHOT; // the engine took it from its AF_PACKET socket
	}
	if ((st->flags & SL_DROP) && ((eh[0] & 1) || !(st->flags & SL_UNICAST))) {
		if (s)
			s->rx_dropped++;
		return TC_ACT_SHOT;
	}
	if ((st->flags & SL_LOCAL) && eh[0] == st->local[0] && eh[1] == st->local[1] &&
	    eh[2] == st->local[2] && eh[3] == st->local[3] && eh[4] == st->local[4] &&
	    eh[5] == st->local[5]) {
		if (bpf_skb_store_bytes(skb, 0, st->master, 6, 0))
			return TC_ACT_SHOT;
	}
	__u64 bytes = skb->len;
	if (s) {
		s->rx_packets++;
		s->rx_bytes += bytes;
	}
	struct fp_stats *bs = stats_of(st->bond);
	if (bs) {
		bs->rx_packets++;
		bs->rx_bytes += bytes;
	}
	return bpf_redirect(st->bond, BPF_F_INGRESS);
}

char __license[] SEC("license") = "Dual BSD/GPL";
