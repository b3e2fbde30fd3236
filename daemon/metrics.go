package daemon

import (
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"bondingfs/bond"
	"bondingfs/status"
)

// metricsAddr makes a listen address of the --metrics value: a bare port
// (":9111" or "9111") listens on loopback only.
func metricsAddr(v string) string {
	host, port, err := net.SplitHostPort(v)
	if err != nil {
		return net.JoinHostPort("127.0.0.1", v)
	}
	if host == "" {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

// serveMetrics serves the registry's Prometheus metrics (status.Collector,
// the control loop's wait and run histograms, Go runtime and process
// metrics, and with sysfs the slaves' kernel counters) at
// http://ADDR/metrics.
func serveMetrics(addr string, reg *bond.Registry, sysfs string) (*http.Server, error) {
	pr := prometheus.NewRegistry()
	pr.MustRegister(status.NewCollector(reg.Snapshot), loopCollector{reg},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if sysfs != "" {
		pr.MustRegister(slaveStatsCollector{reg: reg, sysfs: sysfs})
	}
	ln, err := net.Listen("tcp", metricsAddr(addr))
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(pr, promhttp.HandlerOpts{}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return srv, nil
}

// loopCollector exports bond.Registry.LoopStats as Prometheus histograms
// (seconds) and the receive probe's drop counter.
type loopCollector struct{ reg *bond.Registry }

var (
	descLoopWait = prometheus.NewDesc("bondingfs_control_loop_wait_seconds", "Time an operation waited for the control goroutine (the engine's RTNL).", nil, nil)
	descLoopRun  = prometheus.NewDesc("bondingfs_control_loop_run_seconds", "Time an operation ran on the control goroutine, publishing included.", nil, nil)
	descRecvDrop = prometheus.NewDesc("bondingfs_recv_probe_dropped_total", "Frames the receive probe could not hand to the control goroutine.", nil, nil)
	descReadSync = prometheus.NewDesc("bondingfs_read_syncs_total", "File opens, listings and option writes that brought the bonds they show or change up to date with the host: result=\"skipped\" when the link event stream was in sync (nothing read), \"read\" when the links were read.", []string{"result"}, nil)
)

func (c loopCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descLoopWait
	ch <- descLoopRun
	ch <- descRecvDrop
	ch <- descReadSync
}

func (c loopCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.reg.LoopStats()
	for _, h := range []struct {
		d *prometheus.Desc
		h bond.Histogram
	}{{descLoopWait, st.Wait}, {descLoopRun, st.Run}} {
		buckets := map[float64]uint64{}
		var cum uint64
		for i, b := range h.h.Bounds {
			cum += h.h.Counts[i]
			buckets[b.Seconds()] = cum
		}
		ch <- prometheus.MustNewConstHistogram(h.d, h.h.Count, h.h.Sum.Seconds(), buckets)
	}
	ch <- prometheus.MustNewConstMetric(descRecvDrop, prometheus.CounterValue, float64(st.RecvDropped))
	ch <- prometheus.MustNewConstMetric(descReadSync, prometheus.CounterValue, float64(st.SyncsSkipped), "skipped")
	ch <- prometheus.MustNewConstMetric(descReadSync, prometheus.CounterValue, float64(st.SyncsRead), "read")
}

// slaveStatsCollector exports the kernel's own counters of every slave
// interface (what it sent and received on the wire, the engine's frames
// included), read at scrape time from the engine namespace's sysfs
// (<sysfs>/class/net/<slave>/statistics/*), as node_exporter reads them.
type slaveStatsCollector struct {
	reg   *bond.Registry
	sysfs string
}

var slaveStats = []struct {
	file string
	desc *prometheus.Desc
}{
	{"tx_packets", prometheus.NewDesc("bondingfs_slave_tx_frames_total", "Frames the slave interface sent (its kernel statistics/tx_packets).", []string{"bond", "slave"}, nil)},
	{"tx_bytes", prometheus.NewDesc("bondingfs_slave_tx_bytes_total", "Bytes the slave interface sent (statistics/tx_bytes).", []string{"bond", "slave"}, nil)},
	{"tx_dropped", prometheus.NewDesc("bondingfs_slave_tx_dropped_total", "Frames the slave interface dropped on transmit (statistics/tx_dropped).", []string{"bond", "slave"}, nil)},
	{"rx_packets", prometheus.NewDesc("bondingfs_slave_wire_rx_frames_total", "Frames the slave interface received (statistics/rx_packets), delivered or not.", []string{"bond", "slave"}, nil)},
	{"rx_bytes", prometheus.NewDesc("bondingfs_slave_wire_rx_bytes_total", "Bytes the slave interface received (statistics/rx_bytes).", []string{"bond", "slave"}, nil)},
	{"rx_dropped", prometheus.NewDesc("bondingfs_slave_wire_rx_dropped_total", "Frames the slave interface dropped on receive (statistics/rx_dropped).", []string{"bond", "slave"}, nil)},
}

func (c slaveStatsCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, s := range slaveStats {
		ch <- s.desc
	}
}

func (c slaveStatsCollector) Collect(ch chan<- prometheus.Metric) {
	for _, b := range c.reg.Snapshot().Bonds {
		for _, s := range b.Slaves {
			dir := filepath.Join(c.sysfs, "class/net", s.Name, "statistics")
			for _, st := range slaveStats {
				raw, err := os.ReadFile(filepath.Join(dir, st.file))
				if err != nil {
					continue
				}
				v, err := strconv.ParseUint(strings.TrimSpace(string(raw)), 10, 64)
				if err != nil {
					continue
				}
				ch <- prometheus.MustNewConstMetric(st.desc, prometheus.CounterValue, float64(v), b.Name, s.Name)
			}
		}
	}
}
