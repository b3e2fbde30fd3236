package modes

import "bondingfs/bond"

// Factories returns the modes this package implements, for bond.Config.Modes:
// 802.3ad, balance-tlb and balance-alb. Each call returns a new map.
func Factories() map[bond.ModeID]bond.ModeFactory {
	return map[bond.ModeID]bond.ModeFactory{
		bond.Mode8023AD: func(c bond.Control) bond.Mode { return newAD(c, rxWait) },
		bond.ModeTLB:    func(c bond.Control) bond.Mode { return newALBMode(c, false) },
		bond.ModeALB:    func(c bond.Control) bond.Mode { return newALBMode(c, true) },
	}
}
