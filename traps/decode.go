package traps

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log"
	"net/netip"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/gosnmp/gosnmp"
)

// User is an SNMPv3 USM user allowed to send traps. The engine ID is the
// sender's own, taken from each message: nothing per sender to configure.
type User struct {
	Name           string `yaml:"name"`
	AuthProtocol   string `yaml:"auth_protocol"` // MD5, SHA, SHA224, SHA256, SHA384, SHA512
	AuthPassphrase string `yaml:"auth_passphrase"`
	PrivProtocol   string `yaml:"priv_protocol"` // DES, AES, AES192, AES256, AES192C, AES256C
	PrivPassphrase string `yaml:"priv_passphrase"`
}

var authProtocols = map[string]gosnmp.SnmpV3AuthProtocol{
	"": gosnmp.NoAuth, "MD5": gosnmp.MD5, "SHA": gosnmp.SHA, "SHA224": gosnmp.SHA224,
	"SHA256": gosnmp.SHA256, "SHA384": gosnmp.SHA384, "SHA512": gosnmp.SHA512,
}

var privProtocols = map[string]gosnmp.SnmpV3PrivProtocol{
	"": gosnmp.NoPriv, "DES": gosnmp.DES, "AES": gosnmp.AES, "AES192": gosnmp.AES192,
	"AES256": gosnmp.AES256, "AES192C": gosnmp.AES192C, "AES256C": gosnmp.AES256C,
}

// SecurityParameters returns the user's USM parameters and the message
// flags its security level needs.
func (u User) SecurityParameters() (*gosnmp.UsmSecurityParameters, gosnmp.SnmpV3MsgFlags, error) {
	return u.usm()
}

// usm returns the user's security parameters and message flags.
func (u User) usm() (*gosnmp.UsmSecurityParameters, gosnmp.SnmpV3MsgFlags, error) {
	auth, ok := authProtocols[strings.ToUpper(u.AuthProtocol)]
	if !ok {
		return nil, 0, fmt.Errorf("user %q: unknown auth_protocol %q (MD5, SHA, SHA224, SHA256, SHA384, SHA512)", u.Name, u.AuthProtocol)
	}
	priv, ok := privProtocols[strings.ToUpper(u.PrivProtocol)]
	if !ok {
		return nil, 0, fmt.Errorf("user %q: unknown priv_protocol %q (DES, AES, AES192, AES256, AES192C, AES256C)", u.Name, u.PrivProtocol)
	}
	flags := gosnmp.NoAuthNoPriv
	switch {
	case priv != gosnmp.NoPriv && auth == gosnmp.NoAuth:
		return nil, 0, fmt.Errorf("user %q: privacy needs authentication", u.Name)
	case priv != gosnmp.NoPriv:
		flags = gosnmp.AuthPriv
	case auth != gosnmp.NoAuth:
		flags = gosnmp.AuthNoPriv
	}
	if auth != gosnmp.NoAuth && len(u.AuthPassphrase) < 8 {
		return nil, 0, fmt.Errorf("user %q: auth_passphrase must have at least 8 characters (RFC 3414)", u.Name)
	}
	if priv != gosnmp.NoPriv && len(u.PrivPassphrase) < 8 {
		return nil, 0, fmt.Errorf("user %q: priv_passphrase must have at least 8 characters (RFC 3414)", u.Name)
	}
	return &gosnmp.UsmSecurityParameters{
		UserName:                 u.Name,
		AuthenticationProtocol:   auth,
		AuthenticationPassphrase: u.AuthPassphrase,
		PrivacyProtocol:          priv,
		PrivacyPassphrase:        u.PrivPassphrase,
	}, flags, nil
}

// DropReason says why a datagram was not taken as a trap.
type DropReason string

// Reasons a datagram is dropped, the label of kusanagi_traps_dropped_total.
const (
	DropMalformed DropReason = "malformed"
	DropCommunity DropReason = "unknown_community"
	DropAuth      DropReason = "v3_auth"
	DropNotTrap   DropReason = "not_a_trap"
)

// DropError is a datagram refused for Reason.
type DropError struct {
	Reason DropReason
	Err    error
}

func (e *DropError) Error() string { return string(e.Reason) + ": " + e.Err.Error() }

// Decoder turns datagrams into traps. It is not safe for concurrent use:
// each decoding goroutine has its own.
type Decoder struct {
	communities map[string]bool
	snmp        *gosnmp.GoSNMP
	hasUsers    bool
}

// NewDecoder accepts v1/v2c traps with one of communities and v3 traps from
// users. No community is accepted unless listed, public included.
func NewDecoder(communities []string, users []User) (*Decoder, error) {
	d := &Decoder{communities: map[string]bool{}}
	for _, c := range communities {
		d.communities[c] = true
	}
	d.snmp = &gosnmp.GoSNMP{
		Version:       gosnmp.Version3,
		Logger:        gosnmp.NewLogger(log.New(io.Discard, "", 0)),
		SecurityModel: gosnmp.UserSecurityModel,
	}
	if len(users) > 0 {
		table := gosnmp.NewSnmpV3SecurityParametersTable(d.snmp.Logger)
		for _, u := range users {
			usm, _, err := u.usm()
			if err != nil {
				return nil, err
			}
			if err := table.Add(u.Name, usm); err != nil {
				return nil, fmt.Errorf("user %q: %w", u.Name, err)
			}
		}
		d.snmp.SetTrapSecurityParametersTable(table)
		d.hasUsers = true
	}
	return d, nil
}

// Decode parses one datagram from src.
func (d *Decoder) Decode(b []byte, src netip.AddrPort, now time.Time) (*Trap, *gosnmp.SnmpPacket, error) {
	if len(b) < 2 || b[0] != 0x30 {
		return nil, nil, &DropError{DropMalformed, errors.New("not an SNMP message")}
	}
	p, err := d.unmarshal(b)
	if err != nil {
		var de *DropError
		if errors.As(err, &de) {
			return nil, nil, err
		}
		return nil, nil, &DropError{DropMalformed, err}
	}
	t := &Trap{Source: src, Received: now}
	switch p.Version {
	case gosnmp.Version1:
		t.Version, t.Community = "1", p.Community
	case gosnmp.Version2c:
		t.Version, t.Community = "2c", p.Community
	default:
		t.Version = "3"
		if usm, ok := p.SecurityParameters.(*gosnmp.UsmSecurityParameters); ok {
			t.User = usm.UserName
		}
	}
	if t.Version != "3" && !d.communities[p.Community] {
		return nil, nil, &DropError{DropCommunity, fmt.Errorf("community %q is not accepted", p.Community)}
	}
	switch p.PDUType {
	case gosnmp.Trap:
		fromV1(t, p)
	case gosnmp.SNMPv2Trap, gosnmp.InformRequest:
		t.Inform = p.PDUType == gosnmp.InformRequest
		for _, v := range p.Variables {
			vb := varbind(v)
			if vb.OID == snmpTrapOID0 {
				t.OID = strings.TrimPrefix(vb.Value, ".")
				continue
			}
			t.Varbinds = append(t.Varbinds, vb)
		}
		if t.OID == "" {
			return nil, nil, &DropError{DropMalformed, errors.New("no snmpTrapOID.0 varbind")}
		}
	default:
		return nil, nil, &DropError{DropNotTrap, fmt.Errorf("PDU type %v", p.PDUType)}
	}
	return t, p, nil
}

func (d *Decoder) unmarshal(b []byte) (p *gosnmp.SnmpPacket, err error) {
	defer func() {
		// A decoder of untrusted input must not take the process down.
		if r := recover(); r != nil {
			p, err = nil, fmt.Errorf("decoder panic: %v", r)
		}
	}()
	isV3 := len(b) > 4 && bytesHaveVersion3(b)
	if isV3 && !d.hasUsers {
		return nil, &DropError{DropAuth, errors.New("SNMPv3 trap, but no v3 users are configured")}
	}
	p, err = d.snmp.UnmarshalTrap(b, true)
	if err != nil && isV3 {
		return nil, &DropError{DropAuth, err}
	}
	return p, err
}

// bytesHaveVersion3 peeks at the message's version field.
func bytesHaveVersion3(b []byte) bool {
	if len(b) < 2 || b[0] != 0x30 {
		return false
	}
	i := 1
	if b[i]&0x80 != 0 {
		i += int(b[i] & 0x7f)
	}
	i++
	return i+2 < len(b) && b[i] == 0x02 && b[i+1] == 0x01 && b[i+2] == 3
}

const (
	snmpTrapOID0         = "1.3.6.1.6.3.1.1.4.1.0"
	snmpTrapAddress0     = "1.3.6.1.6.3.18.1.3.0"
	snmpTrapCommunity0   = "1.3.6.1.6.3.18.1.4.0"
	snmpTrapEnterprise0  = "1.3.6.1.6.3.1.1.4.3.0"
	snmpTrapsPrefix      = "1.3.6.1.6.3.1.1.5."
	genericEnterpriseSpc = 6
)

// fromV1 converts an SNMPv1 trap to SNMPv2 form (RFC 3584 section 3.1).
func fromV1(t *Trap, p *gosnmp.SnmpPacket) {
	enterprise := strings.TrimPrefix(p.Enterprise, ".")
	if p.GenericTrap == genericEnterpriseSpc {
		t.OID = enterprise + ".0." + strconv.Itoa(p.SpecificTrap)
	} else {
		t.OID = snmpTrapsPrefix + strconv.Itoa(p.GenericTrap+1)
	}
	for _, v := range p.Variables {
		t.Varbinds = append(t.Varbinds, varbind(v))
	}
	t.Varbinds = append(t.Varbinds,
		Varbind{OID: snmpTrapAddress0, Type: "IpAddress", Value: p.AgentAddress},
		Varbind{OID: snmpTrapCommunity0, Type: "OctetString", Value: p.Community},
		Varbind{OID: snmpTrapEnterprise0, Type: "ObjectIdentifier", Value: enterprise},
	)
}

func varbind(v gosnmp.SnmpPDU) Varbind {
	vb := Varbind{OID: strings.TrimPrefix(v.Name, "."), Type: v.Type.String()}
	switch val := v.Value.(type) {
	case []byte:
		vb.Value = octets(val)
	case string:
		vb.Value = strings.TrimPrefix(val, ".")
		if v.Type == gosnmp.OctetString {
			vb.Value = octets([]byte(val))
		}
	case nil:
		vb.Value = ""
	default:
		vb.Value = fmt.Sprint(val)
	}
	return vb
}

// octets renders an OCTET STRING as text when it is printable, else as hex
// (MAC addresses, binary counters), as net-snmp does.
func octets(b []byte) string {
	s := strings.TrimRight(string(b), "\x00")
	if utf8.ValidString(s) {
		printable := true
		for _, r := range s {
			if !unicode.IsPrint(r) && !unicode.IsSpace(r) {
				printable = false
				break
			}
		}
		if printable {
			return s
		}
	}
	return hex.EncodeToString(b)
}
