package bond_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"bondingfs/bond"
)

// TestXmitPolicyNames: frame.XmitPolicy's String, which logs and tests
// print, spells every xmit_hash_policy value as the option table shows it
// in sysfs, and the table has no value String does not know.
func TestXmitPolicyNames(t *testing.T) {
	o := bond.OptionByName("xmit_hash_policy")
	if !assert.NotNil(t, o) {
		return
	}
	assert.Len(t, o.Values, 6)
	for _, v := range o.Values {
		p := bond.XmitPolicy(v.Value)
		assert.Equal(t, v.Name, p.String(), "value %d", v.Value)
		assert.Equal(t, v.Name, bond.ValueName("xmit_hash_policy", int(p)))
	}
	assert.Equal(t, "xmit_hash_policy(6)", bond.XmitPolicy(6).String())
}
