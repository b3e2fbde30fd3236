package bond

// NSRoutesKnown reports whether the NS monitor of b has read the routes to
// its targets and the bond's IPv6 addresses (control goroutine only).
func NSRoutesKnown(b *Bond) bool { return b.arp.ns.routes != nil && b.arp.ns.ips != nil }
