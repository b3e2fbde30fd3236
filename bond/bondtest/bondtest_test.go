package bondtest

import (
	"testing"
	"time"
)

func TestClockFiresInOrder(t *testing.T) {
	c := NewClock()
	start := c.Now()
	var got []string
	at := func(name string) func() {
		return func() { got = append(got, name+"@"+c.Now().Sub(start).String()) }
	}
	c.AfterFunc(30*time.Millisecond, at("c"))
	c.AfterFunc(10*time.Millisecond, at("a"))
	stopped := c.AfterFunc(20*time.Millisecond, at("x"))
	c.AfterFunc(10*time.Millisecond, func() {
		at("b")()
		c.AfterFunc(5*time.Millisecond, at("rearmed")) // armed by a fired timer, due within the advance
	})
	if !stopped.Stop() || stopped.Stop() {
		t.Fatal("Stop reports a pending timer once")
	}
	c.Advance(25 * time.Millisecond)
	want := []string{"a@10ms", "b@10ms", "rearmed@15ms"}
	if len(got) != len(want) {
		t.Fatalf("fired %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("fired %v, want %v", got, want)
		}
	}
	if d := c.Now().Sub(start); d != 25*time.Millisecond {
		t.Errorf("now %v", d)
	}
	c.Advance(5 * time.Millisecond)
	if got[len(got)-1] != "c@30ms" {
		t.Errorf("fired %v", got)
	}
}
