package traps

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/sleepinggenius2/gosmi/parser"
)

// roots are the OIDs SNMPv2-SMI and RFC 1155 define, from which every MIB
// module's assignments descend.
var roots = map[string]string{
	"ccitt": "0", "iso": "1", "joint-iso-ccitt": "2", "zeroDotZero": "0.0",
	"org": "1.3", "dod": "1.3.6", "internet": "1.3.6.1",
	"directory": "1.3.6.1.1", "mgmt": "1.3.6.1.2", "mib-2": "1.3.6.1.2.1", "transmission": "1.3.6.1.2.1.10",
	"experimental": "1.3.6.1.3", "private": "1.3.6.1.4", "enterprises": "1.3.6.1.4.1",
	"security": "1.3.6.1.5", "snmpV2": "1.3.6.1.6", "snmpDomains": "1.3.6.1.6.1",
	"snmpProxys": "1.3.6.1.6.2", "snmpModules": "1.3.6.1.6.3",
}

// definition is one OID assignment of a MIB module.
type definition struct {
	module, name string
	parent       string   // the first sub-identifier's name
	subIDs       []string // numbers after the parent
	file         string
	line         int
}

var parseErrorPos = regexp.MustCompile(`^(?:[^:]*:)?(\d+):(\d+):\s*(.*)$`)

// LoadDir reads every MIB module in dir (any file; the module name comes
// from its text) and adds the names it defines. A module that does not
// parse, or an assignment whose parent is never defined, is reported with
// its file and line; everything else loads.
func (n *Names) LoadDir(dir string) []error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return []error{fmt.Errorf("cannot read MIB directory: %w", err)}
	}
	var errs []error
	var defs []definition
	for _, e := range entries {
		if e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		path := filepath.Join(dir, e.Name())
		f, err := os.Open(path)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		m, err := parser.Parse(f)
		f.Close()
		if err != nil {
			errs = append(errs, mibParseError(path, err))
			continue
		}
		defs = append(defs, moduleDefinitions(m, path)...)
	}
	errs = append(errs, n.resolve(defs)...)
	return errs
}

func mibParseError(path string, err error) error {
	msg := err.Error()
	if m := parseErrorPos.FindStringSubmatch(msg); m != nil {
		return fmt.Errorf("%s:%s:%s: %s", path, m[1], m[2], m[3])
	}
	return fmt.Errorf("%s: %s", path, msg)
}

func moduleDefinitions(m *parser.Module, file string) []definition {
	module := string(m.Name)
	var out []definition
	add := func(name string, oid *parser.Oid, line int) {
		if oid == nil || len(oid.SubIdentifiers) == 0 {
			return
		}
		d := definition{module: module, name: name, file: file, line: line}
		first := oid.SubIdentifiers[0]
		switch {
		case first.Name != nil:
			d.parent = string(*first.Name)
		case first.Number != nil:
			d.subIDs = append(d.subIDs, strconv.FormatUint(uint64(*first.Number), 10))
		}
		for _, s := range oid.SubIdentifiers[1:] {
			if s.Number == nil {
				return // named-only sub-identifiers after the first are not valid SMI
			}
			d.subIDs = append(d.subIDs, strconv.FormatUint(uint64(*s.Number), 10))
		}
		out = append(out, d)
	}
	if id := m.Body.Identity; id != nil {
		add(string(id.Name), &id.Oid, id.Pos.Line)
	}
	for i := range m.Body.Nodes {
		node := &m.Body.Nodes[i]
		switch {
		case node.Oid != nil:
			add(string(node.Name), node.Oid, node.Pos.Line)
		case node.TrapType != nil && node.SubIdentifier != nil:
			// SMIv1 TRAP-TYPE: its SNMPv2 OID is enterprise.0.specific (RFC 3584).
			out = append(out, definition{
				module: module, name: string(node.Name), parent: string(node.TrapType.Enterprise),
				subIDs: []string{"0", strconv.FormatUint(uint64(*node.SubIdentifier), 10)}, file: file, line: node.Pos.Line,
			})
		}
	}
	return out
}

// resolve assigns numeric OIDs, descending from the roots and from names
// already known, until nothing more resolves.
func (n *Names) resolve(defs []definition) []error {
	bare := map[string]string{}
	for name, oid := range roots {
		bare[name] = oid
	}
	n.mu.RLock()
	for qualified, oid := range n.byName {
		bare[qualified[strings.Index(qualified, "::")+2:]] = oid
	}
	n.mu.RUnlock()
	done := make([]bool, len(defs))
	for progress := true; progress; {
		progress = false
		for i, d := range defs {
			if done[i] {
				continue
			}
			base := ""
			if d.parent != "" {
				p, ok := bare[d.parent]
				if !ok {
					continue
				}
				base = p
			}
			oid := strings.Trim(base+"."+strings.Join(d.subIDs, "."), ".")
			bare[d.name] = oid
			n.Add(d.module+"::"+d.name, oid)
			done[i] = true
			progress = true
		}
	}
	var errs []error
	for i, d := range defs {
		if !done[i] {
			errs = append(errs, fmt.Errorf("%s:%d: %s::%s: parent %q is not defined by any loaded module", d.file, d.line, d.module, d.name, d.parent))
		}
	}
	return errs
}
