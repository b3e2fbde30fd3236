package bond

// ARPRoutesKnown reports whether the ARP monitor of b has read the routes to
// its targets (control goroutine only).
func ARPRoutesKnown(b *Bond) bool { return b.arp.routes != nil }
