// Package modes holds the bonding modes that live outside the engine, as
// adapters of the pure protocol packages onto bond's Mode seam: 802.3ad
// (ad_mode.go, over modes/lacp) and balance-tlb and balance-alb
// (alb_mode.go, over modes/alb). Factories returns them for
// bond.Config.Modes; the daemon hands them in when it creates the
// Registry. The adapters reach the bond only through bond.Control.
package modes
