package fetch

import (
	"net"
	"net/netip"
	"syscall"
)

// refusedPrefixes are the IPv4 ranges refused beyond what netip.Addr's
// predicates cover.
var refusedPrefixes = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),     // "this network"
	netip.MustParsePrefix("100.64.0.0/10"), // carrier-grade NAT (RFC 6598)
	netip.MustParsePrefix("192.0.0.0/24"),  // IETF protocol assignments
	netip.MustParsePrefix("198.18.0.0/15"), // benchmarking
	netip.MustParsePrefix("240.0.0.0/4"),   // reserved, broadcast included
}

// nat64 is the well-known NAT64 prefix (RFC 6052): its addresses reach the
// IPv4 address in their last four bytes.
var nat64 = netip.MustParsePrefix("64:ff9b::/96")

// refused reports whether connecting to ip is refused unless
// Options.AllowPrivate is set: loopback, private (RFC 1918, fc00::/7),
// link-local, unspecified, multicast and the ranges of refusedPrefixes,
// including IPv4 addresses written as IPv4-mapped, IPv4-compatible or NAT64
// IPv6 addresses. An invalid address is refused.
func refused(ip netip.Addr) bool {
	if !ip.IsValid() {
		return true
	}
	ip = ip.WithZone("").Unmap()
	if ip.Is6() {
		b := ip.As16()
		if nat64.Contains(ip) || [12]byte(b[:12]) == [12]byte{} { // NAT64 or IPv4-compatible (::/96, with :: and ::1)
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
