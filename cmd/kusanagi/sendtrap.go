package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/gosnmp/gosnmp"

	"github.com/kusanagi-dev/kusanagi/traps"
)

// sendTrapCommand is `kusanagi send-trap`: operators test their catalogue
// by sending the traps their gear would send.
type sendTrapCommand struct {
	cmd                           *kingpin.CmdClause
	stdout                        io.Writer
	to, version, community        *string
	inform                        *bool
	user, authProto, authPass     *string
	privProto, privPass, engineID *string
	enterprise, agentAddress      *string
	timeout                       *time.Duration
	retries                       *int
	oid                           *string
	varbinds                      *[]string
}

func newSendTrapCommand(app *kingpin.Application, stdout io.Writer) *sendTrapCommand {
	c := &sendTrapCommand{stdout: stdout}
	c.cmd = app.Command("send-trap", "Send an SNMP trap or inform, to test the catalogue (varbinds as NAME=TYPE:VALUE, TYPE one of i u c s x o a t).")
	c.to = c.cmd.Flag("to", "Receiver address, host:port ([fd00::10]:162).").Default("[::1]:9162").String()
	c.version = c.cmd.Flag("snmp.version", "1, 2c or 3.").Default("2c").Enum("1", "2c", "3")
	c.community = c.cmd.Flag("community", "Community (v1, v2c).").String()
	c.inform = c.cmd.Flag("inform", "Send an inform and wait for the acknowledgement (v2c, v3).").Bool()
	c.user = c.cmd.Flag("user", "SNMPv3 user.").String()
	c.authProto = c.cmd.Flag("auth-protocol", "MD5, SHA, SHA224, SHA256, SHA384, SHA512.").String()
	c.authPass = c.cmd.Flag("auth-passphrase", "SNMPv3 authentication passphrase.").Envar("KUSANAGI_SNMP_AUTH_PASSPHRASE").String()
	c.privProto = c.cmd.Flag("priv-protocol", "DES, AES, AES192, AES256, AES192C, AES256C.").String()
	c.privPass = c.cmd.Flag("priv-passphrase", "SNMPv3 privacy passphrase.").Envar("KUSANAGI_SNMP_PRIV_PASSPHRASE").String()
	c.engineID = c.cmd.Flag("engine-id", "SNMPv3 engine ID of the sender, hex (traps); random when empty.").String()
	c.enterprise = c.cmd.Flag("enterprise", "SNMPv1 enterprise for a generic trap.").Default("1.3.6.1.4.1.8072").String()
	c.agentAddress = c.cmd.Flag("agent-address", "SNMPv1 agent address.").Default("127.0.0.1").String()
	c.timeout = c.cmd.Flag("timeout", "How long to wait for an inform's acknowledgement.").Default("2s").Duration()
	c.retries = c.cmd.Flag("retries", "Inform retries.").Default("2").Int()
	c.oid = c.cmd.Arg("oid", "Trap OID: numeric or MODULE::name (IF-MIB::linkDown).").Required().String()
	c.varbinds = c.cmd.Arg("varbind", "NAME=TYPE:VALUE, e.g. IF-MIB::ifIndex.3=i:3 IF-MIB::ifDescr.3=s:Gi0/3").Strings()
	return c
}

func (c *sendTrapCommand) matches(s string) bool { return s == c.cmd.FullCommand() }

func (c *sendTrapCommand) run(context.Context) error {
	if *c.version != "3" && *c.community == "" {
		// An empty community is never accepted: the trap would be dropped
		// silently at the receiver (and counted as unknown_community).
		return &exitError{code: 2, err: fmt.Errorf("--community is required for SNMP v%s: one of the receiver's traps.communities (noc-traps in examples/kusanagi.yml)", *c.version)}
	}
	names := traps.NewNames()
	oid, err := names.Resolve(*c.oid)
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	var vars []gosnmp.SnmpPDU
	for _, vb := range *c.varbinds {
		pdu, err := parseVarbind(names, vb)
		if err != nil {
			return &exitError{code: 2, err: err}
		}
		vars = append(vars, pdu)
	}
	host, portStr, err := net.SplitHostPort(*c.to)
	if err != nil {
		return &exitError{code: 2, err: fmt.Errorf("--to %q: %v (IPv6 in brackets: [fd00::10]:162)", *c.to, err)}
	}
	port, err := strconv.ParseUint(portStr, 10, 16)
	if err != nil {
		return &exitError{code: 2, err: fmt.Errorf("--to %q: bad port", *c.to)}
	}
	g := &gosnmp.GoSNMP{
		Target: host, Port: uint16(port), Transport: "udp", Community: *c.community,
		Timeout: *c.timeout, Retries: *c.retries, MaxOids: gosnmp.MaxOids,
		Logger: gosnmp.NewLogger(log.New(io.Discard, "", 0)),
	}
	trap := gosnmp.SnmpTrap{IsInform: *c.inform}
	switch *c.version {
	case "1":
		g.Version = gosnmp.Version1
		trap.Variables = vars
		trap.AgentAddress = *c.agentAddress
		if rest, ok := strings.CutPrefix(oid, "1.3.6.1.6.3.1.1.5."); ok {
			generic, _ := strconv.Atoi(rest)
			trap.Enterprise, trap.GenericTrap = *c.enterprise, generic-1
		} else if i := strings.LastIndex(oid, ".0."); i > 0 {
			specific, _ := strconv.Atoi(oid[i+3:])
			trap.Enterprise, trap.GenericTrap, trap.SpecificTrap = oid[:i], 6, specific
		} else {
			return &exitError{code: 2, err: fmt.Errorf("%s has no SNMPv1 form (enterprise.0.specific or a generic trap)", oid)}
		}
	case "2c", "3":
		g.Version = gosnmp.Version2c
		trap.Variables = append([]gosnmp.SnmpPDU{{Name: "1.3.6.1.6.3.1.1.4.1.0", Type: gosnmp.ObjectIdentifier, Value: oid}}, vars...)
		if *c.version == "3" {
			g.Version = gosnmp.Version3
			g.SecurityModel = gosnmp.UserSecurityModel
			usm, flags, err := traps.User{Name: *c.user, AuthProtocol: *c.authProto, AuthPassphrase: *c.authPass,
				PrivProtocol: *c.privProto, PrivPassphrase: *c.privPass}.SecurityParameters()
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			if !*c.inform {
				// A trap's sender is the authoritative engine.
				usm.AuthoritativeEngineID, err = engineID(*c.engineID)
				if err != nil {
					return &exitError{code: 2, err: err}
				}
				usm.AuthoritativeEngineBoots, usm.AuthoritativeEngineTime = 1, uint32(time.Now().Unix()%(1<<31))
			}
			g.MsgFlags, g.SecurityParameters = flags, usm
		}
	}
	if err := g.Connect(); err != nil {
		return fmt.Errorf("cannot reach %s: %w", *c.to, err)
	}
	defer g.Conn.Close()
	if _, err := g.SendTrap(trap); err != nil {
		return fmt.Errorf("cannot send: %w", err)
	}
	what := "trap"
	if *c.inform {
		what = "inform (acknowledged)"
	}
	fmt.Fprintf(c.stdout, "sent %s %s to %s\n", what, names.Name(oid), *c.to)
	return nil
}

func engineID(s string) (string, error) {
	if s == "" {
		id := make([]byte, 13)
		copy(id, []byte{0x80, 0x00, 0x1f, 0x88, 0x05})
		rand.Read(id[5:])
		return string(id), nil
	}
	b, err := hex.DecodeString(strings.TrimPrefix(s, "0x"))
	if err != nil || len(b) < 5 || len(b) > 32 {
		return "", fmt.Errorf("--engine-id %q must be 5 to 32 bytes of hex", s)
	}
	return string(b), nil
}

// parseVarbind reads NAME=TYPE:VALUE with net-snmp's type letters.
func parseVarbind(names *traps.Names, s string) (gosnmp.SnmpPDU, error) {
	name, typed, ok := strings.Cut(s, "=")
	typ, value, ok2 := strings.Cut(typed, ":")
	if !ok || !ok2 {
		return gosnmp.SnmpPDU{}, fmt.Errorf("varbind %q: want NAME=TYPE:VALUE", s)
	}
	oid, err := names.Resolve(name)
	if err != nil {
		return gosnmp.SnmpPDU{}, fmt.Errorf("varbind %q: %w", s, err)
	}
	pdu := gosnmp.SnmpPDU{Name: oid}
	bad := func(err error) (gosnmp.SnmpPDU, error) {
		return gosnmp.SnmpPDU{}, fmt.Errorf("varbind %q: %v", s, err)
	}
	switch typ {
	case "i":
		v, err := strconv.Atoi(value)
		if err != nil {
			return bad(err)
		}
		pdu.Type, pdu.Value = gosnmp.Integer, v
	case "u", "c", "t":
		v, err := strconv.ParseUint(value, 10, 32)
		if err != nil {
			return bad(err)
		}
		pdu.Type, pdu.Value = map[string]gosnmp.Asn1BER{"u": gosnmp.Gauge32, "c": gosnmp.Counter32, "t": gosnmp.TimeTicks}[typ], uint32(v)
	case "s":
		pdu.Type, pdu.Value = gosnmp.OctetString, value
	case "x":
		b, err := hex.DecodeString(strings.ReplaceAll(value, " ", ""))
		if err != nil {
			return bad(err)
		}
		pdu.Type, pdu.Value = gosnmp.OctetString, b
	case "o":
		o, err := names.Resolve(value)
		if err != nil {
			return bad(err)
		}
		pdu.Type, pdu.Value = gosnmp.ObjectIdentifier, o
	case "a":
		pdu.Type, pdu.Value = gosnmp.IPAddress, value
	default:
		return bad(fmt.Errorf("unknown type %q (i u c s x o a t)", typ))
	}
	return pdu, nil
}
