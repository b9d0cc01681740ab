package main

import (
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// member is one etcd member, a child process of this program (its
// etcd-member mode), so that it can be killed -9 like a real one.
type member struct {
	name, dir, clientURL, peerURL, initial string
	cmd                                    *exec.Cmd
}

func (m *member) start() error {
	m.cmd = exec.Command(os.Args[0], "etcd-member", m.name, m.dir, m.clientURL, m.peerURL, m.initial)
	m.cmd.Stdout, m.cmd.Stderr = os.Stderr, os.Stderr
	m.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := m.cmd.Start(); err != nil {
		return err
	}
	go m.cmd.Wait()
	return nil
}

func (m *member) kill() {
	if m.cmd != nil && m.cmd.Process != nil {
		m.cmd.Process.Signal(syscall.SIGKILL)
	}
}

// replica is one `kusanagi alertmanager` (or upstream Alertmanager)
// process; its etcd traffic goes through proxies the harness can cut.
type replica struct {
	name, url string
	args      []string
	bin       string
	proxies   []*proxy
	log       *os.File

	mu   sync.Mutex
	cmd  *exec.Cmd
	live bool
}

func (r *replica) start() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	cmd := exec.Command(r.bin, r.args...)
	cmd.Stdout, cmd.Stderr = r.log, r.log
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return err
	}
	r.cmd, r.live = cmd, true
	go cmd.Wait()
	return nil
}

// kill sends SIGKILL and returns when it was sent.
func (r *replica) kill() time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	at := time.Now()
	if r.cmd != nil && r.cmd.Process != nil {
		r.cmd.Process.Signal(syscall.SIGKILL)
	}
	r.live = false
	return at
}

func (r *replica) isLive() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.live
}

// waitReady polls /-/ready.
func (r *replica) waitReady(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		resp, err := http.Get(r.url + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("%s not ready within %s", r.name, timeout)
}

// proxy forwards TCP to one etcd member until cut, standing in for the
// replica's network link to it.
type proxy struct {
	target string
	ln     net.Listener

	mu    sync.Mutex
	cut   bool
	conns map[net.Conn]bool
}

func newProxy(target string) (*proxy, error) {
	ln, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		return nil, err
	}
	p := &proxy{target: target, ln: ln, conns: map[net.Conn]bool{}}
	go p.serve()
	return p, nil
}

func (p *proxy) url() string { return "http://" + p.ln.Addr().String() }

func (p *proxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.cut {
			p.mu.Unlock()
			c.Close()
			continue
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			p.mu.Unlock()
			c.Close()
			continue
		}
		p.conns[c], p.conns[up] = true, true
		p.mu.Unlock()
		go func() { io.Copy(up, c); up.Close() }()
		go func() { io.Copy(c, up); c.Close() }()
	}
}

// setCut drops every connection and refuses new ones, or lets them in again.
func (p *proxy) setCut(cut bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = cut
	if cut {
		for c := range p.conns {
			c.Close()
		}
		clear(p.conns)
	}
}

func freePort() int {
	ln, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		log.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startMembers starts n etcd members forming one cluster.
func startMembers(base string, n int) ([]*member, error) {
	var ms []*member
	var initial []string
	for i := range n {
		m := &member{name: fmt.Sprintf("m%d", i), dir: filepath.Join(base, fmt.Sprintf("etcd-m%d", i)),
			clientURL: fmt.Sprintf("http://[::1]:%d", freePort()), peerURL: fmt.Sprintf("http://[::1]:%d", freePort())}
		initial = append(initial, m.name+"="+m.peerURL)
		ms = append(ms, m)
	}
	for _, m := range ms {
		m.initial = strings.Join(initial, ",")
		if err := m.start(); err != nil {
			return nil, err
		}
	}
	// Wait until every member answers on its client port.
	deadline := time.Now().Add(30 * time.Second)
	for _, m := range ms {
		for {
			resp, err := http.Get(m.clientURL + "/health")
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == 200 {
					break
				}
			}
			if time.Now().After(deadline) {
				return nil, fmt.Errorf("etcd member %s not healthy", m.name)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	return ms, nil
}
