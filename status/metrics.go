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
//	bondingfs_bond_failovers_total{bond}                 changes of the active slave away from a slave
//	bondingfs_bond_fastpath_frames_total{bond,direction} eBPF fast path: tx, rx, tx_dropped, rx_dropped, slow
//	bondingfs_bond_fastpath_bytes_total{bond,direction}  eBPF fast path: tx, rx bytes
//	bondingfs_slave_speed_mbps{bond,slave}               link speed in Mb/s (absent when unknown)
//	bondingfs_slave_rx_frames_total{bond,slave}          frames received and delivered up the bond
//	bondingfs_slave_rx_bytes_total{bond,slave}           their bytes
//	bondingfs_slave_rx_dropped_total{bond,slave}         frames dropped on an inactive slave
//	bondingfs_slave_rx_probed_total{bond,slave}          frames the receive probe consumed (LACPDUs, ARP replies)
//	bondingfs_ad_aggregator_ports{bond}                  ports of the active aggregator (802.3ad)
//	bondingfs_ad_port_aggregator{bond,slave}             aggregator ID of each port (802.3ad)
//	bondingfs_ad_port_state{bond,slave,side}             LACP state octet of actor/partner (802.3ad)
//	bondingfs_ad_churned_total{bond,slave,side}          churned count of actor/partner (802.3ad)
//	bondingfs_ad_lacpdus_total{bond,slave,direction}     LACPDUs received/sent (802.3ad, when the mode counts them)
//	bondingfs_ad_markers_total{bond,slave,direction,type} Marker and Marker Response PDUs received/sent
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
	descFailovers     = prometheus.NewDesc("bondingfs_bond_failovers_total", "Changes of the active slave away from a slave (to another or to none).", []string{"bond"}, nil)
	descRxFrames      = prometheus.NewDesc("bondingfs_slave_rx_frames_total", "Frames received on the slave and delivered up the bond.", []string{"bond", "slave"}, nil)
	descRxBytes       = prometheus.NewDesc("bondingfs_slave_rx_bytes_total", "Bytes of the frames received on the slave and delivered up the bond.", []string{"bond", "slave"}, nil)
	descRxDropped     = prometheus.NewDesc("bondingfs_slave_rx_dropped_total", "Frames received on an inactive slave and dropped.", []string{"bond", "slave"}, nil)
	descRxProbed      = prometheus.NewDesc("bondingfs_slave_rx_probed_total", "Frames the receive probe consumed (LACPDUs, ARP monitor replies).", []string{"bond", "slave"}, nil)
	descADLACPDUs     = prometheus.NewDesc("bondingfs_ad_lacpdus_total", "LACPDUs received (rx) or sent (tx) on the port; rx_unknown and rx_illegal count bad Slow Protocols frames.", []string{"bond", "slave", "direction"}, nil)
	descADMarkers     = prometheus.NewDesc("bondingfs_ad_markers_total", "Marker (type marker) and Marker Response (type response) PDUs received or sent on the port.", []string{"bond", "slave", "direction", "type"}, nil)
	descADAggPorts    = prometheus.NewDesc("bondingfs_ad_aggregator_ports", "Ports of the bond's active 802.3ad aggregator (bonding/ad_num_ports).", []string{"bond"}, nil)
	descADPortAgg     = prometheus.NewDesc("bondingfs_ad_port_aggregator", "802.3ad aggregator ID of the port (bonding_slave/ad_aggregator_id).", []string{"bond", "slave"}, nil)
	descADPortState   = prometheus.NewDesc("bondingfs_ad_port_state", "LACP port state octet of the actor or partner (802.1AX-2014 6.4.2.3).", []string{"bond", "slave", "side"}, nil)
	descFPFrames      = prometheus.NewDesc("bondingfs_bond_fastpath_frames_total", "Frames the eBPF fast path sent (tx), delivered (rx), dropped (tx_dropped: no slave; rx_dropped: inactive slave) or left to the daemon (slow).", []string{"bond", "direction"}, nil)
	descFPBytes       = prometheus.NewDesc("bondingfs_bond_fastpath_bytes_total", "Bytes of the frames the eBPF fast path sent (tx) and delivered (rx).", []string{"bond", "direction"}, nil)
	descADChurned     = prometheus.NewDesc("bondingfs_ad_churned_total", "Churned count of the actor or partner (Actor/Partner Churned Count).", []string{"bond", "slave", "side"}, nil)
)

var miiStates = []string{"up", "going down", "down", "going back"}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descBondInfo, descBondUp, descBondCarrier, descBondSlaves,
		descActiveSlave, descSlaveMII, descSlaveActive, descSlaveFailures, descSlaveSpeed,
		descADAggPorts, descADPortAgg, descADPortState, descADChurned,
		descFailovers, descFPFrames, descFPBytes, descRxFrames, descRxBytes, descRxDropped, descRxProbed, descADLACPDUs, descADMarkers} {
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
		counter(descFailovers, float64(b.Failovers), b.Name)
		if f := b.FastPath; f != nil {
			for dir, v := range map[string]uint64{"tx": f.TxPackets, "rx": f.RxPackets, "tx_dropped": f.TxDropped, "rx_dropped": f.RxDropped, "slow": f.Slow} {
				counter(descFPFrames, float64(v), b.Name, dir)
			}
			counter(descFPBytes, float64(f.TxBytes), b.Name, "tx")
			counter(descFPBytes, float64(f.RxBytes), b.Name, "rx")
		}
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
			counter(descRxFrames, float64(s.RxFrames), b.Name, s.Name)
			counter(descRxBytes, float64(s.RxBytes), b.Name, s.Name)
			counter(descRxDropped, float64(s.RxDropped), b.Name, s.Name)
			counter(descRxProbed, float64(s.RxProbed), b.Name, s.Name)
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
			if st := s.ADStats; st != nil {
				counter(descADLACPDUs, float64(st.LACPDURx), b.Name, s.Name, "rx")
				counter(descADLACPDUs, float64(st.LACPDUTx), b.Name, s.Name, "tx")
				counter(descADLACPDUs, float64(st.LACPDUUnknownRx), b.Name, s.Name, "rx_unknown")
				counter(descADLACPDUs, float64(st.LACPDUIllegalRx), b.Name, s.Name, "rx_illegal")
				counter(descADMarkers, float64(st.MarkerRx), b.Name, s.Name, "rx", "marker")
				counter(descADMarkers, float64(st.MarkerTx), b.Name, s.Name, "tx", "marker")
				counter(descADMarkers, float64(st.MarkerRespRx), b.Name, s.Name, "rx", "response")
				counter(descADMarkers, float64(st.MarkerRespTx), b.Name, s.Name, "tx", "response")
				counter(descADMarkers, float64(st.MarkerUnknownRx), b.Name, s.Name, "rx", "unknown")
			}
		}
	}
}
