// Package metrics holds an agent's Prometheus registry: the Go runtime and
// process collectors, HTTP request counts and latencies by route, and gauges
// read from the agent at scrape time. /v1/agent/metrics serves it in
// Consul's JSON shape, or in Prometheus text with ?format=prometheus.
package metrics

import (
	"net/http"
	"os"
	"runtime"
	"sort"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
)

// Metrics is one agent's registry. The zero value is not usable; call New.
type Metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

// New returns a registry with the runtime, process and HTTP metrics.
func New() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "muster_http_requests_total", Help: "HTTP API requests by route, method and status code.",
		}, []string{"route", "method", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "muster_http_request_duration_seconds", Help: "HTTP API request latency by route (blocking reads included).",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .5, 1, 10, 60, 600},
		}, []string{"route"}),
	}
	m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.requests, m.latency)
	return m
}

// Gauge registers a gauge whose value fn returns at each scrape. fn runs on
// the scraping goroutine and must be cheap and safe for concurrent use.
func (m *Metrics) Gauge(name, help string, fn func() float64) {
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, fn))
}

// ObserveHTTP records one finished request.
func (m *Metrics) ObserveHTTP(route, method string, code int, d time.Duration) {
	m.requests.WithLabelValues(route, method, strconv.Itoa(code)).Inc()
	m.latency.WithLabelValues(route).Observe(d.Seconds())
}

// PrometheusHandler serves the text exposition format.
func (m *Metrics) PrometheusHandler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// Summary is Consul's /v1/agent/metrics JSON.
type Summary struct {
	Timestamp string
	Gauges    []GaugeValue
	Points    []struct{}
	Counters  []SampledValue
	Samples   []SampledValue
}

// GaugeValue is one gauge of a Summary.
type GaugeValue struct {
	Name   string
	Value  float64
	Labels map[string]string
}

// SampledValue is one counter or histogram of a Summary: Count and Sum, with
// Mean derived (muster keeps no per-interval min and max).
type SampledValue struct {
	Name   string
	Count  int
	Sum    float64
	Mean   float64
	Labels map[string]string
}

// Summarize gathers the registry into Consul's JSON shape. Gauges and
// untyped values become Gauges, counters Counters (Count and Sum are the
// counter's value), histograms and summaries Samples.
func (m *Metrics) Summarize(now time.Time) (*Summary, error) {
	families, err := m.reg.Gather()
	if err != nil {
		return nil, err
	}
	out := &Summary{Timestamp: now.UTC().Format("2006-01-02 15:04:05 -0700 MST"),
		Gauges: []GaugeValue{}, Points: []struct{}{}, Counters: []SampledValue{}, Samples: []SampledValue{}}
	for _, f := range families {
		for _, mt := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range mt.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			name := f.GetName()
			switch f.GetType() {
			case dto.MetricType_COUNTER:
				v := mt.GetCounter().GetValue()
				out.Counters = append(out.Counters, SampledValue{Name: name, Count: int(v), Sum: v, Mean: 1, Labels: labels})
			case dto.MetricType_HISTOGRAM:
				h := mt.GetHistogram()
				out.Samples = append(out.Samples, sampled(name, h.GetSampleCount(), h.GetSampleSum(), labels))
			case dto.MetricType_SUMMARY:
				s := mt.GetSummary()
				out.Samples = append(out.Samples, sampled(name, s.GetSampleCount(), s.GetSampleSum(), labels))
			case dto.MetricType_GAUGE:
				out.Gauges = append(out.Gauges, GaugeValue{Name: name, Value: mt.GetGauge().GetValue(), Labels: labels})
			default:
				out.Gauges = append(out.Gauges, GaugeValue{Name: name, Value: mt.GetUntyped().GetValue(), Labels: labels})
			}
		}
	}
	out.Gauges = append(out.Gauges, consulRuntimeGauges()...)
	sort.SliceStable(out.Gauges, func(i, j int) bool { return out.Gauges[i].Name < out.Gauges[j].Name })
	return out, nil
}

// consulRuntimeGauges are the Go runtime gauges under the names Consul's
// go-metrics emits (consul.HOST.runtime.*), so dashboards and tools that
// read Consul's JSON metrics find them.
func consulRuntimeGauges() []GaugeValue {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	host, _ := os.Hostname()
	prefix := "consul." + host + ".runtime."
	vals := []struct {
		name string
		v    float64
	}{
		{"alloc_bytes", float64(ms.Alloc)}, {"sys_bytes", float64(ms.Sys)},
		{"malloc_count", float64(ms.Mallocs)}, {"free_count", float64(ms.Frees)},
		{"heap_objects", float64(ms.HeapObjects)}, {"num_goroutines", float64(runtime.NumGoroutine())},
		{"total_gc_pause_ns", float64(ms.PauseTotalNs)}, {"total_gc_runs", float64(ms.NumGC)},
	}
	out := make([]GaugeValue, 0, len(vals))
	for _, v := range vals {
		out = append(out, GaugeValue{Name: prefix + v.name, Value: v.v, Labels: map[string]string{}})
	}
	return out
}

func sampled(name string, count uint64, sum float64, labels map[string]string) SampledValue {
	v := SampledValue{Name: name, Count: int(count), Sum: sum, Labels: labels}
	if count > 0 {
		v.Mean = sum / float64(count)
	}
	return v
}
