package bond

// Options is the option table in the order of bond_sysfs.c per_bond_attrs[]:
// one entry per file under bonding/.
var Options []*Option

// OptionByName returns the option named name, or nil.
func OptionByName(name string) *Option {
	for _, o := range Options {
		if o.Name == name {
			return o
		}
	}
	return nil
}
