package main

import (
	"fmt"
	"strings"
)

// The texts of ifenslave.c v1.1.0 (version, usage_msg, help_msg), byte for
// byte.
const (
	versionMsg = "ifenslave.c:v1.1.0 (December 1, 2003)\n" +
		"o Donald Becker (becker@cesdis.gsfc.nasa.gov).\n" +
		"o Detach support added on 2000/10/02 by Willy Tarreau (willy at meta-x.org).\n" +
		"o 2.4 kernel support added on 2001/02/16 by Chad N. Tindel\n" +
		"  (ctindel at ieee dot org).\n"

	usageMsg = "Usage: ifenslave [-f] <master-if> <slave-if> [<slave-if>...]\n" +
		"       ifenslave -d   <master-if> <slave-if> [<slave-if>...]\n" +
		"       ifenslave -c   <master-if> <slave-if>\n" +
		"       ifenslave --help\n"

	helpMsg = "\n" +
		"       To create a bond device, simply follow these three steps :\n" +
		"       - ensure that the required drivers are properly loaded :\n" +
		"         # modprobe bonding ; modprobe <3c59x|eepro100|pcnet32|tulip|...>\n" +
		"       - assign an IP address to the bond device :\n" +
		"         # ifconfig bond0 <addr> netmask <mask> broadcast <bcast>\n" +
		"       - attach all the interfaces you need to the bond device :\n" +
		"         # ifenslave [{-f|--force}] bond0 eth0 [eth1 [eth2]...]\n" +
		"         If bond0 didn't have a MAC address, it will take eth0's. Then, all\n" +
		"         interfaces attached AFTER this assignment will get the same MAC addr.\n" +
		"         (except for ALB/TLB modes)\n" +
		"\n" +
		"       To set the bond device down and automatically release all the slaves :\n" +
		"         # ifconfig bond0 down\n" +
		"\n" +
		"       To detach a dead interface without setting the bond device down :\n" +
		"         # ifenslave {-d|--detach} bond0 eth0 [eth1 [eth2]...]\n" +
		"\n" +
		"       To change active slave :\n" +
		"         # ifenslave {-c|--change-active} bond0 eth0\n" +
		"\n" +
		"       To show master interface info\n" +
		"         # ifenslave bond0\n" +
		"\n" +
		"       To show all interfaces info\n" +
		"       # ifenslave {-a|--all-interfaces}\n" +
		"\n" +
		"       To be more verbose\n" +
		"       # ifenslave {-v|--verbose} ...\n" +
		"\n" +
		"       # ifenslave {-u|--usage}   Show usage\n" +
		"       # ifenslave {-V|--version} Show version\n" +
		"       # ifenslave {-h|--help}    This message\n" +
		"\n"
)

// opts are the command-line flags of ifenslave.c. exclusive counts the
// flags of which at most one may be given (every flag but -v).
type opts struct {
	all, change, detach, force, help, usage, verbose, version bool
	exclusive                                                 int
}

var longOpts = []struct {
	name  string
	short byte
}{
	{"all-interfaces", 'a'},
	{"change-active", 'c'},
	{"detach", 'd'},
	{"force", 'f'},
	{"help", 'h'},
	{"usage", 'u'},
	{"verbose", 'v'},
	{"version", 'V'},
}

func (o *opts) set(c byte) {
	switch c {
	case 'a':
		o.all = true
	case 'c':
		o.change = true
	case 'd':
		o.detach = true
	case 'f':
		o.force = true
	case 'h':
		o.help = true
	case 'u':
		o.usage = true
	case 'v':
		o.verbose = true
		return
	case 'V':
		o.version = true
	}
	o.exclusive++
}

// parseArgs parses the command line as getopt_long(argc, argv,
// "acdfhuvV", longopts) does: short flags may be grouped, long options may
// be abbreviated to a unique prefix, options and operands may be mixed, and
// "--" ends the options. The error carries getopt's own message.
func parseArgs(args []string) (opts, []string, error) {
	var o opts
	var operands []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			operands = append(operands, args[i+1:]...)
			return o, operands, nil
		case strings.HasPrefix(a, "--"):
			name := a[2:]
			if j := strings.IndexByte(name, '='); j >= 0 {
				return o, nil, fmt.Errorf("option '--%s' doesn't allow an argument", longName(name[:j]))
			}
			var match []byte
			for _, l := range longOpts {
				if l.name == name {
					match = []byte{l.short}
					break
				}
				if strings.HasPrefix(l.name, name) {
					match = append(match, l.short)
				}
			}
			switch len(match) {
			case 0:
				return o, nil, fmt.Errorf("unrecognized option '%s'", a)
			case 1:
				o.set(match[0])
			default:
				return o, nil, fmt.Errorf("option '%s' is ambiguous", a)
			}
		case len(a) > 1 && a[0] == '-':
			for k := 1; k < len(a); k++ {
				if !strings.ContainsRune("acdfhuvV", rune(a[k])) {
					return o, nil, fmt.Errorf("invalid option -- '%c'", a[k])
				}
				o.set(a[k])
			}
		default:
			operands = append(operands, a)
		}
	}
	return o, operands, nil
}

func longName(prefix string) string {
	for _, l := range longOpts {
		if strings.HasPrefix(l.name, prefix) {
			return l.name
		}
	}
	return prefix
}
