package modparams

import (
	"errors"
	"strings"
	"syscall"
	"testing"

	"bondingfs/bond"
)

// FuzzModuleOptions parses arbitrary module option lines: no panic, errors
// only of the kernel's load-failure kind, and checked values in range.
func FuzzModuleOptions(f *testing.F) {
	for _, s := range []string{"mode=1 miimon=100", "max_bonds=3 arp_ip_target=1.2.3.4,5.6.7.8 arp_interval=10",
		`"mode=4" lacp_rate=fast`, "miimon=-5 updelay=7", "arp_validate=all", "tx_queues=0x10", "x=\"a b\" y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		cfg, err := Parse(strings.Fields(line), nil)
		if err != nil {
			var me *Error
			if !errors.As(err, &me) || bond.ErrnoOf(err) != syscall.EINVAL {
				t.Fatalf("%q: unexpected error %v", line, err)
			}
			return
		}
		p := cfg.Params
		if cfg.MaxBonds < 0 || p.Miimon < 0 || p.UpDelay < 0 || p.DownDelay < 0 || p.ARPInterval < 0 ||
			p.TxQueues < 1 || p.TxQueues > 255 || p.NumPeerNotif < 0 || p.NumPeerNotif > 255 ||
			p.ResendIGMP < 0 || p.ResendIGMP > 255 || p.PacketsPerSlave < 0 || p.PacketsPerSlave > 65535 ||
			len(p.ARPTargets) > bond.MaxARPTargets || (p.Miimon != 0 && p.ARPInterval != 0) || p.Mode < 0 || p.Mode > bond.ModeALB {
			t.Fatalf("%q: out of range: %+v", line, cfg)
		}
	})
}

func TestErrorUnwraps(t *testing.T) {
	_, err := Parse([]string{"mode=bogus"}, nil)
	var me *Error
	if !errors.As(err, &me) || !errors.Is(err, syscall.EINVAL) || !strings.Contains(err.Error(), `Invalid bonding mode "bogus"`) {
		t.Errorf("err = %v", err)
	}
}
