// Package examples holds the example configuration, catalogue and
// Alertmanager configuration; they are also the embedded defaults of
// kusanagi run when no --config.file is given.
package examples

import "embed"

// FS holds kusanagi.yml, catalogue.yml and alertmanager.yml.
//
//go:embed kusanagi.yml catalogue.yml alertmanager.yml
var FS embed.FS
