package netdev

import (
	"encoding/binary"
	"testing"

	"golang.org/x/net/bpf"

	"bondingfs/internal/frame"
)

// filterAccepts runs the control filter on f as the kernel runs it on a
// packet socket (bpf.VM: the same semantics, a load past the end drops).
func filterAccepts(t testing.TB, f []byte) bool {
	t.Helper()
	var prog []bpf.Instruction
	for _, r := range controlFilter {
		prog = append(prog, r.Disassemble())
	}
	vm, err := bpf.NewVM(prog)
	if err != nil {
		t.Fatal(err)
	}
	n, err := vm.Run(f)
	if err != nil {
		t.Fatal(err)
	}
	return n != 0
}

func ethFrame(et uint16, n int) []byte {
	f := make([]byte, n)
	binary.BigEndian.PutUint16(f[12:], et)
	return f
}

func ndFrame(typ byte) []byte {
	f := ethFrame(0x86dd, 14+40+24)
	f[14+6] = 58
	f[14+40] = typ
	return f
}

func TestControlFilter(t *testing.T) {
	for _, c := range []struct {
		name string
		f    []byte
		want bool
	}{
		{"LACPDU", ethFrame(0x8809, 124), true},
		{"ARP", ethFrame(0x0806, 60), true},
		{"IPv4", ethFrame(0x0800, 60), false},
		{"NS", ndFrame(135), true},
		{"NA", ndFrame(136), true},
		{"RS", ndFrame(133), false},
		{"IPv6 UDP", ethFrame(0x86dd, 100), false},
		{"cut", ethFrame(0x86dd, 30), false},
		{"runt", []byte{1, 2, 3}, false},
	} {
		if got := filterAccepts(t, c.f); got != c.want {
			t.Errorf("%s: accepted %v, want %v", c.name, got, c.want)
		}
	}
}

// FuzzControlFilter: the socket filter accepts exactly the frames
// frame.ClassifyFrame calls control (the packet socket sees frames with
// their outermost VLAN tag taken out, so tagged frames are not compared).
func FuzzControlFilter(f *testing.F) {
	f.Add(ethFrame(0x8809, 124))
	f.Add(ethFrame(0x0806, 60))
	f.Add(ndFrame(135))
	f.Add(ndFrame(134))
	f.Add(ethFrame(0x0800, 60))
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) >= 14 && binary.BigEndian.Uint16(b[12:]) == frame.EtherTypeVLAN {
			return
		}
		want := frame.ClassifyFrame(b) != 0
		if got := filterAccepts(t, b); got != want {
			t.Fatalf("filter %v, ClassifyFrame %v for %x", got, want, b)
		}
	})
}
