// Command chaos runs N Alertmanager replicas as real processes under a
// seeded schedule of abuse while alerts flow, and checks what a recording
// webhook receiver got: every alert notified once, every resolve once,
// and no duplicate that a kill of its sender in the middle of the request
// does not explain. Kusanagi's replicas share one etcd or a three-member
// cluster (members are killed too) and reach it through proxies the
// harness cuts; upstream Alertmanager runs in gossip mode, each alert
// posted to every live replica, as Prometheus does.
//
//	go run ./test/chaos -kusanagi bin/kusanagi -seed 1 -duration 60s -etcd 3
package main

import (
	"bytes"
	"flag"
	"fmt"
	"log"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/kusanagi-dev/kusanagi/alertstore"
)

type options struct {
	kusanagi, upstream string
	seed               uint64
	duration           time.Duration
	replicas, members  int
	killEvery          time.Duration
	sessionTTL         time.Duration
	peerTimeout        time.Duration
	groupWait          time.Duration
	dir                string
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "etcd-member" {
		runMember(os.Args[2:])
		return
	}
	var o options
	flag.StringVar(&o.kusanagi, "kusanagi", "bin/kusanagi", "kusanagi binary")
	flag.StringVar(&o.upstream, "upstream", "", "upstream alertmanager binary: run it in gossip mode instead of kusanagi")
	flag.Uint64Var(&o.seed, "seed", 1, "seed of the schedule and the alerts")
	flag.DurationVar(&o.duration, "duration", 60*time.Second, "how long alerts are posted and the abuse goes on")
	flag.IntVar(&o.replicas, "replicas", 3, "Alertmanager replicas")
	flag.IntVar(&o.members, "etcd", 1, "etcd members (1 or 3)")
	flag.DurationVar(&o.killEvery, "kill-every", 5*time.Second, "mean time between two abuses")
	flag.DurationVar(&o.sessionTTL, "session-ttl", 2*time.Second, "--etcd.session-ttl of the replicas")
	flag.DurationVar(&o.peerTimeout, "peer-timeout", time.Second, "--cluster.peer-timeout of the replicas")
	flag.DurationVar(&o.groupWait, "group-wait", time.Second, "group_wait of the route")
	seeds := flag.String("seeds", "", "run each of these seeds (comma separated) and add a summary row; overrides -seed")
	flag.Parse()
	list := []uint64{o.seed}
	if *seeds != "" {
		list = nil
		for _, f := range strings.Split(*seeds, ",") {
			v, err := strconv.ParseUint(strings.TrimSpace(f), 10, 64)
			if err != nil {
				log.Fatalf("-seeds: %v", err)
			}
			list = append(list, v)
		}
	}
	var results []*result
	for _, seed := range list {
		o.seed = seed
		dir, err := os.MkdirTemp("", "kusanagi-chaos")
		if err != nil {
			log.Fatal(err)
		}
		o.dir = dir
		res, err := run(o)
		os.RemoveAll(dir)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Print(res.markdown())
		results = append(results, res)
	}
	if len(results) > 1 {
		fmt.Print(summary(results))
	}
	for _, r := range results {
		if !r.met() {
			os.Exit(1)
		}
	}
}

// runMember is the etcd-member mode: one embedded member until killed.
func runMember(args []string) {
	if len(args) != 5 {
		log.Fatal("etcd-member NAME DIR CLIENT-URL PEER-URL INITIAL-CLUSTER")
	}
	e, err := alertstore.StartEmbedded(alertstore.EmbeddedOptions{Name: args[0], Dir: args[1], ClientURL: args[2], PeerURL: args[3], InitialCluster: args[4]})
	if err != nil {
		log.Fatal(err)
	}
	defer e.Close()
	select {}
}

// posted is what the harness did to one alert: when its firing and its
// resolve were accepted.
type posted struct {
	firedAt, resolvedAt time.Time
}

// kill is one kill -9 of a replica, or its cut from etcd.
type kill struct {
	replica string // its external URL
	at      time.Time
	cut     bool
	until   time.Time // the end of a cut
}

type cluster struct {
	o        options
	rng      *rand.Rand
	members  []*member
	replicas []*replica
	hook     *webhook

	mu     sync.Mutex
	alerts map[string]*posted // by instance label
	kills  []kill
	events []string
}

func run(o options) (*result, error) {
	c := &cluster{o: o, rng: rand.New(rand.NewPCG(o.seed, 0x6b757361)), alerts: map[string]*posted{}}
	hook, err := newWebhook(300 * time.Millisecond)
	if err != nil {
		return nil, err
	}
	c.hook = hook
	cfg := filepath.Join(o.dir, "alertmanager.yml")
	if err := os.WriteFile(cfg, fmt.Appendf(nil, `route:
  receiver: hook
  group_by: [alertname, instance]
  group_wait: %s
  group_interval: 2s
  repeat_interval: 1h
receivers:
  - name: hook
    webhook_configs:
      - url: %q
        send_resolved: true
`, o.groupWait, hook.url()), 0o644); err != nil {
		return nil, err
	}
	if err := c.startReplicas(cfg); err != nil {
		return nil, err
	}
	defer func() {
		for _, r := range c.replicas {
			r.kill()
		}
		for _, m := range c.members {
			m.kill()
		}
	}()
	start := time.Now()
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { c.abuse(done) })
	c.post(start)
	close(done)
	wg.Wait()
	// Every replica back and linked, then time for the last notifications.
	for _, r := range c.replicas {
		for _, p := range r.proxies {
			p.setCut(false)
		}
		if !r.isLive() {
			r.start()
		}
	}
	time.Sleep(o.sessionTTL + o.peerTimeout + o.groupWait + 8*time.Second)
	return c.check(start), nil
}

func (c *cluster) logf(format string, args ...any) {
	line := time.Now().Format("15:04:05.000") + " " + fmt.Sprintf(format, args...)
	c.mu.Lock()
	c.events = append(c.events, line)
	c.mu.Unlock()
	log.Print(line)
}

func (c *cluster) startReplicas(cfg string) error {
	o := c.o
	var etcdURLs []string
	if o.upstream == "" {
		ms, err := startMembers(o.dir, o.members)
		if err != nil {
			return err
		}
		c.members = ms
		for _, m := range ms {
			etcdURLs = append(etcdURLs, strings.TrimPrefix(m.clientURL, "http://"))
		}
	}
	gossip := make([]string, o.replicas)
	for i := range gossip {
		gossip[i] = fmt.Sprintf("[::1]:%d", freePort())
	}
	for i := range o.replicas {
		port := freePort()
		r := &replica{name: fmt.Sprintf("r%d", i), url: fmt.Sprintf("http://[::1]:%d", port)}
		logf, err := os.Create(filepath.Join(o.dir, r.name+".log"))
		if err != nil {
			return err
		}
		r.log = logf
		common := []string{"--config.file=" + cfg, fmt.Sprintf("--web.listen-address=[::1]:%d", port), "--web.external-url=" + r.url,
			"--storage.path=" + filepath.Join(o.dir, r.name)}
		if o.upstream != "" {
			r.bin = o.upstream
			r.args = append(common, "--cluster.listen-address="+gossip[i], "--cluster.peer-timeout="+o.peerTimeout.String(),
				"--cluster.settle-timeout=2s", "--cluster.pushpull-interval=2s", "--cluster.gossip-interval=100ms")
			for j, g := range gossip {
				if j != i {
					r.args = append(r.args, "--cluster.peer="+g)
				}
			}
		} else {
			var eps []string
			for _, target := range etcdURLs {
				p, err := newProxy(target)
				if err != nil {
					return err
				}
				r.proxies = append(r.proxies, p)
				eps = append(eps, p.url())
			}
			r.bin = o.kusanagi
			r.args = append([]string{"alertmanager"}, append(common, "--etcd.endpoints="+strings.Join(eps, ","),
				"--cluster.peer-name="+r.name, "--etcd.session-ttl="+o.sessionTTL.String(), "--cluster.peer-timeout="+o.peerTimeout.String())...)
		}
		if err := r.start(); err != nil {
			return err
		}
		c.replicas = append(c.replicas, r)
	}
	for _, r := range c.replicas {
		if err := r.waitReady(30 * time.Second); err != nil {
			return err
		}
	}
	return nil
}

// abuse is the schedule: about every killEvery, one of kill -9 of a
// random replica (restarted a second later), kill -9 of an etcd member
// (with three; restarted two seconds later), or a replica cut from etcd
// for twice the session TTL.
func (c *cluster) abuse(done <-chan struct{}) {
	for {
		wait := c.o.killEvery/2 + time.Duration(c.rand(int(c.o.killEvery.Milliseconds())))*time.Millisecond
		select {
		case <-done:
			return
		case <-time.After(wait):
		}
		choice := c.rand(10)
		switch {
		case choice < 6 || c.o.upstream != "":
			r := c.replicas[c.rand(len(c.replicas))]
			if !r.isLive() {
				continue
			}
			at := r.kill()
			c.mu.Lock()
			c.kills = append(c.kills, kill{replica: r.url, at: at})
			c.mu.Unlock()
			c.logf("kill -9 %s", r.name)
			time.Sleep(time.Second)
			if err := r.start(); err != nil {
				c.logf("cannot restart %s: %v", r.name, err)
			}
			c.logf("restarted %s", r.name)
		case choice < 8 && len(c.members) == 3:
			m := c.members[c.rand(len(c.members))]
			m.kill()
			c.logf("kill -9 etcd member %s", m.name)
			time.Sleep(2 * time.Second)
			if err := m.start(); err != nil {
				c.logf("cannot restart etcd member %s: %v", m.name, err)
			}
			c.logf("restarted etcd member %s", m.name)
		default:
			r := c.replicas[c.rand(len(c.replicas))]
			for _, p := range r.proxies {
				p.setCut(true)
			}
			c.mu.Lock()
			c.kills = append(c.kills, kill{replica: r.url, at: time.Now(), cut: true})
			k := len(c.kills) - 1
			c.mu.Unlock()
			c.logf("cut %s from etcd", r.name)
			time.Sleep(2 * c.o.sessionTTL)
			c.mu.Lock()
			c.kills[k].until = time.Now()
			c.mu.Unlock()
			for _, p := range r.proxies {
				p.setCut(false)
			}
			c.logf("linked %s to etcd again", r.name)
		}
	}
}

func (c *cluster) rand(n int) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.rng.IntN(n)
}

// post sends five new alerts every half second for the duration and
// resolves a quarter of the older ones at random.
func (c *cluster) post(start time.Time) {
	next := 0
	for tick := time.NewTicker(500 * time.Millisecond); time.Since(start) < c.o.duration; <-tick.C {
		for range 5 {
			inst := fmt.Sprintf("i%05d", next)
			next++
			if at, ok := c.send(inst, false); ok {
				c.mu.Lock()
				c.alerts[inst] = &posted{firedAt: at}
				c.mu.Unlock()
			}
		}
		// Resolve about a quarter of what is firing, over time.
		c.mu.Lock()
		var firing []string
		for inst, p := range c.alerts {
			if p.resolvedAt.IsZero() && time.Since(p.firedAt) > 3*time.Second {
				firing = append(firing, inst)
			}
		}
		c.mu.Unlock()
		for _, inst := range firing {
			if c.rand(40) != 0 {
				continue
			}
			if at, ok := c.send(inst, true); ok {
				c.mu.Lock()
				c.alerts[inst].resolvedAt = at
				c.mu.Unlock()
			}
		}
	}
}

// send posts one alert (firing, or resolved: endsAt now) to one random
// live replica, or, for upstream, to every live replica; it tries others
// until one takes it, as a sender that retries would.
func (c *cluster) send(inst string, resolved bool) (time.Time, bool) {
	ends := ""
	if resolved {
		ends = fmt.Sprintf(`,"endsAt":%q`, time.Now().UTC().Format(time.RFC3339Nano))
	}
	body := fmt.Sprintf(`[{"labels":{"alertname":"Chaos","instance":%q}%s}]`, inst, ends)
	order := c.rngPerm(len(c.replicas))
	accepted := false
	var at time.Time
	for _, i := range order {
		r := c.replicas[i]
		if !r.isLive() {
			continue
		}
		resp, err := http.Post(r.url+"/api/v2/alerts", "application/json", bytes.NewBufferString(body))
		if err != nil {
			continue
		}
		resp.Body.Close()
		if resp.StatusCode == 200 {
			if !accepted {
				at = time.Now()
			}
			accepted = true
			if c.o.upstream == "" {
				return at, true
			}
		}
	}
	return at, accepted
}

func (c *cluster) rngPerm(n int) []int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.rng.Perm(n)
}
