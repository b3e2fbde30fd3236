// Package bondtest is the engine's test kit: an in-memory bond.Host with
// in-memory devices, a Clock that tests advance by hand, an Env that runs a
// Registry over them and waits for it deterministically (no sleeps), and a
// goroutine-leak check. Engine tests in bond and the tests of the modes
// outside bond (modes/ad, modes/alb) use it.
package bondtest
