// Command kusanagi turns SNMP traps, syslog and metrics into one catalogue of
// named alerts and delivers them through an Alertmanager whose state lives
// in etcd. One binary; a subcommand per component, and run for all of them.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/common/promslog"
	promslogflag "github.com/prometheus/common/promslog/flag"
	"github.com/prometheus/common/version"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// exitError carries an exit status up to main.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }

// run parses args and runs the subcommand; it returns the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	app := kingpin.New("kusanagi", "Turns SNMP traps, syslog and metrics into one catalogue of named alerts, delivered through an Alertmanager whose state is kept in etcd.")
	app.UsageWriter(stderr)
	app.ErrorWriter(stderr)
	// kingpin calls terminate after printing --help or --version; exiting
	// there would skip deferred cleanup, and doing nothing would go on to
	// run the command the help was asked for.
	exitCode := -1
	app.Terminate(func(code int) {
		if exitCode < 0 {
			exitCode = code
		}
	})
	app.HelpFlag.Short('h')
	logConfig := &promslog.Config{Writer: stderr}
	promslogflag.AddFlags(app, logConfig)
	newLogger := func() *slog.Logger { return promslog.New(logConfig) }

	var commands []command
	commands = append(commands,
		newServeCommand(app, "run", "Run every component in one process (all-in-one), on embedded defaults unless --config.file is given.", newLogger),
		newServeCommand(app, "rules", "Run the catalogue's log-query alerts (scheduled queries against the log store) and the alert sender.", newLogger),
		newAlertmanagerCommand(app, newLogger),
		newServeCommand(app, "traps", "Run the SNMP trap receiver (v1, v2c, v3, informs) with the catalogue and the alert sender.", newLogger),
		newServeCommand(app, "syslog", "Run the syslog receiver (UDP, TCP and TLS) into the log store.", newLogger),
		newCheckCommand(app, stdout, stderr),
		newSendTrapCommand(app, stdout),
		newLogsQueryCommand(app, stdout),
		newSendLogCommand(app, stdout),
		newVersionCommand(app, stdout),
	)

	selected, err := app.Parse(args)
	if exitCode >= 0 {
		return exitCode
	}
	if err != nil {
		fmt.Fprintf(stderr, "kusanagi: %v (try --help)\n", err)
		return 2
	}
	for _, c := range commands {
		if c.matches(selected) {
			err = c.run(ctx)
			break
		}
	}
	if err == nil {
		return 0
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			fmt.Fprintln(stderr, ee.err)
		}
		return ee.code
	}
	fmt.Fprintf(stderr, "kusanagi %s: %v\n", selected, err)
	return 1
}

// command is one subcommand.
type command interface {
	matches(selected string) bool
	run(ctx context.Context) error
}

type versionCommand struct {
	cmd    *kingpin.CmdClause
	stdout io.Writer
}

func newVersionCommand(app *kingpin.Application, stdout io.Writer) *versionCommand {
	return &versionCommand{cmd: app.Command("version", "Print the version and build information."), stdout: stdout}
}

func (c *versionCommand) matches(s string) bool { return s == c.cmd.FullCommand() }

func (c *versionCommand) run(context.Context) error {
	fmt.Fprintln(c.stdout, version.Print("kusanagi"))
	return nil
}
