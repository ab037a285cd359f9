package deploy

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/attestantio/go-eth2-client/spec/phase0"
	"github.com/prometheus/client_golang/prometheus"
	"gopkg.in/yaml.v3"

	"github.com/odaowatch/watchtower/chain/beacon"
	"github.com/odaowatch/watchtower/chain/defection"
	"github.com/odaowatch/watchtower/chain/scan"
	"github.com/odaowatch/watchtower/chain/shuffle"
	"github.com/odaowatch/watchtower/config"
	"github.com/odaowatch/watchtower/megapool"
	"github.com/odaowatch/watchtower/watchtower/metrics"
)

// metricSet maps every metric name the watchtower exposes to its labels.
type metricSet map[string]map[string]bool

var descRe = regexp.MustCompile(`fqName: "([^"]+)".*constLabels: \{([^}]*)\}, variableLabels: \{([^}]*)\}`)

func (s metricSet) add(t *testing.T, d *prometheus.Desc) {
	t.Helper()
	m := descRe.FindStringSubmatch(d.String())
	if m == nil {
		t.Fatalf("cannot parse descriptor %s", d)
	}
	labels := map[string]bool{}
	for _, l := range strings.Split(m[3], ",") {
		if l = strings.TrimSpace(l); l != "" {
			labels[l] = true
		}
	}
	for _, kv := range strings.Split(m[2], ",") {
		if k, _, ok := strings.Cut(strings.TrimSpace(kv), "="); ok {
			labels[k] = true
		}
	}
	s[m[1]] = labels
}

// recorder is a Registerer that remembers what other packages register.
type recorder struct {
	t   *testing.T
	reg *prometheus.Registry
	mu  sync.Mutex
	set metricSet
}

func (r *recorder) Register(c prometheus.Collector) error {
	if err := r.reg.Register(c); err != nil {
		return err
	}
	ch := make(chan *prometheus.Desc, 64)
	go func() { c.Describe(ch); close(ch) }()
	r.mu.Lock()
	defer r.mu.Unlock()
	for d := range ch {
		r.set.add(r.t, d)
	}
	return nil
}

func (r *recorder) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		if err := r.Register(c); err != nil {
			panic(err)
		}
	}
}

func (r *recorder) Unregister(c prometheus.Collector) bool { return r.reg.Unregister(c) }

type noCommittees struct{}

func (noCommittees) EpochCommittees(context.Context, phase0.Epoch) (*shuffle.EpochCommittees, error) {
	return nil, os.ErrNotExist
}

// Stand-ins that only satisfy the interfaces: the services are built to
// register their metrics and are never used.
type (
	stubMegapoolProtocol struct{ megapool.Protocol }
	stubMegapoolBeacon   struct{ megapool.Beacon }
	stubDefectionState   struct{ defection.State }
	stubDefectionBlocks  struct{ defection.BlockSource }
)

// registered builds the metric set the daemon exposes: watchtower/metrics
// plus what chain/beacon, chain/scan, megapool and chain/defection register
// on its Registerer, on one registry (so name clashes between them fail
// here too).
func registered(t *testing.T) metricSet {
	t.Helper()
	ctx := context.Background()
	reg := prometheus.NewRegistry()
	m, err := metrics.New(ctx, metrics.WithRegistry(reg))
	if err != nil {
		t.Fatal(err)
	}
	set := metricSet{}
	ch := make(chan *prometheus.Desc, 256)
	go func() { m.Describe(ch); close(ch) }()
	for d := range ch {
		set.add(t, d)
	}
	rec := &recorder{t: t, reg: reg, set: set}
	// Nothing listens on port 1; the reader starts delayed and is never used.
	bs, err := beacon.New(ctx, beacon.WithAddresses("http://127.0.0.1:1"), beacon.WithRegisterer(rec))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := scan.New(ctx, scan.WithCommittees(noCommittees{}), scan.WithBlocks(bs), scan.WithRegisterer(rec)); err != nil {
		t.Fatal(err)
	}
	if _, err := megapool.New(ctx, megapool.WithProtocol(stubMegapoolProtocol{}), megapool.WithBeacon(stubMegapoolBeacon{}),
		megapool.WithReportOnly(true), megapool.WithRegisterer(rec)); err != nil {
		t.Fatal(err)
	}
	if _, err := defection.New(ctx, defection.WithState(stubDefectionState{}), defection.WithBlocks(stubDefectionBlocks{}),
		defection.WithTiming(defection.Timing{SlotsPerEpoch: 32, SecondsPerSlot: 12}), defection.WithRegisterer(rec)); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"watchtower_beacon_request_duration_seconds", "watchtower_scan_epochs_scanned_total", "watchtower_rewards_root_info",
		"watchtower_megapool_overdue_validators", "watchtower_defection_defections_total"} {
		if set[want] == nil {
			t.Fatalf("metric %s not registered", want)
		}
	}
	return set
}

var (
	metricRe  = regexp.MustCompile(`\b((?:watchtower|process|go)_[a-zA-Z0-9_]+)(\{[^}]*\})?`)
	matcherRe = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)`)
	groupRe   = regexp.MustCompile(`\b(?:by|without)\s*\(([^)]*)\)`)
	legendRe  = regexp.MustCompile(`\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}`)
)

// checkExpr reports the problems of one PromQL expression (and its legend)
// against the metric set: unknown metric names, unknown label names.
func checkExpr(set metricSet, expr, legend string) []string {
	var problems []string
	labels := map[string]bool{"job": true, "instance": true, "le": true, "__name__": true}
	found := false
	for _, mm := range metricRe.FindAllStringSubmatch(expr, -1) {
		name := mm[1]
		ls, ok := set[name]
		if !ok {
			for _, suf := range []string{"_bucket", "_sum", "_count"} {
				if base, cut := strings.CutSuffix(name, suf); cut && set[base] != nil {
					ls, ok = set[base], true
				}
			}
		}
		if !ok {
			problems = append(problems, "unknown metric "+name)
			continue
		}
		found = true
		for l := range ls {
			labels[l] = true
		}
		for _, lm := range matcherRe.FindAllStringSubmatch(mm[2], -1) {
			if !ls[lm[1]] && lm[1] != "job" && lm[1] != "instance" {
				problems = append(problems, "metric "+name+" has no label "+lm[1])
			}
		}
	}
	if !found && !strings.Contains(expr, "up{") {
		problems = append(problems, "no watchtower metric in expression")
	}
	for _, g := range groupRe.FindAllStringSubmatch(expr, -1) {
		for _, l := range strings.Split(g[1], ",") {
			if l = strings.TrimSpace(l); l != "" && !labels[l] {
				problems = append(problems, "grouping by unknown label "+l)
			}
		}
	}
	for _, lm := range legendRe.FindAllStringSubmatch(legend, -1) {
		if !labels[lm[1]] {
			problems = append(problems, "legend uses unknown label "+lm[1])
		}
	}
	return problems
}

func TestCheckExprCatchesDrift(t *testing.T) {
	set := metricSet{"watchtower_a_total": {"duty": true}, "watchtower_h_seconds": {"endpoint": true}}
	for expr, bad := range map[string]bool{
		`rate(watchtower_a_total{duty="x"}[5m])`:                                                 false,
		`histogram_quantile(0.9, sum by (le, endpoint) (rate(watchtower_h_seconds_bucket[5m])))`: false,
		`rate(watchtower_b_total[5m])`:                                                           true,
		`watchtower_a_total{dutty="x"}`:                                                          true,
		`sum by (endpoint) (watchtower_a_total)`:                                                 true,
		`vector(1)`:                                                                              true,
	} {
		if got := len(checkExpr(set, expr, "")) > 0; got != bad {
			t.Errorf("%s: problems %v, want %v", expr, checkExpr(set, expr, ""), bad)
		}
	}
	if len(checkExpr(set, "watchtower_a_total", "{{duty}}")) != 0 || len(checkExpr(set, "watchtower_a_total", "{{state}}")) == 0 {
		t.Error("legend labels not checked")
	}
}

type panel struct {
	Title      string `json:"title"`
	Type       string `json:"type"`
	Datasource *struct {
		UID string `json:"uid"`
	} `json:"datasource"`
	Targets []struct {
		Expr   string `json:"expr"`
		Legend string `json:"legendFormat"`
	} `json:"targets"`
	Panels []panel `json:"panels"`
}

func TestDashboardQueriesRegisteredMetrics(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("grafana", "dashboards", "watchtower.json"))
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		UID    string  `json:"uid"`
		Title  string  `json:"title"`
		Panels []panel `json:"panels"`
	}
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	if err := dec.Decode(&dash); err != nil {
		t.Fatalf("dashboard JSON: %v", err)
	}
	if dash.UID == "" || dash.Title == "" || len(dash.Panels) == 0 {
		t.Fatal("dashboard lacks uid, title or panels")
	}
	dsUID := datasourceUID(t)
	set := registered(t)
	queried := map[string]bool{}
	ids := map[string]bool{}
	var walk func([]panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			walk(p.Panels)
			if p.Type == "row" {
				continue
			}
			if ids[p.Title] {
				t.Errorf("duplicate panel title %q", p.Title)
			}
			ids[p.Title] = true
			if p.Datasource == nil || p.Datasource.UID != dsUID {
				t.Errorf("panel %q: datasource is not the provisioned %q", p.Title, dsUID)
			}
			if len(p.Targets) == 0 {
				t.Errorf("panel %q has no query", p.Title)
			}
			for _, tg := range p.Targets {
				for _, pr := range checkExpr(set, tg.Expr, tg.Legend) {
					t.Errorf("panel %q, query %q: %s", p.Title, tg.Expr, pr)
				}
				for _, mm := range metricRe.FindAllStringSubmatch(tg.Expr, -1) {
					queried[strings.TrimSuffix(mm[1], "_bucket")] = true
				}
			}
		}
	}
	walk(dash.Panels)
	// Issue 7 item 6: every required quantity has a panel.
	for _, want := range []string{
		"watchtower_scan_epochs_scanned_total", "watchtower_scan_lag_epochs", "watchtower_interval_progress_ratio",
		"watchtower_rewards_root_info", "watchtower_rewards_votes_sent_total", "watchtower_rewards_votes_confirmed_total",
		"watchtower_rewards_consensus_reached_total", "watchtower_tx_pending", "watchtower_tx_replaced_total",
		"watchtower_beacon_request_duration_seconds", "watchtower_beacon_requests_total",
		"watchtower_execution_request_duration_seconds", "watchtower_execution_requests_total",
		"watchtower_pin_artefacts", "watchtower_pin_status", "watchtower_health_check_ok",
	} {
		if !queried[want] {
			t.Errorf("no panel queries %s", want)
		}
	}
}

func datasourceUID(t *testing.T) string {
	t.Helper()
	var ds struct {
		Datasources []struct {
			UID  string `yaml:"uid"`
			Type string `yaml:"type"`
			URL  string `yaml:"url"`
		} `yaml:"datasources"`
	}
	readYAML(t, filepath.Join("grafana", "provisioning", "datasources", "prometheus.yml"), &ds)
	if len(ds.Datasources) != 1 || ds.Datasources[0].Type != "prometheus" || ds.Datasources[0].UID == "" {
		t.Fatalf("datasource provisioning: %+v", ds)
	}
	if ds.Datasources[0].URL != "http://prometheus:9090" {
		t.Errorf("datasource URL %s is not the compose service", ds.Datasources[0].URL)
	}
	return ds.Datasources[0].UID
}

func readYAML(t *testing.T, path string, v any) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(raw, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func TestAlertRulesQueryRegisteredMetrics(t *testing.T) {
	var rules struct {
		Groups []struct {
			Rules []struct {
				Alert string `yaml:"alert"`
				Expr  string `yaml:"expr"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	readYAML(t, filepath.Join("prometheus", "alerts.yml"), &rules)
	set := registered(t)
	n := 0
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			n++
			for _, pr := range checkExpr(set, r.Expr, "") {
				t.Errorf("alert %s: %s", r.Alert, pr)
			}
		}
	}
	if n == 0 {
		t.Fatal("no alert rules")
	}
}

func TestPrometheusScrapesWatchtower(t *testing.T) {
	var cfg struct {
		RuleFiles     []string `yaml:"rule_files"`
		ScrapeConfigs []struct {
			Job     string `yaml:"job_name"`
			Path    string `yaml:"metrics_path"`
			Targets []struct {
				Targets []string `yaml:"targets"`
			} `yaml:"static_configs"`
		} `yaml:"scrape_configs"`
	}
	readYAML(t, filepath.Join("prometheus", "prometheus.yml"), &cfg)
	for _, sc := range cfg.ScrapeConfigs {
		if sc.Job == "watchtower" {
			if sc.Path != "/metrics" || len(sc.Targets) != 1 || len(sc.Targets[0].Targets) != 1 || sc.Targets[0].Targets[0] != "watchtower:9104" {
				t.Fatalf("watchtower scrape config %+v", sc)
			}
			return
		}
	}
	t.Fatal("no watchtower scrape job")
}

func TestComposeFile(t *testing.T) {
	var c struct {
		Services map[string]struct {
			Image       string            `yaml:"image"`
			Build       map[string]string `yaml:"build"`
			User        string            `yaml:"user"`
			ReadOnly    bool              `yaml:"read_only"`
			CapDrop     []string          `yaml:"cap_drop"`
			SecurityOpt []string          `yaml:"security_opt"`
			Restart     string            `yaml:"restart"`
			Ports       []string          `yaml:"ports"`
			Volumes     []string          `yaml:"volumes"`
			Secrets     []string          `yaml:"secrets"`
			Environment map[string]string `yaml:"environment"`
		} `yaml:"services"`
		Volumes map[string]any `yaml:"volumes"`
		Secrets map[string]struct {
			File string `yaml:"file"`
		} `yaml:"secrets"`
	}
	readYAML(t, "docker-compose.yml", &c)
	for _, s := range []string{"geth", "beacon", "kubo", "watchtower", "prometheus", "grafana"} {
		if _, ok := c.Services[s]; !ok {
			t.Errorf("service %s missing", s)
		}
	}
	p2p := map[string]bool{"30303": true, "9000": true, "4001": true}
	names := make([]string, 0, len(c.Services))
	for n := range c.Services {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		s := c.Services[name]
		if s.Image == "" {
			t.Errorf("%s: no image", name)
		}
		for _, p := range s.Ports {
			hostPort := strings.Split(strings.TrimSuffix(strings.TrimSuffix(p, "/udp"), "/tcp"), ":")[0]
			if !strings.HasPrefix(p, "127.0.0.1:") && !p2p[hostPort] {
				t.Errorf("%s publishes %s beyond loopback", name, p)
			}
		}
		for _, v := range s.Volumes {
			src := strings.Split(v, ":")[0]
			if strings.HasPrefix(src, "./") {
				if name == "watchtower" && src == "./watchtower.yaml" {
					continue // the operator's copy of config/watchtower.example.yaml
				}
				if _, err := os.Stat(src); err != nil {
					t.Errorf("%s mounts missing %s", name, src)
				}
			} else if _, ok := c.Volumes[src]; !ok {
				t.Errorf("%s uses undeclared volume %s", name, src)
			}
		}
		for _, sec := range s.Secrets {
			if _, ok := c.Secrets[sec]; !ok {
				t.Errorf("%s uses undeclared secret %s", name, sec)
			}
		}
		if name != "jwt-init" && (s.Restart != "unless-stopped" || len(s.SecurityOpt) == 0) {
			t.Errorf("%s: merge of the hardening anchor lost (restart %q, security_opt %v)", name, s.Restart, s.SecurityOpt)
		}
	}
	w := c.Services["watchtower"]
	if w.User == "" || strings.HasPrefix(w.User, "0") || !w.ReadOnly || len(w.CapDrop) != 1 || w.CapDrop[0] != "ALL" {
		t.Errorf("watchtower container not locked down: user %q read_only %v cap_drop %v", w.User, w.ReadOnly, w.CapDrop)
	}
	if w.Build["dockerfile"] != "deploy/Dockerfile" || w.Build["context"] != ".." {
		t.Errorf("watchtower build %v", w.Build)
	}
	for k, v := range w.Environment {
		if !strings.HasPrefix(k, "WATCHTOWER_") {
			t.Errorf("watchtower env %s lacks the WATCHTOWER_ prefix", k)
		}
		if strings.Contains(strings.ToLower(k), "password") && !strings.HasSuffix(k, "_FILE") {
			t.Errorf("secret %s=%s passed by value", k, v)
		}
	}
}

func TestDockerfile(t *testing.T) {
	raw, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	var froms int
	var lastUser string
	var builds []string
	for _, line := range strings.Split(string(raw), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		switch strings.ToUpper(f[0]) {
		case "FROM":
			froms++
			lastUser = ""
		case "USER":
			lastUser = f[1]
		case "COPY":
			// COPY of repository files must exist (context = repository root).
			if len(f) == 3 && !strings.HasPrefix(f[1], "--") && f[1] != "." {
				if _, err := os.Stat(filepath.Join("..", f[1])); err != nil {
					t.Errorf("COPY source %s missing", f[1])
				}
			}
		}
		if i := strings.Index(line, "./cmd/"); i >= 0 {
			builds = append(builds, strings.Fields(line[i:])[0])
		}
	}
	if froms < 2 {
		t.Errorf("%d stages; want a multi-stage build", froms)
	}
	if lastUser == "" || lastUser == "root" || strings.HasPrefix(lastUser, "0") {
		t.Errorf("final stage runs as %q; want a non-root user", lastUser)
	}
	sort.Strings(builds)
	if strings.Join(builds, " ") != "./cmd/treegen ./cmd/watchtower" {
		t.Errorf("builds %v; want cmd/watchtower and cmd/treegen", builds)
	}
	for _, cmd := range []string{"watchtower", "treegen"} {
		if _, err := os.Stat(filepath.Join("..", "cmd", cmd)); err != nil {
			t.Errorf("cmd/%s missing", cmd)
		}
	}
}

func TestSystemdUnit(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("systemd", "watchtower.service"))
	if err != nil {
		t.Fatal(err)
	}
	unit := string(raw)
	for _, d := range []string{"NoNewPrivileges=yes", "ProtectSystem=strict", "ProtectHome=yes", "PrivateTmp=yes",
		"CapabilityBoundingSet=\n", "RestrictAddressFamilies=", "SystemCallFilter=@system-service", "User=watchtower",
		"StateDirectory=watchtower", "MemoryDenyWriteExecute=yes"} {
		if !strings.Contains(unit, d) {
			t.Errorf("unit lacks %q", strings.TrimSpace(d))
		}
	}
	sa, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze not installed; directive check only")
	}
	// verify wants an executable ExecStart; point it at /bin/true.
	tmp := filepath.Join(t.TempDir(), "watchtower.service")
	if err := os.WriteFile(tmp, []byte(strings.ReplaceAll(unit, "/usr/local/bin/watchtower", "/bin/true")), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(sa, "verify", tmp).CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
}

func TestExampleConfig(t *testing.T) {
	var cfg map[string]any
	readYAML(t, filepath.Join("config", "watchtower.example.yaml"), &cfg)
	for _, k := range []string{"network", "data-dir", "execution", "beacon", "wallet", "tx", "ipfs", "metrics", "log"} {
		if _, ok := cfg[k]; !ok {
			t.Errorf("example config lacks %s", k)
		}
	}
	m, _ := cfg["metrics"].(map[string]any)
	if m["listen"] != metrics.DefaultListenAddress || m["allow-non-loopback"] != false {
		t.Errorf("metrics defaults %v; want %s on loopback", m, metrics.DefaultListenAddress)
	}
}

// TestEnvironmentNamesAreConfigKeys checks that every WATCHTOWER_ variable the
// compose file and the systemd unit set is a key config.Load reads, and that
// the compose command's flags exist.
func TestEnvironmentNamesAreConfigKeys(t *testing.T) {
	known := map[string]bool{"WATCHTOWER_CONFIG": true}
	for _, k := range config.Keys() {
		known[config.EnvName(k)] = true
	}
	var c struct {
		Services map[string]struct {
			Environment map[string]string `yaml:"environment"`
			Command     []string          `yaml:"command"`
		} `yaml:"services"`
	}
	readYAML(t, "docker-compose.yml", &c)
	w := c.Services["watchtower"]
	if len(w.Environment) == 0 {
		t.Fatal("watchtower service has no environment")
	}
	for k := range w.Environment {
		if !known[k] {
			t.Errorf("compose sets %s, which config does not read", k)
		}
	}
	if strings.Join(w.Command, " ") != "run --config /etc/watchtower/watchtower.yaml" {
		t.Errorf("compose command %v", w.Command)
	}
	raw, err := os.ReadFile(filepath.Join("systemd", "watchtower.service"))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, m := range regexp.MustCompile(`Environment=(WATCHTOWER_[A-Z0-9_]+)=`).FindAllStringSubmatch(string(raw), -1) {
		n++
		if !known[m[1]] {
			t.Errorf("systemd unit sets %s, which config does not read", m[1])
		}
	}
	if n == 0 {
		t.Error("systemd unit sets no WATCHTOWER_ variable (test pattern stale?)")
	}
	// The example file loads with the real loader (strict keys).
	cfg, err := config.Load(nil, func(k string) string {
		if k == "WATCHTOWER_CONFIG" {
			return filepath.Join("config", "watchtower.example.yaml")
		}
		return ""
	})
	if err != nil {
		t.Fatalf("example config: %v", err)
	}
	if cfg.Metrics.Listen != metrics.DefaultListenAddress || cfg.Metrics.AllowNonLoopback {
		t.Errorf("example metrics %+v", cfg.Metrics)
	}
}
