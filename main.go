// Command nodebird runs the NodeBird API: the portal where website owners
// register domains, and the /v1 token API their sites call.
//
//	nodebird                       serve (settings from the environment or .env)
//	nodebird admin grant EMAIL     give an account the admin role
//	nodebird admin revoke EMAIL    take it away
//	nodebird healthcheck [URL]     exit 0 if the instance here is ready (GET /readyz)
package main

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/joho/godotenv"
	"gorm.io/gorm"

	"github.com/nodebird/nodebird-api/handlers"
	"github.com/nodebird/nodebird-api/internal/config"
	"github.com/nodebird/nodebird-api/models"
)

//go:embed templates static
var files embed.FS

func main() {
	if len(os.Args) > 1 && os.Args[1] == "healthcheck" { // no settings, no database: a container's probe
		os.Exit(healthcheck(os.Args[2:], lookupEnv(), os.Stderr))
	}
	if err := run(context.Background(), os.Args[1:], lookupEnv(), os.Stderr, nil); err != nil {
		fmt.Fprintln(os.Stderr, "nodebird:", err)
		os.Exit(1)
	}
}

// lookupEnv reads the environment, then an optional .env file for what the
// environment does not set.
func lookupEnv() func(string) (string, bool) {
	dotenv, _ := godotenv.Read(".env")
	return func(k string) (string, bool) {
		if v, ok := os.LookupEnv(k); ok {
			return v, true
		}
		v, ok := dotenv[k]
		return v, ok
	}
}

// run is main without the process: tests call it with their own settings
// and a ready channel that receives the listening address.
//
// Serving ends on SIGINT or SIGTERM (or when ctx ends), as App.Run says;
// a second signal during the shutdown ends the process at once.
func run(ctx context.Context, args []string, env func(string) (string, bool), logOut io.Writer, ready chan<- string) error {
	cfg, err := config.Load(env, slog.New(slog.NewTextHandler(logOut, nil)))
	if err != nil {
		return fmt.Errorf("configuration:\n%w", err)
	}
	log := newLogger(cfg, logOut)

	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() { <-ctx.Done(); stop() }() // a second signal ends the process at once

	db, err := models.Open(ctx, models.Options{
		Driver: cfg.DBDriver, DSN: cfg.DBDSN, MaxOpenConns: cfg.DBMaxOpenConns, MaxIdleConns: cfg.DBMaxIdleConns,
		ConnMaxLifetime: cfg.DBConnMaxLife, StartupTimeout: cfg.DBStartupTimeout, IOTimeout: cfg.DBIOTimeout,
	}, log)
	if err != nil {
		if ctx.Err() != nil { // asked to stop while waiting for the database
			log.Info("stopped before the database was reachable")
			return nil
		}
		return err
	}
	sqlDB, _ := db.DB()
	defer sqlDB.Close()
	if err := models.Migrate(ctx, db); err != nil {
		return fmt.Errorf("migrating the database: %w", err)
	}

	if len(args) > 0 {
		return command(ctx, args, cfg, db, os.Stdout)
	}

	app, err := handlers.New(cfg, log, db, files)
	if err != nil {
		return err
	}
	defer app.Close()
	return app.Run(ctx, func(addr string) {
		if ready != nil {
			ready <- addr
		}
	})
}

// newLogger writes JSON lines in production and text elsewhere, with slog's
// own handlers, unbuffered: a line that was logged is written, also when
// the process dies right after.
func newLogger(cfg *config.Config, out io.Writer) *slog.Logger {
	if cfg.Production() {
		return slog.New(slog.NewJSONHandler(out, nil))
	}
	return slog.New(slog.NewTextHandler(out, nil))
}

// command runs a maintenance command instead of serving.
func command(ctx context.Context, args []string, cfg *config.Config, db *gorm.DB, out io.Writer) error {
	const usage = "usage: nodebird admin grant EMAIL | nodebird admin revoke EMAIL"
	if len(args) != 3 || args[0] != "admin" || (args[1] != "grant" && args[1] != "revoke") {
		return errors.New(usage)
	}
	email := strings.ToLower(strings.TrimSpace(args[2]))
	users := models.NewUserModel(db, cfg.DBQueryTimeout, cfg.BcryptCost)
	err := users.SetAdmin(ctx, email, args[1] == "grant")
	if errors.Is(err, models.ErrNoRecord) {
		return fmt.Errorf("no account with the email %q", email)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "%s: admin role %sed\n", email, map[bool]string{true: "grant", false: "revok"}[args[1] == "grant"])
	return nil
}
