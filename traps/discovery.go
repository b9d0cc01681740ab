package traps

import (
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	"github.com/gosnmp/gosnmp"
)

// engine is this receiver's SNMP engine. For traps the sender is the
// authoritative engine and nothing here matters; for informs the receiver
// is (RFC 3414 section 3.2), so a v3 sender first asks for its engine ID
// with an empty discovery message and localizes its keys to the answer.
type engine struct {
	id    string
	boots uint32
	start time.Time
	// plain decodes discovery messages, which carry no user.
	plain *gosnmp.GoSNMP
}

func newEngine() *engine {
	// RFC 3411 format 5 (octets), enterprise 8072 (net-snmp's, as many
	// implementations use), random so replicas differ.
	id := make([]byte, 5+8)
	copy(id, []byte{0x80, 0x00, 0x1f, 0x88, 0x05})
	rand.Read(id[5:])
	return &engine{
		id:    string(id),
		boots: 1,
		start: time.Now(),
		plain: &gosnmp.GoSNMP{
			Version: gosnmp.Version3, SecurityModel: gosnmp.UserSecurityModel,
			SecurityParameters: &gosnmp.UsmSecurityParameters{},
			Logger:             gosnmp.NewLogger(nil),
		},
	}
}

const usmStatsUnknownEngineIDs0 = ".1.3.6.1.6.3.15.1.1.4.0"

// discoveryReport answers an engine discovery message with a Report that
// carries this engine's ID, boots and time; nil when b is not one.
func (e *engine) discoveryReport(b []byte, unknownEngineIDs uint32) (out []byte, err error) {
	if !bytesHaveVersion3(b) {
		return nil, nil
	}
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, fmt.Errorf("decoder panic: %v", r)
		}
	}()
	p, err := e.plain.UnmarshalTrap(b, false)
	if err != nil || p == nil {
		return nil, nil
	}
	usm, ok := p.SecurityParameters.(*gosnmp.UsmSecurityParameters)
	if !ok || usm.AuthoritativeEngineID != "" || p.MsgFlags&gosnmp.AuthPriv != 0 {
		return nil, nil
	}
	reply := *p
	reply.PDUType = gosnmp.Report
	reply.MsgFlags = gosnmp.NoAuthNoPriv
	reply.SecurityParameters = &gosnmp.UsmSecurityParameters{
		AuthoritativeEngineID:    e.id,
		AuthoritativeEngineBoots: e.boots,
		AuthoritativeEngineTime:  uint32(time.Since(e.start).Seconds()),
		Logger:                   gosnmp.NewLogger(nil),
	}
	reply.Variables = []gosnmp.SnmpPDU{{Name: usmStatsUnknownEngineIDs0, Type: gosnmp.Counter32, Value: unknownEngineIDs}}
	out, err = reply.MarshalMsg()
	if err != nil {
		return nil, errors.Join(errors.New("cannot build the discovery report"), err)
	}
	return out, nil
}
