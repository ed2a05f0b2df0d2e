package fetch

import (
	"net"
	"net/netip"
	"syscall"
)

// refusedPrefixes are the IPv4 ranges refused beyond what netip.Addr's
// predicates cover.
var refusedPrefixes = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),       // "this network"
	netip.MustParsePrefix("100.64.0.0/10"),   // carrier-grade NAT (RFC 6598)
	netip.MustParsePrefix("192.0.0.0/24"),    // IETF protocol assignments
	netip.MustParsePrefix("192.0.2.0/24"),    // documentation (TEST-NET-1)
	netip.MustParsePrefix("198.18.0.0/15"),   // benchmarking
	netip.MustParsePrefix("198.51.100.0/24"), // documentation (TEST-NET-2)
	netip.MustParsePrefix("203.0.113.0/24"),  // documentation (TEST-NET-3)
	netip.MustParsePrefix("240.0.0.0/4"),     // reserved, broadcast included
}

// refusedPrefixes6 are the IPv6 ranges refused as a whole, beyond what
// netip.Addr's predicates cover. The transition ranges among them carry an
// IPv4 address, or reach one through a translator of the network the
// server runs in, so they could reach private space:
//
//   - 6to4 (2002::/16) embeds an IPv4 address in bytes 2 to 5; the whole
//     range is refused, whatever that address: 6to4 is deprecated (RFC
//     7526) and a relay or router of the server's own network may
//     decapsulate to any IPv4 address, so no public server is worth the
//     risk.
//   - The local-use NAT64 prefix 64:ff9b:1::/48 (RFC 8215) is translated
//     by the operator's own NAT64, with prefix lengths of its choosing, so
//     the IPv4 address cannot be read back reliably: the whole range is
//     refused. (The well-known 64:ff9b::/96 is checked by its IPv4
//     address instead, see refused.)
//   - Teredo (2001::/32) obfuscates its client's IPv4 address and reaches
//     it through a relay: refused as a whole.
//
// ISATAP and similar interface identifiers are not routing prefixes and
// are not recognised.
var refusedPrefixes6 = []netip.Prefix{
	netip.MustParsePrefix("2002::/16"),      // 6to4 (RFC 3056, deprecated by RFC 7526)
	netip.MustParsePrefix("64:ff9b:1::/48"), // local-use NAT64 (RFC 8215)
	netip.MustParsePrefix("2001::/32"),      // Teredo (RFC 4380)
	netip.MustParsePrefix("100::/64"),       // discard-only (RFC 6666)
	netip.MustParsePrefix("2001:db8::/32"),  // documentation (RFC 3849)
	netip.MustParsePrefix("2001:10::/28"),   // ORCHID (RFC 4843, deprecated)
	netip.MustParsePrefix("2001:20::/28"),   // ORCHIDv2 (RFC 7343)
	netip.MustParsePrefix("fec0::/10"),      // site-local (deprecated by RFC 3879)
}

// nat64 is the well-known NAT64 prefix (RFC 6052): its addresses reach the
// IPv4 address in their last four bytes.
var nat64 = netip.MustParsePrefix("64:ff9b::/96")

// ipv4Translated is the IPv4-translated prefix of SIIT (RFC 2765,
// ::ffff:0:a.b.c.d, that is ::ffff:0:0:0/96): the IPv4 address is in the
// last four bytes.
var ipv4Translated = netip.MustParsePrefix("::ffff:0:0:0/96")

// refused reports whether connecting to ip is refused unless
// Options.AllowPrivate is set: loopback, private (RFC 1918, fc00::/7),
// link-local, unspecified, multicast and the ranges of refusedPrefixes,
// including IPv4 addresses written as IPv4-mapped, IPv4-compatible,
// IPv4-translated or NAT64 (64:ff9b::/96) IPv6 addresses, and the IPv6
// ranges of refusedPrefixes6. An invalid address is refused.
func refused(ip netip.Addr) bool {
	if !ip.IsValid() {
		return true
	}
	ip = ip.WithZone("").Unmap()
	if ip.Is6() {
		for _, p := range refusedPrefixes6 {
			if p.Contains(ip) {
				return true
			}
		}
		b := ip.As16()
		// NAT64, IPv4-translated or IPv4-compatible (::/96, with :: and ::1)
		if nat64.Contains(ip) || ipv4Translated.Contains(ip) || [12]byte(b[:12]) == [12]byte{} {
			ip = netip.AddrFrom4([4]byte(b[12:]))
		}
	}
	if ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsUnspecified() ||
		ip.IsMulticast() || ip.IsLinkLocalMulticast() || ip.IsInterfaceLocalMulticast() {
		return true
	}
	for _, p := range refusedPrefixes {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// checkDial is the net.Dialer Control function used unless AllowPrivate:
// it sees the address of every connection about to be made, after name
// resolution, so neither a redirect nor DNS rebinding can reach a refused
// address.
func checkDial(_, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		host = address
	}
	ip, err := netip.ParseAddr(host)
	if err != nil || refused(ip) {
		return &privateAddressError{addr: host}
	}
	return nil
}
