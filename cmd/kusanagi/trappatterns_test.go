package main

import (
	"fmt"
	"net/url"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// trapPatternsCatalogue is docs/catalogue.md's "Traps from real MIBs",
// written with the names of the vendor-shaped MIB modules of
// traps/testdata/vendor-mibs and the standard ones Kusanagi knows.
const trapPatternsCatalogue = `alerts:
  - name: FanFailed                 # a state trap that clears itself, one alert per fan
    severity: major
    summary: 'Fan {{ $labels.fan }} on {{ $labels.instance }} is not normal'
    traps:
      - oid: CISCO-ENVMON-MIB::ciscoEnvMonFanStatusChangeNotif
        match: [{varbind: CISCO-ENVMON-MIB::ciscoEnvMonFanState, not_equals: '1'}]
        clear:
          oid: CISCO-ENVMON-MIB::ciscoEnvMonFanStatusChangeNotif
          match: [{varbind: CISCO-ENVMON-MIB::ciscoEnvMonFanState, equals: '1'}]
        key: [fan]
        labels: {fan: '{{ varbindIndex "CISCO-ENVMON-MIB::ciscoEnvMonFanState" }}'}
  - name: OSPFNeighborDown          # state trap, instance in the index, sent by v1 gear
    severity: major
    summary: 'OSPF neighbour {{ $labels.neighbor }} of {{ $labels.instance }} is down'
    traps:
      - oid: OSPF-TRAP-MIB::ospfNbrStateChange
        match: [{varbind: OSPF-MIB::ospfNbrState, equals: '1'}]
        clear:
          oid: OSPF-TRAP-MIB::ospfNbrStateChange
          match: [{varbind: OSPF-MIB::ospfNbrState, equals: '8'}]
        key: [neighbor]
        labels: {neighbor: '{{ varbindIndex "OSPF-MIB::ospfNbrState" | ipAddress }}'}
  - name: BGPPeerDown               # the peer is the index: InetAddressType.length.address
    severity: critical
    summary: 'BGP peer {{ $labels.peer }} of {{ $labels.instance }} left Established'
    traps:
      - oid: CISCO-BGP4-MIB::cbgpPeer2BackwardTransNotification
        clear: CISCO-BGP4-MIB::cbgpPeer2EstablishedNotification
        key: [peer]
        labels: {peer: '{{ varbindIndex "CISCO-BGP4-MIB::cbgpPeer2State" | inetAddress }}'}
  - name: PowerSupplyFailed         # SMIv2 OID without a 0 before its last arc: v1 senders spell it E.0.S
    severity: critical
    summary: '{{ $labels.psu_name }} of {{ $labels.instance }} failed'
    traps:
      - oid: JUNIPER-MIB::jnxPowerSupplyFailure
        clear: JUNIPER-MIB::jnxPowerSupplyOK
        key: [psu]
        labels:
          psu: '{{ varbindIndex "JUNIPER-MIB::jnxContentsDescr" }}'
          psu_name: '{{ varbind "JUNIPER-MIB::jnxContentsDescr" }}'
  - name: AlarmActive               # RFC 3877 ALARM-MIB: the pair keyed by the resource
    severity: major
    summary: 'Alarm {{ $labels.model }} on {{ $labels.resource }} of {{ $labels.instance }}'
    traps:
      - oid: ALARM-MIB::alarmActiveState
        clear: ALARM-MIB::alarmClearState
        key: [resource, model]
        labels:
          resource: '{{ varbind "ALARM-MIB::alarmActiveResourceId" }}'
          model: '{{ varbind "ALARM-MIB::alarmActiveModelPointer" }}'
`

// TestTrapPatternsFromRealMIBs sends each pattern with net-snmp's
// snmptrap (v1 and v2c over IPv6) to the all-in-one: every instance is an
// alert of its own, and each clear resolves exactly its own.
func TestTrapPatternsFromRealMIBs(t *testing.T) {
	dir := t.TempDir()
	amPort := freeTCPPort(t)
	writeFile(t, filepath.Join(dir, "catalogue.yml"), trapPatternsCatalogue)
	mibs, _ := filepath.Abs("../../traps/testdata/vendor-mibs")
	writeFile(t, filepath.Join(dir, "kusanagi.yaml"), fmt.Sprintf("catalogue:\n  files: [catalogue.yml]\nalerting:\n  alertmanagers: ['http://[::1]:%d']\ntraps:\n  communities: [s3cret]\n  mib_dirs: [%q]\nalertmanager:\n  config_file: %q\n",
		amPort, mibs, amConfig(t, "http://[::1]:1/", "1h")))
	p := startKusanagi(t, "run", "--config.file="+filepath.Join(dir, "kusanagi.yaml"), "--data.dir="+filepath.Join(dir, "data"),
		"--web.listen-address=[::1]:0", fmt.Sprintf("--alertmanager.listen-address=[::1]:%d", amPort), "--traps.listen-address=[::1]:0",
		"--syslog.listen-address=[::1]:0", "--syslog.tls-listen-address=[::1]:0")
	web := "http://" + p.waitLog(`msg=listening component=web address=(\S+)`)[1]
	trapAddr := p.waitLog(`msg="listening for traps".* address=(\S+)`)[1]
	p.waitLog(`msg="alertmanager ready"`)
	am := fmt.Sprintf("http://[::1]:%d", amPort)

	v2c := func(oid string, varbinds ...string) {
		t.Helper()
		args := append([]string{"-m", "", "-Ln", "-v", "2c", "-c", "s3cret", "udp6:" + trapAddr, "", oid}, varbinds...)
		if out, err := exec.Command("snmptrap", args...).CombinedOutput(); err != nil {
			t.Fatalf("snmptrap %v: %v\n%s", args, err, out)
		}
	}
	// v1: enterprise, agent address, generic trap 6 (enterprise-specific),
	// specific trap, uptime.
	v1 := func(enterprise, specific string, varbinds ...string) {
		t.Helper()
		args := append([]string{"-m", "", "-Ln", "-v", "1", "-c", "s3cret", "udp6:" + trapAddr, enterprise, "192.0.2.10", "6", specific, ""}, varbinds...)
		if out, err := exec.Command("snmptrap", args...).CombinedOutput(); err != nil {
			t.Fatalf("snmptrap %v: %v\n%s", args, err, out)
		}
	}
	labelsOf := func(alertname, label string) []string {
		var out []string
		for _, a := range alertsAt(t, am, alertname) {
			out = append(out, a.Labels[label])
		}
		slices.Sort(out)
		return out
	}
	want := func(alertname, label string, values ...string) {
		t.Helper()
		waitUntil(t, func() bool { return slices.Equal(labelsOf(alertname, label), values) })
	}

	// Two fans fail: two alerts; the first comes back and resolves only itself.
	const fanNotif, fanState, fanDescr = "1.3.6.1.4.1.9.9.13.3.0.8", "1.3.6.1.4.1.9.9.13.1.4.1.3", "1.3.6.1.4.1.9.9.13.1.4.1.2"
	v2c(fanNotif, fanDescr+".1", "s", "Fan 1", fanState+".1", "i", "3")
	v2c(fanNotif, fanDescr+".2", "s", "Fan 2", fanState+".2", "i", "3")
	want("FanFailed", "fan", "1", "2")
	v2c(fanNotif, fanDescr+".1", "s", "Fan 1", fanState+".1", "i", "1")
	want("FanFailed", "fan", "2")

	// An OSPF neighbour goes down and comes back full, from a v1 sender
	// (ospfNbrStateChange 1.3.6.1.2.1.14.16.2.2 arrives as ...16.2.0.2).
	const nbrState, nbrRtrID = "1.3.6.1.2.1.14.10.1.6", "1.3.6.1.2.1.14.10.1.3"
	v1("1.3.6.1.2.1.14.16.2", "2", nbrRtrID+".10.0.0.2.0", "a", "10.255.0.2", nbrState+".10.0.0.2.0", "i", "1")
	v1("1.3.6.1.2.1.14.16.2", "2", nbrRtrID+".10.0.0.3.0", "a", "10.255.0.3", nbrState+".10.0.0.3.0", "i", "1")
	want("OSPFNeighborDown", "neighbor", "10.0.0.2", "10.0.0.3")
	v1("1.3.6.1.2.1.14.16.2", "2", nbrRtrID+".10.0.0.2.0", "a", "10.255.0.2", nbrState+".10.0.0.2.0", "i", "8")
	want("OSPFNeighborDown", "neighbor", "10.0.0.3")

	// Two BGP peers, IPv4 and IPv6, keyed by their index; one comes back.
	const peerState, peerErr = "1.3.6.1.4.1.9.9.187.1.2.5.1.3", "1.3.6.1.4.1.9.9.187.1.2.5.1.17"
	const v4Peer, v6Peer = ".1.4.192.0.2.1", ".2.16.32.1.13.184.0.0.0.0.0.0.0.0.0.0.0.2"
	v2c("1.3.6.1.4.1.9.9.187.0.8", peerErr+v4Peer, "x", "0604", peerState+v4Peer, "i", "1")
	v2c("1.3.6.1.4.1.9.9.187.0.8", peerErr+v6Peer, "x", "0604", peerState+v6Peer, "i", "1")
	want("BGPPeerDown", "peer", "192.0.2.1", "2001:db8::2")
	v2c("1.3.6.1.4.1.9.9.187.0.7", peerErr+v4Peer, "x", "0000", peerState+v4Peer, "i", "6")
	want("BGPPeerDown", "peer", "2001:db8::2")

	// A Juniper power supply fails, reported by a v1 sender, and is
	// cleared by a v2c jnxPowerSupplyOK.
	const contentsDescr = "1.3.6.1.4.1.2636.3.1.8.1.6"
	v1("1.3.6.1.4.1.2636.4.1", "1", contentsDescr+".2.1.0.0", "s", "PEM 0")
	v1("1.3.6.1.4.1.2636.4.1", "1", contentsDescr+".2.2.0.0", "s", "PEM 1")
	want("PowerSupplyFailed", "psu", "2.1.0.0", "2.2.0.0")
	if names := labelsOf("PowerSupplyFailed", "psu_name"); !slices.Equal(names, []string{"PEM 0", "PEM 1"}) {
		t.Errorf("psu names %v", names)
	}
	v2c("1.3.6.1.4.1.2636.4.2.1", contentsDescr+".2.1.0.0", "s", "PEM 0")
	want("PowerSupplyFailed", "psu", "2.2.0.0")

	// ALARM-MIB: two resources raise the same alarm model; one clears.
	const activeModel, activeResource = "1.3.6.1.2.1.118.1.2.2.1.13", "1.3.6.1.2.1.118.1.2.2.1.10"
	const model = "1.3.6.1.2.1.118.1.1.2.1.3.0.7.3"
	v2c("1.3.6.1.2.1.118.0.2", activeModel+".0.1", "o", model, activeResource+".0.1", "o", "1.3.6.1.2.1.2.2.1.1.3")
	v2c("1.3.6.1.2.1.118.0.2", activeModel+".0.2", "o", model, activeResource+".0.2", "o", "1.3.6.1.2.1.2.2.1.1.4")
	want("AlarmActive", "resource", "1.3.6.1.2.1.2.2.1.1.3", "1.3.6.1.2.1.2.2.1.1.4")
	v2c("1.3.6.1.2.1.118.0.3", activeModel+".0.1", "o", model, activeResource+".0.1", "o", "1.3.6.1.2.1.2.2.1.1.3")
	want("AlarmActive", "resource", "1.3.6.1.2.1.2.2.1.1.4")

	// The v1 trap is stored in its SMIv2 spelling, with its MIB's name.
	var res struct {
		Data []struct {
			Fields map[string]string `json:"fields"`
		} `json:"data"`
	}
	waitUntil(t, func() bool {
		getJSON(t, web+"/api/v1/logs?since=10m&query="+url.QueryEscape(`event.code:"JUNIPER-MIB::jnxPowerSupplyFailure"`), &res)
		return len(res.Data) >= 2
	})
	if len(res.Data) != 2 || res.Data[0].Fields["snmp.trap.oid"] != "1.3.6.1.4.1.2636.4.1.1" || res.Data[0].Fields["snmp.version"] != "1" {
		t.Fatalf("stored v1 traps: %+v", res.Data)
	}
	for _, r := range res.Data {
		if !strings.HasPrefix(r.Fields["snmp.varbind.JUNIPER-MIB.jnxContentsDescr"], "PEM") {
			t.Errorf("stored varbinds: %v", r.Fields)
		}
	}
}
