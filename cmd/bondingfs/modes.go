package main

// The modes implemented outside the engine register themselves with
// bond.RegisterMode when imported: 802.3ad (modes/ad.go).
import _ "bondingfs/modes"
