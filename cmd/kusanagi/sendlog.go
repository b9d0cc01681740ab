package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/alecthomas/kingpin/v2"
)

// sendLogCommand is `kusanagi send-log`: operators test their catalogue's
// log queries by sending the lines their gear would send.
type sendLogCommand struct {
	cmd                       *kingpin.CmdClause
	stdout                    io.Writer
	to, transport, format     *string
	framing                   *string
	facility, severity        *int
	hostname, appname, procid *string
	msgid                     *string
	caFile, certFile, keyFile *string
	serverName                *string
	insecure                  *bool
	message                   *[]string
}

func newSendLogCommand(app *kingpin.Application, stdout io.Writer) *sendLogCommand {
	c := &sendLogCommand{stdout: stdout}
	c.cmd = app.Command("send-log", "Send a syslog message (RFC 3164 or 5424) over UDP, TCP or TLS, to test the catalogue's log queries.")
	c.to = c.cmd.Flag("to", "Receiver address, host:port ([fd00::10]:514). Default [::1]:9514, or [::1]:9601 with --transport=tls.").String()
	c.transport = c.cmd.Flag("transport", "udp, tcp or tls.").Default("udp").Enum("udp", "tcp", "tls")
	c.format = c.cmd.Flag("format", "rfc3164 or rfc5424.").Default("rfc5424").Enum("rfc3164", "rfc5424")
	c.framing = c.cmd.Flag("framing", "TCP/TLS framing: octet-counting (RFC 6587) or newline.").Default("octet-counting").Enum("octet-counting", "newline")
	c.facility = c.cmd.Flag("facility", "Facility code (23 = local7, usual for network gear).").Default("23").Int()
	c.severity = c.cmd.Flag("severity", "Severity code (3 = error).").Default("3").Int()
	host, _ := os.Hostname()
	c.hostname = c.cmd.Flag("hostname", "HOSTNAME field; empty to leave it out, as some gear does.").Default(host).String()
	c.appname = c.cmd.Flag("appname", "APP-NAME / TAG.").Default("kusanagi").String()
	c.procid = c.cmd.Flag("procid", "PROCID.").String()
	c.msgid = c.cmd.Flag("msgid", "MSGID (RFC 5424).").String()
	c.caFile = c.cmd.Flag("tls.ca-file", "CA bundle to verify the receiver (TLS).").String()
	c.certFile = c.cmd.Flag("tls.cert-file", "Client certificate to present, for receivers that require one (TLS).").String()
	c.keyFile = c.cmd.Flag("tls.key-file", "Key of --tls.cert-file (TLS).").String()
	c.serverName = c.cmd.Flag("tls.server-name", "Name to verify the receiver's certificate against; the host of --to by default (TLS).").String()
	c.insecure = c.cmd.Flag("tls.insecure-skip-verify", "Do not verify the receiver's certificate (TLS).").Bool()
	c.message = c.cmd.Arg("message", "The message, e.g. '%LINK-3-UPDOWN: Interface GigabitEthernet0/1, changed state to down'.").Required().Strings()
	return c
}

func (c *sendLogCommand) matches(s string) bool { return s == c.cmd.FullCommand() }

// formatSyslog renders one message in the chosen format.
func formatSyslog(format string, facility, severity int, ts time.Time, hostname, appname, procid, msgid, msg string) (string, error) {
	if facility < 0 || facility > 23 || severity < 0 || severity > 7 {
		return "", fmt.Errorf("facility must be 0..23 and severity 0..7")
	}
	pri := "<" + strconv.Itoa(facility*8+severity) + ">"
	nil5424 := func(s string) string {
		if s == "" {
			return "-"
		}
		return s
	}
	if format == "rfc5424" {
		// RFC 5424 allows at most six digits of a second's fraction.
		return fmt.Sprintf("%s1 %s %s %s %s %s - %s", pri, ts.UTC().Format("2006-01-02T15:04:05.999999Z07:00"),
			nil5424(hostname), nil5424(appname), nil5424(procid), nil5424(msgid), msg), nil
	}
	tag := appname
	if procid != "" {
		tag += "[" + procid + "]"
	}
	var b strings.Builder
	b.WriteString(pri + ts.Format(time.Stamp) + " ")
	if hostname != "" {
		b.WriteString(hostname + " ")
	}
	if tag != "" {
		b.WriteString(tag + ": ")
	}
	b.WriteString(msg)
	return b.String(), nil
}

func (c *sendLogCommand) run(ctx context.Context) error {
	line, err := formatSyslog(*c.format, *c.facility, *c.severity, time.Now(), *c.hostname, *c.appname, *c.procid, *c.msgid, strings.Join(*c.message, " "))
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	if *c.to == "" {
		// Kusanagi's own listeners: syslog over TLS has a port of its own.
		*c.to = "[::1]:9514"
		if *c.transport == "tls" {
			*c.to = "[::1]:9601"
		}
	}
	if _, _, err := net.SplitHostPort(*c.to); err != nil {
		return &exitError{code: 2, err: fmt.Errorf("--to %q: %v (IPv6 in brackets: [fd00::10]:514)", *c.to, err)}
	}
	d := net.Dialer{Timeout: 5 * time.Second}
	var conn net.Conn
	switch *c.transport {
	case "udp":
		conn, err = d.DialContext(ctx, "udp", *c.to)
	case "tcp":
		conn, err = d.DialContext(ctx, "tcp", *c.to)
	case "tls":
		cfg, cerr := c.tlsConfig()
		if cerr != nil {
			return &exitError{code: 2, err: cerr}
		}
		conn, err = (&tls.Dialer{NetDialer: &d, Config: cfg}).DialContext(ctx, "tcp", *c.to)
	}
	if err != nil {
		return fmt.Errorf("cannot reach %s: %w", *c.to, err)
	}
	defer conn.Close()
	payload := line
	if *c.transport != "udp" {
		if *c.framing == "octet-counting" {
			payload = strconv.Itoa(len(line)) + " " + line
		} else {
			payload = line + "\n"
		}
	}
	if _, err := io.WriteString(conn, payload); err != nil {
		return fmt.Errorf("cannot send: %w", err)
	}
	if tc, ok := conn.(*tls.Conn); ok {
		if err := awaitClose(tc); err != nil {
			return fmt.Errorf("%s refused the message: %w", *c.to, err)
		}
	}
	fmt.Fprintf(c.stdout, "sent over %s to %s: %s\n", *c.transport, *c.to, line)
	return nil
}

func (c *sendLogCommand) tlsConfig() (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: *c.insecure, ServerName: *c.serverName} //nolint:gosec // an operator's explicit choice
	if cfg.ServerName == "" {
		cfg.ServerName, _, _ = net.SplitHostPort(*c.to)
	}
	if *c.caFile != "" {
		pem, err := os.ReadFile(*c.caFile)
		if err != nil {
			return nil, err
		}
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--tls.ca-file %s holds no certificate", *c.caFile)
		}
	}
	if (*c.certFile == "") != (*c.keyFile == "") {
		return nil, fmt.Errorf("--tls.cert-file and --tls.key-file go together")
	}
	if *c.certFile != "" {
		pair, err := tls.LoadX509KeyPair(*c.certFile, *c.keyFile)
		if err != nil {
			return nil, fmt.Errorf("--tls.cert-file: %w", err)
		}
		// Presented whatever CAs the receiver names, as gear does, so that a
		// wrong certificate is refused rather than silently left out.
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &pair, nil }
	}
	return cfg, nil
}

// awaitClose ends the connection and waits for the receiver to end its
// side. In TLS 1.3 the server checks the client's certificate after the
// client has finished its handshake, so a refusal only shows as an alert
// read afterwards; without this wait a refused message would look sent.
func awaitClose(c *tls.Conn) error {
	if err := c.CloseWrite(); err != nil {
		return err
	}
	c.SetReadDeadline(time.Now().Add(3 * time.Second))
	_, err := c.Read(make([]byte, 1))
	if err == nil || errors.Is(err, io.EOF) || errors.Is(err, os.ErrDeadlineExceeded) {
		return nil // a receiver that keeps the connection open has not refused it
	}
	return err
}
