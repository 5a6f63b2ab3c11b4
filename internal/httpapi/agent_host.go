package httpapi

import (
	"bufio"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// agentMetrics serves GET /v1/agent/metrics: Consul's JSON summary, or the
// Prometheus text format with ?format=prometheus.
func (s *Server) agentMetrics(w http.ResponseWriter, r *http.Request) (any, error) {
	if query(r).Get("format") == "prometheus" {
		s.cfg.Metrics.PrometheusHandler().ServeHTTP(w, r)
		return handled{}, nil
	}
	return s.cfg.Metrics.Summarize(time.Now())
}

// hostInfo is Consul's /v1/agent/host answer, the parts muster reads from
// /proc and statfs (Consul uses gopsutil; fields it has that muster cannot
// read are left out, and read failures are listed in Errors).
type hostInfo struct {
	Memory         map[string]uint64
	CPU            []map[string]any
	Host           map[string]any
	Disk           map[string]any
	CollectionTime int64
	Errors         []string
}

// agentHost serves GET /v1/agent/host.
func (s *Server) agentHost(w http.ResponseWriter, r *http.Request) (any, error) {
	h := &hostInfo{CollectionTime: time.Now().UnixNano(), Errors: []string{}}
	if mem, err := readMeminfo(); err == nil {
		h.Memory = mem
	} else {
		h.Errors = append(h.Errors, "memory: "+err.Error())
	}
	h.CPU = []map[string]any{{"cores": runtime.NumCPU(), "modelName": cpuModel()}}
	hostname, _ := os.Hostname()
	h.Host = map[string]any{"hostname": hostname, "os": runtime.GOOS, "kernelArch": runtime.GOARCH}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		h.Host["kernelVersion"] = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile("/proc/uptime"); err == nil {
		if f := strings.Fields(string(b)); len(f) > 0 {
			if up, err := strconv.ParseFloat(f[0], 64); err == nil {
				h.Host["uptime"] = uint64(up)
				h.Host["bootTime"] = uint64(time.Now().Unix()) - uint64(up)
			}
		}
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs("/", &st); err == nil {
		total, free := st.Blocks*uint64(st.Bsize), st.Bavail*uint64(st.Bsize)
		h.Disk = map[string]any{"path": "/", "total": total, "free": free, "used": total - free,
			"usedPercent": 100 * float64(total-free) / float64(max(total, 1))}
	} else {
		h.Errors = append(h.Errors, "disk: "+err.Error())
	}
	return h, nil
}

// readMeminfo reads total, available, free and used memory in bytes.
func readMeminfo() (map[string]uint64, error) {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	kb := map[string]uint64{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		if v, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64); err == nil {
			kb[name] = v * 1024
		}
	}
	mem := map[string]uint64{"total": kb["MemTotal"], "available": kb["MemAvailable"], "free": kb["MemFree"]}
	mem["used"] = mem["total"] - mem["available"]
	return mem, sc.Err()
}

func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if name, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(name) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}
