package status

import (
	"github.com/prometheus/client_golang/prometheus"

	"bondingfs/bond"
)

// Collector is a prometheus.Collector that renders the latest snapshot on
// every scrape. It never blocks: the snapshot is read lock-free.
//
// Metrics (labels in braces):
//
//	bondingfs_bond_info{bond,mode}                       1
//	bondingfs_bond_up{bond}                              1 when the bond device is up (IFF_UP)
//	bondingfs_bond_carrier{bond}                         1 when the bond has carrier
//	bondingfs_bond_slaves{bond}                          number of slaves
//	bondingfs_bond_active_slave{bond,slave}              1 for curr_active_slave
//	bondingfs_slave_mii_status{bond,slave,status}        1 for the slave's MII status ("up", "going down", "down", "going back")
//	bondingfs_slave_active{bond,slave}                   1 when bonding_slave/state is "active"
//	bondingfs_slave_link_failures_total{bond,slave}      link_failure_count
//	bondingfs_slave_speed_mbps{bond,slave}               link speed in Mb/s (absent when unknown)
//	bondingfs_ad_aggregator_ports{bond}                  ports of the active aggregator (802.3ad)
//	bondingfs_ad_port_aggregator{bond,slave}             aggregator ID of each port (802.3ad)
//	bondingfs_ad_port_state{bond,slave,side}             LACP state octet of actor/partner (802.3ad)
//	bondingfs_ad_churned_total{bond,slave,side}          churned count of actor/partner (802.3ad)
type Collector struct {
	snap func() *bond.Snapshot
}

// NewCollector returns a collector over snap, which must return the latest
// snapshot without blocking (bond.Registry.Snapshot).
func NewCollector(snap func() *bond.Snapshot) *Collector { return &Collector{snap: snap} }

var (
	descBondInfo      = prometheus.NewDesc("bondingfs_bond_info", "A bond and its mode (bonding/mode).", []string{"bond", "mode"}, nil)
	descBondUp        = prometheus.NewDesc("bondingfs_bond_up", "1 when the bond device is administratively up.", []string{"bond"}, nil)
	descBondCarrier   = prometheus.NewDesc("bondingfs_bond_carrier", "1 when the bond has carrier (bonding/mii_status up).", []string{"bond"}, nil)
	descBondSlaves    = prometheus.NewDesc("bondingfs_bond_slaves", "Number of slaves of the bond.", []string{"bond"}, nil)
	descActiveSlave   = prometheus.NewDesc("bondingfs_bond_active_slave", "1 for the bond's current active slave (curr_active_slave).", []string{"bond", "slave"}, nil)
	descSlaveMII      = prometheus.NewDesc("bondingfs_slave_mii_status", "1 for the slave's MII status (bonding_slave/mii_status).", []string{"bond", "slave", "status"}, nil)
	descSlaveActive   = prometheus.NewDesc("bondingfs_slave_active", "1 when bonding_slave/state is active.", []string{"bond", "slave"}, nil)
	descSlaveFailures = prometheus.NewDesc("bondingfs_slave_link_failures_total", "Link failures of the slave (bonding_slave/link_failure_count).", []string{"bond", "slave"}, nil)
	descSlaveSpeed    = prometheus.NewDesc("bondingfs_slave_speed_mbps", "Link speed of the slave in Mb/s.", []string{"bond", "slave"}, nil)
	descADAggPorts    = prometheus.NewDesc("bondingfs_ad_aggregator_ports", "Ports of the bond's active 802.3ad aggregator (bonding/ad_num_ports).", []string{"bond"}, nil)
	descADPortAgg     = prometheus.NewDesc("bondingfs_ad_port_aggregator", "802.3ad aggregator ID of the port (bonding_slave/ad_aggregator_id).", []string{"bond", "slave"}, nil)
	descADPortState   = prometheus.NewDesc("bondingfs_ad_port_state", "LACP port state octet of the actor or partner (802.1AX-2014 6.4.2.3).", []string{"bond", "slave", "side"}, nil)
	descADChurned     = prometheus.NewDesc("bondingfs_ad_churned_total", "Churned count of the actor or partner (Actor/Partner Churned Count).", []string{"bond", "slave", "side"}, nil)
)

var miiStates = []string{"up", "going down", "down", "going back"}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descBondInfo, descBondUp, descBondCarrier, descBondSlaves,
		descActiveSlave, descSlaveMII, descSlaveActive, descSlaveFailures, descSlaveSpeed,
		descADAggPorts, descADPortAgg, descADPortState, descADChurned} {
		ch <- d
	}
}

func b2f(v bool) float64 {
	if v {
		return 1
	}
	return 0
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	r, _ := FromSnapshot(c.snap(), bond.Caller{NetAdmin: true})
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
	}
	for _, b := range r.Bonds {
		gauge(descBondInfo, 1, b.Name, b.Mode)
		gauge(descBondUp, b2f(b.Up), b.Name)
		gauge(descBondCarrier, b2f(b.Carrier), b.Name)
		gauge(descBondSlaves, float64(len(b.Slaves)), b.Name)
		if b.ActiveSlave != "" {
			gauge(descActiveSlave, 1, b.Name, b.ActiveSlave)
		}
		if b.AD != nil && b.AD.ActiveAggregator != nil {
			gauge(descADAggPorts, float64(b.AD.ActiveAggregator.NumPorts), b.Name)
		}
		for _, s := range b.Slaves {
			for _, st := range miiStates {
				gauge(descSlaveMII, b2f(s.MIIStatus == st), b.Name, s.Name, st)
			}
			gauge(descSlaveActive, b2f(s.State == "active"), b.Name, s.Name)
			counter(descSlaveFailures, float64(s.LinkFailureCount), b.Name, s.Name)
			if s.SpeedMbps >= 0 {
				gauge(descSlaveSpeed, float64(s.SpeedMbps), b.Name, s.Name)
			}
			if a := s.AD; a != nil {
				gauge(descADPortAgg, float64(a.AggregatorID), b.Name, s.Name)
				gauge(descADPortState, float64(a.Actor.PortState), b.Name, s.Name, "actor")
				gauge(descADPortState, float64(a.Partner.PortState), b.Name, s.Name, "partner")
				counter(descADChurned, float64(a.ActorChurnCount), b.Name, s.Name, "actor")
				counter(descADChurned, float64(a.PartnerChurnCount), b.Name, s.Name, "partner")
			}
		}
	}
}
