package daemon

import (
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"bondingfs/bond"
	"bondingfs/internal/state"
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

// The metrics server's bounds: any local user can connect, and must not be
// able to hold the daemon's file descriptors (a bond's TAP open fails at
// RLIMIT_NOFILE).
const (
	metricsReadTimeout  = 10 * time.Second
	metricsWriteTimeout = 30 * time.Second
	metricsIdleTimeout  = 30 * time.Second
	// metricsMaxConns is how many connections are served at once; more are
	// closed as soon as they are accepted.
	metricsMaxConns = 32
)

// listenMetrics checks the --metrics value and binds it (before anything is
// mounted: a bad address or a port in use stops the start).
func listenMetrics(addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", metricsAddr(addr))
	if err != nil {
		return nil, err
	}
	return &limitListener{Listener: ln, sem: make(chan struct{}, metricsMaxConns)}, nil
}

// limitListener accepts at most cap(sem) connections at once; one more is
// closed at once (the client sees the connection reset rather than a hang).
type limitListener struct {
	net.Listener
	sem chan struct{}
}

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		select {
		case l.sem <- struct{}{}:
			return &limitConn{Conn: c, release: func() { <-l.sem }}, nil
		default:
			c.Close()
		}
	}
}

// limitConn gives its slot back once closed.
type limitConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}

// serveMetrics serves on ln the registry's Prometheus metrics
// (status.Collector, the control loop's wait and run histograms, the
// journal's health when rec is set, Go runtime and process metrics, and
// with sysfs the slaves' kernel counters) at http://ADDR/metrics, with
// read, write and idle timeouts.
func serveMetrics(ln net.Listener, reg *bond.Registry, sysfs string, rec *recorder) *http.Server {
	pr := prometheus.NewRegistry()
	pr.MustRegister(status.NewCollector(reg.Snapshot), loopCollector{reg},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if sysfs != "" {
		pr.MustRegister(slaveStatsCollector{reg: reg, sysfs: sysfs})
	}
	if rec != nil {
		pr.MustRegister(journalCollector{rec.j})
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(pr, promhttp.HandlerOpts{}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout: metricsReadTimeout, WriteTimeout: metricsWriteTimeout, IdleTimeout: metricsIdleTimeout}
	go func() { _ = srv.Serve(ln) }()
	return srv
}

// journalCollector exports the crash journal's health (state.Health).
type journalCollector struct{ j *state.Journal }

var (
	descJournalOK       = prometheus.NewDesc("bondingfs_journal_ok", "1 while the crash journal's last write succeeded, 0 after a failed one (writes to the mount then fail with EIO or ENOSPC).", nil, nil)
	descJournalWrites   = prometheus.NewDesc("bondingfs_journal_writes_total", "Writes of the crash journal that reached the disk.", nil, nil)
	descJournalFailures = prometheus.NewDesc("bondingfs_journal_failures_total", "Writes (and reservations) of the crash journal that failed.", nil, nil)
	descJournalLast     = prometheus.NewDesc("bondingfs_journal_last_write_timestamp_seconds", "When the crash journal was last written (Unix time; 0 before).", nil, nil)
)

func (c journalCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descJournalOK
	ch <- descJournalWrites
	ch <- descJournalFailures
	ch <- descJournalLast
}

func (c journalCollector) Collect(ch chan<- prometheus.Metric) {
	h := c.j.Health()
	ok := 0.0
	if h.OK {
		ok = 1
	}
	last := 0.0
	if !h.LastWrite.IsZero() {
		last = float64(h.LastWrite.UnixNano()) / 1e9
	}
	ch <- prometheus.MustNewConstMetric(descJournalOK, prometheus.GaugeValue, ok)
	ch <- prometheus.MustNewConstMetric(descJournalWrites, prometheus.CounterValue, float64(h.Writes))
	ch <- prometheus.MustNewConstMetric(descJournalFailures, prometheus.CounterValue, float64(h.Failures))
	ch <- prometheus.MustNewConstMetric(descJournalLast, prometheus.GaugeValue, last)
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
