package osmem

import (
	"runtime"
	"sync"
	"testing"
	"weak"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestReleaseDropsPooledObjects: an object left in a sync.Pool is gone
// after Release (it survives one collection in the pool's victim cache, so
// debug.FreeOSMemory alone keeps it: without the race detector, which
// drops a quarter of the Puts, this test fails with one collection).
func TestReleaseDropsPooledObjects(t *testing.T) {
	var pool sync.Pool
	buf := new([64 << 10]byte)
	w := weak.Make(buf)
	pool.Put(buf)
	buf = nil
	Release()
	runtime.KeepAlive(&pool)
	if w.Value() != nil {
		t.Fatal("a pooled 64 KB buffer is still reachable after Release")
	}
}

// TestTrimKeepsGOMAXPROCS: Trim puts GOMAXPROCS back, whether set
// explicitly or the runtime's default.
func TestTrimKeepsGOMAXPROCS(t *testing.T) {
	prev := runtime.GOMAXPROCS(3)
	defer runtime.GOMAXPROCS(prev)
	Trim()
	if got := runtime.GOMAXPROCS(0); got != 3 {
		t.Fatalf("GOMAXPROCS after Trim: %d, want 3", got)
	}
	runtime.SetDefaultGOMAXPROCS()
	def := runtime.GOMAXPROCS(0)
	Trim()
	if got := runtime.GOMAXPROCS(0); got != def {
		t.Fatalf("GOMAXPROCS after Trim: %d, want the default %d", got, def)
	}
}
