package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/alecthomas/kingpin/v2"
)

// logsQueryCommand is `kusanagi logs query 'QUERY' --since=1h`, the
// command-line client of GET /api/v1/logs, as amtool is Alertmanager's.
type logsQueryCommand struct {
	cmd    *kingpin.CmdClause
	stdout io.Writer
	query  *string
	since  *string
	limit  *int
	url    *string
	asJSON *bool
}

func newLogsQueryCommand(app *kingpin.Application, stdout io.Writer) *logsQueryCommand {
	c := &logsQueryCommand{stdout: stdout}
	c.cmd = app.Command("logs", "Search the log store.").Command("query", "Show the records a catalogue log query matches, newest first.")
	c.query = c.cmd.Arg("query", `Query in the catalogue's form, e.g. 'event.code:"LINK-3-UPDOWN" AND host.ip:10.0.0.0/8'; empty for all.`).String()
	c.since = c.cmd.Flag("since", "How far back to search.").Default("1h").String()
	c.limit = c.cmd.Flag("limit", "Most records to show.").Default("100").Int()
	c.url = c.cmd.Flag("url", "Kusanagi web/API URL.").Default("http://[::1]:9180").String()
	c.asJSON = c.cmd.Flag("json", "Print the records as JSON lines.").Bool()
	return c
}

func (c *logsQueryCommand) matches(s string) bool { return s == c.cmd.FullCommand() }

type apiRecord struct {
	Timestamp time.Time         `json:"@timestamp"`
	Received  time.Time         `json:"event.created,omitzero"`
	Message   string            `json:"message"`
	HostIP    string            `json:"host.ip"`
	HostName  string            `json:"host.name"`
	Fields    map[string]string `json:"fields"`
}

func (c *logsQueryCommand) run(ctx context.Context) error {
	u, err := url.Parse(strings.TrimRight(*c.url, "/") + "/api/v1/logs")
	if err != nil {
		return &exitError{code: 2, err: fmt.Errorf("--url: %w", err)}
	}
	v := url.Values{"since": {*c.since}, "limit": {strconv.Itoa(*c.limit)}}
	if *c.query != "" {
		v.Set("query", *c.query)
	}
	u.RawQuery = v.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("cannot reach %s: %w", *c.url, err)
	}
	defer resp.Body.Close()
	var body struct {
		Status string      `json:"status"`
		Error  string      `json:"error"`
		Data   []apiRecord `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return fmt.Errorf("cannot read the answer of %s: %w", u, err)
	}
	if body.Status != "success" {
		return &exitError{code: 1, err: errors.New(body.Error)}
	}
	enc := json.NewEncoder(c.stdout)
	for _, r := range body.Data {
		if *c.asJSON {
			enc.Encode(r)
			continue
		}
		var extra []string
		for k, v := range r.Fields {
			extra = append(extra, k+"="+strconv.Quote(v))
		}
		// Arrival first, as records are searched and ordered by it; the
		// sender's own time beside it when it says something else.
		arrived := r.Received
		if arrived.IsZero() {
			arrived = r.Timestamp
		} else if !r.Timestamp.Equal(arrived) {
			extra = append(extra, "@timestamp="+r.Timestamp.Format(time.RFC3339Nano))
		}
		sort.Strings(extra)
		fmt.Fprintf(c.stdout, "%s %s %s\n", arrived.Format(time.RFC3339Nano), r.HostIP, r.Message)
		if len(extra) > 0 {
			fmt.Fprintf(c.stdout, "    %s\n", strings.Join(extra, " "))
		}
	}
	return nil
}
