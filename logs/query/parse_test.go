package query

import (
	"reflect"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in   string
		want Node
	}{
		{`down`, Term{"message", "down"}},
		{`mnemonic:"LINK-3-UPDOWN"`, Phrase{"mnemonic", "LINK-3-UPDOWN"}},
		{
			`mnemonic:"LINK-3-UPDOWN" AND message:"changed state to down"`,
			And{[]Node{Phrase{"mnemonic", "LINK-3-UPDOWN"}, Phrase{"message", "changed state to down"}}},
		},
		{`host.ip:fd00::1`, Term{"host.ip", "fd00::1"}},
		{`host.ip:10.0.0.0/8`, Term{"host.ip", "10.0.0.0/8"}},
		{`log.syslog.appname:sshd*`, Wildcard{"log.syslog.appname", "sshd*"}},
		{`message:a\*b`, Term{"message", "a*b"}},
		{`message:a\*b?`, Wildcard{"message", `a\*b?`}},
		{`a OR b AND c`, Or{[]Node{Term{"message", "a"}, And{[]Node{Term{"message", "b"}, Term{"message", "c"}}}}}},
		{`(a OR b) && c`, And{[]Node{Or{[]Node{Term{"message", "a"}, Term{"message", "b"}}}, Term{"message", "c"}}}},
		{`NOT a`, Not{Term{"message", "a"}}},
		{`-a AND !b`, And{[]Node{Not{Term{"message", "a"}}, Not{Term{"message", "b"}}}}},
		{`NOT NOT a`, Not{Not{Term{"message", "a"}}}},
		{`NOTICE`, Term{"message", "NOTICE"}},
		{`ANDROID OR ORACLE`, Or{[]Node{Term{"message", "ANDROID"}, Term{"message", "ORACLE"}}}},
		{`severity:(3 OR 4)`, Or{[]Node{Term{"severity", "3"}, Term{"severity", "4"}}}},
		{`code:[400 TO 499]`, Range{"code", "400", "499", true, true}},
		{`code:{400 TO *]`, Range{"code", "400", "", false, true}},
		{`code:>=500`, Range{"code", "500", "", true, false}},
		{`code:<10`, Range{"code", "", "10", false, false}},
		{`@timestamp:["2026-01-01" TO "2026-02-01"}`, Range{"@timestamp", "2026-01-01", "2026-02-01", true, false}},
		{`_exists_:log.syslog.msgid`, Exists{"log.syslog.msgid"}},
		{`message:"say \"hi\""`, Phrase{"message", `say "hi"`}},
		{`  spaced  `, Term{"message", "spaced"}},
		{`message:AND`, Term{"message", "AND"}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := Parse(tt.in)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.in, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Parse(%q)\n got %#v\nwant %#v", tt.in, got, tt.want)
			}
			again, err := Parse(got.String())
			if err != nil {
				t.Fatalf("Parse(String()=%q): %v", got.String(), err)
			}
			if !reflect.DeepEqual(again, got) {
				t.Fatalf("round trip through %q\n got %#v\nwant %#v", got.String(), again, got)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct{ in, want string }{
		{``, `query column 1: empty query`},
		{`a b`, `query column 3: expected AND or OR before "b": write the operator between terms explicitly`},
		{`a and b`, `query column 3: expected AND or OR before "and b": write the operator between terms explicitly (operators are upper case: AND, OR, NOT)`},
		{`(a OR b`, `query column 1: unbalanced '(': no matching ')'`},
		{`a)`, `query column 2: unbalanced ')'`},
		{`message:"down`, `query column 9: unterminated phrase: no closing '"'`},
		{`AND a`, `query column 1: AND needs a term on its left`},
		{`a AND`, `query column 6: expected a term at the end of the query`},
		{`NOT`, `query column 1: NOT needs a term after it`},
		{`field: x`, `query column 7: expected a value after "field:"`},
		{`message:/down/`, `query column 9: regular expressions (/.../) are not supported: use wildcards (* and ?) or quote the value`},
		{`message:down~2`, `query column 13: fuzzy and proximity searches (~) are not supported`},
		{`message:down^2`, `query column 13: boosts (^) are not supported: they change scores, not matches`},
		{`+a`, `query column 1: '+' (required term) is not supported: join terms with AND`},
		{`code:[1 2]`, `query column 9: expected TO in range`},
		{`code:[1 TO 2`, `query column 6: unterminated range: expected ']' or '}'`},
		{`code:[1* TO 2]`, `query column 7: wildcards are not allowed in range bounds, only * for an open end`},
		{`_exists_:a*`, `query column 10: _exists_ needs a field name, got "a*"`},
		{`message:""`, `query column 9: empty phrase`},
		{`a\`, `query column 2: escape character '\' at the end of the query`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			_, err := Parse(tt.in)
			if err == nil {
				t.Fatalf("Parse(%q) = nil error, want %q", tt.in, tt.want)
			}
			if err.Error() != tt.want {
				t.Fatalf("Parse(%q) error\n got %q\nwant %q", tt.in, err.Error(), tt.want)
			}
		})
	}
}

func TestParseDepthLimit(t *testing.T) {
	deep := ""
	for range 200 {
		deep += "("
	}
	if _, err := Parse(deep + "a"); err == nil {
		t.Fatal("want an error for 200 nested parentheses")
	}
}

// FuzzParse checks that parsing never panics and that every accepted query
// prints to a form that parses back to the same tree.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		`mnemonic:"LINK-3-UPDOWN" AND message:"changed state to down"`,
		`host.ip:fd00::1 OR host.ip:10.0.0.1`,
		`a AND NOT (b OR c*)`, `code:[1 TO *}`, `code:>=5`, `_exists_:x`,
		`message:a\*b?`, `"quoted \"phrase\""`, `-x && !y || z`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) {
		n, err := Parse(q)
		if err != nil {
			return
		}
		s := n.String()
		again, err := Parse(s)
		if err != nil {
			t.Fatalf("Parse(%q) ok, but its String %q does not parse: %v", q, s, err)
		}
		if !reflect.DeepEqual(again, n) {
			t.Fatalf("round trip of %q through %q\n got %#v\nwant %#v", q, s, again, n)
		}
	})
}
