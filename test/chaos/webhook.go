package main

import (
	"encoding/json"
	"net"
	"net/http"
	"sync"
	"time"
)

// delivery is one notification the webhook received.
type delivery struct {
	Sender     string // the sending replica's external URL
	Status     string // "firing" or "resolved"
	Instances  []string
	Began, End time.Time // the request's arrival and the answer's sending
}

// webhook records every notification, answering after delay so that a
// notification is in flight long enough for a kill to land in it.
type webhook struct {
	delay time.Duration
	srv   *http.Server
	ln    net.Listener

	mu         sync.Mutex
	deliveries []delivery
}

func newWebhook(delay time.Duration) (*webhook, error) {
	ln, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		return nil, err
	}
	w := &webhook{delay: delay, ln: ln}
	w.srv = &http.Server{Handler: http.HandlerFunc(w.serve)}
	go w.srv.Serve(ln)
	return w, nil
}

func (w *webhook) url() string { return "http://" + w.ln.Addr().String() + "/" }

func (w *webhook) serve(rw http.ResponseWriter, r *http.Request) {
	began := time.Now()
	var m struct {
		ExternalURL string `json:"externalURL"`
		Status      string `json:"status"`
		Alerts      []struct {
			Labels map[string]string `json:"labels"`
		} `json:"alerts"`
	}
	if err := json.NewDecoder(r.Body).Decode(&m); err != nil {
		http.Error(rw, err.Error(), http.StatusBadRequest)
		return
	}
	time.Sleep(w.delay)
	d := delivery{Sender: m.ExternalURL, Status: m.Status, Began: began}
	for _, a := range m.Alerts {
		d.Instances = append(d.Instances, a.Labels["instance"])
	}
	w.mu.Lock()
	d.End = time.Now()
	w.deliveries = append(w.deliveries, d)
	w.mu.Unlock()
	rw.WriteHeader(http.StatusOK)
}

func (w *webhook) all() []delivery {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]delivery(nil), w.deliveries...)
}
