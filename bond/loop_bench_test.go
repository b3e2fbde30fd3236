package bond_test

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"bondingfs/bond"
	"bondingfs/bond/bondtest"
)

// latencyHost is a bondtest.Host whose link reads block like RTM_GETLINK
// does (measured: 31 µs per netlink.LinkByIndex in an idle namespace on the
// development machine; 50 µs models a busier one).
type latencyHost struct {
	*bondtest.Host
	d time.Duration
}

func (h *latencyHost) LinkByIndex(i int) (bond.LinkInfo, error) {
	time.Sleep(h.d)
	return h.Host.LinkByIndex(i)
}
func (h *latencyHost) LinkByName(n string) (bond.LinkInfo, error) {
	time.Sleep(h.d)
	return h.Host.LinkByName(n)
}
func (h *latencyHost) Speed(i int) (int, int, error) {
	time.Sleep(h.d)
	return h.Host.Speed(i)
}

// BenchmarkControlLoop: 8 bonds × 2 slaves, miimon=10, 200 FUSE opens/s
// (each a Registry.Sync, as fusefs does before rendering); every 100 ms a
// tick posts one operation per bond (as an 802.3ad tick will) and measures
// how long it waited in the control loop's queue. b.N is the number of
// ticks (-benchtime=100x is 10 s). It runs on the real clock.
func BenchmarkControlLoop(b *testing.B) {
	mh := bondtest.NewHost()
	h := &latencyHost{Host: mh, d: 50 * time.Microsecond}
	p := bond.DefaultParams()
	p.Mode = bond.ModeActiveBackup
	p.Miimon = 10
	r := bond.NewRegistry(bond.Config{Host: h, Defaults: p})
	ctx := context.Background()
	if err := r.Start(); err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	for i := 0; i < 8; i++ {
		name := fmt.Sprintf("bond%d", i)
		if err := r.CreateBond(ctx, name); err != nil {
			b.Fatal(err)
		}
		for j := 0; j < 2; j++ {
			s := fmt.Sprintf("eth%d", 2*i+j)
			mh.AddVeth(s, byte(2*i+j+1))
			if err := r.Do(ctx, func() error { return r.Bond(name).Enslave(s) }); err != nil {
				b.Fatal(err)
			}
		}
		mh.Modify(name, func(l *bond.LinkInfo) { l.Up = true })
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // 200 FUSE opens per second
		defer wg.Done()
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				_ = r.Sync(ctx)
			}
		}
	}()
	time.Sleep(200 * time.Millisecond) // bonds up, monitors running
	var waits []time.Duration
	b.ResetTimer()
	tick := time.NewTicker(100 * time.Millisecond)
	for i := 0; i < b.N; i++ {
		<-tick.C
		for j := 0; j < 8; j++ {
			posted := time.Now()
			var w time.Duration
			_ = r.Do(ctx, func() error { w = time.Since(posted); return nil })
			waits = append(waits, w)
		}
	}
	tick.Stop()
	b.StopTimer()
	close(stop)
	wg.Wait()
	sort.Slice(waits, func(i, j int) bool { return waits[i] < waits[j] })
	q := func(f float64) time.Duration { return waits[int(f*float64(len(waits)-1))] }
	b.ReportMetric(float64(q(0.5).Nanoseconds())/1e6, "p50-wait-ms")
	b.ReportMetric(float64(q(0.99).Nanoseconds())/1e6, "p99-wait-ms")
	b.ReportMetric(float64(waits[len(waits)-1].Nanoseconds())/1e6, "max-wait-ms")
	b.Logf("%d tick operations: wait p50 %v p99 %v max %v", len(waits), q(0.5), q(0.99), waits[len(waits)-1])
	ls := r.LoopStats()
	b.Logf("every control-loop operation: wait %v; run %v", ls.Wait, ls.Run)
}
