package query

import "testing"

func TestWildcardRegexp(t *testing.T) {
	for _, c := range []struct {
		pattern string
		fold    bool
		match   []string
		noMatch []string
	}{
		{`LINK*`, false, []string{"LINK", "LINK-3-UPDOWN", "LINK\nx"}, []string{"link-3", "XLINK"}},
		{`gi*`, true, []string{"GigabitEthernet0/1", "gi"}, []string{"xgi"}},
		{`ge-0/0/?`, false, []string{"ge-0/0/1"}, []string{"ge-0/0/10", "ge-0/0/"}},
		{`a.b\*`, false, []string{"a.b*"}, []string{"axb*", "a.bc"}},
	} {
		re, err := WildcardRegexp(c.pattern, c.fold)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range c.match {
			if !re.MatchString(s) {
				t.Errorf("%q does not match %q", c.pattern, s)
			}
		}
		for _, s := range c.noMatch {
			if re.MatchString(s) {
				t.Errorf("%q matches %q", c.pattern, s)
			}
		}
	}
}
