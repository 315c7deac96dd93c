// Package metrics holds the server's Prometheus metrics: one registry, made by serve and
// handed to what records into it (no package globals: the client library's default
// registry is not used). A nil *Metrics records nothing, for the commands and tests that
// keep no metrics.
package metrics

import (
	"context"
	"net/http"
	"sort"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics are the server's metrics.
type Metrics struct {
	reg *prometheus.Registry

	requests       *prometheus.CounterVec
	latency        *prometheus.HistogramVec
	refreshes      *prometheus.CounterVec
	refreshSeconds *prometheus.HistogramVec
	ingestFiles    *prometheus.CounterVec
	ingestRows     *prometheus.CounterVec
	sqlQueries     *prometheus.CounterVec
	scopeBuilds    *prometheus.CounterVec
	scopeSeconds   *prometheus.HistogramVec
	backups        *prometheus.CounterVec
	backupLast     prometheus.Gauge
	backupSeconds  prometheus.Gauge
	backupBytes    prometheus.Gauge
	deliveries     *prometheus.CounterVec
}

// New makes the metrics in a registry of their own, with the Go runtime's and the
// process's (memory, open files, CPU).
func New() *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{reg: reg}
	f := func(c prometheus.Collector) { reg.MustRegister(c) }
	f(collectors.NewGoCollector())
	f(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tisheng_http_requests_total",
		Help: "HTTP requests answered, by route class (page, api, sql, upload, download, admin, login, link, static, metrics, health, other) and status class (2xx…5xx)."},
		[]string{"class", "code"})
	m.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "tisheng_http_request_duration_seconds",
		Help:    "Time to answer an HTTP request, by route class.",
		Buckets: []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120}},
		[]string{"class"})
	m.refreshes = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tisheng_refreshes_total",
		Help: "Refreshes of the models, by mode (full, incremental, unchanged; unknown when it failed before deciding) and outcome (ok, failed)."},
		[]string{"mode", "outcome"})
	m.refreshSeconds = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "tisheng_refresh_duration_seconds",
		Help:    "Time a refresh took, by mode and outcome.",
		Buckets: []float64{0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800}},
		[]string{"mode", "outcome"})
	m.ingestFiles = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tisheng_ingest_files_total",
		Help: "Files uploaded, by result (loaded, already_loaded, failed)."},
		[]string{"status"})
	m.ingestRows = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tisheng_ingest_rows_total",
		Help: "Rows of uploaded files, by export kind and result (accepted, rejected)."},
		[]string{"kind", "result"})
	m.sqlQueries = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tisheng_sql_queries_total",
		Help: "Ad-hoc SQL queries, by outcome (ok; refused by the guard; busy; timeout; memory; failed)."},
		[]string{"outcome"})
	m.scopeBuilds = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tisheng_scope_builds_total",
		Help: "District and school databases built, by kind (district, school) and outcome (ok, failed)."},
		[]string{"kind", "outcome"})
	m.scopeSeconds = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "tisheng_scope_build_duration_seconds",
		Help:    "Time to build a district or school database (its pages' tables).",
		Buckets: []float64{0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 60}},
		[]string{"kind"})
	m.backups = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tisheng_backups_total",
		Help: "Backups taken, by reason (manual, scheduled) and outcome (verified, failed)."},
		[]string{"reason", "outcome"})
	m.backupLast = prometheus.NewGauge(prometheus.GaugeOpts{Name: "tisheng_backup_last_success_timestamp_seconds",
		Help: "When the newest verified backup of the backup directory was finished (Unix time; 0: none)."})
	m.backupSeconds = prometheus.NewGauge(prometheus.GaugeOpts{Name: "tisheng_backup_last_duration_seconds",
		Help: "Time the newest verified backup took, copy and verification."})
	m.backupBytes = prometheus.NewGauge(prometheus.GaugeOpts{Name: "tisheng_backup_last_size_bytes",
		Help: "Size of the newest verified backup (warehouse copy and key)."})
	m.deliveries = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tisheng_delivery_attempts_total",
		Help: "Attempts to deliver a subscribed report, by channel (email, wecom, dingtalk) and how the attempt ended (sent, retry, failed, uncertain, stopped)."},
		[]string{"channel", "outcome"})
	for _, c := range []prometheus.Collector{m.requests, m.latency, m.refreshes, m.refreshSeconds, m.ingestFiles, m.ingestRows,
		m.sqlQueries, m.scopeBuilds, m.scopeSeconds, m.backups, m.backupLast, m.backupSeconds, m.backupBytes, m.deliveries} {
		f(c)
	}
	// The series an alert watches exist from the start, at 0: increase() over a series
	// that appears with its first failure sees no increase.
	for _, r := range []string{"manual", "scheduled"} {
		for _, o := range []string{"verified", "failed"} {
			m.backups.WithLabelValues(r, o)
		}
	}
	for _, mode := range []string{"full", "incremental"} {
		for _, o := range []string{"ok", "failed"} {
			m.refreshes.WithLabelValues(mode, o)
		}
	}
	for _, st := range []string{"loaded", "already_loaded", "failed"} {
		m.ingestFiles.WithLabelValues(st)
	}
	for _, o := range []string{"ok", "refused", "busy", "timeout", "memory", "failed"} {
		m.sqlQueries.WithLabelValues(o)
	}
	for _, k := range []string{"district", "school"} {
		for _, o := range []string{"ok", "failed"} {
			m.scopeBuilds.WithLabelValues(k, o)
		}
	}
	for _, ch := range []string{"email", "wecom", "dingtalk"} {
		for _, o := range []string{"sent", "retry", "failed", "uncertain", "stopped"} {
			m.deliveries.WithLabelValues(ch, o)
		}
	}
	return m
}

// Handler answers a scrape in Prometheus' text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError, Timeout: 10 * time.Second})
}

// Request records an answered HTTP request.
func (m *Metrics) Request(class string, status int, d time.Duration) {
	if m == nil {
		return
	}
	m.requests.WithLabelValues(class, strconv.Itoa(status/100)+"xx").Inc()
	m.latency.WithLabelValues(class).Observe(d.Seconds())
}

// Refresh records a refresh.
func (m *Metrics) Refresh(mode string, ok bool, d time.Duration) {
	if m == nil {
		return
	}
	if mode == "" {
		mode = "unknown"
	}
	o := outcome(ok)
	m.refreshes.WithLabelValues(mode, o).Inc()
	m.refreshSeconds.WithLabelValues(mode, o).Observe(d.Seconds())
}

// Ingest records one uploaded file; its rows count only when it was loaded (those of a
// file already loaded or refused were counted then, or are no one's).
func (m *Metrics) Ingest(kind, status string, accepted, rejected int) {
	if m == nil {
		return
	}
	if kind == "" {
		kind = "unknown"
	}
	m.ingestFiles.WithLabelValues(status).Inc()
	if status != "loaded" {
		return
	}
	m.ingestRows.WithLabelValues(kind, "accepted").Add(float64(accepted))
	m.ingestRows.WithLabelValues(kind, "rejected").Add(float64(rejected))
}

// SQL records an ad-hoc query's outcome.
func (m *Metrics) SQL(outcome string) {
	if m == nil {
		return
	}
	m.sqlQueries.WithLabelValues(outcome).Inc()
}

// ScopeBuild records the build of a district's or a school's database.
func (m *Metrics) ScopeBuild(kind string, ok bool, d time.Duration) {
	if m == nil {
		return
	}
	m.scopeBuilds.WithLabelValues(kind, outcome(ok)).Inc()
	if ok {
		m.scopeSeconds.WithLabelValues(kind).Observe(d.Seconds())
	}
}

// Backup records a backup; a verified one sets the last-success gauges.
func (m *Metrics) Backup(reason string, ok bool, at time.Time, d time.Duration, bytes int64) {
	if m == nil {
		return
	}
	o := "verified"
	if !ok {
		o = "failed"
	}
	m.backups.WithLabelValues(reason, o).Inc()
	if ok {
		m.LastBackup(at, d, bytes)
	}
}

// LastBackup sets the last-success gauges (at start, from the backup directory).
func (m *Metrics) LastBackup(at time.Time, d time.Duration, bytes int64) {
	if m == nil {
		return
	}
	m.backupLast.Set(float64(at.UnixNano()) / 1e9)
	m.backupSeconds.Set(d.Seconds())
	m.backupBytes.Set(float64(bytes))
}

// Delivery records how one delivery attempt ended.
func (m *Metrics) Delivery(channel, outcome string) {
	if m == nil {
		return
	}
	m.deliveries.WithLabelValues(channel, outcome).Inc()
}

// State is what the warehouse says at a scrape.
type State struct {
	// Deliveries counts the deliveries by status; Statuses are the statuses always
	// reported (0 when none), so that an alert on failed deliveries has a series to watch.
	Deliveries map[string]int
	Statuses   []string
	// ModelsOutdated: the figures are older than the loaded files (a refresh failed).
	ModelsOutdated bool
	Batches        int
}

// Watch reads the warehouse's state at each scrape (within 5 seconds): deliveries by
// status, whether the figures are outdated, the files loaded.
func (m *Metrics) Watch(read func(ctx context.Context) (State, error)) {
	if m == nil {
		return
	}
	deliveries := prometheus.NewDesc("tisheng_deliveries", "Deliveries of subscribed reports, by status (pending, sending, retry, sent, failed, uncertain, stopped).", []string{"status"}, nil)
	outdated := prometheus.NewDesc("tisheng_models_outdated", "1 when the figures are older than the loaded files (the last refresh failed or has not run), else 0.", nil, nil)
	batches := prometheus.NewDesc("tisheng_batches", "Files loaded into the warehouse.", nil, nil)
	m.reg.MustRegister(&stateCollector{descs: []*prometheus.Desc{deliveries, outdated, batches}, collect: func(ch chan<- prometheus.Metric) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		st, err := read(ctx)
		if err != nil {
			ch <- prometheus.NewInvalidMetric(outdated, err)
			return
		}
		counts := map[string]int{}
		for _, s := range st.Statuses {
			counts[s] = 0
		}
		for s, n := range st.Deliveries {
			counts[s] = n
		}
		var ss []string
		for s := range counts {
			ss = append(ss, s)
		}
		sort.Strings(ss)
		for _, s := range ss {
			ch <- prometheus.MustNewConstMetric(deliveries, prometheus.GaugeValue, float64(counts[s]), s)
		}
		v := 0.0
		if st.ModelsOutdated {
			v = 1
		}
		ch <- prometheus.MustNewConstMetric(outdated, prometheus.GaugeValue, v)
		ch <- prometheus.MustNewConstMetric(batches, prometheus.GaugeValue, float64(st.Batches))
	}})
}

// stateCollector describes its metrics up front (a CollectorFunc describes by collecting,
// which would read the warehouse at registration).
type stateCollector struct {
	descs   []*prometheus.Desc
	collect func(chan<- prometheus.Metric)
}

func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d
	}
}

func (c *stateCollector) Collect(ch chan<- prometheus.Metric) { c.collect(ch) }

func outcome(ok bool) string {
	if ok {
		return "ok"
	}
	return "failed"
}
