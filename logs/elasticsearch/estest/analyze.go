package estest

import (
	"strings"

	"github.com/blevesearch/segment"
)

// maxTokenLength is the standard tokenizer's max_token_length: longer
// words are split at it.
const maxTokenLength = 255

// analyze is Elasticsearch's standard analyzer: Unicode (UAX #29) word
// boundaries, keeping segments that hold letters, digits or ideographs
// (the rules Lucene's StandardTokenizer implements), lower-cased; no stop
// words, as since Elasticsearch 5.
func analyze(s string) []string {
	var out []string
	seg := segment.NewWordSegmenterDirect([]byte(s))
	for seg.Segment() {
		if seg.Type() == segment.None {
			continue
		}
		w := []rune(strings.ToLower(seg.Text()))
		for len(w) > maxTokenLength {
			out = append(out, string(w[:maxTokenLength]))
			w = w[maxTokenLength:]
		}
		out = append(out, string(w))
	}
	return out
}
