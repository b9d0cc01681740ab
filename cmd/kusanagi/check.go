package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/alecthomas/kingpin/v2"
	amconfig "github.com/prometheus/alertmanager/config"

	"github.com/kusanagi-dev/kusanagi/internal/config"
	"github.com/kusanagi-dev/kusanagi/rules"
)

// checkCommand is `kusanagi check catalogue FILE...` and
// `kusanagi check config FILE`: exit 0 when valid, 1 with every problem
// printed as FILE:LINE:COL: message, one per line, on stderr.
type checkCommand struct {
	catalogue, config *kingpin.CmdClause
	catalogueFiles    *[]string
	configFile        *string
	stdout, stderr    io.Writer
}

func newCheckCommand(app *kingpin.Application, stdout, stderr io.Writer) *checkCommand {
	check := app.Command("check", "Check catalogue or configuration files.")
	c := &checkCommand{stdout: stdout, stderr: stderr}
	c.catalogue = check.Command("catalogue", "Check alert catalogue files (together: names must be unique across them).")
	c.catalogueFiles = c.catalogue.Arg("file", "Catalogue file.").Required().ExistingFiles()
	c.config = check.Command("config", "Check a kusanagi.yml and the catalogue files it names.")
	c.configFile = c.config.Arg("file", "Configuration file.").Required().String()
	return c
}

func (c *checkCommand) matches(s string) bool {
	return s == c.catalogue.FullCommand() || s == c.config.FullCommand()
}

func (c *checkCommand) run(_ context.Context) error {
	if *c.configFile != "" {
		return c.checkConfig(*c.configFile)
	}
	return c.checkCatalogue(*c.catalogueFiles...)
}

func (c *checkCommand) checkCatalogue(files ...string) error {
	cat, err := rules.LoadFiles(files...)
	if err != nil {
		return &exitError{code: 1, err: err}
	}
	fmt.Fprintf(c.stdout, "SUCCESS: %d alerts in %d files\n", len(cat.Alerts), len(cat.Files))
	return nil
}

func (c *checkCommand) checkConfig(file string) error {
	cfg, err := config.LoadFile(file)
	if err != nil {
		return &exitError{code: 1, err: err}
	}
	files, err := cfg.CatalogueFiles()
	if err != nil {
		return &exitError{code: 1, err: fmt.Errorf("%s: %w", file, err)}
	}
	if len(files) == 0 {
		return &exitError{code: 1, err: fmt.Errorf("%s: catalogue: files: no catalogue files named", file)}
	}
	var errs []error
	if _, err := rules.LoadFiles(files...); err != nil {
		errs = append(errs, err)
	}
	if err := checkAlertmanagerConfig(cfg); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return &exitError{code: 1, err: errors.Join(errs...)}
	}
	fmt.Fprintf(c.stdout, "SUCCESS: %s and %d catalogue files\n", file, len(files))
	return nil
}

// checkAlertmanagerConfig loads the Alertmanager configuration named by
// the config with upstream's own loader, so it is checked exactly as
// Alertmanager and amtool will read it.
func checkAlertmanagerConfig(cfg *config.Config) error {
	if cfg.Alertmanager.ConfigFile == "" {
		return nil
	}
	path := cfg.Path(cfg.Alertmanager.ConfigFile)
	if _, err := amconfig.LoadFile(path); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}
