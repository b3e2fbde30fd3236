package bond

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Replays the option writes and reads of the kernel transcripts
// (testdata/oracle/golden, see oracle/scenarios/lib.sh for the format)
// against one Bond at the Go level: every `w .../bonding/<opt>` through
// Bond.SetOption with its errno and exact klog lines, every
// `r .../bonding/<opt>` through the option's Show. Enslaving is emulated by
// adding the slave to the bond's list (the engine's own lines are skipped);
// `ip link set bond0 up|down` flips the bond's IFF_UP.

var (
	reWrite  = regexp.MustCompile(`^(wn?) SYS/(\S+) "(.*)" => (\S+)`)
	reRead   = regexp.MustCompile(`^r SYS/(\S+) => (.*)$`)
	reErrno  = map[string]syscall.Errno{"OK": 0, "EINVAL": syscall.EINVAL, "EPERM": syscall.EPERM, "EACCES": syscall.EACCES, "EBUSY": syscall.EBUSY, "ENOTEMPTY": syscall.ENOTEMPTY, "ENODEV": syscall.ENODEV}
	optSlave = regexp.MustCompile(`^(eth\d|p\d)/bonding_slave/(\w+)$`)
)

// optNoClock is a Clock whose timers never fire: the monitors stay idle
// while the replay flips the bond up and down.
type optNoClock struct{}

type optNoTimer struct{}

func (optNoTimer) Stop() bool { return true }

func (optNoClock) Now() time.Time                        { return time.Time{} }
func (optNoClock) AfterFunc(time.Duration, func()) Timer { return optNoTimer{} }

func replayGolden(t *testing.T, file string) {
	f, err := os.Open(filepath.Join("..", "testdata", "oracle", "golden", file))
	if err != nil {
		t.Fatal(err) // the goldens are vendored in testdata/oracle
	}
	defer f.Close()
	e := newOptEnv(t, "eth0", "eth1", "eth2", "eth3", "p0", "p1")
	e.reg.cfg.Clock = optNoClock{}
	b := e.b
	var pending []string // log lines produced by the last write, not yet matched
	skipping := false    // klog lines belong to something we do not replay
	step := ""
	lineNo := 0
	writes, reads := 0, 0
	flush := func() {
		if len(pending) > 0 {
			t.Errorf("%s:%d (%s): extra log lines %q", file, lineNo, step, pending)
		}
		pending = nil
	}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		lineNo++
		line := sc.Text()
		if strings.HasPrefix(line, "klog: ") {
			if skipping {
				continue
			}
			want := strings.TrimPrefix(line, "klog: ")
			if len(pending) == 0 {
				t.Errorf("%s:%d (%s): missing log line %q", file, lineNo, step, want)
				continue
			}
			if pending[0] != want {
				t.Errorf("%s:%d (%s): log %q, want %q", file, lineNo, step, pending[0], want)
			}
			pending = pending[1:]
			continue
		}
		flush()
		skipping = false
		switch {
		case strings.HasPrefix(line, "== ["):
			step = line
		case strings.HasPrefix(line, "$ ip link set bond0 up"):
			b.up = true
		case strings.HasPrefix(line, "$ ip link set bond0 down"):
			b.up = false
		case strings.HasPrefix(line, "$ "), strings.HasPrefix(line, "# "), strings.HasPrefix(line, "| "):
			skipping = true
		case reWrite.MatchString(line):
			m := reWrite.FindStringSubmatch(line)
			path, value, res := m[2], m[3], m[4]
			data := value
			if m[1] == "w" {
				data += "\n"
			}
			want, ok := reErrno[res]
			if !ok {
				t.Fatalf("%s:%d: unknown result %s", file, lineNo, res)
			}
			opt, isBond := strings.CutPrefix(path, "bond0/bonding/")
			if !isBond {
				skipping = true
				continue
			}
			if opt == "slaves" {
				// enslave/release are the engine's: emulate the outcome
				skipping = true
				if want == 0 {
					name := strings.TrimSpace(value)[1:]
					if value[0] == '+' {
						e.addSlave(b, name)
					} else {
						e.removeSlave(b, name)
					}
				}
				continue
			}
			writes++
			e.logs = nil
			got := ErrnoOf(b.SetOption(opt, data))
			if got != want {
				t.Errorf("%s:%d (%s): write %s %q: %s, want %s", file, lineNo, step, opt, value, errName(got), res)
			}
			pending = e.logs
			e.logs = nil
		case reRead.MatchString(line):
			m := reRead.FindStringSubmatch(line)
			path, text := m[1], m[2]
			var wantText string
			switch {
			case text == "(empty)":
				wantText = ""
			case strings.HasPrefix(text, `"`) && strings.HasSuffix(text, `"`):
				wantText = text[1:len(text)-1] + "\n"
			default:
				skipping = true
				continue
			}
			if opt, ok := strings.CutPrefix(path, "bond0/bonding/"); ok {
				o := OptionByName(opt)
				if o == nil {
					t.Errorf("%s:%d: no option %s", file, lineNo, opt)
					continue
				}
				reads++
				st := e.status(b)
				st.Carrier = golden02Carrier(st)
				if got := o.Show(st, Caller{NetAdmin: true}); got != wantText {
					t.Errorf("%s:%d (%s): read %s = %q, want %q", file, lineNo, step, opt, got, wantText)
				}
			} else if sm := optSlave.FindStringSubmatch(path); sm != nil && sm[2] == "queue_id" {
				s := b.SlaveByName(sm[1])
				if s == nil {
					t.Errorf("%s:%d: %s is not a slave", file, lineNo, sm[1])
				} else if got := strconv.Itoa(s.QueueID()) + "\n"; got != wantText {
					t.Errorf("%s:%d (%s): %s queue_id %q, want %q", file, lineNo, step, sm[1], got, wantText)
				}
			}
		default:
			skipping = true
		}
	}
	flush()
	t.Logf("%s: %d writes, %d reads checked", file, writes, reads)
	if writes == 0 || reads == 0 {
		t.Errorf("%s: nothing replayed", file)
	}
}

// golden02Carrier: the option transcripts only read mii_status on bonds
// without slaves ("down") or with up slaves and the bond up.
func golden02Carrier(st *BondStatus) bool { return st.Up && len(st.Slaves) > 0 }

func TestOptionsGolden04Mode(t *testing.T)        { replayGolden(t, "04-opt-mode.txt") }
func TestOptionsGolden05Enums(t *testing.T)       { replayGolden(t, "05-opt-enums.txt") }
func TestOptionsGolden07Monitor(t *testing.T)     { replayGolden(t, "07-opt-monitor.txt") }
func TestOptionsGolden08ArpIPTarget(t *testing.T) { replayGolden(t, "08-opt-arp-ip-target.txt") }
func TestOptionsGolden16QueueID(t *testing.T)     { replayGolden(t, "16-queue-id.txt") }
